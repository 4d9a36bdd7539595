"""A manual replay, the automatic replay of a recovering hook and new traffic, all at once (issue 12).

Before: the manual replay answered 500 (`FOREIGN KEY constraint failed` from the store writer) when the
automatic replay delivered (and so deleted) an event between the manual replay's read and its write,
and an event could reach the hook twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path

import pytest

from tests.support.harness import config, hook, running, until
from tests.support.receiver import HookReceiver, Reply

ACCOUNT = "  - id: personal\n"
DOWN_THEN_BACK = "delivery:\n  retry: []\n  timeout: 5s\n  concurrency: 4\n"
EVENTS = 600


async def test_manual_and_automatic_replay_and_new_traffic_at_once(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = Reply(status=500)
    text = config(hooks=hook("crm", receiver.url), accounts=ACCOUNT, extra=DOWN_THEN_BACK)
    async with running(tmp_path, text) as run:
        adapter = run.adapter("personal")
        events = [await adapter.receive(f"m{i}") for i in range(EVENTS)]
        store = run.daemon.store
        await until(lambda: len(receiver.requests) >= EVENTS, within=30)
        await until(lambda: not run.daemon.dispatcher.hooks["crm"].jobs, within=30)
        assert store.count == EVENTS
        failed_before = len(receiver.requests)

        receiver.default = Reply(status=200)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            fresh = asyncio.ensure_future(adapter.receive("new"))  # its 2xx starts the automatic replay
            manual = asyncio.ensure_future(run.client.post("/api/cache/replay"))
            late = await asyncio.gather(*(adapter.receive(f"late{i}") for i in range(20)))
            answer = await manual
            assert answer.status == 200, await answer.text()
            new = await fresh
            await until(lambda: store.count == 0, within=30)
        assert not [r for r in caplog.records if "FOREIGN KEY" in r.getMessage()]

        after = Counter(r.json()["id"] for r in receiver.requests[failed_before:])
        expected = {e.id for e in events} | {new.id} | {e.id for e in late}
        assert set(after) == expected
        duplicates = {event_id: n for event_id, n in after.items() if n > 1}
        assert not duplicates, f"{len(duplicates)} events sent twice after recovery"
