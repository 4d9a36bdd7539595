"""The whole hot path against a bare relay (issue 14, goal 1).

    .venv/bin/python bench/relay.py [--n 10000] [--concurrency 32] [--rounds 3] [--paced 1000]

A signed Cloud API webhook goes in, the event is committed, a signed POST goes out to the hook. The
sink (the hook) lives in this process, beside the load, and notes when each message id arrives.
- relay: a bare aiohttp app in its own process that reads each webhook, forwards the body to the
  sink with one ClientSession and answers when the sink answered (no signature, no storage);
- daemon: `python -m whatshooked serve` with one business-api account (app_secret checked; graph_url
  at a stand-in in another process) and one hook with a `whsec_` secret (every delivery signed).
events/s is N / time until the sink has all N; the runs alternate for --rounds rounds and the best
round of each is compared (the ratio daemon/relay), as the issue asks. Then a paced run at --paced
events/s against the daemon gives POST->200 p50/p99. CPU per event is the server process's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inbound import ROOT, Result, _listen, _until_told, cpu_seconds, serve_rig, serving, signed_posts  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support.cloud_daemon import WEBHOOK_PATH, config_text  # noqa: E402
from tests.support.process import ServeProcess, free_port  # noqa: E402

HOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def serve_relay(conn: Connection, sink: str) -> None:
    asyncio.run(_serve_relay(conn, sink))


async def _serve_relay(conn: Connection, sink: str) -> None:
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        async with http.post(sink, data=body, headers={"Content-Type": "application/json"}) as response:
            await response.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook)
    runner, port = await _listen(app)
    conn.send(f"http://127.0.0.1:{port}")
    await _until_told(conn, runner)
    await http.close()


class Sink:
    """The hook: counts message ids as they arrive (relay bodies are Meta's, daemon bodies are events)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.wanted = 0
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if "entry" in body:
            message_id = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        else:
            message_id = (body.get("data") or {}).get("message_id")
        if isinstance(message_id, str) and message_id.startswith("wamid.bench"):
            self.arrived[message_id] = time.monotonic()
            if len(self.arrived) >= self.wanted:
                self.done.set()
        return web.Response(status=204)

    def expect(self, n: int) -> None:
        self.arrived, self.wanted = {}, n
        self.done.clear()


async def run(name: str, http: aiohttp.ClientSession, url: str, pid: int, sink: Sink, n: int,
              concurrency: int, rate: float = 0.0) -> Result:
    posts = signed_posts(n)
    sink.expect(n)
    sent: dict[str, float] = {}
    answers: list[float] = []
    pending = iter(enumerate(posts))
    cpu = cpu_seconds(pid)
    started = time.monotonic()

    async def worker() -> None:
        for index, (wamid, body, headers) in pending:
            if rate:
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            began = sent[wamid] = time.monotonic()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, f"{url} answered {response.status}"
            answers.append(time.monotonic() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.wait_for(sink.done.wait(), 120)
    return Result(name, n, max(sink.arrived.values()) - started, answers,
                  [sink.arrived[w] - at for w, at in sent.items()], cpu_seconds(pid) - cpu)


async def main(args: argparse.Namespace) -> int:
    sink = Sink()
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    sink_runner, sink_port = await _listen(app)
    sink_url = f"http://127.0.0.1:{sink_port}/hook"
    spawn = multiprocessing.get_context("spawn")
    rig_conn, rig_child = spawn.Pipe()
    relay_conn, relay_child = spawn.Pipe()
    helpers = [spawn.Process(target=serve_rig, args=(rig_child,), daemon=True),
               spawn.Process(target=serve_relay, args=(relay_child, sink_url), daemon=True)]
    for process in helpers:
        process.start()
    graph_url, _ = rig_conn.recv()
    relay_url = relay_conn.recv() + WEBHOOK_PATH
    rounds: list[list[Result]] = []
    loops = args.loops.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        daemons = []
        runs = [*loops, *(["before"] if args.before else [])]
        for loop in runs:  # one daemon per event loop (and the code before), each on its own store
            folder = Path(tmp) / loop
            folder.mkdir()
            port = free_port()
            config = folder / "config.yaml"
            text = config_text(folder, port, graph_url, sink_url, business={})
            text = text.replace(f"    url: {sink_url}\n", f"    url: {sink_url}\n    secret: {HOOK_SECRET}\n")
            if loop == "before":  # that code knows no server.event_loop
                daemons.append(ServeProcess(config, port, env={"PYTHONPATH": args.before}))
                config.write_text(text)
                continue
            config.write_text(text.replace("server:\n", f"server:\n  event_loop: {loop}\n", 1))
            daemons.append(ServeProcess(config, port))
        try:
            async with serving(daemons, stop_within=15):
                assert helpers[1].pid is not None
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as http:
                    urls = [(d.url + WEBHOOK_PATH, d.proc.pid) for d in daemons if d.proc is not None]
                    await run("relay", http, relay_url, helpers[1].pid, sink, 500, args.concurrency)  # warm-up
                    for url, pid in urls:
                        await run("daemon", http, url, pid, sink, 500, args.concurrency)
                    for _ in range(args.rounds):
                        results = [await run("relay (bare aiohttp)", http, relay_url, helpers[1].pid, sink, args.n,
                                             args.concurrency)]
                        for loop, (url, pid) in zip(runs, urls, strict=True):
                            results.append(await run(f"daemon ({loop})", http, url, pid, sink, args.n,
                                                     args.concurrency))
                        rounds.append(results)
                    url, pid = urls[0]
                    paced = await run(f"daemon ({loops[0]}) paced {args.paced}/s", http, url, pid, sink,
                                      args.paced * 5, args.concurrency, rate=args.paced)
        finally:
            for conn in (rig_conn, relay_conn):
                conn.send("stop")
            for process in helpers:
                process.join(5)
            await sink_runner.cleanup()
    return report(rounds, paced)


def report(rounds: list[list[Result]], paced: Result) -> int:
    print(f"{'round':<6} {'run':<24} {'events':>7} {'events/s':>9} {'200 p50':>8} {'200 p99':>8} "
          f"{'hook p99':>9} {'CPU us/ev':>9}")
    for number, results in enumerate(rounds, 1):
        for r in results:
            print(f"{number:<6} {r.name:<24} {r.events:>7} {r.rate:>9.0f} {r.percentile(r.answers, 50):>8.2f} "
                  f"{r.percentile(r.answers, 99):>8.2f} {r.percentile(r.arrivals, 99):>9.2f} {r.cpu_per_event:>9.0f}")
    best_relay = max((results[0].rate for results in rounds), default=0.0)
    relay_cpu = min((results[0].cpu_per_event for results in rounds), default=0.0)
    for column in range(1, len(rounds[0]) if rounds else 1):  # --rounds 0: the paced run only
        best = max(results[column].rate for results in rounds)
        cpu = min(results[column].cpu_per_event for results in rounds)
        print(f"best of {len(rounds)}: {rounds[0][column].name} {best:.0f}/s = {best / best_relay:.2f} x the relay's "
              f"{best_relay:.0f}/s (goal >= 0.75); least CPU {cpu:.0f} us/event = {cpu / relay_cpu:.2f} x the relay's")
    print(f"{paced.name}: POST->200 p50 {paced.percentile(paced.answers, 50):.2f} ms, "
          f"p99 {paced.percentile(paced.answers, 99):.2f} ms (goal < 25), POST->hook p99 "
          f"{paced.percentile(paced.arrivals, 99):.2f} ms, CPU {paced.cpu_per_event:.0f} us/event")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000, help="webhook POSTs per run (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32, help="POSTs in flight (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each compared")
    parser.add_argument("--paced", type=int, default=1000, help="events/s of the paced run (default 1000)")
    parser.add_argument("--before", default=None, type=lambda path: str(Path(path).resolve()),
                        help="a checkout of older code (git worktree add /tmp/before REV): its daemon runs too")
    parser.add_argument("--loops", default="asyncio,uvloop",
                        help="server.event_loop of each daemon, in the same rounds; the paced run uses the first")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
