"""Store CPU per event: what one event costs the process (all threads), in and out, without the wall clock.

    .venv/bin/python bench/store_cpu.py [--history] [--root PATH] [--n 3000] [--rounds 7]

For a machine shared with other work, where wall-clock rates swing: process CPU time moves far less.
Adds N events (1 hook, 256 callers, ~0.5 kB), then queues a delivered mark for each (as the hot path
does) and waits for them; prints the median µs per event of each half. `--history`: the marks carry
attempt records and delivered events are kept (the daemon's default). `--root`: the whatshooked
checkout to measure (e.g. an older commit unpacked with `git archive`, to compare before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


async def one(folder: Path, n: int, history: bool) -> tuple[float, float]:
    events_module = importlib.import_module("whatshooked.events")
    store_module = importlib.import_module("whatshooked.store.sqlite.store")
    store: Any = await store_module.SQLiteStore.open(folder / f"s{time.monotonic_ns()}.db")
    record: Any = None
    if history:
        record = importlib.import_module("whatshooked.store.base").Attempt
        store.set_keep_delivered(86400.0)
    events = [events_module.Event("message.received", {"account_id": "shop", "text": "x" * 400, "n": i})
              for i in range(n)]
    gate = asyncio.Semaphore(256)

    async def add(event: Any) -> None:
        async with gate:
            await store.add_event(event, ["h"])

    start = time.process_time()
    await asyncio.gather(*(add(event) for event in events))
    added = time.process_time()
    for event in events:
        if record is not None:
            store.mark_delivered_soon(event.id, "h", record("h", time.time(), 200, "", 12.5))
        else:
            store.mark_delivered_soon(event.id, "h")
    await store.stats()  # a read waits for every write handed over before it
    marked = time.process_time()
    assert store.count == 0
    await store.close()
    return (added - start) * 1e6 / n, (marked - added) * 1e6 / n


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        await one(Path(tmp), min(args.n, 300), args.history)  # warm-up
        runs = [await one(Path(tmp), args.n, args.history) for _ in range(args.rounds)]
    print(f"{'history' if args.history else 'plain'}: add {statistics.median(r[0] for r in runs):.1f} µs/event, "
          f"delivered {statistics.median(r[1] for r in runs):.1f} µs/event (median of {args.rounds})")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", action="store_true", help="marks carry attempt records; delivered kept")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the whatshooked checkout to measure (default: this one)")
    parser.add_argument("--n", type=int, default=3000, help="events per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the median is printed (default 7)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    sys.path.insert(0, str(arguments.root))
    sys.exit(asyncio.run(main(arguments)))
