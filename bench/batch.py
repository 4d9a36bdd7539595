"""Batched webhooks (issue 14, goal 2): Meta puts up to 100 messages in one POST under load.

    .venv/bin/python bench/batch.py [--posts 100] [--per-post 100] [--concurrency 4] [--rounds 3]

`whatshooked serve` (one business-api account, one hook at a sink in this process) takes --posts signed
webhooks of --per-post messages each (the message_text.json fixture, fresh wamids), --concurrency in
flight. Printed per round: events committed per second (N / time until the last POST was answered 200:
a 200 comes only after the commit) and events delivered per second (until the sink has all N).
The baseline in the same run is the same POSTs to a bare aiohttp app that checks the signature and
parses the JSON (inbound.py's), so the ratio says what storing and raising costs over reading.
The last column is a second daemon with no hook, taking the same POSTs: committing alone, with no
delivery to the hook competing for the same core.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inbound import FIXTURE, ROOT, serve_baseline, serve_rig, serving  # noqa: E402
from relay import Sink, _listen  # noqa: E402

sys.path.insert(0, str(ROOT))
from aiohttp import web  # noqa: E402

from tests.support.cloud_daemon import WEBHOOK_PATH, config_text, sign  # noqa: E402
from tests.support.process import ServeProcess, free_port  # noqa: E402


def batched_posts(posts: int, per_post: int) -> list[tuple[bytes, dict[str, str]]]:
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    value = payload["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    run = uuid.uuid4().hex[:12]
    out = []
    for p in range(posts):
        messages = []
        for m in range(per_post):
            message = copy.deepcopy(template)
            message["id"] = f"wamid.bench{run}{p:05d}{m:04d}"
            messages.append(message)
        value["messages"] = messages
        body = json.dumps(payload).encode()
        out.append((body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}))
    return out


async def post_all(http: aiohttp.ClientSession, url: str, posts: list[tuple[bytes, dict[str, str]]],
                   concurrency: int) -> float:
    pending = iter(posts)

    async def worker() -> None:
        for body, headers in pending:
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, f"{url} answered {response.status}"

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


async def main(args: argparse.Namespace) -> int:
    sink = Sink()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/hook", sink.handle)
    sink_runner, sink_port = await _listen(app)
    sink_url = f"http://127.0.0.1:{sink_port}/hook"
    spawn = multiprocessing.get_context("spawn")
    rig_conn, rig_child = spawn.Pipe()
    base_conn, base_child = spawn.Pipe()
    helpers = [spawn.Process(target=serve_rig, args=(rig_child,), daemon=True),
               spawn.Process(target=serve_baseline, args=(base_child,), daemon=True)]
    for process in helpers:
        process.start()
    graph_url, _ = rig_conn.recv()
    baseline_url = base_conn.recv() + WEBHOOK_PATH
    n = args.posts * args.per_post
    with tempfile.TemporaryDirectory() as tmp:
        daemons = []
        # (name, hook, environment): the second commits and delivers nothing
        runs: list[tuple[str, str | None, dict[str, str] | None]] = [("hooked", sink_url, None),
                                                                       ("no hook", None, None)]
        if args.before:  # the same as "hooked", run by the code in that checkout
            runs.append(("before", sink_url, {"PYTHONPATH": args.before}))
        for name, hook, env in runs:
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            port = free_port()
            config = folder / "config.yaml"
            config.write_text(config_text(folder, port, graph_url, hook, business={}))
            daemons.append(ServeProcess(config, port, env=env))
        daemon, bare = daemons[:2]
        try:
            async with serving(daemons, stop_within=30):
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as http:
                    print(f"{'round':<6} {'baseline ev/s':>14} {'committed ev/s':>15} {'delivered ev/s':>15} "
                          f"{'x baseline':>11} {'no hook: committed ev/s':>24}"
                          + (f" {'before: committed ev/s':>19}" if args.before else ""))
                    for number in range(1, args.rounds + 1):
                        base_seconds = await post_all(http, baseline_url, batched_posts(args.posts, args.per_post),
                                                      args.concurrency)
                        posts = batched_posts(args.posts, args.per_post)
                        sink.expect(n)
                        started = time.monotonic()
                        committed = await post_all(http, daemon.url + WEBHOOK_PATH, posts, args.concurrency)
                        await asyncio.wait_for(sink.done.wait(), 300)
                        delivered = max(sink.arrived.values()) - started
                        alone = await post_all(http, bare.url + WEBHOOK_PATH, batched_posts(args.posts, args.per_post),
                                               args.concurrency)
                        before = ""
                        if args.before:
                            sink.expect(n)
                            old = await post_all(http, daemons[2].url + WEBHOOK_PATH,
                                                 batched_posts(args.posts, args.per_post), args.concurrency)
                            await asyncio.wait_for(sink.done.wait(), 300)
                            before = f" {n / old:>19.0f}"
                        print(f"{number:<6} {n / base_seconds:>14.0f} {n / committed:>15.0f} {n / delivered:>15.0f} "
                              f"{base_seconds / committed:>11.2f} {n / alone:>24.0f}{before}")
        finally:
            for conn in (rig_conn, base_conn):
                conn.send("stop")
            for process in helpers:
                process.join(5)
            await sink_runner.cleanup()
    print(f"goal: >= 10,000 events/s committed ({args.per_post} messages per POST)")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100, help="webhook POSTs per run (default 100)")
    parser.add_argument("--per-post", type=int, default=100, help="messages in each POST (default 100)")
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--before", default=None, type=lambda path: str(Path(path).resolve()),
                        help="a checkout of older code (git worktree add /tmp/before REV): its daemon runs too")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
