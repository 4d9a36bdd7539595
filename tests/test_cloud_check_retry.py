"""The start-up check of a Cloud API number: a failure that may pass by itself is retried, a refusal is not.

Before: one 503 (or a network blip) while the daemon started left the account in `error` for good, so
every send answered 409 until someone restarted the daemon."""

from __future__ import annotations

from pathlib import Path

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from whatshooked.accounts.base import AccountState


async def test_a_transient_failure_of_the_number_check_is_retried_until_it_passes(tmp_path: Path) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", PHONE_NUMBER_ID, {"error": {"message": "Service temporarily unavailable", "code": 2,
                                                   "is_transient": True}}, status=503)
    try:
        async with cloud_daemon(tmp_path, graph=graph) as rig:
            assert rig.adapter.state is AccountState.ERROR  # the first answer is what the status shows
            assert "retrying in 1 s" in (rig.adapter.last_error or "")
            await until(lambda: rig.adapter.state is AccountState.CONNECTED, within=10)
            assert len(graph.graph_requests("GET", PHONE_NUMBER_ID)) == 2
            status, answer = await rig.api("/api/send", {"account_id": rig.adapter.id, "to": "+15551234567",
                                                          "text": "after the blip"})
            assert status == 200, answer
    finally:
        await graph.close()


async def test_a_rate_limit_without_an_error_body_is_retried(tmp_path: Path) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", PHONE_NUMBER_ID, "slow down", status=429)
    try:
        async with cloud_daemon(tmp_path, graph=graph) as rig:
            await until(lambda: rig.adapter.state is AccountState.CONNECTED, within=10)
    finally:
        await graph.close()


async def test_a_refusal_is_not_retried(tmp_path: Path) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", PHONE_NUMBER_ID, {"error": {"message": "Object does not exist", "code": 100}}, status=400)
    try:
        async with cloud_daemon(tmp_path, graph=graph) as rig:
            assert rig.adapter.state is AccountState.ERROR
            assert "retrying" not in (rig.adapter.last_error or "")
            check = rig.adapter._check
            assert check is not None and check.done()  # no task left waiting to ask again
    finally:
        await graph.close()
