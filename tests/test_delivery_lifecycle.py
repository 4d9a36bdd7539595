"""Restarts, shutdown, the memory-only mode, cache bounds, hook changes and two-way replies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.support.receiver import HookReceiver, Reply
from tests.test_delivery import eventually, make_config, message, metric, running
from whatshooked.events import Event, with_seq
from whatshooked.store.sqlite.store import SQLiteStore


async def test_a_restart_resumes_an_interrupted_delivery_with_the_same_id(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply(Reply(200, delay=1))  # the first attempt hangs; shutdown cuts it off
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}])
    event = message()
    async with running(config, close_deadline=0.05) as h:
        await h.dispatcher.publish(event)
        await receiver.wait_for(1)
    async with running(config) as h:
        got = await receiver.wait_for(2)
        assert [r.headers["webhook-id"] for r in got] == [event.id, event.id]
        assert got[1].body == with_seq(event.to_json(), 1)
        await eventually(lambda: h.store is not None and h.store.count == 0)


async def test_a_restart_keeps_the_retry_schedule(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(503))
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [0.5]})
    event = message()
    async with running(config) as h:
        assert h.store is not None
        store = h.store
        await h.dispatcher.publish(event)

        async def retry_scheduled() -> bool:
            return [r.attempts for r in await store.deliveries_of(event.id)] == [1]

        await eventually(retry_scheduled)
    assert len(receiver.requests) == 1
    async with running(config) as h:
        got = await receiver.wait_for(2)
        assert got[1].headers["webhook-id"] == event.id
        await eventually(lambda: h.store is not None and h.store.count == 0)


async def test_close_lets_attempts_in_flight_finish_within_the_deadline(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply(Reply(200, delay=0.3))
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}])
    async with running(config, close_deadline=5) as h:
        await h.dispatcher.publish(message())
        await receiver.wait_for(1)
        store = h.store
    assert store is not None
    reopened = await SQLiteStore.open(config.storage.path)
    try:
        assert reopened.count == 0  # delivered during shutdown, and recorded
    finally:
        await reopened.close()


async def test_memory_only_mode_retries_without_a_store(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(500))
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], cache={"enabled": False})
    async with running(config) as h:
        assert h.store is None
        event = message()
        await h.dispatcher.publish(event)
        got = await receiver.wait_for(2)
        assert [r.headers["webhook-id"] for r in got] == [event.id, event.id]
        assert got[1].body == with_seq(event.to_json(), 1)
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="delivered"))
        result = await h.dispatcher.replay_all()
        assert (result.replayed, result.remaining_cached) == (0, 0)
    assert not (tmp_path / "store.db").exists()


async def test_max_events_drops_the_oldest(tmp_path: Path) -> None:
    config = make_config(tmp_path, [], cache={"enabled": True, "max_events": 3})
    async with running(config) as h:
        events = [message(str(n), kind="whatsapp.connected") for n in range(5)]
        for event in events:
            await h.dispatcher.publish(event)
        assert h.store is not None
        store = h.store
        await eventually(lambda: store.count == 3)
        assert await store.list_undelivered() == events[2:]
        assert metric(h.metrics, "whatshooked_cache_dropped_total", reason="max_events") == 2
        assert metric(h.metrics, "whatshooked_cache_events") == 3


async def test_removed_hooks_keep_their_rows_and_stop_trying(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(500)
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [0.05] * 50})
    async with running(config) as h:
        assert h.store is not None
        event = message()
        await h.dispatcher.publish(event)
        await receiver.wait_for(2)
        h.dispatcher.set_hooks(())
        await eventually(lambda: not h.dispatcher.hooks)
        seen = len(receiver.requests)
        await h.dispatcher.publish(message("after"))  # no hook: kept as unmatched
        [row] = await h.store.deliveries_of(event.id)
        assert row.state == "pending"
        assert h.store.count == 2
        # re-adding the hook resumes what it is owed
        receiver.default = Reply(200)
        h.dispatcher.set_hooks(config.hooks)
        await receiver.wait_for(seen + 1)
        assert receiver.requests[seen].headers["webhook-id"] == event.id


async def test_two_way_replies_reach_the_reply_handler(tmp_path: Path, receiver: HookReceiver) -> None:
    calls: list[tuple[Event, list[dict[str, Any]]]] = []
    done = asyncio.Event()

    async def handler(event: Event, items: list[dict[str, Any]]) -> None:
        calls.append((event, items))
        done.set()
        if len(calls) == 1:
            raise RuntimeError("sending failed")  # logged, never breaks delivery

    receiver.reply(
        Reply(200, body={"send": {"type": "text", "text": "Thanks!"}}),
        Reply(200, body={"send": [{"type": "text", "text": "a"}, {"type": "image", "url": "https://x/y.png"}]}),
        Reply(200, body={"send": {"type": "text", "text": "not for receipts"}}),
    )
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"concurrency": 1})
    async with running(config, reply_handler=handler) as h:
        first, second = message("hi"), message("again")
        await h.dispatcher.publish(first)
        await eventually(lambda: len(calls) == 1)
        await h.dispatcher.publish(second)
        await eventually(lambda: len(calls) == 2)
        await h.dispatcher.publish(message(kind="message.read"))
        await receiver.wait_for(3)
        await eventually(lambda: h.store is not None and h.store.count == 0)
    assert calls == [
        (first, [{"type": "text", "text": "Thanks!"}]),
        (second, [{"type": "text", "text": "a"}, {"type": "image", "url": "https://x/y.png"}]),
    ]


async def test_publish_after_close_keeps_the_event_for_the_next_start(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}])
    late = message("late")
    async with running(config) as h:
        await h.dispatcher.close(0)
        await h.dispatcher.publish(late)  # e.g. an adapter's disconnect event during shutdown
        assert receiver.requests == []
    async with running(config):
        [got] = await receiver.wait_for(1)
        assert got.headers["webhook-id"] == late.id
