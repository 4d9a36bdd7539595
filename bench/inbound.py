"""Inbound benchmark: signed Cloud API webhooks into a real daemon, against a bare aiohttp app.

    .venv/bin/python bench/inbound.py [--n 4000] [--concurrency 16] [--rounds 5]

Three processes besides this one (the client): the daemon, `python -m whatshooked serve` with one
business-api account whose graph_url is a Graph stand-in and one hook; the stand-in and the hook
server, together in one process; and the baseline, a bare aiohttp app that checks the same
X-Hub-Signature-256, parses the JSON and answers 200, storing nothing. Each POST is
tests/fixtures/meta/message_text.json with a fresh wamid, signed with the app secret (bodies and
signatures are made before the clock starts). --concurrency requests are in flight at once, as
Meta's senders would keep them. Measured, per run:
  POST->200   one request's time until its answer (for the daemon: the event is committed)
  events/s    baseline: N / time until the last 200; daemon: N / time until the hook has every event
  POST->hook  (daemon) from the POST of a message to its arrival at the hook, system-wide monotonic clock
  CPU/event   the server process's CPU time (all its threads, from /proc; Linux only) per event
Baseline and daemon alternate for --rounds rounds; medians reported, the ratio taken per round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cloud_daemon import APP_SECRET, WEBHOOK_PATH, config_text, sign  # noqa: E402
from tests.support.process import ServeProcess, free_port  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "meta" / "message_text.json"


# -- the other processes -----------------------------------------------------------------------------
async def _until_told(conn: Connection, runner: web.AppRunner) -> None:
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()


async def _listen(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def serve_rig(conn: Connection) -> None:
    """The Graph stand-in and the hook, which notes when each message id arrives."""
    asyncio.run(_serve_rig(conn))


async def _serve_rig(conn: Connection) -> None:
    from tests.support.cloud_daemon import TOKEN
    from tests.support.graph_standin import GraphStandin

    graph = GraphStandin(TOKEN)
    await graph.start()
    arrived: dict[str, float] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        message_id = json.loads(body)["data"].get("message_id")  # other events (account state) are not counted
        if isinstance(message_id, str) and message_id.startswith("wamid.bench"):
            arrived[message_id] = time.monotonic()
        return web.Response(status=204)

    async def stats(request: web.Request) -> web.Response:
        if request.query.get("full"):
            return web.json_response(arrived)
        return web.json_response({"count": len(arrived)})

    async def reset(request: web.Request) -> web.Response:
        arrived.clear()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    runner, port = await _listen(app)
    conn.send((graph.url, f"http://127.0.0.1:{port}"))
    await _until_told(conn, runner)
    await graph.close()


def serve_baseline(conn: Connection) -> None:
    asyncio.run(_serve_baseline(conn))


async def _serve_baseline(conn: Connection) -> None:
    import hashlib
    import hmac

    secret = APP_SECRET.encode()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            return web.Response(status=401)
        json.loads(body)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook)
    runner, port = await _listen(app)
    conn.send(f"http://127.0.0.1:{port}")
    await _until_told(conn, runner)


# -- the client ----------------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    events: int
    seconds: float
    answers: list[float]  # POST->200, seconds
    arrivals: list[float] = field(default_factory=list)  # POST->hook, seconds (daemon only)
    cpu: float = float("nan")  # the server's CPU seconds for the run

    @property
    def cpu_per_event(self) -> float:
        return self.cpu / self.events * 1e6

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @staticmethod
    def percentile(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its threads; NaN where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_posts(n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """n (wamid, body, headers): the fixture with a fresh wamid each, unseen by any earlier run."""
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    run = uuid.uuid4().hex[:12]
    posts = []
    for i in range(n):
        message["id"] = f"wamid.bench{run}{i:08d}"
        body = json.dumps(payload).encode()
        posts.append((message["id"], body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}))
    return posts


async def post_all(http: aiohttp.ClientSession, url: str, posts: list[tuple[str, bytes, dict[str, str]]],
                   concurrency: int) -> tuple[float, dict[str, float], list[float]]:
    """(start, when each wamid was posted, each POST->200) with `concurrency` requests in flight."""
    sent: dict[str, float] = {}
    answers: list[float] = []
    pending = iter(posts)

    async def worker() -> None:
        for wamid, body, headers in pending:
            began = sent[wamid] = time.monotonic()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, f"{url} answered {response.status}"
            answers.append(time.monotonic() - began)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return started, sent, answers


async def run_baseline(http: aiohttp.ClientSession, url: str, pid: int, n: int, concurrency: int) -> Result:
    posts, cpu = signed_posts(n), cpu_seconds(pid)
    started, _, answers = await post_all(http, url, posts, concurrency)
    return Result("baseline (bare aiohttp)", n, time.monotonic() - started, answers, cpu=cpu_seconds(pid) - cpu)


async def run_daemon(http: aiohttp.ClientSession, url: str, pid: int, hook: str, n: int, concurrency: int) -> Result:
    async with http.post(f"{hook}/reset"):
        pass
    posts, cpu = signed_posts(n), cpu_seconds(pid)
    started, sent, answers = await post_all(http, url, posts, concurrency)
    deadline = time.monotonic() + 60
    while True:
        async with http.get(f"{hook}/stats") as response:
            if (await response.json())["count"] >= n:
                break
        assert time.monotonic() < deadline, "the hook did not get every event within 60 s"
        await asyncio.sleep(0.02)
    cpu = cpu_seconds(pid) - cpu
    async with http.get(f"{hook}/stats", params={"full": "1"}) as response:
        arrived: dict[str, float] = await response.json()
    return Result("daemon (serve, cache on)", n, max(arrived.values()) - started, answers,
                  [arrived[wamid] - at for wamid, at in sent.items()], cpu)


@contextlib.asynccontextmanager
async def serving(daemons: list[ServeProcess], stop_within: float) -> AsyncIterator[None]:
    """Every daemon started and answering /health for the block; then each stopped with SIGTERM (within
    `stop_within` seconds). On a failure their output is printed; whatever still runs is killed."""
    try:
        for daemon in daemons:
            await daemon.start()
            await daemon.healthy()
        yield
        for daemon in daemons:
            daemon.send(signal.SIGTERM)
            await daemon.wait(stop_within)
    except BaseException:
        for daemon in daemons:
            print(daemon.output(), file=sys.stderr)
        raise
    finally:
        for daemon in daemons:
            await daemon.stop()


async def main(args: argparse.Namespace) -> int:
    spawn = multiprocessing.get_context("spawn")
    rig_conn, rig_child = spawn.Pipe()
    base_conn, base_child = spawn.Pipe()
    helpers = [spawn.Process(target=serve_rig, args=(rig_child,), daemon=True),
               spawn.Process(target=serve_baseline, args=(base_child,), daemon=True)]
    for process in helpers:
        process.start()
    graph_url, hook_base = rig_conn.recv()
    baseline_url = base_conn.recv() + WEBHOOK_PATH
    rounds: list[tuple[Result, Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        config = folder / "config.yaml"
        config.write_text(config_text(folder, port, graph_url, f"{hook_base}/hook", business={}))
        daemon = ServeProcess(config, port)
        try:
            await daemon.start()
            await daemon.healthy()
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as http:
                url = daemon.url + WEBHOOK_PATH
                assert daemon.proc is not None and helpers[1].pid is not None
                pids = helpers[1].pid, daemon.proc.pid
                await run_baseline(http, baseline_url, pids[0], min(args.n, 300), args.concurrency)  # warm-up
                await run_daemon(http, url, pids[1], hook_base, min(args.n, 300), args.concurrency)
                for _ in range(args.rounds):
                    rounds.append((await run_baseline(http, baseline_url, pids[0], args.n, args.concurrency),
                                   await run_daemon(http, url, pids[1], hook_base, args.n, args.concurrency)))
            daemon.send(signal.SIGTERM)
            await daemon.wait(15)
        except BaseException:
            print(daemon.output(), file=sys.stderr)
            raise
        finally:
            await daemon.stop()
            for conn in (rig_conn, base_conn):
                conn.send("stop")
            for process in helpers:
                process.join(5)
    return report(rounds)


def report(rounds: list[tuple[Result, Result]]) -> int:
    print(f"{'round':<6} {'run':<26} {'events':>7} {'events/s':>9} {'200 p50':>8} {'200 p99':>8} "
          f"{'hook p50':>9} {'hook p99':>9} {'CPU us/ev':>9} {'x baseline':>10}")
    for number, (baseline, daemon) in enumerate(rounds, 1):
        for r in (baseline, daemon):
            print(f"{number:<6} {r.name:<26} {r.events:>7} {r.rate:>9.0f} {r.percentile(r.answers, 50):>8.2f} "
                  f"{r.percentile(r.answers, 99):>8.2f} {r.percentile(r.arrivals, 50):>9.2f} "
                  f"{r.percentile(r.arrivals, 99):>9.2f} {r.cpu_per_event:>9.0f} {r.rate / baseline.rate:>10.2f}")

    def median(values: Any) -> float:
        return statistics.median(values)

    ratio = median(d.rate / b.rate for b, d in rounds)
    print(f"median over {len(rounds)} rounds (ms): "
          f"baseline {median(b.rate for b, _ in rounds):.0f}/s, POST->200 p50 "
          f"{median(b.percentile(b.answers, 50) for b, _ in rounds):.2f} p99 "
          f"{median(b.percentile(b.answers, 99) for b, _ in rounds):.2f}; "
          f"daemon {median(d.rate for _, d in rounds):.0f}/s ({ratio:.2f} x), POST->200 p50 "
          f"{median(d.percentile(d.answers, 50) for _, d in rounds):.2f} p99 "
          f"{median(d.percentile(d.answers, 99) for _, d in rounds):.2f}, POST->hook p50 "
          f"{median(d.percentile(d.arrivals, 50) for _, d in rounds):.2f} p99 "
          f"{median(d.percentile(d.arrivals, 99) for _, d in rounds):.2f}; "
          f"server CPU per event {median(b.cpu_per_event for b, _ in rounds):.0f} us (baseline), "
          f"{median(d.cpu_per_event for _, d in rounds):.0f} us (daemon)")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000, help="webhook POSTs per run (default 4000)")
    parser.add_argument("--concurrency", type=int, default=16, help="POSTs in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both runs; medians reported (default 5)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
