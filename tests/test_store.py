from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from whatshooked.errors import StoreError
from whatshooked.events import Event, with_seq
from whatshooked.store.base import Store
from whatshooked.store.sqlite.migrations import LATEST
from whatshooked.store.sqlite.store import SQLiteStore


def event(kind: str = "message.received", **data: object) -> Event:
    return Event(kind, {"account_id": "shop", **data})


async def test_open_sets_up_wal_foreign_keys_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"events", "deliveries", "dedupe", "schema_version"} <= tables
    again = await SQLiteStore.open(path)  # migrations are not run twice
    await again.close()


async def test_a_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await (await SQLiteStore.open(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (LATEST + 5,))
    with pytest.raises(StoreError, match=rf"schema version {LATEST + 5}.*newer whatshooked"):
        await SQLiteStore.open(path)


async def test_event_and_rows_are_committed_and_read_back(store: Store) -> None:
    first, second = event(text="hi"), event("message.sent")
    await store.add_event(first, ["crm", "log"])
    await store.add_event(second, [])
    assert store.count == 2
    assert await store.list_undelivered() == [first, second]
    assert await store.list_undelivered("message.sent") == [second]
    assert await store.list_undelivered(limit=1) == [first]
    assert await store.get_event(first.id) == first
    assert await store.get_body(first.id) == with_seq(first.to_json(), 1)
    assert await store.get_event("evt_nope") is None
    assert await store.stats() == (2, {"message.received": 1, "message.sent": 1})
    rows = await store.deliveries_of(first.id)
    assert [(r.hook_id, r.state, r.attempts) for r in rows] == [("crm", "pending", 0), ("log", "pending", 0)]


async def test_an_event_leaves_once_every_hook_has_it(store: Store) -> None:
    kept = event()
    await store.add_event(kept, ["crm", "log"])
    await store.mark_delivered(kept.id, "crm")
    assert await store.get_event(kept.id) == kept
    assert not await store.has_delivery(kept.id, "crm")
    assert await store.has_delivery(kept.id, "log")
    await store.mark_delivered(kept.id, "log")
    assert await store.get_event(kept.id) is None
    assert store.count == 0


async def test_marks_from_several_hooks_in_one_commit(store: Store) -> None:
    both, one = event(), event()
    await store.add_event(both, ["crm", "log"])
    await store.add_event(one, ["crm", "log"])
    await asyncio.gather(
        store.mark_delivered(both.id, "crm"), store.mark_delivered(both.id, "log"), store.mark_delivered(one.id, "log")
    )
    assert await store.get_event(both.id) is None
    rows = await store.deliveries_of(one.id)
    assert [(r.hook_id, r.state) for r in rows] == [("crm", "pending"), ("log", "delivered")]
    assert store.count == 1


async def test_attempts_and_given_up_rows(store: Store) -> None:
    first, second = event(), event()
    await store.add_event(first, ["crm"])
    await store.add_event(second, ["crm"])
    await store.mark_attempt(first.id, "crm", 2, 1234.5, "HTTP 503")
    await store.mark_given_up(second.id, "crm", "HTTP 400", retryable=False)
    pending = await store.pending(["crm"])
    assert [(p.event, p.attempts, p.next_attempt_at) for p in pending] == [(first, 2, 1234.5)]
    assert pending[0].body == with_seq(first.to_json(), 1)
    third = event()
    await store.add_event(third, ["crm"])
    await store.mark_given_up(third.id, "crm", "HTTP 503")
    assert [(o.event.id, o.state) for o in await store.given_up_for("crm")] == [(third.id, "failed")]
    assert (await store.deliveries_of(second.id))[0].last_error == "HTTP 400"
    assert await store.pending(["other"]) == []


async def test_concurrent_writes_share_commits_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(path)
    events = [event(n=n) for n in range(300)]
    await asyncio.gather(*(store.add_event(e, ["crm"]) for e in events))
    assert store.count == 300
    await asyncio.gather(*(store.mark_delivered(e.id, "crm") for e in events[:100]))
    assert store.count == 200
    await store.close()
    reopened = await SQLiteStore.open(path)
    try:
        assert reopened.count == 200
        assert [e.id for e in await reopened.list_undelivered()] == [e.id for e in events[100:]]
    finally:
        await reopened.close()


async def test_a_cancelled_writer_still_gets_its_write_committed(store: Store) -> None:
    kept = event()
    task = asyncio.ensure_future(store.add_event(kept, ["crm"]))
    await asyncio.sleep(0)  # let it hand the write over
    task.cancel()  # a read sees every write handed over before it, this one too
    assert await store.get_event(kept.id) == kept


async def test_delete_and_clear(store: Store) -> None:
    events = [event() for _ in range(3)]
    for e in events:
        await store.add_event(e, ["crm"])
    assert await store.delete_event(events[0].id) is True
    assert await store.delete_event(events[0].id) is False
    assert await store.deliveries_of(events[0].id) == []  # rows go with their event
    assert await store.clear() == 2
    assert store.count == 0
    assert await store.stats() == (0, {})


def keys_in(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {key for (key,) in db.execute("SELECT key FROM dedupe")}


async def test_a_dedupe_key_commits_with_its_event_and_survives_restarts(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(path)
    first, again = event(text="one"), event(text="one, redelivered")
    assert await store.add_event(first, ["crm"], dedupe_key="wamid.1") is True
    assert await store.add_event(again, ["crm"], dedupe_key="wamid.1") is False  # nothing stored
    assert await store.list_undelivered() == [first] and store.count == 1
    await store.close()
    store = await SQLiteStore.open(path)
    try:
        assert await store.add_event(event(), [], dedupe_key="wamid.1") is False
        assert await store.add_event(event(), [], dedupe_key="wamid.2") is True
        assert store.count == 2
    finally:
        await store.close()


async def test_one_key_twice_in_one_batch_stores_only_the_first(store: Store) -> None:
    first, second = event(text="first"), event(text="second")
    ran: list[str] = []
    # Both handed over before the writer runs: one transaction holds them both.
    futures = [store.add_event_soon(e, ["crm"], after=lambda _seq, e=e: ran.append(e.id), dedupe_key="wamid.1")
               for e in (first, second)]
    assert await asyncio.gather(*futures) == [True, False]
    assert ran == [first.id]  # the duplicate is not handed to hooks
    assert await store.list_undelivered() == [first] and store.count == 1
    assert await store.deliveries_of(second.id) == []


async def test_a_dedupe_key_is_never_recorded_without_its_event(tmp_path: Path) -> None:
    """A commit that fails takes the key with it: the redelivery must be raised, not dropped as a duplicate."""
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(path)
    try:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.type = 'boom' "
                       "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        failing, fine = event("boom"), event()
        # Handed over together (one batch): the batch fails, then each write is retried on its own.
        results = await asyncio.gather(store.add_event(failing, ["crm"], dedupe_key="wamid.lost"),
                                       store.add_event(fine, ["crm"], dedupe_key="wamid.kept"),
                                       return_exceptions=True)
        assert isinstance(results[0], sqlite3.Error) and results[1] is True
        assert keys_in(path) == {"wamid.kept"}
        assert await store.list_undelivered() == [fine]
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse")
        redelivered = event("boom")
        assert await store.add_event(redelivered, ["crm"], dedupe_key="wamid.lost") is True
        assert await store.list_undelivered() == [fine, redelivered]
    finally:
        await store.close()


async def test_prune_drops_the_oldest_beyond_max_events_and_by_age(store: Store) -> None:
    events = [event(n=n) for n in range(5)]
    for n, e in enumerate(events):
        await store.add_event(e, ["crm"], dedupe_key=None if n else "old-key")
    assert await store.prune(max_age=3600, max_events=3) == {"max_age": 0, "max_events": 2}
    assert await store.list_undelivered() == events[2:]
    assert store.count == 3
    later = time.time() + 7200
    assert await store.prune(max_age=3600, max_events=3, now=later) == {"max_age": 3, "max_events": 0}
    assert store.count == 0
    assert await store.add_event(event(), [], dedupe_key="old-key") is True  # the key is pruned with the same age


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "store.db")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.add_event(event(), [])


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_a_new_store_is_private_and_folders_we_did_not_make_keep_their_mode(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    path = mine / "state" / "data" / "store.db"
    store = await SQLiteStore.open(path)
    try:
        await store.add_event(event(text="private"), ["crm"])
        wal, shm = path.with_name("store.db-wal"), path.with_name("store.db-shm")
        assert {p.name: mode(p) for p in (path, wal, shm)} == {p.name: 0o600 for p in (path, wal, shm)}
        assert mode(mine / "state") == mode(mine / "state" / "data") == 0o700
        assert mode(mine) == 0o755
    finally:
        await store.close()
    path.chmod(0o640)  # the user's choice for a file that exists is kept too
    await (await SQLiteStore.open(path)).close()
    assert mode(path) == 0o640
