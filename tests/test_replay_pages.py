"""Replays at scale (issue 14, goal 3): a recovering hook's rows read in pages, and the runners' "still
owed?" questions answered many to a read, with every guarantee of the one-by-one way kept."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

import whatshooked.delivery.replay as replay
from tests.support.postgres import open_backend
from tests.support.receiver import HookReceiver, Reply
from tests.test_delivery import Harness, eventually, make_config, message, metric, running
from whatshooked.config.model import Config
from whatshooked.delivery.owed_check import OwedCheck
from whatshooked.delivery.replay_filter import ReplayFilter
from whatshooked.events import Event
from whatshooked.store.base import Store


def event() -> Event:
    return Event("message.received", {"account_id": "shop", "text": "hi"})



async def given_up(store: Store, count: int, hook_id: str = "crm") -> list[Event]:
    events = [event() for _ in range(count)]
    for e in events:
        await store.add_event(e, [hook_id])
        await store.mark_given_up(e.id, hook_id, "HTTP 503")
    return events


async def test_given_up_rows_come_in_pages_after_a_seq(store: Store) -> None:
    events = await given_up(store, 5)
    await store.add_event(event(), ["crm"])  # pending, not given up: never in these pages
    first = await store.given_up_for("crm", 0, 2)
    assert [row.event.id for row in first] == [e.id for e in events[:2]]
    after = first[-1].event.seq
    assert after is not None
    rest = await store.given_up_for("crm", after, 10)
    assert [row.event.id for row in rest] == [e.id for e in events[2:]]
    assert [row.event.id for row in await store.given_up_for("crm")] == [e.id for e in events]


async def test_owed_among_answers_for_many_events_and_sees_a_lazy_mark(store: Store) -> None:
    events = await given_up(store, 4)
    store.mark_delivered_soon(events[0].id, "crm")  # handed over, its commit may wait for company
    assert await store.delete_event(events[1].id)
    asked = [e.id for e in events] + ["evt_unknown"]
    assert await store.owed_among("crm", asked) == {events[2].id, events[3].id}
    assert await store.owed_among("log", asked) == set()
    assert await store.owed_among("crm", []) == set()


async def test_cached_seqs_are_the_cache_pages_positions_without_the_bodies(store: Store) -> None:
    events = await given_up(store, 5)
    await store.mark_delivered(events[1].id, "crm")  # left the cache
    positions = [position for position, _, _ in await store.cached_after(0, 100)]
    assert len(positions) == 4
    assert await store.cached_seqs(0, 100) == positions
    assert await store.cached_seqs(positions[0], 2) == positions[1:3]
    assert await store.cached_seqs(positions[-1], 2) == []


async def test_questions_asked_together_share_one_read(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = await open_backend("sqlite", tmp_path, request)
    reads: list[tuple[str, int]] = []
    real = store.owed_among

    async def counted(hook_id: str, event_ids: Sequence[str]) -> set[str]:
        reads.append((hook_id, len(event_ids)))
        return await real(hook_id, event_ids)

    try:
        events = await given_up(store, 40)
        store.mark_delivered_soon(events[0].id, "crm")
        store.owed_among = counted  # type: ignore[method-assign]
        check = OwedCheck(store)
        answers = await asyncio.gather(*(check.owed(e.id, "crm") for e in events), check.owed(events[1].id, "log"))
        assert answers == [False] + [True] * 39 + [False]
        assert sorted(reads) == [("crm", 40), ("log", 1)]  # one read per hook for everything asked at once
        assert await check.owed(events[2].id, "crm")  # and later questions get reads of their own
        assert len(reads) == 3
    finally:
        await store.close()


async def test_a_question_out_at_shutdown_is_cancelled(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = await open_backend("sqlite", tmp_path, request)
    try:
        check = OwedCheck(store)
        asking = asyncio.ensure_future(check.owed("evt_x", "crm"))
        await asyncio.sleep(0)  # asked; the read is out
        await check.close()
        with pytest.raises(asyncio.CancelledError):
            await asking
    finally:
        await store.close()


async def publish_refused(h: Harness, receiver: HookReceiver, count: int, prefix: str) -> list[Event]:
    """`count` events published and refused by every hook (the receiver's default answer), none left to try."""
    events = [message(f"{prefix}{n}") for n in range(count)]
    for event in events:
        await h.dispatcher.publish(event)
    await receiver.wait_for(count * len(h.dispatcher.hooks))
    await eventually(lambda: not any(runner.jobs for runner in h.dispatcher.hooks.values()))
    return events


@pytest.fixture
def failing_crm(tmp_path: Path, receiver: HookReceiver, monkeypatch: pytest.MonkeyPatch) -> Config:
    """One hook, `crm`, refusing with 500 and never retried, recovered in pages of 2, one page read ahead:
    7 rows are four pages, the third read once the first page was attempted."""
    monkeypatch.setattr(replay, "RECOVER_PAGE", 2)
    monkeypatch.setattr(replay, "RECOVER_AHEAD", 1)
    receiver.default = Reply(500)
    return make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [], "concurrency": 1})


async def test_a_recovering_hook_gets_every_page_oldest_first_once(failing_crm: Config, receiver: HookReceiver) -> None:
    async with running(failing_crm) as h:
        assert h.store is not None
        store = h.store
        old = await publish_refused(h, receiver, 7, "old ")
        assert len(await store.given_up_for("crm")) == 7
        receiver.default = Reply(200)
        fresh = message("fresh")
        await h.dispatcher.publish(fresh)
        got = await receiver.wait_for(15)
        assert [r.headers["webhook-id"] for r in got[7:]] == [fresh.id] + [e.id for e in old]
        await eventually(lambda: store.count == 0)
        assert metric(h.metrics, "whatshooked_replays_total", hook="crm") == 7  # each row submitted once
        assert len(receiver.requests) == 15


async def test_a_replay_of_many_pages_counts_each_event_once_and_finishes_what_a_removed_hook_held(
    tmp_path: Path, receiver: HookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "REPLAY_PAGE", 2)  # 5 events: three pages
    receiver.default = Reply(400)  # refused: not retried, and no automatic replay takes them
    hooks = [{"id": name, "url": receiver.url, "events": ["message.*"]} for name in ("crm", "old")]
    config = make_config(tmp_path, hooks, {"retry": []})
    async with running(config) as h:
        assert h.store is not None
        store = h.store
        refused = await publish_refused(h, receiver, 5, "m")
        h.dispatcher.set_hooks(tuple(hook for hook in config.hooks if hook.id == "crm"))  # `old` is removed
        receiver.default = Reply(200)
        job = h.dispatcher.replays.start(ReplayFilter())
        assert job.task is not None
        result = await job.task
        assert (result.replayed, result.delivered, result.failed) == (5, 5, 0)
        assert (job.total, job.delivered, job.failed, job.skipped, job.remaining) == (5, 5, 0, 0, 0)
        sent = [r.headers["webhook-id"] for r in receiver.requests[10:]]
        assert sent == [e.id for e in refused]  # each once, oldest first
        assert store.count == 0  # the removed hook's failed rows do not hold them
        assert await store.list_undelivered() == []


async def test_a_recovery_holds_only_a_few_pages_of_jobs_at_once(
    failing_crm: Config, receiver: HookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(failing_crm) as h:
        assert h.store is not None
        store = h.store
        old = await publish_refused(h, receiver, 12, "old ")
        runner = h.dispatcher.hooks["crm"]
        owned: list[int] = []
        submit = runner.submit

        def counted(job: replay.Job) -> bool:
            taken = submit(job)
            owned.append(len(runner.jobs))
            return taken

        monkeypatch.setattr(runner, "submit", counted)
        receiver.default = Reply(200, delay=0.01)
        await h.dispatcher.publish(message("fresh"))
        got = await receiver.wait_for(25)
        assert [r.headers["webhook-id"] for r in got[13:]] == [e.id for e in old]  # oldest first, each once
        await eventually(lambda: store.count == 0)
        assert max(owned) <= 4  # two pages of two (all 12 at once before)
