"""Hook health (issue 12 item 1): a few log lines for a down hook, hook.failing / hook.recovered to the
other hooks, `GET /api/hooks/status`, `POST /api/hooks/test`."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from pathlib import Path

import pytest

from tests.support.harness import config, hook, running, until
from tests.support.log_load import ACCOUNT, Lines, down_then_back
from tests.support.receiver import HookReceiver, Reply
from whatshooked.delivery.health import Health
from whatshooked.delivery.signing import decode_secret, verify

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_3000_events_to_a_down_hook_cost_a_few_log_lines(tmp_path: Path, receiver: HookReceiver) -> None:
    """Before: one WARNING per event and attempt, one INFO per event on recovery (12,005 lines here)."""
    ops = HookReceiver()
    await ops.start()
    lines = Lines()
    try:
        watch = hook("ops", ops.url, events="[hook.failing, hook.recovered]")
        await down_then_back(tmp_path, 3000, receiver, extra_hooks=watch, during=lines)
    finally:
        await ops.close()
    text = "\n".join(f"{r.levelname} {r.getMessage()}" for r in lines.records)
    assert len(lines.records) <= 30, text
    failing = [r for r in lines.records if "hook crm is failing" in r.getMessage()]
    back = [r for r in lines.records if "hook crm answers again after" in r.getMessage()]
    assert len(failing) == 1 and failing[0].levelname == "WARNING", text
    assert len(back) == 1 and back[0].levelname == "INFO", text
    # Every event reached the hook once after it answered again: 3 attempts while down, 1 after.
    counts = Counter(r.json()["id"] for r in receiver.requests)
    assert sorted(set(counts.values())) == [1, 4]
    # The other hook heard of both transitions, once each, and nothing else.
    kinds = [r.json()["type"] for r in ops.requests]
    assert kinds == ["hook.failing", "hook.recovered"]
    failing_data, recovered_data = (r.json()["data"] for r in ops.requests)
    assert failing_data["hook_id"] == "crm" and failing_data["error"] == "HTTP 500"
    assert failing_data["since"].endswith("Z") and failing_data["pending"] >= 1
    assert recovered_data["hook_id"] == "crm" and recovered_data["since"] == failing_data["since"]
    assert recovered_data["error"] == "HTTP 500" and recovered_data["pending"] >= 3000


def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_status_of_healthy_failing_and_paused_hooks(tmp_path: Path, receiver: HookReceiver) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/hook"
    hooks = (hook("ok", receiver.url, events="[message.*]") + hook("down", refused)
             + hook("idle", receiver.url, active="false"))
    text = config(hooks=hooks, accounts=ACCOUNT, extra="delivery:\n  retry: []\n")
    async with running(tmp_path, text) as run:
        event = await run.adapter("personal").receive("one")
        await until(lambda: not run.daemon.dispatcher.hooks["down"].jobs and len(receiver.requests) == 1)
        response = await run.client.get("/api/hooks/status")
        assert response.status == 200
        status = {entry["id"]: entry for entry in await response.json()}
        assert list(status) == ["ok", "down", "idle"]
        ok, down, off = status["ok"], status["down"], status["idle"]
        assert ok["state"] == "healthy" and ok["pending"] == 0 and ok["oldest_pending_age_s"] is None
        assert ok["last_success"].endswith("Z") and ok["last_failure"] is None and ok["last_error"] is None
        assert ok["consecutive_failures"] == 0
        assert down["state"] == "failing" and down["pending"] == 1 and down["oldest_pending_age_s"] >= 0
        assert down["last_success"] is None and down["last_failure"].endswith("Z")
        assert down["last_error"].startswith("cannot connect to 127.0.0.1:") and down["consecutive_failures"] == 1
        assert off["state"] == "paused" and off["pending"] == 0  # inactive when the event came: not its event
        assert set(ok) == {"id", "state", "pending", "oldest_pending_age_s", "last_success", "last_failure",
                           "last_error", "consecutive_failures"}
        assert [r.json()["id"] for r in receiver.requests] == [event.id]


async def test_test_sends_hook_test_to_that_hook_only(tmp_path: Path, receiver: HookReceiver) -> None:
    other = HookReceiver()
    await other.start()
    refused = f"http://127.0.0.1:{closed_port()}/hook"
    hooks = hook("crm", receiver.url, secret=SECRET) + hook("other", other.url) + hook("down", refused)
    try:
        async with running(tmp_path, config(hooks=hooks)) as run:
            answer = await run.client.post("/api/hooks/test", json={"id": "crm"})
            assert answer.status == 200
            result = await answer.json()
            assert result["status"] == "ok" and result["http_status"] == 200 and result["error"] is None
            assert result["latency_ms"] >= 0
            (got,) = receiver.requests
            body = got.json()
            assert body["type"] == "hook.test" and body["data"] == {"hook_id": "crm"}
            stamp = int(got.headers["webhook-timestamp"])
            assert verify(decode_secret(SECRET), body["id"], stamp, got.body, got.headers["webhook-signature"])
            assert other.requests == []

            receiver.default = Reply(status=503)
            failed = await (await run.client.post("/api/hooks/test", json={"id": "crm"})).json()
            assert failed["status"] == "failed" and failed["http_status"] == 503 and failed["error"] == "HTTP 503"
            down = await (await run.client.post("/api/hooks/test", json={"id": "down"})).json()
            assert down["status"] == "failed" and down["http_status"] is None
            assert down["error"].startswith("cannot connect to 127.0.0.1:")

            missing = await run.client.post("/api/hooks/test", json={"id": "nope"})
            assert missing.status == 404 and await missing.text() == "hook 'nope' not found"
            extra = await run.client.post("/api/hooks/test", json={"id": "crm", "event": "x"})
            assert extra.status == 400 and "field 'event'" in await extra.text()
            assert (await run.client.post("/api/hooks/test", json={})).status == 400
            # a test is not an event: nothing kept, health unchanged
            assert run.daemon.store.count == 0
            status = {e["id"]: e for e in await (await run.client.get("/api/hooks/status")).json()}
            assert status["crm"]["state"] == "healthy" and status["crm"]["last_failure"] is None
    finally:
        await other.close()


def test_a_summary_at_most_once_a_minute_while_failing(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    told: list[tuple[str, str, float | None]] = []
    health = Health(lambda kind, hook_id, h: told.append((kind, hook_id, h.failing_since)), clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="whatshooked.delivery.health"):
        for _ in range(600):  # ten minutes of failures, one a second
            health.failed("crm", "HTTP 502")
            now[0] += 1.0
        health.succeeded("crm")
        health.succeeded("crm")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("hook crm is failing: HTTP 502")
    summaries = [m for m in messages if m.startswith("hook crm still failing")]
    assert len(summaries) == 9 and summaries[0].startswith("hook crm still failing (for 1m): 60 more failed")
    assert messages[-1].startswith("hook crm answers again after 10m failing (600 failed attempts")
    assert len(messages) == 11
    assert told == [("hook.failing", "crm", 1000.0), ("hook.recovered", "crm", 1000.0)]
    assert health.of("crm").consecutive_failures == 0 and health.of("crm").failing_since is None
