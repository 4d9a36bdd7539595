"""Attempt history (DESIGN §8.3): every attempt recorded with the event, shown by /api/cache/event;
`/api/cache` in pages, filtered, with what each hook still owes and why."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.harness import config, hook, running, until
from tests.support.postgres import BACKENDS, open_backend
from tests.support.process import free_port
from tests.support.receiver import HookReceiver, Reply
from whatshooked.events import Event
from whatshooked.store.base import Attempt
from whatshooked.store.memory import MemoryStore

ACCOUNTS = "  - id: personal\n  - id: work\n"


def iso_order(stamps: list[str]) -> bool:
    return stamps == sorted(stamps) and all(s.endswith("Z") for s in stamps)


MESSAGES = {"event_type": "message.received"}


async def test_every_attempt_is_recorded_with_status_error_and_latency(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(503), Reply(500, delay=0.05))
    text = config(accounts=ACCOUNTS, hooks=hook("crm", receiver.url), extra="delivery:\n  retry: [10ms, 10ms]\n")
    async with running(tmp_path, text) as run:
        event = await run.adapter("personal").receive("hello")
        await receiver.wait_for(3)
        delivered = run.daemon.metrics.deliveries.labels("crm", "delivered")
        await until(lambda: delivered._value.get() == 1)
        got = await (await run.client.get("/api/cache/event", params={"id": event.id})).json()
        attempts = got["attempts"]
        assert [(a["hook_id"], a["http_status"], a["error"]) for a in attempts] == [
            ("crm", 503, "HTTP 503"), ("crm", 500, "HTTP 500"), ("crm", 200, None)]
        assert iso_order([a["at"] for a in attempts])
        assert all(isinstance(a["latency_ms"], float) and a["latency_ms"] >= 0 for a in attempts)
        assert attempts[1]["latency_ms"] >= 50  # the receiver held that answer 50 ms
        assert got["delivered"] is True and got["seq"] == 1
        assert got["deliveries"] == [{"hook_id": "crm", "state": "delivered", "attempts": 3, "last_error": None,
                                      "next_attempt_at": None}]
        assert (await (await run.client.get("/api/cache")).json())["count"] == 0  # delivered: not in the cache


async def test_the_list_says_what_each_hook_still_owes_and_why(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(503)
    refusing = HookReceiver()
    refusing.default = Reply(410)
    await refusing.start()
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    hooks = hook("slow", receiver.url) + hook("refusing", refusing.url) + hook("gone", closed)
    text = config(accounts=ACCOUNTS, hooks=hooks, extra="delivery:\n  retry: [1h]\n")
    try:
        await _owed(tmp_path, text)
    finally:
        await refusing.close()


async def _owed(tmp_path: Path, text: str) -> None:
    async with running(tmp_path, text) as run:
        event = await run.adapter("personal").receive("owed")
        before = time.time()

        async def both_recorded() -> bool:
            answer = await (await run.client.get("/api/cache", params=MESSAGES)).json()  # not hook.failing
            rows = answer["cached_events"][0]["deliveries"] if answer["cached_events"] else []
            return len(rows) == 3 and all(row["attempts"] == 1 for row in rows)

        await until(both_recorded)
        [entry] = (await (await run.client.get("/api/cache", params=MESSAGES)).json())["cached_events"]
        assert entry["id"] == event.id and entry["seq"] == 1
        gone, refusing, slow = entry["deliveries"]
        assert (gone["hook_id"], gone["state"]) == ("gone", "pending")
        assert "Connect" in gone["last_error"]  # the refused connection, named
        assert refusing == {"hook_id": "refusing", "state": "failed", "attempts": 1, "last_error": "HTTP 410",
                            "next_attempt_at": None}  # refused: not retried, replay it
        assert (slow["hook_id"], slow["state"], slow["last_error"]) == ("slow", "pending", "HTTP 503")
        assert slow["next_attempt_at"] > time.strftime("%Y-%m-%dT%H:%M", time.gmtime(before + 2400))  # ~1h, jittered
        got = await (await run.client.get("/api/cache/event", params={"id": event.id})).json()
        by_hook = {a["hook_id"]: a for a in got["attempts"]}
        assert by_hook["gone"]["http_status"] is None and by_hook["gone"]["error"].endswith("Connection refused")
        assert by_hook["slow"]["http_status"] == 503


async def test_the_cache_comes_in_pages_and_filters_and_refuses_unknown_parameters(tmp_path: Path) -> None:
    waiting = hook("waiting", f"http://127.0.0.1:{free_port()}/x", events="[message.received]")
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=waiting, extra="delivery:\n  retry: [1h]\n")) as run:
        personal, work = run.adapter("personal"), run.adapter("work")
        ids = [(await personal.receive("a")).id, (await work.receive("b")).id, (await personal.receive("c")).id,
               (await personal.emit("message.read", message_id="m", chat="1")).id, (await work.receive("d")).id]

        async def page(**params: str) -> dict[str, object]:
            response = await run.client.get("/api/cache", params=params)
            assert response.status == 200, await response.text()
            result: dict[str, object] = await response.json()
            return result

        def listed(answer: dict[str, object]) -> list[str]:
            return [str(e["id"]) for e in answer["cached_events"]]  # type: ignore[attr-defined]

        first = await page(limit="2")
        assert listed(first) == ids[:2] and first["next_after"] == ids[1] and first["limit"] == 2
        second = await page(limit="2", after=ids[1])
        third = await page(limit="2", after=str(second["next_after"]))
        assert listed(second) + listed(third) == ids[2:] and third["next_after"] is None
        assert listed(await page()) == ids and (await page())["limit"] == 100  # the default page

        await run.client.delete("/api/cache/event", params={"id": ids[1]})  # the page ended on an event gone since
        assert listed(await page(limit="2", after=ids[1])) == ids[2:4]

        assert listed(await page(account_id="work")) == [ids[4]]
        assert listed(await page(event_type="message.read")) == [ids[3]]
        assert listed(await page(hook_id="waiting")) == [ids[0], ids[2], ids[4]]  # owed; not message.read
        for params, named in (({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"type": "x"}, "type"),
                              ({"hook_id": "nobody"}, "hook_id"), ({"account_id": "a b"}, "account_id"),
                              ({"event_type": ""}, "event_type")):
            response = await run.client.get("/api/cache", params=params)
            assert response.status == 400, params
            assert named in await response.text()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_attempt_at_an_event_deleted_meanwhile_is_dropped_not_an_error(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """An attempt ends after its event was cleared or pruned: its record has no event to belong to.
    It must not fail the write it shares (the mark, and the other writes of that commit)."""
    store = await open_backend(backend, tmp_path, request)
    try:
        gone, kept = Event("message.received", {"account_id": "a"}), Event("message.received", {"account_id": "a"})
        await store.add_event(gone, ["h"])
        await store.add_event(kept, ["h"])
        await store.delete_event(gone.id)
        record = Attempt("h", time.time(), None, "TimeoutError", 10_000.0)
        await asyncio.gather(store.mark_given_up(gone.id, "h", "TimeoutError", attempt=record),
                             store.mark_attempt(kept.id, "h", 1, time.time() + 60, "HTTP 503",
                                                Attempt("h", time.time(), 503, "HTTP 503", 3.5)))
        assert await store.attempts_of(gone.id) == []
        assert [(a.http_status, a.error) for a in await store.attempts_of(kept.id)] == [(503, "HTTP 503")]
    finally:
        await store.close()


async def test_without_the_cache_events_are_numbered_and_nothing_is_recorded() -> None:
    store = MemoryStore()
    seqs: list[int] = []
    first = await store.add_event_soon(Event("x", {}), ["h"], after=seqs.append)
    again = await store.add_event_soon(Event("x", {}), ["h"], after=seqs.append, dedupe_key="k")
    duplicate = await store.add_event_soon(Event("x", {}), ["h"], after=seqs.append, dedupe_key="k")
    assert (first, again, duplicate, seqs) == (1, 2, 0, [1, 2])
    store.mark_delivered_soon("evt", "h", Attempt("h", time.time(), 200, "", 1.0))
    assert await store.attempts_of("evt") == [] and await store.owed_by_hook() == {}
