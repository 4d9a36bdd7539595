"""`POST /api/cache/replay` with filters and as a background job; `GET /api/replays/{job_id}` (issue 12 item 3).

Before: `?event_type=` was ignored (every cached event replayed) and a replay only answered once done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import Running, config, hook, running, until
from tests.support.receiver import HookReceiver, Reply
from whatshooked.events import Event

ACCOUNTS = "  - id: personal\n  - id: shop\n    type: whatsmeow\n"


def hooks_answer_again(*receivers: HookReceiver) -> None:
    """Both hooks come back: only what the replay sends from now on is counted."""
    for receiver in receivers:
        receiver.requests.clear()
        receiver.default = Reply(status=200)


async def kept(run: Running) -> list[Event]:
    """Four events no hook took: two accounts, two types. The hooks refused them (400), so when they take
    events again no automatic replay sends them (that is for errors worth retrying): only the manual one."""
    personal, shop = run.adapter("personal"), run.adapter("shop")
    events = [
        await personal.receive("one"),
        await personal.emit("message.read", message_id="m1", chat="15551234567"),
        await shop.receive("two"),
        await shop.emit("message.read", message_id="m2", chat="15551234567"),
    ]
    runners = run.daemon.dispatcher.hooks
    await until(lambda: all(not r.jobs for r in runners.values()))
    return [e for e in events if e is not None]


TEXT = config(hooks=hook("crm", "URL", events="[message.*]") + hook("audit", "URL2", events="[message.read]"),
              accounts=ACCOUNTS, extra="delivery:\n  retry: []\n")


def setup_text(receiver: HookReceiver, other: HookReceiver) -> str:
    return TEXT.replace("URL2", other.url).replace("URL", receiver.url)


def ids(receiver: HookReceiver) -> list[str]:
    return [r.json()["id"] for r in receiver.requests]


@pytest.fixture
async def other() -> Any:
    hook_receiver = HookReceiver()
    await hook_receiver.start()
    yield hook_receiver
    await hook_receiver.close()


@pytest.mark.parametrize(("query", "picked"), [
    ({"event_type": "message.received"}, [0, 2]),
    ({"event_type": "message.*"}, [0, 1, 2, 3]),
    ({"account_id": "shop"}, [2, 3]),
    ({"account_id": "shop", "event_type": "message.read"}, [3]),
])
async def test_filters_pick_the_events(tmp_path: Path, receiver: HookReceiver, other: HookReceiver,
                                       query: dict[str, str], picked: list[int]) -> None:
    receiver.default = other.default = Reply(status=400)
    async with running(tmp_path, setup_text(receiver, other)) as run:
        events = await kept(run)
        hooks_answer_again(receiver, other)
        response = await run.client.post("/api/cache/replay", params=query)
        assert response.status == 200, await response.text()
        answer = await response.json()
        assert answer["replayed"] == len(picked) and answer["delivered"] == len(picked)
        assert sorted(ids(receiver)) == sorted(events[i].id for i in picked)
        assert answer["remaining_cached"] == 4 - len(picked)


async def test_hook_and_time_window_in_the_body(tmp_path: Path, receiver: HookReceiver, other: HookReceiver) -> None:
    receiver.default = other.default = Reply(status=400)
    async with running(tmp_path, setup_text(receiver, other)) as run:
        events = await kept(run)
        hooks_answer_again(receiver, other)
        body = {"hook_id": "audit", "since": events[1].timestamp, "until": "2999-01-01T00:00:00Z"}
        answer = await (await run.client.post("/api/cache/replay", json=body)).json()
        assert receiver.requests == []  # only to `audit`
        assert sorted(ids(other)) == sorted([events[1].id, events[3].id])
        assert answer["delivered"] == 2 and answer["remaining_cached"] == 4  # crm still owes all four


@pytest.mark.parametrize(("query", "body", "message"), [
    ({"event_type": ""}, None, "field 'event_type' must be a non-empty string"),
    ({"evnt_type": "message.read"}, None, "field 'evnt_type' is not a field of a replay"),
    (None, {"limit": 5}, "field 'limit' is not a field of a replay"),
    ({"since": "yesterday"}, None, "field 'since' must be an ISO 8601 time"),
    ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, None, "field 'until' must be after"),
    ({"hook_id": "nope"}, None, "field 'hook_id': no hook 'nope' is configured"),
    ({"wait": "maybe"}, None, "field 'wait' must be true or false"),
    ({"account_id": "shop"}, {"account_id": "shop"}, "field 'account_id' is given both"),
    (None, {"event_type": 5}, "field 'event_type' must be a non-empty string"),
])
async def test_a_bad_filter_is_a_400_naming_it(tmp_path: Path, receiver: HookReceiver, other: HookReceiver,
                                               query: dict[str, str] | None, body: dict[str, Any] | None,
                                               message: str) -> None:
    async with running(tmp_path, setup_text(receiver, other)) as run:
        response = await run.client.post("/api/cache/replay", params=query, json=body)
        assert response.status == 400
        assert (await response.text()).startswith(message)


async def test_a_background_job_tells_its_progress(tmp_path: Path, receiver: HookReceiver,
                                                   other: HookReceiver) -> None:
    receiver.default = other.default = Reply(status=400)
    async with running(tmp_path, setup_text(receiver, other)) as run:
        await kept(run)
        receiver.default = Reply(status=200)  # crm takes them; audit still refuses its two
        response = await run.client.post("/api/cache/replay", params={"wait": "false"})
        assert response.status == 202
        job_id = (await response.json())["job_id"]
        url = f"/api/replays/{job_id}"

        async def done() -> bool:
            return bool((await (await run.client.get(url)).json())["state"] == "done")

        await until(done)
        job = await (await run.client.get(url)).json()
        assert {k: job[k] for k in ("state", "total", "delivered", "failed", "remaining")} == {
            "state": "done", "total": 4, "delivered": 2, "failed": 2, "remaining": 0}
        missing = await run.client.get("/api/replays/rpl_nope")
        assert missing.status == 404
