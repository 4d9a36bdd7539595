"""Replay benchmark (issue 14, goal 3): 100,000 undelivered events replayed to a hook that came back.

    .venv/bin/python bench/replay.py [--n 100000] [--rounds 1] [--mode recover,manual] [--concurrency 16]
                                     [--before DIR] [--profile DIR]

A SQLite store (the daemon's own, built once through SQLiteStore and copied for every run) holds N
message.received events (~0.5 kB each: tests/fixtures/meta/message_text.json as the Cloud API
account raises it, a fresh wamid each) owed to one hook, `rx`, whose retries ran out on errors worth
retrying (state failed, retryable: the hook was down). Then `python -m whatshooked serve` starts on a
copy, its hook pointing at a sink in this process (which answers 204 and notes each `webhook-id`):
  recover   the automatic path: one signed webhook comes in, its event is delivered, the hook is seen
            answering again and everything it is owed is replayed, oldest first (Replayer.recover);
  manual    the hook had refused the events (4xx, not retried, so no automatic replay takes them) and
            was fixed: `POST /api/cache/replay` with `hook_id=rx` and `wait=false`, as `whatshooked cache
            replay --hook rx` does, its job followed on `GET /api/replays/{job_id}` until done.
The time runs until the sink has every event AND `GET /api/cache/stats` counts none undelivered (the
store has every delivered mark). The baseline, in the same run: a bare aiohttp client in its own
process POSTing the same N bodies to the same sink with the same concurrency (delivery.concurrency).
Every mode and the baseline alternate for --rounds rounds; medians are reported with the ratio, and
the daemon's CPU time (all its threads, from /proc) per event. --before DIR runs each mode a second
time, just before, on the whatshooked package in DIR (`git archive REV whatshooked | tar -x -C DIR`):
old and new code measured in one run, under the same load. --profile DIR samples every daemon run with
py-spy ($PY_SPY, else py-spy on the PATH) into DIR/MODE.raw (collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cloud_daemon import API_KEY, PHONE_NUMBER_ID, TOKEN, WEBHOOK_PATH, config_text, sign  # noqa: E402
from tests.support.graph_standin import GraphStandin  # noqa: E402
from tests.support.process import ServeProcess, free_port  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from inbound import _listen, cpu_seconds  # noqa: E402

from whatshooked.accounts.cloud_api.inbound import parse_payload  # noqa: E402
from whatshooked.events import Event  # noqa: E402
from whatshooked.store.sqlite.store import SQLiteStore  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "meta" / "message_text.json"
HOOK = "rx"


# -- the store ---------------------------------------------------------------------------------------
async def build_store(path: Path, n: int) -> float:
    """N events owed to the hook, their retries given up (the hook was down); returns the mean body size."""
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    item = parse_payload(payload, "shop", PHONE_NUMBER_ID).items[0]
    run = uuid.uuid4().hex[:12]
    store = await SQLiteStore.open(path)
    size = 0
    try:
        for start in range(0, n, 5000):
            batch = []
            for i in range(start, min(n, start + 5000)):
                raw = {**item.data["raw"], "id": f"wamid.replay{run}{i:08d}"}
                event = Event(item.type, {"account_id": "shop", **item.data, "message_id": raw["id"], "raw": raw})
                body = event.to_json()
                size += len(body)
                batch.append(store.add_event_soon(event, [HOOK], body))
            await asyncio.gather(*batch)
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE deliveries SET state = 'failed', retryable = 1, attempts = 3, last_error = 'HTTP 503'")
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return size / n


def fresh_copy(built: Path, folder: Path, refused: bool) -> None:
    """The built store, alone in an empty folder (the daemon's); `refused`: the hook had answered 4xx."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    shutil.copy(built, folder / "whatshooked.db")
    if refused:
        with sqlite3.connect(folder / "whatshooked.db") as db:
            db.execute("UPDATE deliveries SET retryable = 0, attempts = 1, last_error = 'HTTP 400'")


def stored_bodies(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as db:
        return [(event_id, bytes(body)) for event_id, body in db.execute("SELECT id, body FROM events ORDER BY seq")]


# -- the baseline, in its own process ----------------------------------------------------------------
def post_bodies(conn: Connection) -> None:
    asyncio.run(_post_bodies(conn))


async def _post_bodies(conn: Connection) -> None:
    path, url, concurrency = conn.recv()
    bodies = stored_bodies(Path(path))
    conn.send("ready")
    conn.recv()
    cpu = time.process_time()
    pending = iter(bodies)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            for event_id, body in pending:
                headers = {"Content-Type": "application/json", "webhook-id": event_id}
                async with http.post(url, data=body, headers=headers) as response:
                    await response.release()
                    assert response.status < 300

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    conn.send(time.process_time() - cpu)


# -- the sink ------------------------------------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            self.seen.add(request.headers.get("webhook-id", ""))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner, port = await _listen(app)
        self.url = f"http://127.0.0.1:{port}/hook"

    async def until(self, count: int, within: float) -> None:
        deadline = time.monotonic() + within
        while len(self.seen) < count:
            assert time.monotonic() < deadline, f"the sink has {len(self.seen)} of {count} events after {within}s"
            await asyncio.sleep(0.01)


# -- the runs ------------------------------------------------------------------------------------------
async def run_baseline(sink: Sink, db: Path, concurrency: int) -> tuple[float, float]:
    """Seconds until every POST was answered, and the client's CPU seconds."""
    spawn = multiprocessing.get_context("spawn")
    conn, child = spawn.Pipe()
    process = spawn.Process(target=post_bodies, args=(child,), daemon=True)
    process.start()
    conn.send((str(db), sink.url, concurrency))
    await asyncio.to_thread(conn.recv)
    sink.seen.clear()
    started = time.monotonic()
    conn.send("go")
    cpu = await asyncio.to_thread(conn.recv)
    seconds = time.monotonic() - started
    process.join(10)
    return seconds, cpu


async def undelivered(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/api/cache/stats", headers={"x-api-key": API_KEY}) as response:
        return int((await response.json())["total_count"])


async def run_daemon(mode: str, sink: Sink, graph: GraphStandin, built: Path, folder: Path, n: int,
                     concurrency: int, within: float, profile: Path | None = None,
                     code: Path | None = None) -> tuple[float, float, str]:
    """Seconds until the sink has every event and the store none undelivered, the daemon's CPU seconds
    meanwhile, and what the job counted. `code`: a folder holding another whatshooked package to run."""
    fresh_copy(built, folder, refused=mode == "manual")
    port = free_port()
    text = config_text(folder, port, graph.url, sink.url, business={}).replace(
        "delivery:\n", f"message_cache:\n  max_events: {2 * n}\ndelivery:\n  concurrency: {concurrency}\n")
    config = folder / "config.yaml"
    config.write_text(text)
    daemon = ServeProcess(config, port, env={"PYTHONPATH": str(code)} if code else None)
    counted = ""
    try:
        await daemon.start()
        await daemon.healthy(60)
        async with aiohttp.ClientSession() as http:
            assert await undelivered(http, daemon.url) == n
            sink.seen.clear()
            spy = await _spy(daemon, profile / f"{mode}{'-before' if code else ''}.raw") if profile else None
            assert daemon.proc is not None
            cpu, started = cpu_seconds(daemon.proc.pid), time.monotonic()
            if mode == "recover":
                await _trigger(http, daemon.url)
                await sink.until(n + 1, within)
            else:
                async with http.post(f"{daemon.url}/api/cache/replay", json={"hook_id": HOOK, "wait": False},
                                     headers={"x-api-key": API_KEY}) as response:
                    assert response.status == 202, await response.text()
                    job_id = (await response.json())["job_id"]
                await sink.until(n, within)
                counted = await _job_done(http, daemon.url, job_id, started + within)
            while await undelivered(http, daemon.url):
                assert time.monotonic() < started + within, "the store kept undelivered events"
                await asyncio.sleep(0.01)
            seconds, cpu = time.monotonic() - started, cpu_seconds(daemon.proc.pid) - cpu
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
        daemon.send(signal.SIGTERM)
        await daemon.wait(30)
    except BaseException:
        print(daemon.output()[-5000:], file=sys.stderr)
        raise
    finally:
        await daemon.stop()
    return seconds, cpu, counted


async def _spy(daemon: ServeProcess, out: Path) -> asyncio.subprocess.Process:
    """py-spy sampling the daemon (collapsed stacks in `out`), from $PY_SPY or the PATH."""
    assert daemon.proc is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        os.environ.get("PY_SPY", "py-spy"), "record", "--nonblocking", "-p", str(daemon.proc.pid), "-f", "raw",
        "-o", str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1)  # attached
    return spy


async def _trigger(http: aiohttp.ClientSession, url: str) -> None:
    """One new message: its delivery is the hook's first 2xx, which starts the automatic replay."""
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.trigger{uuid.uuid4().hex}"
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
    async with http.post(url + WEBHOOK_PATH, data=body, headers=headers) as response:
        assert response.status == 200, await response.text()


async def _job_done(http: aiohttp.ClientSession, url: str, job_id: str, deadline: float) -> str:
    while True:
        async with http.get(f"{url}/api/replays/{job_id}", headers={"x-api-key": API_KEY}) as response:
            job = await response.json()
        if job["state"] not in ("counting", "running"):
            return f"{job['state']}: total {job['total']}, delivered {job['delivered']}, failed {job['failed']}, " \
                   f"skipped {job['skipped']}"
        assert time.monotonic() < deadline, f"the replay job is still {job['state']}"
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> int:
    modes = [mode.strip() for mode in args.mode.split(",") if mode.strip()]
    runs = [run for mode in modes for run in ([f"{mode} (before)"] if args.before else []) + [mode]]
    times: dict[str, list[float]] = {"baseline": [], **{run: [] for run in runs}}
    graph = GraphStandin(TOKEN)
    await graph.start()
    sink = Sink()
    await sink.start()
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "built.db"
        began = time.monotonic()
        size = await build_store(built, args.n)
        print(f"store: {args.n} events owed to hook {HOOK!r} (given up, retryable), {size:.0f} B per body, "
              f"built in {time.monotonic() - began:.1f}s; concurrency {args.concurrency}")
        for number in range(1, args.rounds + 1):
            seconds, cpu = await run_baseline(sink, built, args.concurrency)
            times["baseline"].append(seconds)
            print(f"round {number} baseline (bare aiohttp client): {seconds:.2f}s, {args.n / seconds:,.0f} events/s, "
                  f"CPU {cpu / args.n * 1e6:.0f} us/event", flush=True)
            for mode in runs:
                name, code = (mode[:-len(" (before)")], args.before) if mode.endswith(" (before)") else (mode, None)
                seconds, cpu, counted = await run_daemon(name, sink, graph, built, Path(tmp) / name, args.n,
                                                         args.concurrency, args.within, args.profile, code)
                times[mode].append(seconds)
                print(f"round {number} daemon, {mode}: {seconds:.2f}s, {args.n / seconds:,.0f} events/s, "
                      f"{times['baseline'][-1] / seconds:.2f} x baseline, CPU {cpu / args.n * 1e6:.0f} us/event"
                      + (f" (job {counted})" if counted else ""), flush=True)
    await sink.runner.cleanup()  # type: ignore[union-attr]
    await graph.close()
    base = statistics.median(times["baseline"])
    summary = [f"baseline {base:.2f}s ({args.n / base:,.0f}/s)"]
    for mode in runs:
        median = statistics.median(times[mode])
        summary.append(f"{mode} {median:.2f}s ({args.n / median:,.0f}/s, {base / median:.2f} x)")
    print(f"median of {args.rounds} rounds, {args.n} events: " + "; ".join(summary))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="undelivered events (default 100000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every run; medians reported (default 1)")
    parser.add_argument("--mode", default="recover,manual", help="recover, manual or both (default both)")
    parser.add_argument("--concurrency", type=int, default=16, help="delivery.concurrency and the baseline's")
    parser.add_argument("--within", type=float, default=600, help="seconds a run may take (default 600)")
    parser.add_argument("--before", type=Path, help="a folder holding an older whatshooked package (e.g. "
                        "`git archive REV whatshooked | tar -x -C DIR`): each mode also runs on it, just before")
    parser.add_argument("--profile", type=Path, help="a folder: py-spy samples each daemon run into MODE.raw "
                        "(collapsed stacks; py-spy from $PY_SPY or the PATH)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
