"""Store benchmark: the SQLite writes between an event in and its deliveries out, against naive aiosqlite.

    .venv/bin/python bench/store.py [--n 2000] [--concurrency 256] [--rounds 5]

Every run uses a fresh SQLite file in a temporary folder and realistic events: the message.received
that tests/fixtures/meta/message_text.json becomes (Meta's message kept as `raw`, ~0.5 kB of JSON).
--concurrency callers share the N events and await each write, as webhook requests and hook workers
do. Runs, in order, per round:
  naive, 1 hook     plain aiosqlite (WAL, synchronous=NORMAL, same schema), one transaction and commit
                    per event (an asyncio.Lock serialises them on the one connection), then per mark
  store, 1 hook     Store.add_event for every event, then Store.mark_delivered for every row
  naive / store, 2 hooks   the same with two delivery rows per event (each mark_delivered per hook)
  naive / store, dedupe    add with a dedupe key, half the calls repeating a key (shuffled, so a
                    duplicate may share a commit with its original); 1 hook, no marks
  naive / store, 1 caller  1 hook, N/10 events from a single caller: one commit's own latency
With --history the store runs as the daemon does by default: each delivered mark carries its attempt's
record (the attempt history) and delivered events are kept for the feed (message_cache.keep_delivered).
"latency" is one call's time from being made to returning (its commit, queueing included). All runs
are repeated --rounds times and the medians reported, the store's events/s as a ratio to the naive
run of the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whatshooked.accounts.cloud_api.inbound import parse_payload  # noqa: E402
from whatshooked.events import Event  # noqa: E402
from whatshooked.store.base import Attempt  # noqa: E402
from whatshooked.store.sqlite.migrations import migrate  # noqa: E402
from whatshooked.store.sqlite.store import SQLiteStore  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "meta" / "message_text.json"
HOOKS = ("alpha", "beta")


# -- workload ----------------------------------------------------------------------------------------
def realistic_events(n: int) -> list[Event]:
    """n message.received events as the Cloud API account raises them, each with its own wamid."""
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    item = parse_payload(payload, "shop", "106540352242922").items[0]
    events = []
    for i in range(n):
        raw = {**item.data["raw"], "id": f"wamid.bench{i:08d}"}
        events.append(Event(item.type, {"account_id": "shop", **item.data, "message_id": raw["id"], "raw": raw}))
    return events


def dedupe_keys(n: int, seed: int) -> list[str]:
    """n keys, each of n/2 twice, shuffled (Meta redelivering what it sent a moment ago)."""
    keys = [f"cloud:msg:shop:wamid.bench{i // 2:08d}" for i in range(n)]
    random.Random(seed).shuffle(keys)
    return keys


async def timed_calls(calls: Sequence[Callable[[], Awaitable[Any]]], concurrency: int) -> tuple[float, list[float]]:
    """Run the calls from `concurrency` workers; (wall seconds, each call's latency)."""
    latencies: list[float] = []
    pending = iter(calls)

    async def worker() -> None:
        for call in pending:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


@dataclass
class Result:
    name: str
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


# -- the naive baseline ------------------------------------------------------------------------------
class Naive:
    """What one would write first: one aiosqlite connection, a transaction and commit per call."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.lock = asyncio.Lock()  # one connection: transactions must not interleave

    @classmethod
    async def open(cls, path: Path) -> Naive:
        db = await aiosqlite.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 5000", "foreign_keys = ON"):
            await db.execute(f"PRAGMA {pragma}")
        await migrate(db, path)
        return cls(db)

    async def add_event(self, event: Event, hook_ids: tuple[str, ...], dedupe_key: str | None = None) -> bool:
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            if dedupe_key is not None:
                cursor = await self.db.execute(
                    "INSERT OR IGNORE INTO dedupe (key, seen_at) VALUES (?, ?)", (dedupe_key, time.time()))
                if cursor.rowcount != 1:
                    await self.db.execute("COMMIT")
                    return False
            await self.db.execute(
                "INSERT INTO events (id, type, timestamp, created_at, body) VALUES (?, ?, ?, ?, ?)",
                (event.id, event.type, event.timestamp, time.time(), event.to_json()),
            )
            await self.db.executemany(
                "INSERT INTO deliveries (event_id, hook_id) VALUES (?, ?)", [(event.id, h) for h in hook_ids])
            await self.db.execute("COMMIT")
            return True

    async def mark_delivered(self, event_id: str, hook_id: str) -> None:
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            await self.db.execute(
                "UPDATE deliveries SET state = 'delivered' WHERE event_id = ? AND hook_id = ?", (event_id, hook_id))
            await self.db.execute(
                "DELETE FROM events WHERE id = ? AND NOT EXISTS (SELECT 1 FROM deliveries "
                "WHERE event_id = ? AND state != 'delivered')", (event_id, event_id))
            await self.db.execute("COMMIT")

    async def count(self) -> int:
        rows = list(await self.db.execute_fetchall("SELECT COUNT(*) FROM events"))
        return int(rows[0][0])

    async def close(self) -> None:
        await self.db.close()


# -- runs --------------------------------------------------------------------------------------------
async def run_pair(folder: Path, events: list[Event], hook_ids: tuple[str, ...], concurrency: int,
                   naive: bool, history: bool = False) -> tuple[Result, Result]:
    """Add every event, then mark every row delivered; the cache must be empty at the end."""
    path = folder / f"{'naive' if naive else 'store'}-{len(hook_ids)}-{time.monotonic_ns()}.db"
    db: Naive | SQLiteStore = await Naive.open(path) if naive else await SQLiteStore.open(path)
    if history and isinstance(db, SQLiteStore):
        db.set_keep_delivered(86400.0)
    label = f"{'naive' if naive else 'store'}, {len(hook_ids)} hook{'s' if len(hook_ids) > 1 else ''}"
    label += ", 1 caller" if concurrency == 1 else ""
    try:
        adds = [partial(db.add_event, e, hook_ids) for e in events]
        added = Result(f"{label}, add", len(events), *await timed_calls(adds, concurrency))
        marks = [partial(db.mark_delivered, e.id, h, *([Attempt(h, time.time(), 200, "", 12.5)] if history else []))
                 for e in events for h in hook_ids]
        marked = Result(f"{label}, delivered", len(marks), *await timed_calls(marks, concurrency))
        left = await db.count() if isinstance(db, Naive) else db.count
        assert left == 0, f"{label}: {left} events left after every row was marked delivered"
    finally:
        await db.close()
    return added, marked


async def run_dedupe(folder: Path, events: list[Event], keys: list[str], concurrency: int, naive: bool) -> Result:
    path = folder / f"{'naive' if naive else 'store'}-dedupe-{time.monotonic_ns()}.db"
    db: Naive | SQLiteStore = await Naive.open(path) if naive else await SQLiteStore.open(path)
    try:
        calls = [partial(db.add_event, e, HOOKS[:1], dedupe_key=k) for e, k in zip(events, keys, strict=True)]
        name = f"{'naive' if naive else 'store'}, dedupe add"
        result = Result(name, len(calls), *await timed_calls(calls, concurrency))
        kept = await db.count() if isinstance(db, Naive) else db.count
        assert kept == len(set(keys)), f"dedupe kept {kept} events for {len(set(keys))} distinct keys"
    finally:
        await db.close()
    return result


async def one_round(folder: Path, events: list[Event], concurrency: int, seed: int,
                    history: bool = False) -> list[Result]:
    results: list[Result] = []
    for hook_ids in (HOOKS[:1], HOOKS):
        results += await run_pair(folder, events, hook_ids, concurrency, naive=True)
        results += await run_pair(folder, events, hook_ids, concurrency, naive=False, history=history)
    keys = dedupe_keys(len(events), seed)
    results.append(await run_dedupe(folder, events, keys, concurrency, naive=True))
    results.append(await run_dedupe(folder, events, keys, concurrency, naive=False))
    few = events[: max(len(events) // 10, 100)]
    results += await run_pair(folder, few, HOOKS[:1], 1, naive=True)
    results += await run_pair(folder, few, HOOKS[:1], 1, naive=False, history=history)
    return results


async def main(args: argparse.Namespace) -> int:
    events = realistic_events(args.n)
    print(f"{args.n} events of {statistics.mean(len(e.to_json()) for e in events):.0f} bytes, "
          f"{args.concurrency} concurrent callers, {args.rounds} rounds")
    rounds: list[list[Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await one_round(folder, events[: min(args.n, 300)], args.concurrency, seed=0)  # warm-up
        for number in range(args.rounds):
            rounds.append(await one_round(folder, events, args.concurrency, seed=number, history=args.history))
    return report(rounds)


def report(rounds: list[list[Result]]) -> int:
    """Per run, medians across rounds; the store against the naive run just before it (same round)."""
    print(f"{'run':<35} {'calls':>6} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x naive':>8}")
    summary: dict[str, float] = {}
    for index, name in enumerate(r.name for r in rounds[0]):
        runs = [results[index] for results in rounds]
        rate = statistics.median(r.rate for r in runs)
        p50 = statistics.median(r.percentile(50) for r in runs)
        p99 = statistics.median(r.percentile(99) for r in runs)
        ratio = ""
        if name.startswith("store"):
            baseline = _baseline_index(rounds[0], name)
            summary[name] = statistics.median(results[index].rate / results[baseline].rate for results in rounds)
            ratio = f"{summary[name]:.2f}"
        print(f"{name:<35} {runs[0].calls:>6} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f} {ratio:>8}")
    print(f"median over {len(rounds)} rounds, store calls/s x naive: " + "; ".join(
        f"{name.removeprefix('store, ')} {ratio:.1f} x" for name, ratio in summary.items()))
    return 0


def _baseline_index(results: list[Result], name: str) -> int:
    wanted = name.replace("store", "naive", 1)
    return next(i for i, r in enumerate(results) if r.name == wanted)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="events per run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=256, help="concurrent callers (default 256)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every run; medians reported (default 5)")
    parser.add_argument("--history", action="store_true",
                        help="marks carry attempt records and delivered events are kept (the daemon's default)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
