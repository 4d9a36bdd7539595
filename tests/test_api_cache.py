"""The seven `/api/cache*` operations, exactly as the contract shapes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import Running, config, hook, running, until
from tests.support.receiver import HookReceiver, Reply
from whatshooked.events import Event

ACCOUNT = "  - id: personal\n"


async def cached(run: Running) -> list[Event]:
    """Three events no hook matched, so all stay in the cache."""
    adapter = run.adapter("personal")
    return [
        await adapter.receive("one"),
        await adapter.emit("message.read", message_id="m1", chat="15551234567"),
        await adapter.receive("two"),
    ]


def shape(event: Event, seq: int) -> dict[str, object]:
    """An entry of the list; the store numbered the events 1, 2, 3; no hook owes them anything."""
    stored = Event(event.type, event.data, event.id, event.timestamp, seq)
    return {"id": event.id, "timestamp": event.timestamp, "seq": seq, "event": stored.to_dict(), "deliveries": []}


async def test_list_filter_and_stats(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        one, read, two = await cached(run)
        listed = await (await run.client.get("/api/cache")).json()
        assert listed == {"cached_events": [shape(one, 1), shape(read, 2), shape(two, 3)], "count": 3, "limit": 100,
                          "next_after": None}
        received = await (await run.client.get("/api/cache", params={"event_type": "message.received"})).json()
        assert [e["id"] for e in received["cached_events"]] == [one.id, two.id] and received["count"] == 2
        none = await (await run.client.get("/api/cache", params={"event_type": "nope"})).json()
        assert none == {"cached_events": [], "count": 0, "limit": 100, "next_after": None}
        stats = await (await run.client.get("/api/cache/stats")).json()
        assert stats == {"enabled": True, "total_count": 3,
                         "by_event_type": {"message.read": 1, "message.received": 2}}


async def test_get_and_delete_one_event(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        one, *_ = await cached(run)
        got = await run.client.get("/api/cache/event", params={"id": one.id})
        assert got.status == 200 and await got.json() == {**shape(one, 1), "delivered": False, "attempts": []}
        missing = await run.client.get("/api/cache/event")
        assert missing.status == 400 and "'id' is required" in await missing.text()
        unknown = await run.client.get("/api/cache/event", params={"id": "evt_nope"})
        assert unknown.status == 404 and await unknown.text() == "event 'evt_nope' not found in the cache"

        deleted = await run.client.delete("/api/cache/event", params={"id": one.id})
        assert deleted.status == 200
        assert await deleted.json() == {"success": True, "event_id": one.id, "message": "event deleted from the cache"}
        assert (await run.client.delete("/api/cache/event", params={"id": one.id})).status == 404
        assert (await run.client.delete("/api/cache/event")).status == 400
        assert (await (await run.client.get("/api/cache/stats")).json())["total_count"] == 2


@pytest.mark.parametrize("query", [{}, {"confirm": "false"}, {"confirm": "yes"}])
async def test_clear_needs_confirm_true(tmp_path: Path, query: dict[str, str]) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        await cached(run)
        response = await run.client.delete("/api/cache", params=query)
        assert response.status == 400 and "confirm=true" in await response.text()
        assert (await (await run.client.get("/api/cache")).json())["count"] == 3


async def test_clear(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        await cached(run)
        response = await run.client.delete("/api/cache", params={"confirm": "true"})
        assert await response.json() == {"success": True, "cleared": 3, "message": "cleared 3 cached event(s)"}
        assert (await (await run.client.get("/api/cache")).json())["count"] == 0


async def test_replay_all_to_a_hook_added_later(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        events = await cached(run)
        added = await run.client.post("/api/hooks/add", json={"id": "late", "url": receiver.url,
                                                              "name": "late", "active": True})
        assert added.status == 201
        response = await run.client.post("/api/cache/replay")
        assert response.status == 200
        assert await response.json() == {"success": True, "replayed": 3, "delivered": 3, "failed": 0,
                                         "remaining_cached": 0}
        got = await receiver.wait_for(3)
        assert sorted(r.headers["webhook-id"] for r in got) == sorted(e.id for e in events)
        assert {r.json()["id"] for r in got} == {e.id for e in events}


async def test_replay_all_counts_failures(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=500)
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        await cached(run)
        await run.client.post("/api/hooks/add", json={"id": "down", "url": receiver.url})
        result = await (await run.client.post("/api/cache/replay")).json()
        assert result == {"success": True, "replayed": 3, "delivered": 0, "failed": 3, "remaining_cached": 3}


async def test_replay_one_by_query_or_body(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        one, _, two = await cached(run)
        await run.client.post("/api/hooks/add", json={"id": "h", "url": receiver.url, "events": ["message.*"]})
        by_query = await run.client.post("/api/cache/event/replay", params={"id": one.id})
        assert by_query.status == 200
        assert await by_query.json() == {"success": True, "event_id": one.id, "message": "event replayed"}
        by_body = await run.client.post("/api/cache/event/replay", json={"id": two.id})
        assert by_body.status == 200 and (await by_body.json())["event_id"] == two.id
        assert [r.headers["webhook-id"] for r in await receiver.wait_for(2)] == [one.id, two.id]
        kept = await (await run.client.get("/api/cache/event", params={"id": one.id})).json()  # keep_delivered
        assert kept["delivered"] is True and [a["hook_id"] for a in kept["attempts"]] == ["h"]

        assert (await run.client.post("/api/cache/event/replay")).status == 400
        assert (await run.client.post("/api/cache/event/replay", json={})).status == 400
        assert (await run.client.post("/api/cache/event/replay", data=b"{bad")).status == 400
        assert (await run.client.post("/api/cache/event/replay", params={"id": one.id})).status == 404


async def test_replay_one_that_fails_is_500_and_stays(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=503)
    async with running(tmp_path, config(accounts=ACCOUNT, hooks=hook("h", receiver.url, active="false"))) as run:
        one, *_ = await cached(run)
        nobody = await run.client.post("/api/cache/event/replay", params={"id": one.id})
        assert nobody.status == 500
        await run.client.post("/api/hooks/add", json={"id": "down", "url": receiver.url})
        failed = await run.client.post("/api/cache/event/replay", params={"id": one.id})
        assert failed.status == 500 and "failed" in await failed.text()
        assert (await run.client.get("/api/cache/event", params={"id": one.id})).status == 200


async def test_with_the_cache_disabled_everything_is_503_but_stats(tmp_path: Path, receiver: HookReceiver) -> None:
    text = config(accounts=ACCOUNT, hooks=hook("h", receiver.url), extra="message_cache:\n  enabled: false\n")
    async with running(tmp_path, text) as run:
        stats = await run.client.get("/api/cache/stats")
        assert await stats.json() == {"enabled": False, "total_count": 0, "by_event_type": {}}
        for method, path, params in (
            ("GET", "/api/cache", {}), ("DELETE", "/api/cache", {"confirm": "true"}),
            ("POST", "/api/cache/replay", {}), ("GET", "/api/cache/event", {"id": "x"}),
            ("DELETE", "/api/cache/event", {"id": "x"}), ("POST", "/api/cache/event/replay", {"id": "x"}),
        ):
            response = await run.client.request(method, path, params=params)
            assert response.status == 503, path
            assert "message cache is not enabled" in await response.text()
        event = await run.adapter("personal").receive("from memory")
        (got,) = await receiver.wait_for(1)
        assert got.headers["webhook-id"] == event.id
    assert not (tmp_path / "data" / "whatshooked.db").exists()


async def test_a_delivered_event_is_not_listed_once_the_hook_took_it(tmp_path: Path, receiver: HookReceiver) -> None:
    """Delivered marks are committed a moment later in batches; the store's reads see them, no flush needed."""
    async with running(tmp_path, config(accounts=ACCOUNT, hooks=hook("h", receiver.url))) as run:
        delivered = run.daemon.metrics.deliveries.labels("h", "delivered")
        await run.adapter("personal").receive("hello")
        await until(lambda: delivered._value.get() == 1)
        listed = await (await run.client.get("/api/cache")).json()
        stats = await (await run.client.get("/api/cache/stats")).json()
        assert listed == {"cached_events": [], "count": 0, "limit": 100, "next_after": None}
        assert stats["total_count"] == 0
