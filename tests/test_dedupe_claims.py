"""Dedupe keys claimed a run at a time give the answers of claiming them one by one (issue 14).

A batch of writes mixes new keys, keys seen in earlier commits, keys repeated inside the batch,
writes without a key, and a custom write between them that deletes keys (what the prune does): the
results, the stored events and the recorded keys must be those of the one-at-a-time way.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path
from typing import Any

from whatshooked.events import Event
from whatshooked.store.sqlite.dedupe import claim_all
from whatshooked.store.sqlite.store import SQLiteStore
from whatshooked.store.sqlite.writer import Write


def event(number: int) -> Event:
    return Event("message.received", {"account_id": "shop", "n": number})


def one_by_one(known: set[str], keys: list[str | None]) -> list[bool]:
    """The old way: INSERT OR IGNORE per key, in order."""
    out = []
    for key in keys:
        if key is None:
            out.append(True)
        elif key in known:
            out.append(False)
        else:
            known.add(key)
            out.append(True)
    return out


def test_claims_of_a_run_match_claims_one_by_one(tmp_path: Path) -> None:
    rng = random.Random(14)
    conn = sqlite3.connect(tmp_path / "keys.db", isolation_level=None)
    conn.execute("CREATE TABLE dedupe (key TEXT PRIMARY KEY, seen_at REAL NOT NULL)")
    known: set[str] = set()
    for size in [0, 1, 2, 3, 7, 100, 511, 512, 513, 1500]:
        keys: list[str | None] = [rng.choice([None, f"k{rng.randint(0, 2000)}"]) for _ in range(size)]
        expected = one_by_one(known, keys)
        conn.execute("BEGIN IMMEDIATE")
        assert claim_all(conn, keys) == expected
        conn.execute("COMMIT")
        assert {key for (key,) in conn.execute("SELECT key FROM dedupe")} == known


async def test_a_mixed_batch_stores_what_one_by_one_claims_would(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "store.db")
    try:
        assert await store.add_event(event(0), ["crm"], dedupe_key="seen.before") is True
        writer = store._writer  # noqa: SLF001 - one batch, built by hand, is what is tested
        deleted: list[Any] = []

        def forget(conn: sqlite3.Connection) -> tuple[None, int]:  # as the prune does: keys may go mid-batch
            deleted.append(conn.execute("DELETE FROM dedupe WHERE key = 'seen.before'").rowcount)
            return None, 0

        plan: list[tuple[str, str | None]] = [
            ("event", "a"), ("event", "seen.before"), ("event", None), ("event", "a"), ("custom", None),
            ("event", "seen.before"), ("event", "b"), ("event", "b"), ("event", None),
        ]
        futures = []
        for number, (kind, key) in enumerate(plan, 1):
            if kind == "custom":
                futures.append(writer.submit_nowait(Write(custom=forget)))
            else:
                futures.append(store.add_event_soon(event(number), ["crm"], dedupe_key=key))
        results = await asyncio.gather(*futures)  # all handed over before the writer ran: one transaction
        assert deleted == [1]
        taken = [bool(result) for result, (kind, _) in zip(results, plan, strict=True) if kind == "event"]
        assert taken == [True, False, True, False, True, True, False, True]  # seen.before is new after the delete
        kept = sorted(e.data["n"] for e in await store.list_undelivered())
        assert kept == [0, 1, 3, 6, 7, 9]
        with sqlite3.connect(tmp_path / "store.db") as db:
            assert {key for (key,) in db.execute("SELECT key FROM dedupe")} == {"a", "b", "seen.before"}
    finally:
        await store.close()
