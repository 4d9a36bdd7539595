"""The dispatcher against a real hook receiver on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.support.harness import until as eventually
from tests.support.receiver import HookReceiver, Reply
from whatshooked import __version__
from whatshooked.config.load import parse_config
from whatshooked.config.model import Config
from whatshooked.delivery.dispatcher import Dispatcher, ReplyHandler
from whatshooked.events import Event, with_seq
from whatshooked.service.metrics import Metrics
from whatshooked.store.base import Store
from whatshooked.store.open import open_store

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST = {"timeout": 2, "retry": [0.01, 0.01], "concurrency": 4}


@dataclass
class Harness:
    config: Config
    store: Store | None  # the persistent store; None with message_cache.enabled: false (the memory backend)
    metrics: Metrics
    dispatcher: Dispatcher


def make_config(tmp_path: Path, hooks: list[dict[str, Any]], delivery: dict[str, Any] | None = None,
                cache: dict[str, Any] | None = None) -> Config:
    raw = {
        "storage": {"path": str(tmp_path / "store.db")},
        "delivery": {**FAST, **(delivery or {})},
        "message_cache": cache or {"enabled": True},
        "hooks": hooks,
    }
    return parse_config(yaml.safe_dump(raw), tmp_path / "config.yaml")


@asynccontextmanager
async def running(config: Config, reply_handler: ReplyHandler | None = None,
                  close_deadline: float = 1.0) -> AsyncIterator[Harness]:
    store = await open_store(config.storage, config.message_cache.enabled)
    http = aiohttp.ClientSession()
    metrics = Metrics()
    dispatcher = Dispatcher(config, store, metrics, reply_handler)
    try:
        await dispatcher.start()
        yield Harness(config, store if store.persistent else None, metrics, dispatcher)
    finally:
        await dispatcher.close(close_deadline)
        await http.close()
        await store.close()


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def message(text: str = "hello", kind: str = "message.received") -> Event:
    return Event(kind, {"account_id": "shop", "chat": "15551234567@s.whatsapp.net", "text": text})


async def test_body_and_every_header_byte_for_byte(tmp_path: Path, receiver: HookReceiver) -> None:
    hook = {"id": "crm", "url": receiver.url, "secret": SECRET, "headers": {"Authorization": "Bearer abc"}}
    async with running(make_config(tmp_path, [hook])) as h:
        event = message("héllo ✓")
        await h.dispatcher.publish(event)
        [got] = await receiver.wait_for(1)
        assert got.method == "POST"
        assert got.body == with_seq(event.to_json(), 1)  # the store gave it seq 1
        assert json.loads(got.body) == {"id": event.id, "type": event.type, "timestamp": event.timestamp,
                                        "data": event.data, "seq": 1}
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["User-Agent"] == f"whatshooked/{__version__}"
        assert got.headers["X-Whatshooked-Event"] == "message.received"
        assert got.headers["Authorization"] == "Bearer abc"
        assert got.headers["webhook-id"] == event.id
        timestamp = got.headers["webhook-timestamp"]
        assert timestamp.isdigit()
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        expected = hmac.new(key, f"{event.id}.{timestamp}.".encode() + got.body, hashlib.sha256).digest()
        assert got.headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="delivered") == 1
        assert metric(h.metrics, "whatshooked_delivery_latency_seconds_count", hook="crm") == 1


async def test_no_signature_without_a_secret(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        await h.dispatcher.publish(message())
        [got] = await receiver.wait_for(1)
        assert "webhook-signature" not in got.headers
        assert "webhook-id" in got.headers and "webhook-timestamp" in got.headers


async def test_get_hooks_get_query_parameters_and_no_body(tmp_path: Path, receiver: HookReceiver) -> None:
    hook = {"id": "crm", "url": receiver.url, "method": "GET", "secret": SECRET}
    async with running(make_config(tmp_path, [hook])) as h:
        event = message("a&b=c")
        await h.dispatcher.publish(event)
        [got] = await receiver.wait_for(1)
        assert got.method == "GET" and got.body == b""
        assert got.query == {"id": event.id, "type": "message.received", "timestamp": event.timestamp,
                             "account_id": "shop", "data": json.dumps(event.data, separators=(",", ":")), "seq": "1"}
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        signed = f"{event.id}.{got.headers['webhook-timestamp']}.".encode()  # the empty body that was sent
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert got.headers["webhook-signature"] == f"v1,{expected}"


async def test_500_is_retried_with_the_same_id_and_body(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(500), Reply(503))
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        event = message()
        await h.dispatcher.publish(event)
        got = await receiver.wait_for(3)
        assert {r.headers["webhook-id"] for r in got} == {event.id}
        assert {r.body for r in got} == {with_seq(event.to_json(), 1)}
        assert h.store is not None
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="retry") == 2


async def test_429_waits_at_least_retry_after(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(429, headers={"Retry-After": "1"}))
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        await h.dispatcher.publish(message())
        await receiver.wait_for(1)
        first_seen = asyncio.get_running_loop().time()
        await receiver.wait_for(2)
        assert asyncio.get_running_loop().time() - first_seen >= 0.9  # the 0.01s retry wait was raised to 1s


async def test_timeouts_are_retried(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(200, delay=1))
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"timeout": "200ms"})
    async with running(config, close_deadline=0.1) as h:
        await h.dispatcher.publish(message())
        await receiver.wait_for(2)
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="retry") == 1


async def test_other_4xx_are_not_retried_and_stay_cached(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(400)
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        event = message()
        await h.dispatcher.publish(event)
        await receiver.wait_for(1)
        assert h.store is not None
        store = h.store
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="failed"))
        [row] = await store.deliveries_of(event.id)
        assert (row.state, row.last_error) == ("failed", "HTTP 400")
        assert await store.list_undelivered() == [event]
        # a later success does not replay what the hook refused
        receiver.default = Reply(200)
        await h.dispatcher.publish(message("next"))
        await receiver.wait_for(2)
        await eventually(lambda: store.count == 1)
        assert len(receiver.requests) == 2


async def test_attempts_run_out_and_the_event_stays(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(502)
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        event = message()
        await h.dispatcher.publish(event)
        await receiver.wait_for(3)  # the first attempt and two retries
        assert h.store is not None
        store = h.store
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="failed"))
        [row] = await store.deliveries_of(event.id)
        assert (row.state, row.attempts, row.last_error) == ("failed", 2, "HTTP 502")
        assert len(receiver.requests) == 3


async def test_events_go_to_every_matching_active_hook(tmp_path: Path) -> None:
    receivers = [HookReceiver() for _ in range(4)]
    for r in receivers:
        await r.start()
    hooks = [
        {"id": "all", "url": receivers[0].url},
        {"id": "messages", "url": receivers[1].url, "events": ["message.*"]},
        {"id": "connected", "url": receivers[2].url, "events": ["whatsapp.connected", "message.sent"]},
        {"id": "off", "url": receivers[3].url, "active": False},
    ]
    try:
        async with running(make_config(tmp_path, hooks)) as h:
            kinds = ["message.received", "message.read", "whatsapp.connected", "message.sent", "business.x"]
            for kind in kinds:
                await h.dispatcher.publish(message(kind=kind))
            await receivers[0].wait_for(5)
            await receivers[1].wait_for(3)
            await receivers[2].wait_for(2)
            await eventually(lambda: h.store is not None and h.store.count == 0)

            def types(r: HookReceiver) -> list[str]:
                return sorted(x.headers["X-Whatshooked-Event"] for x in r.requests)

            assert types(receivers[0]) == sorted(kinds)
            assert types(receivers[1]) == ["message.read", "message.received", "message.sent"]
            assert types(receivers[2]) == ["message.sent", "whatsapp.connected"]
            assert receivers[3].requests == []
    finally:
        for r in receivers:
            await r.close()


async def test_events_no_hook_matched_are_kept(tmp_path: Path, receiver: HookReceiver) -> None:
    hooks = [{"id": "crm", "url": receiver.url, "events": ["message.*"]}]
    async with running(make_config(tmp_path, hooks)) as h:
        unmatched = message(kind="whatsapp.qr.code")
        await h.dispatcher.publish(unmatched)
        assert h.store is not None
        assert await h.store.list_undelivered() == [unmatched]
        assert await h.store.deliveries_of(unmatched.id) == []


async def test_a_recovered_hook_gets_its_undelivered_events_oldest_first(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.default = Reply(500)
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [0.01], "concurrency": 1})
    async with running(config) as h:
        assert h.store is not None
        store = h.store
        old = [message(f"old {n}") for n in range(3)]
        for event in old:
            await h.dispatcher.publish(event)
        await receiver.wait_for(6)

        async def all_failed() -> bool:
            return [r.state for e in old for r in await store.deliveries_of(e.id)] == ["failed"] * 3

        await eventually(all_failed)
        receiver.default = Reply(200)
        fresh = message("fresh")
        await h.dispatcher.publish(fresh)
        got = await receiver.wait_for(10)
        assert [r.headers["webhook-id"] for r in got[6:]] == [fresh.id] + [e.id for e in old]
        await eventually(lambda: store.count == 0)
        assert metric(h.metrics, "whatshooked_replays_total", hook="crm") == 3


async def test_replay_all_sends_kept_events_to_the_active_matching_hooks(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.default = Reply(400)
    hooks = [{"id": "crm", "url": receiver.url, "events": ["message.*"]}]
    async with running(make_config(tmp_path, hooks)) as h:
        assert h.store is not None
        refused = [message("one"), message("two")]
        unmatched = message(kind="business.account_update")
        for event in [*refused, unmatched]:
            await h.dispatcher.publish(event)
        await receiver.wait_for(2)
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="failed") == 2)

        result = await h.dispatcher.replay_all()  # still refused: nothing leaves; the unmatched one has no target
        assert (result.replayed, result.delivered, result.failed, result.remaining_cached) == (2, 0, 2, 3)

        receiver.default = Reply(200)
        receiver.reply(Reply(410))  # the first replay is refused once more
        h.dispatcher.set_hooks(tuple(parse_hooks(tmp_path, [{"id": "crm", "url": receiver.url}])))
        result = await h.dispatcher.replay_all()
        assert (result.replayed, result.delivered, result.failed, result.remaining_cached) == (3, 2, 1, 1)
        result = await h.dispatcher.replay_all()
        assert (result.replayed, result.delivered, result.failed, result.remaining_cached) == (1, 1, 0, 0)
        assert {r.headers["webhook-id"] for r in receiver.requests} == {e.id for e in [*refused, unmatched]}


async def test_replay_event(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(404)
    async with running(make_config(tmp_path, [{"id": "crm", "url": receiver.url}])) as h:
        assert h.store is not None
        event = message()
        await h.dispatcher.publish(event)
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="failed"))
        assert await h.dispatcher.replay_event(event.id) is False
        assert await h.store.get_event(event.id) == event
        receiver.default = Reply(204)
        assert await h.dispatcher.replay_event(event.id) is True
        assert h.store.count == 0  # it left the cache (kept only for the feed, message_cache.keep_delivered)
        assert [row.state for row in await h.store.deliveries_of(event.id)] == ["delivered"]
        assert await h.dispatcher.replay_event(event.id) is False  # no longer cached
        assert [r.headers["webhook-id"] for r in receiver.requests] == [event.id] * 3


def parse_hooks(tmp_path: Path, hooks: list[dict[str, Any]]) -> tuple[Any, ...]:
    return make_config(tmp_path, hooks).hooks


async def test_a_dedupe_key_raises_an_event_once_with_or_without_the_cache(
        tmp_path: Path, receiver: HookReceiver) -> None:
    for enabled in (True, False):
        receiver.requests.clear()
        config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], cache={"enabled": enabled})
        async with running(config) as h:
            first, again, other = message("one"), message("one again"), message("two")
            assert await h.dispatcher.publish(first, dedupe_key="wamid.1") is True
            assert await h.dispatcher.publish(again, dedupe_key="wamid.1") is False
            assert await h.dispatcher.publish(other, dedupe_key="wamid.2") is True
            got = await receiver.wait_for(2)
            assert {r.json()["id"] for r in got} == {first.id, other.id}
            if h.store is not None:
                await eventually(lambda: h.store is not None and h.store.count == 0)
                assert await h.store.get_event(again.id) is None
        assert len(receiver.requests) == 2
