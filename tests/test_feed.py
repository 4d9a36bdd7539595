"""The gap-free feed (DESIGN §8.2, §8.3): `seq` on every event, `GET /api/events`, keep_delivered."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.harness import config, hook, running, until
from tests.support.postgres import BACKENDS, open_backend
from tests.support.receiver import HookReceiver, Reply
from whatshooked.events import Event
from whatshooked.store.sqlite.migrations import _v1
from whatshooked.store.sqlite.store import SQLiteStore

ACCOUNTS = "  - id: personal\n  - id: work\n"


def event(account: str = "personal", kind: str = "message.received") -> Event:
    return Event(kind, {"account_id": account, "text": "hi"})


async def test_a_receiver_that_was_down_finds_and_fills_its_gap_from_the_feed(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    """It answers 503 while down (and no retries here: it does not trust them anyway); back up, it sees
    seq 5 after seq 1, asks the feed for what came after 1 and gets exactly the events it missed, in
    order, as the hook was sent them."""
    text = config(accounts=ACCOUNTS, hooks=hook("rx", receiver.url), extra="delivery:\n  retry: []\n")
    async with running(tmp_path, text) as run:
        adapter, meters = run.adapter("personal"), run.daemon.metrics.deliveries
        events = [await adapter.receive("one")]
        await until(lambda: meters.labels("rx", "delivered")._value.get() == 1)
        receiver.default = Reply(503)  # down
        events += [await adapter.receive(word) for word in ("two", "three", "four")]
        await until(lambda: meters.labels("rx", "failed")._value.get() >= 3)
        receiver.default = Reply(200)  # up again
        events.append(await adapter.receive("five"))
        await until(lambda: any(r.json()["seq"] == 5 for r in receiver.requests))

        sent = {}  # seq -> the body as the hook was sent it (replays send the same)
        for request in receiver.requests:
            sent.setdefault(request.json()["seq"], request.json())
        assert sorted(sent) == [1, 2, 3, 4, 5]
        assert [sent[seq]["id"] for seq in range(1, 6)] == [e.id for e in events]
        last_handled, arrived = 1, 5  # what the receiver took before and after it was down
        assert arrived > last_handled + 1  # a gap

        response = await run.client.get("/api/events", params={"after": str(last_handled)})
        assert response.status == 200
        page = await response.json()
        assert page["events"] == [sent[seq] for seq in range(2, 6)]  # what it missed, in order, and the one it has
        assert page["count"] == 4 and page["next_after"] == 5 and page["more"] is False

        # Delivered events stay in the feed (keep_delivered, 24h by default).
        everything = await (await run.client.get("/api/events")).json()
        assert [e["seq"] for e in everything["events"]] == [1, 2, 3, 4, 5]
        assert everything["events"][0]["data"]["text"] == "one"


async def test_the_feed_pages_filters_and_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        personal, work = run.adapter("personal"), run.adapter("work")
        await personal.receive("a")
        await work.receive("b")
        await personal.emit("message.read", message_id="m1", chat="15551234567")
        await personal.receive("c")

        first = await (await run.client.get("/api/events", params={"limit": "2"})).json()
        assert [e["seq"] for e in first["events"]] == [1, 2] and first["more"] is True and first["next_after"] == 2
        rest = await (await run.client.get("/api/events", params={"limit": "2", "after": "2"})).json()
        assert [e["seq"] for e in rest["events"]] == [3, 4] and rest["more"] is False
        only = await (await run.client.get("/api/events", params={"account_id": "work"})).json()
        assert [e["data"]["text"] for e in only["events"]] == ["b"]
        reads = await (await run.client.get("/api/events", params={"type": "message.read"})).json()
        assert [e["seq"] for e in reads["events"]] == [3]
        empty = await (await run.client.get("/api/events", params={"after": "4"})).json()
        assert empty == {"events": [], "count": 0, "next_after": 4, "more": False}

        for params, named in (({"after": "-1"}, "after"), ({"after": "x"}, "after"), ({"limit": "0"}, "limit"),
                              ({"limit": "1001"}, "limit"), ({"event_type": "x"}, "event_type"),
                              ({"account_id": "bad id"}, "account_id"), ({"type": ""}, "type")):
            response = await run.client.get("/api/events", params=params)
            assert response.status == 400, params
            assert named in await response.text()
        twice = await run.client.get("/api/events?after=1&after=2")
        assert twice.status == 400 and "after" in await twice.text()


async def test_the_feed_needs_the_cache(tmp_path: Path) -> None:
    async with running(tmp_path, config(extra="message_cache:\n  enabled: false\n")) as run:
        response = await run.client.get("/api/events")
        assert response.status == 503 and "message_cache.enabled" in await response.text()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_seq_is_never_reused_and_delivered_events_leave_when_keep_delivered_is_off(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store = await open_backend(backend, tmp_path, request)
    try:
        store.set_keep_delivered(0)
        first = event()
        await store.add_event(first, ["h"])
        await store.mark_delivered(first.id, "h")  # the newest event, deleted: its seq must not come back
        assert await store.events_after(0, 10) == [] and store.count == 0
        second = event()
        await store.add_event(second, ["h"])
    finally:
        await store.close()
    store = await open_backend(backend, tmp_path, request)  # the same file, or the same database
    try:
        await store.clear()
        third = event()
        await store.add_event(third, [])
        [(seq, got, body)] = await store.events_after(0, 10)
        assert (seq, got.id, got.seq, json.loads(body)["seq"]) == (3, third.id, 3, 3)
    finally:
        await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_delivered_events_are_kept_for_the_feed_then_expire(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store = await open_backend(backend, tmp_path, request)
    try:
        store.set_keep_delivered(3600)
        done, owed = event(), event("work")
        await store.add_event(done, ["h"])
        await store.add_event(owed, ["h"])
        store.mark_delivered_soon(done.id, "h")  # lazy: the reads still see it
        assert [e.id for _, e, _ in await store.events_after(0, 10)] == [done.id, owed.id]
        assert [e.id for _, e, _ in await store.cached_after(0, 10)] == [owed.id]
        assert store.count == 1 and (await store.stats())[0] == 1
        assert [e.id for _, e, _ in await store.events_after(0, 10, account_id="work")] == [owed.id]

        assert await store.prune(7 * 86400, 100_000, now=time.time() + 3000) == {"max_age": 0, "max_events": 0}
        assert len(await store.events_after(0, 10)) == 2  # not yet
        assert await store.prune(7 * 86400, 100_000, now=time.time() + 3700) == {"max_age": 0, "max_events": 0}
        assert [e.id for _, e, _ in await store.events_after(0, 10)] == [owed.id]
        assert store.count == 1  # the undelivered one was never counted out
    finally:
        await store.close()


async def test_a_version_1_store_is_migrated_and_numbering_goes_on(tmp_path: Path) -> None:
    """Events stored before the feed existed keep their seq; their account is read from their bodies."""
    path = tmp_path / "old.db"
    old = [event("personal"), event("work"), event("work")]
    with sqlite3.connect(path) as db:
        db.executescript(_v1("sqlite"))
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        for seq, e in enumerate(old, 1):
            db.execute("INSERT INTO events (seq, id, type, timestamp, created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                       (seq, e.id, e.type, e.timestamp, time.time(), e.to_json()))
            db.execute("INSERT INTO deliveries (event_id, hook_id) VALUES (?, 'h')", (e.id,))
    db.close()
    store = await SQLiteStore.open(path)
    try:
        assert store.count == 3
        assert [(s, e.id) for s, e, _ in await store.events_after(0, 10, account_id="work")] == \
            [(2, old[1].id), (3, old[2].id)]
        new = event()
        await store.add_event(new, ["h"])
        assert (await store.events_after(3, 10))[0][:2] == (4, new)
    finally:
        await store.close()
