"""The feed, the attempt history and kept answers on PostgreSQL, where several daemons share them
(DESIGN §8.1-§8.3): a version 1 database migrated in place, answers to one Idempotency-Key raced by two
daemons, attempts and replays at an event another daemon deleted, delivered events kept across daemons."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg

from tests.test_store_postgres import event, opened
from whatshooked.events import Event
from whatshooked.store.base import Attempt, KeptAnswer
from whatshooked.store.postgres.schema import _V1, LATEST


async def test_a_version_1_database_is_migrated_and_numbering_goes_on(pg_url: str) -> None:
    """Events stored before the feed keep their seq and give their account; a seq is never given twice."""
    old = [Event("message.received", {"account_id": account, "text": "hi"}) for account in ("shop", "work", "work")]
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(_V1)
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); "
                           "INSERT INTO schema_version VALUES (1)")
        for e in old:
            await conn.execute("INSERT INTO events (id, type, timestamp, created_at, body) VALUES ($1, $2, $3, $4, $5)",
                               e.id, e.type, e.timestamp, time.time(), e.to_json())
            await conn.execute("INSERT INTO deliveries (event_id, hook_id) VALUES ($1, 'h')", e.id)
        store = await opened(pg_url)
        try:
            assert await conn.fetchval("SELECT version FROM schema_version") == LATEST
            assert store.count == 3
            assert [(s, e.id) for s, e, _ in await store.events_after(0, 10, account_id="work")] == \
                [(2, old[1].id), (3, old[2].id)]
            await store.mark_delivered(old[2].id, "h", Attempt("h", time.time(), 200, "", 1.5))  # the newest goes
            new = event()
            await store.add_event(new, ["h"])
            [(seq, got, body)] = await store.events_after(2, 10)
            assert (seq, got.id, json.loads(body)["seq"]) == (4, new.id, 4)
        finally:
            await store.close()
    finally:
        await conn.close()


async def test_two_daemons_answering_one_key_at_once_keep_one_answer(pg_url: str) -> None:
    one, two = await opened(pg_url, node_id="one"), await opened(pg_url, node_id="two")
    try:
        now = time.time()
        winners = []
        for n in range(20):
            key = f"race-{n}"
            first, second = (KeptAnswer(f"f-{node}", 200, "application/json", node.encode(), now)
                             for node in ("one", "two"))
            await asyncio.gather(one.keep_answer("shop", key, first, now - 86_400),
                                 two.keep_answer("shop", key, second, now - 86_400))
            seen = {await one.kept_answer("shop", key, now - 86_400), await two.kept_answer("shop", key, now - 86_400)}
            assert len(seen) == 1 and seen <= {first, second}  # one winner, the same for both daemons
            winners += seen
        later = KeptAnswer("f-later", 200, "application/json", b"later", now)
        await two.keep_answer("shop", "race-0", later, now - 86_400)  # the first answer stays the one repeats get
        assert await one.kept_answer("shop", "race-0", now - 86_400) == winners[0]
        stale = KeptAnswer("f-old", 200, "application/json", b"old", now - 90_000)
        await one.keep_answer("shop", "reused", stale, now - 100_000)
        fresh = KeptAnswer("f-new", 201, "application/json", b"new", now)
        await two.keep_answer("shop", "reused", fresh, now - 86_400)  # the old answer's window ran out
        assert await one.kept_answer("shop", "reused", now - 86_400) == fresh
    finally:
        await one.close()
        await two.close()


async def test_attempts_and_replays_at_an_event_another_daemon_deleted(pg_url: str) -> None:
    one, two = await opened(pg_url, node_id="one"), await opened(pg_url, node_id="two")
    try:
        gone, kept = event(1), event(2)
        await one.add_event(gone, ["h"])
        await one.add_event(kept, ["h"])
        assert await two.delete_event(gone.id) is True
        tried = Attempt("h", time.time(), 503, "HTTP 503", 2.0)
        await asyncio.gather(one.mark_attempt(gone.id, "h", 1, time.time() + 60, "HTTP 503", tried),
                             one.mark_given_up(gone.id, "h", "HTTP 410", False, tried),
                             one.mark_delivered(gone.id, "h", tried),
                             one.mark_attempt(kept.id, "h", 1, time.time() + 60, "HTTP 503", tried))
        assert await one.add_deliveries(gone.id, ["other"]) is False
        assert await one.add_deliveries(kept.id, ["other"]) is True
        assert await two.attempts_of(gone.id) == [] and await two.attempts_of(kept.id) == [tried]
        rows = await two.deliveries_for([kept.id])
        assert [(r.hook_id, r.state, r.attempts) for r in rows[kept.id]] == [
            ("h", "pending", 1), ("other", "pending", 0)]
        assert {hook: owed.pending for hook, owed in (await two.owed_by_hook()).items()} == {"h": 1, "other": 1}
    finally:
        await one.close()
        await two.close()


async def test_delivered_events_kept_by_one_daemon_are_in_the_others_feed(pg_url: str) -> None:
    """Two daemons finish the two hooks of each event at once: each event leaves the cache once, stays
    in the feed for keep_delivered, and expires by whichever daemon prunes."""
    one, two = await opened(pg_url, node_id="one"), await opened(pg_url, node_id="two")
    try:
        for store in (one, two):
            store.set_keep_delivered(3600)
        events = [event(n) for n in range(30)]
        for e in events:
            await one.add_event(e, ["crm", "log"])
        await asyncio.gather(*(one.mark_delivered(e.id, "crm") for e in events),
                             *(two.mark_delivered(e.id, "log", Attempt("log", time.time(), 200, "", 1.0))
                               for e in events))
        assert await two.stats() == (0, {}) and await two.cached_after(0, 100) == []
        assert [e.id for _, e, _ in await two.events_after(0, 100)] == [e.id for e in events]
        assert len(await one.attempts_of(events[0].id)) == 1
        assert await two.prune(7 * 86400, 100_000, now=time.time() + 3700) == {"max_age": 0, "max_events": 0}
        assert await one.events_after(0, 100) == []
    finally:
        await one.close()
        await two.close()
