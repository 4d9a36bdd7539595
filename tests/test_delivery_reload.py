"""Reloads and API changes reach a live dispatcher on the next attempt, never the one in flight."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.receiver import HookReceiver, Received, Reply
from tests.test_delivery import eventually, make_config, message, metric, running
from whatshooked.config.model import Config, HookConfig, Secret

OLD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW_SECRET = "whsec_" + base64.b64encode(b"a brand new signing key, 32 byte").decode()


class CountingReceiver(HookReceiver):
    """Also counts requests in flight (arrived, not yet answered), and the count each one arrived to."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self.arrived_to: list[int] = []  # in flight, this one included, as each request arrived
        self._moved = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.arrived_to.append(self.in_flight)
        self._moved.set()
        try:
            return await super()._handle(request)
        finally:
            self.in_flight -= 1
            self._moved.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test helper
        """Wait on the receiver's own changes (no polling) until `check` holds."""
        async with asyncio.timeout(timeout):
            while not check():
                self._moved.clear()
                await self._moved.wait()


@pytest.fixture
async def counting() -> AsyncIterator[CountingReceiver]:
    hook = CountingReceiver()
    await hook.start()
    yield hook
    await hook.close()


def with_delivery(config: Config, **changes: object) -> Config:
    return replace(config, delivery=replace(config.delivery, **changes))


def with_hook(config: Config, **changes: object) -> Config:
    [hook] = config.hooks
    return replace(config, hooks=(replace(hook, **changes),))


def ids(requests: list[Received]) -> list[str]:
    return [r.headers["webhook-id"] for r in requests]


def signature(secret: str, got: Received) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_raising_concurrency_starts_more_workers_in_place(tmp_path: Path, counting: CountingReceiver) -> None:
    counting.default = Reply(200, delay=0.5)
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 1})
    async with running(config) as h:
        events = [message(str(n)) for n in range(5)]
        for event in events:
            await h.dispatcher.publish(event)
        await counting.until(lambda: counting.in_flight == 1)
        assert counting.peak == 1
        h.dispatcher.apply_config(with_delivery(config, concurrency=4))
        await counting.until(lambda: counting.in_flight == 4)
        assert h.dispatcher.hooks["crm"].concurrency == 4
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert sorted(ids(counting.requests)) == sorted(e.id for e in events)  # none lost, none twice
        assert counting.peak == 4


async def test_lowering_concurrency_retires_workers_after_their_current_job(
    tmp_path: Path, counting: CountingReceiver
) -> None:
    counting.default = Reply(200, delay=0.2)
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 4})
    async with running(config) as h:
        events = [message(str(n)) for n in range(8)]
        for event in events:
            await h.dispatcher.publish(event)
        await counting.until(lambda: counting.in_flight == 4)
        h.dispatcher.apply_config(with_delivery(config, concurrency=1))
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert counting.arrived_to[:4] == [1, 2, 3, 4]  # the four in flight were left to finish
        assert counting.arrived_to[4:] == [1, 1, 1, 1]  # then one at a time
        assert sorted(ids(counting.requests)) == sorted(e.id for e in events)


async def test_a_changed_url_takes_the_queue_along_and_spares_the_attempt_in_flight(
    tmp_path: Path, counting: CountingReceiver, receiver: HookReceiver
) -> None:
    counting.reply(Reply(200, delay=0.3))
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 1})
    async with running(config) as h:
        first, queued = message("first"), message("queued")
        await h.dispatcher.publish(first)
        await h.dispatcher.publish(queued)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.apply_config(with_hook(config, url=receiver.url))
        [got] = await receiver.wait_for(1)
        assert got.headers["webhook-id"] == queued.id
        later = message("later")
        await h.dispatcher.publish(later)
        await receiver.wait_for(2)
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert ids(counting.requests) == [first.id]  # finished where it started, not sent again
        assert ids(receiver.requests) == [queued.id, later.id]


async def test_a_changed_secret_signs_the_next_attempt(tmp_path: Path, receiver: HookReceiver) -> None:
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url, "secret": OLD_SECRET}])
    async with running(config) as h:
        await h.dispatcher.publish(message("before"))
        [before] = await receiver.wait_for(1)
        assert before.headers["webhook-signature"] == signature(OLD_SECRET, before)
        [hook] = config.hooks
        new_hook = replace(hook, secret=Secret(NEW_SECRET), headers={"X-Tenant": "b"})
        h.dispatcher.set_hooks((new_hook,))  # as an API change does, without touching delivery settings
        await h.dispatcher.publish(message("after"))
        after = (await receiver.wait_for(2))[1]
        assert after.headers["webhook-signature"] == signature(NEW_SECRET, after)
        assert after.headers["webhook-signature"] != signature(OLD_SECRET, after)
        assert after.headers["X-Tenant"] == "b"


async def test_a_shorter_timeout_applies_from_the_next_attempt(tmp_path: Path, counting: CountingReceiver) -> None:
    counting.reply(Reply(200, delay=0.6), Reply(200, delay=0.6))  # then answers at once
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 1, "timeout": 5})
    async with running(config) as h:
        first, second = message("first"), message("second")
        await h.dispatcher.publish(first)
        await h.dispatcher.publish(second)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.apply_config(with_delivery(config, timeout=0.2))
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert ids(counting.requests) == [first.id, second.id, second.id]  # only the second timed out
        assert metric(h.metrics, "whatshooked_deliveries_total", hook="crm", outcome="retry") == 1


async def test_longer_retries_apply_to_the_attempt_in_flight_when_it_fails(
    tmp_path: Path, counting: CountingReceiver
) -> None:
    counting.reply(Reply(500, delay=0.3), Reply(500), Reply(500))  # then 200
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"retry": [0.01]})
    async with running(config) as h:
        event = message()
        await h.dispatcher.publish(event)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.apply_config(with_delivery(config, retry=(0.01, 0.01, 0.01)))
        await eventually(lambda: h.store is not None and h.store.count == 0)  # the 4th attempt, not given up at the 2nd
        assert ids(counting.requests) == [event.id] * 4


@pytest.mark.parametrize("cache", [True, False])
async def test_an_inactive_hook_keeps_its_queue_and_resumes_when_active(
    tmp_path: Path, counting: CountingReceiver, receiver: HookReceiver, cache: bool
) -> None:
    counting.reply(Reply(200, delay=0.3))
    hooks = [{"id": "crm", "url": counting.url}, {"id": "other", "url": receiver.url, "events": ["whatsapp.*"]}]
    config = make_config(tmp_path, hooks, {"concurrency": 1}, cache={"enabled": cache})
    crm, other = config.hooks
    async with running(config) as h:
        queued = [message(str(n)) for n in range(3)]
        for event in queued:
            await h.dispatcher.publish(event)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.set_hooks((replace(crm, active=False), other))
        runner = h.dispatcher.hooks["crm"]
        await counting.until(lambda: counting.in_flight == 0)  # the attempt in flight finishes
        await eventually(lambda: runner.in_flight == 0 and queued[0].id not in runner.jobs)
        meanwhile = message("while inactive")
        await h.dispatcher.publish(meanwhile)  # no active hook wants it
        await h.dispatcher.publish(message(kind="whatsapp.connected"))  # the other hook keeps working
        await receiver.wait_for(1)
        assert ids(counting.requests) == [queued[0].id]
        assert sorted(runner.jobs) == sorted(e.id for e in queued[1:])
        if h.store is not None:
            store = h.store
            for event in queued[1:]:
                assert [(r.hook_id, r.state) for r in await store.deliveries_of(event.id)] == [("crm", "pending")]
            assert await store.deliveries_of(meanwhile.id) == []
            # the other hook's delivered mark is queued "soon": the read still sees it (Writer.settled)
            assert {e.id for e in await store.list_undelivered()} == {e.id for e in [*queued[1:], meanwhile]}

        h.dispatcher.set_hooks((crm, other))
        await counting.wait_for(3)
        assert ids(counting.requests) == [e.id for e in queued]  # each once, in order
        if h.store is not None:
            store = h.store
            await eventually(lambda: store.count == 1)
            assert [e.id for e in await store.list_undelivered()] == [meanwhile.id]  # to be replayed by hand


async def test_reactivation_does_not_send_what_was_cleared_meanwhile(
    tmp_path: Path, counting: CountingReceiver
) -> None:
    counting.reply(Reply(200, delay=0.3))
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 1})
    [crm] = config.hooks
    async with running(config) as h:
        assert h.store is not None
        first, cleared = message("first"), message("cleared")
        await h.dispatcher.publish(first)
        await h.dispatcher.publish(cleared)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.set_hooks((replace(crm, active=False),))
        await eventually(lambda: first.id not in h.dispatcher.hooks["crm"].jobs)
        assert await h.store.delete_event(cleared.id)
        h.dispatcher.set_hooks((crm,))
        await eventually(lambda: not h.dispatcher.hooks["crm"].jobs)
        last = message("last")
        await h.dispatcher.publish(last)
        await counting.wait_for(2)
        assert ids(counting.requests) == [first.id, last.id]


async def test_a_removed_hook_finishes_its_attempt_in_flight_and_resumes_once_re_added(
    tmp_path: Path, counting: CountingReceiver
) -> None:
    counting.reply(Reply(200, delay=0.3))
    config = make_config(tmp_path, [{"id": "crm", "url": counting.url}], {"concurrency": 1})
    async with running(config) as h:
        assert h.store is not None
        store = h.store
        first, queued = message("first"), message("queued")
        await h.dispatcher.publish(first)
        await h.dispatcher.publish(queued)
        await counting.until(lambda: counting.in_flight == 1)
        h.dispatcher.set_hooks(())
        h.dispatcher.set_hooks(config.hooks)  # back before the attempt in flight has finished
        await counting.wait_for(2)
        await eventually(lambda: store.count == 0)
        assert ids(counting.requests) == [first.id, queued.id]  # the one in flight is not sent twice


def test_hook_configs_are_frozen() -> None:
    """The runner swaps whole definitions; a HookConfig edited in place would bypass configure()."""
    hook = HookConfig(id="crm", url="http://127.0.0.1/")
    with pytest.raises(AttributeError):
        hook.url = "http://elsewhere/"  # type: ignore[misc]
