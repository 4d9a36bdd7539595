"""Delivery benchmark: the dispatcher (cache on and off) against a bare aiohttp relay.

    .venv/bin/python bench/delivery.py [--n 5000] [--concurrency 16] [--rate 1000] [--paced-seconds 5] [--rounds 5]

A loopback hook server runs in its own process and records, for each request, the time from the
moment the event was offered (stamped into the event's data) to its arrival, using the system-wide
monotonic clock. Runs, in order:
  baseline   a plain ClientSession POSTing the same event bodies with the same concurrency, no storage
  cache on   Dispatcher + Store (SQLite file in a temporary folder): publish() commits, then delivers
  cache off  Dispatcher with message_cache disabled (memory only)
  paced      cache on, events offered at --rate per second for --paced-seconds, each in its own task
Throughput runs offer all N events at once. All four runs are repeated --rounds times and the medians
judged (other load on the machine skews single runs). Targets (issue 2): cache on >= 0.5 x baseline
events/s, paced p99 < 25 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whatshooked.config.load import parse_config  # noqa: E402
from whatshooked.config.model import Config  # noqa: E402
from whatshooked.delivery.dispatcher import Dispatcher  # noqa: E402
from whatshooked.events import Event  # noqa: E402
from whatshooked.service.metrics import Metrics  # noqa: E402
from whatshooked.store.open import open_store  # noqa: E402


# -- the hook, in its own process ------------------------------------------------------------------
def serve_hook(conn: Connection) -> None:
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    import json

    latencies: list[float] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        latencies.append(time.monotonic() - json.loads(body)["data"]["sent"])
        return web.Response(status=204)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"count": len(latencies), "latencies": latencies})

    async def reset(request: web.Request) -> web.Response:
        latencies.clear()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    await runner.cleanup()


# -- measuring -------------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    events: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


class HookClient:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base

    async def reset(self) -> None:
        async with self.http.post(f"{self.base}/reset"):
            pass

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/stats") as response:
            stats: dict[str, Any] = await response.json()
            return stats

    async def result(self, count: int, started: float, ended: float) -> Result:
        stats = await self.stats()
        assert stats["count"] == count, f"the hook got {stats['count']} of {count} events"
        return Result("", count, ended - started, stats["latencies"])


def new_event(n: int, sent: float) -> Event:
    return Event("message.received", {
        "account_id": "bench", "message_id": f"wamid.{n}", "chat": "15551234567@s.whatsapp.net",
        "from": "+15551234567", "type": "text", "text": f"benchmark message number {n}", "sent": sent,
    })


async def run_baseline(hook: HookClient, http: aiohttp.ClientSession, url: str, n: int, concurrency: int) -> Result:
    await hook.reset()
    started = time.monotonic()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(new_event(i, started))

    async def worker() -> None:
        while not queue.empty():
            event = queue.get_nowait()
            async with http.post(url, data=event.to_json(), headers={"Content-Type": "application/json"}) as resp:
                await resp.release()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result = await hook.result(n, started, time.monotonic())
    result.name = "baseline relay"
    return result


def bench_config(folder: Path, url: str, concurrency: int, cache: bool) -> Config:
    raw = {
        "storage": {"path": str(folder / "whatshooked.db")},
        "message_cache": {"enabled": cache},
        "delivery": {"concurrency": concurrency, "timeout": "10s"},
        "hooks": [{"id": "bench", "url": url, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}],
    }
    return parse_config(yaml.safe_dump(raw), folder / "config.yaml")


async def run_dispatcher(hook: HookClient, http: aiohttp.ClientSession, config: Config, n: int,
                         name: str, rate: float | None = None, producers: int = 64) -> Result:
    store = await open_store(config.storage, config.message_cache.enabled)
    metrics = Metrics()
    dispatcher = Dispatcher(config, store, metrics)
    await dispatcher.start()
    await hook.reset()
    try:
        started = time.monotonic()
        if rate is None:
            await offer_all(dispatcher, n, started, producers)
        else:
            await offer_paced(dispatcher, n, rate)
        # poll in process (an HTTP poll would tax the run); the hook's own count is checked after
        labels = {"hook": "bench", "outcome": "delivered"}
        while (metrics.registry.get_sample_value("whatshooked_deliveries_total", labels) or 0) < n:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        result = await hook.result(n, started, time.monotonic())
    finally:
        await dispatcher.close(5.0)
        await store.close()
    result.name = name
    return result


async def offer_all(dispatcher: Dispatcher, n: int, started: float, producers: int) -> None:
    """Offer n events at once from `producers` concurrent sources (adapters, webhook requests)."""
    numbers = iter(range(n))

    async def producer() -> None:
        for i in numbers:
            await dispatcher.publish(new_event(i, started))

    await asyncio.gather(*(producer() for _ in range(producers)))


async def offer_paced(dispatcher: Dispatcher, n: int, rate: float) -> None:
    """Offer event i at started + i/rate, each publish in its own task (as webhook requests would)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    tasks: set[asyncio.Task[bool]] = set()
    for i in range(n):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(dispatcher.publish(new_event(i, time.monotonic())))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def main(args: argparse.Namespace) -> int:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_hook, args=(child,), daemon=True)
    server.start()
    port = parent.recv()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/hook"
    rounds: list[list[Result]] = []
    try:
        async with aiohttp.ClientSession() as http:
            hook = HookClient(http, base)
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                on = bench_config(folder, url, args.concurrency, cache=True)
                off = bench_config(folder, url, args.concurrency, cache=False)
                paced_n, producers = int(args.rate * args.paced_seconds), args.producers
                await run_baseline(hook, http, url, min(args.n, 500), args.concurrency)  # warm-up
                for _ in range(args.rounds):
                    rounds.append([
                        await run_baseline(hook, http, url, args.n, args.concurrency),
                        await run_dispatcher(hook, http, on, args.n, "dispatcher, cache on", producers=producers),
                        await run_dispatcher(hook, http, off, args.n, "dispatcher, cache off", producers=producers),
                        await run_dispatcher(hook, http, on, paced_n, f"paced {args.rate:g}/s, cache on",
                                             rate=args.rate),
                    ])
    finally:
        parent.send("stop")
        server.join(5)
    return report(rounds)


def report(rounds: list[list[Result]]) -> int:
    """Every round, then medians across rounds (other load on the machine skews single runs)."""
    print(f"{'round':<6} {'run':<28} {'events':>7} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x baseline':>10}")
    for number, results in enumerate(rounds, 1):
        baseline = results[0]
        for r in results:
            print(f"{number:<6} {r.name:<28} {r.events:>7} {r.rate:>9.0f} {r.percentile(50):>8.2f} "
                  f"{r.percentile(99):>8.2f} {r.rate / baseline.rate:>10.2f}")
    ratio = statistics.median(results[1].rate / results[0].rate for results in rounds)
    off_ratio = statistics.median(results[2].rate / results[0].rate for results in rounds)
    p99 = statistics.median(results[3].percentile(99) for results in rounds)
    p50 = statistics.median(results[3].percentile(50) for results in rounds)
    print(f"median over {len(rounds)} rounds: baseline {statistics.median(r[0].rate for r in rounds):.0f}/s, "
          f"cache on {statistics.median(r[1].rate for r in rounds):.0f}/s ({ratio:.2f} x), "
          f"cache off {statistics.median(r[2].rate for r in rounds):.0f}/s ({off_ratio:.2f} x), "
          f"paced p50 {p50:.2f} ms p99 {p99:.2f} ms")
    ratio_ok, p99_ok = ratio >= 0.5, p99 < 25.0
    print(f"target cache on >= 0.5 x baseline: {'PASS' if ratio_ok else 'FAIL'} ({ratio:.2f})")
    print(f"target paced p99 < 25 ms: {'PASS' if p99_ok else 'FAIL'} ({p99:.2f} ms)")
    return 0 if ratio_ok and p99_ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="events per throughput run (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="in-flight requests (default 16)")
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s of the paced run (default 1000)")
    parser.add_argument("--paced-seconds", type=float, default=5.0, help="length of the paced run (default 5)")
    parser.add_argument("--producers", type=int, default=256,
                        help="concurrent publishers in the throughput runs (default 256)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of all four runs; medians reported (default 5)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
