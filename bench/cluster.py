"""Cluster benchmark: signed Cloud API webhooks into `whatshooked serve` on SQLite, on PostgreSQL, and two
daemons sharing PostgreSQL; then the failover time after a kill -9.

    .venv/bin/python bench/cluster.py [--n 2000] [--concurrency 16] [--rounds 3] [--lease 3]

Processes besides this client: the Graph stand-in and the hook (bench/inbound.py's rig, which notes
when each message id arrives), a throwaway PostgreSQL cluster (Debian's binaries, as the tests start
it), and the daemons. Per run, N fresh signed POSTs with --concurrency in flight (split evenly over
the daemons of the run), measured as in bench/inbound.py:
  events/s    N / time until the hook has every event
  200 p99     one POST's time until its 200 (the event is committed)
  hook p99    from a POST to the event's arrival at the hook
Runs: sqlite x1, postgres x1, postgres x2 (the same database; a fresh database per round), each
repeated --rounds times, medians printed. Then failover: two daemons on one database with
storage.lease = --lease seconds, delivering one event at a time; N POSTs go to daemon a only, a is
SIGKILLed as soon as the last is acknowledged (a backlog still waiting in it), and b takes over.
Printed: from the kill to the first event b delivers, and to the last one (all delivered), per round.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from inbound import Result, post_all, serve_rig, signed_posts  # noqa: E402

from tests.support.cloud_daemon import WEBHOOK_PATH, config_text  # noqa: E402
from tests.support.postgres import Cluster, binaries  # noqa: E402
from tests.support.process import ServeProcess, free_port  # noqa: E402


def daemon_config(folder: Path, graph: str, hook: str, url: str | None, node: str, lease: float,
                  concurrency: int = 16) -> ServeProcess:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    text = config_text(folder, port, graph, f"{hook}/hook", business={})
    if url is not None:
        text = text.replace(f"  path: {folder / 'whatshooked.db'}",
                            f'  url: "{url}"\n  node_id: {node}\n  lease: {lease}s')
    text = text.replace("  retry: [100ms]", f"  retry: [100ms, 500ms, 1s, 2s]\n  concurrency: {concurrency}")
    path = folder / "config.yaml"
    path.write_text(text)
    return ServeProcess(path, port, name=node)


async def start(daemons: list[ServeProcess]) -> None:
    await asyncio.gather(*(d.start() for d in daemons))
    await asyncio.gather(*(d.healthy(within=60) for d in daemons))


async def stop(daemons: list[ServeProcess]) -> None:
    for daemon in daemons:
        if daemon.proc is not None and daemon.proc.returncode is None:
            daemon.send(signal.SIGTERM)
            await daemon.wait(30)


async def arrivals(http: aiohttp.ClientSession, hook: str, n: int, within: float = 120) -> dict[str, float]:
    """Wait until the hook has n message ids; when each arrived (system-wide monotonic clock)."""
    deadline = time.monotonic() + within
    while True:
        async with http.get(f"{hook}/stats") as response:
            if (await response.json())["count"] >= n:
                break
        assert time.monotonic() < deadline, f"the hook did not get {n} events within {within} s"
        await asyncio.sleep(0.02)
    async with http.get(f"{hook}/stats", params={"full": "1"}) as response:
        got: dict[str, float] = await response.json()
    return got


async def one_run(http: aiohttp.ClientSession, name: str, daemons: list[ServeProcess], hook: str, n: int,
                  concurrency: int) -> Result:
    async with http.post(f"{hook}/reset"):
        pass
    posts = signed_posts(n)
    share = max(1, concurrency // len(daemons))
    parts = await asyncio.gather(*(post_all(http, d.url + WEBHOOK_PATH, posts[i::len(daemons)], share)
                                   for i, d in enumerate(daemons)))
    started = min(p[0] for p in parts)
    sent = {wamid: at for p in parts for wamid, at in p[1].items()}
    arrived = await arrivals(http, hook, n)
    return Result(name, n, max(arrived.values()) - started, [a for p in parts for a in p[2]],
                  [arrived[wamid] - at for wamid, at in sent.items()])


async def failover(http: aiohttp.ClientSession, cluster: Cluster, folder: Path, graph: str, hook: str, n: int,
                   concurrency: int, lease: float) -> tuple[float, float, int]:
    """(kill -> first delivery by b, kill -> all delivered, events left to b) in seconds."""
    url = cluster.new_database()
    # One delivery at a time: a backlog is still waiting in a when it is killed.
    a, b = (daemon_config(folder / node, graph, hook, url, node, lease, concurrency=1) for node in ("a", "b"))
    await start([a, b])
    try:
        async with http.post(f"{hook}/reset"):
            pass
        posts = signed_posts(n)
        await post_all(http, a.url + WEBHOOK_PATH, posts, concurrency)
        a.send(signal.SIGKILL)
        killed = time.monotonic()
        await a.wait(10)
        arrived = await arrivals(http, hook, n, within=lease * 4 + 60)
        late = sorted(at for at in arrived.values() if at > killed + 0.05)  # not a's last answers in flight
        if not late:
            return 0.0, 0.0, 0
        return late[0] - killed, late[-1] - killed, len(late)
    finally:
        await stop([a, b])


async def main(args: argparse.Namespace) -> int:
    bin_dir = binaries()
    if bin_dir is None:
        sys.exit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    spawn = multiprocessing.get_context("spawn")
    rig_conn, rig_child = spawn.Pipe()
    rig = spawn.Process(target=serve_rig, args=(rig_child,), daemon=True)
    rig.start()
    graph, hook = rig_conn.recv()
    cluster = Cluster(bin_dir)
    cluster.start()
    results: dict[str, list[Result]] = {}
    failovers: list[tuple[float, float, int]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency * 2)) as http:
            for round_number in range(args.rounds):
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp)
                    url = cluster.new_database()
                    setups = {
                        "sqlite x1": [daemon_config(folder / "sqlite", graph, hook, None, "solo", args.lease)],
                        "postgres x1": [daemon_config(folder / "pg1", graph, hook, cluster.new_database(), "solo",
                                                      args.lease)],
                        "postgres x2": [daemon_config(folder / f"pg2{node}", graph, hook, url, node, args.lease)
                                        for node in ("a", "b")],
                    }
                    for name, daemons in setups.items():
                        await start(daemons)
                        try:
                            await one_run(http, name, daemons, hook, min(args.n, 200), args.concurrency)  # warm-up
                            results.setdefault(name, []).append(
                                await one_run(http, name, daemons, hook, args.n, args.concurrency))
                        finally:
                            await stop(daemons)
                    failovers.append(await failover(http, cluster, folder / "failover", graph, hook, args.n,
                                                    args.concurrency, args.lease))
                print(f"round {round_number + 1} done", file=sys.stderr)
    finally:
        cluster.stop()
        rig_conn.send("stop")
        rig.join(5)
    report(results, failovers, args)
    return 0


def report(results: dict[str, list[Result]], failovers: list[tuple[float, float, int]],
           args: argparse.Namespace) -> None:
    med = statistics.median
    print(f"{args.n} webhook POSTs per run, {args.concurrency} in flight, medians of {args.rounds} rounds")
    print(f"{'run':<12} {'events/s':>9} {'200 p50':>8} {'200 p99':>8} {'hook p50':>9} {'hook p99':>9}  (ms)")
    for name, runs in results.items():
        print(f"{name:<12} {med(r.rate for r in runs):>9.0f} {med(r.percentile(r.answers, 50) for r in runs):>8.2f} "
              f"{med(r.percentile(r.answers, 99) for r in runs):>8.2f} "
              f"{med(r.percentile(r.arrivals, 50) for r in runs):>9.2f} "
              f"{med(r.percentile(r.arrivals, 99) for r in runs):>9.2f}")
    for first, last, left in failovers:
        print(f"failover (lease {args.lease:g} s): {left} events left to b; kill -9 -> b's first delivery "
              f"{first:.2f} s, -> all delivered {last:.2f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="webhook POSTs per run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="POSTs in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians reported (default 3)")
    parser.add_argument("--lease", type=float, default=3.0, help="storage.lease in seconds (default 3)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
