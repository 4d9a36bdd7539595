"""Issue 14, goal 3: a job that will ask "still owed?" is read for as its runner takes it, with the
others taken then, so a recovery costs one read a page instead of one per few workers (a recovery
of 100,000 events spent a third of its time there). The answer read ahead is used only while it
still holds: no row taken away since (Store.removals) and at most FRESH seconds old."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import whatshooked.delivery.owed_check as owed_check
from tests.support.postgres import open_backend
from tests.support.receiver import HookReceiver, Reply
from tests.test_delivery import eventually, make_config, message, running
from tests.test_replay_pages import given_up, publish_refused
from whatshooked.config.model import Config
from whatshooked.delivery.owed_check import OwedCheck
from whatshooked.events import Event
from whatshooked.store.base import Store


@dataclass
class Asking:
    """What OwedCheck needs of a job (delivery/job.py)."""

    event: Event
    vouched: tuple[int, float, bool] | None = None



def count_reads(store: Store) -> list[int]:
    """The number of events of each owed_among read from now on."""
    reads: list[int] = []
    real = store.owed_among

    async def counted(hook_id: str, event_ids: Sequence[str]) -> set[str]:
        reads.append(len(event_ids))
        return await real(hook_id, event_ids)

    store.owed_among = counted  # type: ignore[method-assign]
    return reads


async def read_ahead(check: OwedCheck, jobs: list[Asking]) -> None:
    for job in jobs:
        check.ahead("crm", job)
    await eventually(lambda: all(job.vouched is not None for job in jobs))


async def test_answers_read_ahead_are_used_without_another_read(store: Store) -> None:
    events = await given_up(store, 3)
    await store.mark_delivered(events[1].id, "crm")
    reads = count_reads(store)
    check = OwedCheck(store)
    jobs = [Asking(e) for e in events]
    await read_ahead(check, jobs)
    assert reads == [3]  # one read for all three
    assert [await check.owed(job.event.id, "crm", job) for job in jobs] == [True, False, True]
    assert reads == [3]
    assert all(job.vouched is None for job in jobs)  # each answer is used once...
    assert await check.owed(events[0].id, "crm", jobs[0])  # ...then the store is asked again
    assert reads == [3, 1]


async def test_an_answer_read_before_a_row_was_taken_away_is_not_used(store: Store) -> None:
    events = await given_up(store, 3)
    reads = count_reads(store)
    check = OwedCheck(store)
    jobs = [Asking(e) for e in events]
    await read_ahead(check, jobs)
    assert await store.delete_event(events[0].id)
    assert not await check.owed(events[0].id, "crm", jobs[0])  # deleted since its answer was read
    assert await check.owed(events[1].id, "crm", jobs[1])  # any removal makes every earlier answer stale
    assert reads == [3, 1, 1]
    await read_ahead(check, [jobs[2]])
    await store.clear()
    assert not await check.owed(events[2].id, "crm", jobs[2])


async def test_an_answer_read_ahead_is_not_used_once_older_than_fresh(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    [event] = await given_up(store, 1)
    reads = count_reads(store)
    check = OwedCheck(store)
    job = Asking(event)
    await read_ahead(check, [job])
    monkeypatch.setattr(owed_check, "FRESH", -1.0)  # what another daemon sharing the store may have done
    assert await check.owed(event.id, "crm", job)
    assert reads == [1, 1]


@pytest.fixture
def failing_crm(tmp_path: Path, receiver: HookReceiver) -> Config:
    receiver.default = Reply(500)
    return make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [], "concurrency": 16})


async def test_a_recovery_reads_whether_its_jobs_are_owed_once_a_page(
    failing_crm: Config, receiver: HookReceiver
) -> None:
    async with running(failing_crm) as h:
        assert h.store is not None
        old = await publish_refused(h, receiver, 300, "old ")
        reads = count_reads(h.store)
        receiver.default = Reply(200)
        await h.dispatcher.publish(message("fresh"))
        got = await receiver.wait_for(601)
        assert sorted(r.headers["webhook-id"] for r in got[301:]) == sorted(e.id for e in old)
        await eventually(lambda: h.store is not None and h.store.count == 0)
        assert len(reads) <= 3, reads  # 37 before (16, 2, 14, 2, ...): one per few workers' questions
        assert sum(reads) <= 2 * 300


async def test_a_recovery_sends_nothing_more_once_the_cache_is_cleared(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    """Its jobs were read for as they were taken; the clear after it makes those answers stale."""
    receiver.default = Reply(500)
    config = make_config(tmp_path, [{"id": "crm", "url": receiver.url}], {"retry": [], "concurrency": 1})
    async with running(config) as h:
        assert h.store is not None
        store = h.store
        await publish_refused(h, receiver, 40, "old ")
        receiver.default = Reply(200, delay=0.02)
        await h.dispatcher.publish(message("fresh"))
        await receiver.wait_for(44)  # the fresh one and three recovered
        assert await store.clear() > 0
        at_clear = len(receiver.requests)
        runner = h.dispatcher.hooks["crm"]
        await eventually(lambda: not runner.jobs, within=10)
        assert len(receiver.requests) <= at_clear + 1  # the one in flight at most, not the 36 read for


async def test_a_question_is_not_held_up_behind_thousands_of_jobs_read_ahead(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart resumes every overdue row at once: their reads go a part at a time, and a worker's
    question asked meanwhile is answered by the next part's read, not after all of them."""
    monkeypatch.setattr(owed_check, "AHEAD_READ", 50)
    store = await open_backend("sqlite", tmp_path, request)
    try:
        events = await given_up(store, 301)
        reads = count_reads(store)
        check = OwedCheck(store)
        jobs = [Asking(e) for e in events[:300]]
        for job in jobs:
            check.ahead("crm", job)
        assert await check.owed(events[300].id, "crm")
        assert reads == [51]  # the question and the first 50 jobs (before: one read of all 301)
        assert sum(job.vouched is None for job in jobs) == 250
        await eventually(lambda: all(job.vouched is not None for job in jobs))
        assert reads == [51, 50, 50, 50, 50, 50]
    finally:
        await store.close()
