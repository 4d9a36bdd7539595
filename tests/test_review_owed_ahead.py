"""Review of the answers read ahead for "still owed?" (delivery/owed_check.py, issue 14 goal 3): the
ways an answer read as a runner took its job could go stale without `Store.removals` moving, and
the stored bodies read with strict_json instead of json.loads."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

import whatshooked.delivery.owed_check as owed_check
from tests.support.gated_receiver import gated
from tests.support.postgres import open_backend
from tests.test_delivery import eventually, make_config, message, running
from tests.test_owed_ahead import Asking
from tests.test_replay_pages import given_up
from whatshooked.delivery.owed_check import OwedCheck
from whatshooked.events import Event
from whatshooked.store.base import Store


# -- a removal whose caller is cancelled ------------------------------------------------------------
async def test_a_deletion_whose_caller_was_cancelled_still_makes_answers_read_before_it_landed_stale(
    store: Store,
) -> None:
    """The write was handed over (shielded) and lands after the cancel: `removals` must move then,
    not at the cancel, or an answer read between the two is used for a row already deleted."""
    e = Event("message.received", {"account_id": "shop", "text": "hi"})
    await store.add_event(e, ["crm"])
    await store.mark_given_up(e.id, "crm", "HTTP 503")
    deleting = asyncio.get_running_loop().create_task(store.delete_event(e.id))
    await asyncio.sleep(0)  # one step: the deletion is handed over to the store's writer
    deleting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await deleting
    job = Asking(e, (store.removals, asyncio.get_running_loop().time(), True))  # an answer read now, as a read
    # racing the deletion may (SQLite's owed_among does not wait for the writer)
    await eventually(lambda: gone(store, e.id), within=10)
    assert not await OwedCheck(store).owed(e.id, "crm", job)  # deleted: not sent


async def gone(store: Store, event_id: str) -> bool:
    return await store.get_body(event_id) is None


async def owed_nothing(store: Store, event_id: str) -> bool:
    return not await store.has_delivery(event_id, "crm")


# -- stored bodies read with strict_json --------------------------------------------------------------
def older_body(e: Event) -> bytes:
    """How versions before 9b99a7d wrote an event (json.dumps, NaN/Infinity allowed): a webhook's `1e999`
    read by json.loads became inf and was stored as `Infinity`."""
    return json.dumps(e.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


async def test_a_body_an_older_version_stored_with_infinity_is_still_read_for_recovery_and_replay(
    store: Store,
) -> None:
    e = Event("message.received", {"account_id": "shop", "text": "hi", "amount": math.inf, "rate": math.nan})
    body = older_body(e)
    assert b"Infinity" in body and b"NaN" in body
    await store.add_event(e, ["crm"], body)
    await store.mark_given_up(e.id, "crm", "HTTP 503")
    [row] = await store.given_up_for("crm")  # a recovery's page
    assert row.event.id == e.id and row.event.data["amount"] == math.inf and math.isnan(row.event.data["rate"])
    assert row.body.startswith(body[:-1])  # sent as stored (with its seq)
    [(_, cached, _)] = await store.cached_after(0, 10)  # a manual replay's page
    assert cached.id == e.id
    stored = await store.get_body(e.id)
    assert stored is not None and Event.from_json(stored).data["amount"] == math.inf  # replay_event


# -- two runners of one hook: a removed hook's runner still finishing, and its re-added successor ----------
async def test_a_replay_read_for_while_the_removed_hooks_old_runner_delivers_it_is_not_sent_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook is removed and added again while an attempt of `first` is in flight: the old runner
    finishes it (and marks it delivered) while the new runner holds a replay of the same event whose
    answer was read before that mark. No row was taken away, so `removals` did not move; the answer
    must not be used all the same (before the answers read ahead, the worker's own read saw the mark)."""
    monkeypatch.setattr(owed_check, "FRESH", 600.0)  # however slow this machine: within FRESH
    async with gated(lambda event, n: True) as hook:
        config = make_config(tmp_path, [{"id": "crm", "url": hook.url}],
                             {"retry": [], "concurrency": 1, "timeout": 60})
        async with running(config) as h:
            assert h.store is not None
            store, first, first_gate = h.store, message("first"), hook.gate
            await h.dispatcher.publish(first)
            await hook.wait_for(1)  # in flight in the old runner, held by `first_gate`
            h.dispatcher.set_hooks(())
            h.dispatcher.set_hooks(config.hooks)  # re-added: a new runner
            runner = h.dispatcher.hooks["crm"]
            hook.gate = asyncio.Event()  # what holds the next arrivals
            await h.dispatcher.publish(message("second"))  # the new runner's only worker is busy with it
            await hook.wait_for(2)
            replaying = asyncio.get_running_loop().create_task(h.dispatcher.replay_event(first.id))
            await eventually(lambda: first.id in runner.jobs and runner.jobs[first.id].vouched is not None)
            first_gate.set()  # the old runner's attempt ends: delivered
            await eventually(lambda: owed_nothing(store, first.id))
            hook.gate.set()
            await replaying
            await eventually(lambda: not runner.jobs)
            assert hook.texts() == ["first", "second"]  # `first` once


# -- an answer read ahead for a job that asked the store itself --------------------------------------------
async def test_a_job_that_asked_the_store_itself_does_not_use_an_older_answer_read_ahead_for_its_retry(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Its worker asked in the same turn as the runner took it: one read answered both, and the answer
    read ahead was left on the job. Its retry (a second later, say) must ask the store, not use that
    answer from before its first attempt: another daemon sharing the database may have delivered the
    event meanwhile (a manual replay there)."""
    here = await open_backend("postgres", tmp_path, request)
    there = await open_backend("postgres", tmp_path, request)  # another daemon on the same database
    try:
        [e] = await given_up(here, 1)
        check, job = OwedCheck(here), Asking(e)
        check.ahead("crm", job)
        assert await check.owed(e.id, "crm", job)  # the first attempt's question
        await there.mark_delivered(e.id, "crm")
        assert not await check.owed(e.id, "crm", job)  # the retry's
    finally:
        await there.close()
        await here.close()
