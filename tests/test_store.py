from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from whatshooked.errors import StoreError
from whatshooked.events import Event
from whatshooked.store import Store
from whatshooked.store_migrations import LATEST


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "data" / "store.db")
    yield opened
    await opened.close()


def event(kind: str = "message.received", **data: object) -> Event:
    return Event(kind, {"account_id": "shop", **data})


async def test_open_sets_up_wal_foreign_keys_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"events", "deliveries", "dedupe", "schema_version"} <= tables
    again = await Store.open(path)  # migrations are not run twice
    await again.close()


async def test_a_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (LATEST + 5,))
    with pytest.raises(StoreError, match=rf"schema version {LATEST + 5}.*newer whatshooked"):
        await Store.open(path)


async def test_event_and_rows_are_committed_and_read_back(store: Store) -> None:
    first, second = event(text="hi"), event("message.sent")
    await store.add_event(first, ["crm", "log"])
    await store.add_event(second, [])
    assert store.count == 2
    assert await store.list_undelivered() == [first, second]
    assert await store.list_undelivered("message.sent") == [second]
    assert await store.list_undelivered(limit=1) == [first]
    assert await store.get_event(first.id) == first
    assert await store.get_body(first.id) == first.to_json()
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
    assert pending[0].body == first.to_json()
    third = event()
    await store.add_event(third, ["crm"])
    await store.mark_given_up(third.id, "crm", "HTTP 503")
    assert [(o.event.id, o.state) for o in await store.given_up_for("crm")] == [(third.id, "failed")]
    assert (await store.deliveries_of(second.id))[0].last_error == "HTTP 400"
    assert await store.pending(["other"]) == []


async def test_concurrent_writes_share_commits_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path)
    events = [event(n=n) for n in range(300)]
    await asyncio.gather(*(store.add_event(e, ["crm"]) for e in events))
    assert store.count == 300
    await asyncio.gather(*(store.mark_delivered(e.id, "crm") for e in events[:100]))
    assert store.count == 200
    await store.close()
    reopened = await Store.open(path)
    try:
        assert reopened.count == 200
        assert [e.id for e in await reopened.list_undelivered()] == [e.id for e in events[100:]]
    finally:
        await reopened.close()


async def test_a_cancelled_writer_still_gets_its_write_committed(store: Store) -> None:
    kept = event()
    task = asyncio.ensure_future(store.add_event(kept, ["crm"]))
    await asyncio.sleep(0)  # let it hand the write over
    task.cancel()
    await store.seen_before("barrier")  # a later write: committed after the cancelled one
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


async def test_dedupe_keys_survive_restarts(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path)
    assert await store.seen_before("wamid.1") is False
    assert await store.seen_before("wamid.1") is True
    await store.close()
    store = await Store.open(path)
    try:
        assert await store.seen_before("wamid.1") is True
        assert await store.seen_before("wamid.2") is False
    finally:
        await store.close()


async def test_prune_drops_the_oldest_beyond_max_events_and_by_age(store: Store) -> None:
    events = [event(n=n) for n in range(5)]
    for e in events:
        await store.add_event(e, ["crm"])
    await store.seen_before("old-key")
    assert await store.prune(max_age=3600, max_events=3) == {"max_age": 0, "max_events": 2}
    assert await store.list_undelivered() == events[2:]
    assert store.count == 3
    later = time.time() + 7200
    assert await store.prune(max_age=3600, max_events=3, now=later) == {"max_age": 3, "max_events": 0}
    assert store.count == 0
    assert await store.seen_before("old-key") is False  # pruned with the same age


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "store.db")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.add_event(event(), [])
