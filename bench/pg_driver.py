"""Driver benchmark for the PostgreSQL store: asyncpg against psycopg 3 (async), on the store's own writes.

    .venv/bin/pip install -e ".[bench]"  # psycopg 3 and its pool, for the comparison
    .venv/bin/python bench/pg_driver.py [--n 2000] [--concurrency 32] [--rounds 3]

Starts a throwaway PostgreSQL cluster (Debian's binaries, as the tests do), migrates a fresh database
per driver and round with the store's schema, then runs with each driver, --concurrency callers
sharing a pool of 10 connections:
  add       the store's ADD_EVENTS statement for one event (~0.5 kB, two delivery rows, a dedupe key): one
            round trip and one transaction per event (the store batches what arrives meanwhile; one
            event per call is its worst case)
  add x32   the same statement with 32 events per call (a burst)
  delivered the store's wh_delivered() for both hooks of every event (batches of 1: the worst case)
Prints events/s and p50/p99 per call for both, and the ratio asyncpg / psycopg (medians of the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import Cluster, binaries  # noqa: E402
from whatshooked.store.postgres.schema import ADD_EVENTS, DELIVERED, LATEST, MIGRATIONS  # noqa: E402

BODY = b'{"type":"message.received","data":{"text":"' + b"x" * 420 + b'"}}'
POOL = 10


def psycopg_sql(sql: str) -> str:
    """$1 placeholders as psycopg's %s (it sends server-side parameters the same way)."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", sql)


class AsyncpgDriver:
    name = "asyncpg"

    async def open(self, url: str) -> None:
        import asyncpg
        self.pool = await asyncpg.create_pool(url, min_size=POOL, max_size=POOL)

    async def run(self, sql: str, *args: Any) -> None:
        async with self.pool.acquire() as conn:
            await conn.fetchval(sql, *args)

    async def script(self, sql: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(sql)

    async def close(self) -> None:
        await self.pool.close()


class PsycopgDriver:
    name = "psycopg"

    async def open(self, url: str) -> None:
        from psycopg_pool import AsyncConnectionPool
        self.pool = AsyncConnectionPool(url, min_size=POOL, max_size=POOL, open=False, kwargs={"autocommit": True})
        await self.pool.open(wait=True)
        self._sql: dict[str, str] = {}

    async def run(self, sql: str, *args: Any) -> None:
        text = self._sql.setdefault(sql, psycopg_sql(sql))
        params = {f"p{n}": value for n, value in enumerate(args, 1)}
        async with self.pool.connection() as conn:
            await (await conn.execute(text, params, prepare=True)).fetchone()

    async def script(self, sql: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(sql)

    async def close(self) -> None:
        await self.pool.close()


async def timed(calls: Sequence[Callable[[], Awaitable[None]]], concurrency: int) -> tuple[float, float, float]:
    """(calls/s, p50 ms, p99 ms) with `concurrency` callers taking the calls in turn."""
    latencies: list[float] = []
    queue = iter(calls)

    async def caller() -> None:
        for call in queue:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100)
    return len(calls) / elapsed, cuts[49] * 1000, cuts[98] * 1000


def chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def add_args(ids: list[str]) -> tuple[Any, ...]:
    """ADD_EVENTS's parameters for these events, each with two hooks and a dedupe key."""
    now = time.time()
    hooks = [(i, h) for i in ids for h in ("crm", "log")]
    return (ADD_EVENTS, ids, ["message.received"] * len(ids), ["2026-12-03T00:00:00Z"] * len(ids), [now] * len(ids),
            [BODY] * len(ids), ["key-" + i for i in ids], [h[0] for h in hooks], [h[1] for h in hooks], "bench", 30.0)


async def one(driver: Any, url: str, n: int, concurrency: int) -> dict[str, tuple[float, float, float]]:
    await driver.open(url)
    try:
        await driver.script(dict(MIGRATIONS)[LATEST])
        ids = [f"evt_{uuid.uuid4().hex}" for _ in range(n)]
        ids2 = [f"evt_{uuid.uuid4().hex}" for _ in range(n)]
        adds = [lambda part=part: driver.run(*add_args(part)) for part in chunks(ids, 1)]
        bursts = [lambda part=part: driver.run(*add_args(part)) for part in chunks(ids2, 32)]
        marks = [lambda i=i, h=h: driver.run(DELIVERED, [i], [h]) for i in ids for h in ("crm", "log")]
        return {"add": await timed(adds, concurrency), "add x32": await timed(bursts, max(1, concurrency // 8)),
                "delivered": await timed(marks, concurrency)}
    finally:
        await driver.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bin_dir = binaries()
    if bin_dir is None:
        sys.exit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    cluster = Cluster(bin_dir)
    cluster.start()
    try:
        results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
        for _ in range(args.rounds):
            for driver in (AsyncpgDriver(), PsycopgDriver()):
                got = await one(driver, cluster.new_database(), args.n, args.concurrency)
                for op, figures in got.items():
                    results.setdefault(driver.name, {}).setdefault(op, []).append(figures)
    finally:
        cluster.stop()
    print(f"{args.n} events, {args.concurrency} callers, pool {POOL}, medians of {args.rounds} rounds")
    medians = {name: {op: tuple(statistics.median(r[k] for r in runs) for k in range(3))
                      for op, runs in ops.items()} for name, ops in results.items()}
    for name, ops in medians.items():
        for op, (rate, p50, p99) in ops.items():
            events = rate * (32 if op == "add x32" else 1)
            print(f"  {name:8} {op:10} {events:8.0f} events/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    for op in ("add", "add x32", "delivered"):
        ratio = medians["asyncpg"][op][0] / medians["psycopg"][op][0]
        print(f"  asyncpg / psycopg, {op}: {ratio:.2f} x")


if __name__ == "__main__":
    asyncio.run(main())
