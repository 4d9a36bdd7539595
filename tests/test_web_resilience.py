"""A WhatsApp Web account keeps retrying for ever: no overflow after many failures, and a supervisor
task that dies of a bug is noticed by the watchdog and restarted (with a log line)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.harness import until
from tests.support.neonize_standin import Sessions, web_world
from tests.support.receiver import HookReceiver
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.backoff import Backoff


def test_backoff_after_thousands_of_failures_stays_at_the_cap() -> None:
    backoff = Backoff(base=2.0, cap=300.0, attempts=1023)
    for _ in range(5000):
        assert 240.0 <= backoff.next_delay() <= 360.0
    assert backoff.nominal() == 300.0


async def test_account_still_retries_after_1024_failures(tmp_path: Path, receiver: HookReceiver) -> None:
    sessions = Sessions(fail_starts=3)
    async with web_world(tmp_path, receiver.url, sessions=sessions, timing={"backoff_base": 0.0}) as world:
        adapter = world.adapter()
        adapter.backoff.attempts = 1023  # ~85 hours offline
        await until(lambda: sessions.last.starts >= 4)
        await sessions.last.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)


async def test_watchdog_restarts_a_dead_supervisor(tmp_path: Path, receiver: HookReceiver,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    sessions = Sessions(fail_starts=1)
    async with web_world(tmp_path, receiver.url, sessions=sessions) as world:
        adapter = world.adapter()
        broken = adapter.backoff.next_delay

        def crash_once() -> float:
            adapter.backoff.next_delay = broken
            raise RuntimeError("a bug in the retry path")

        adapter.backoff.next_delay = crash_once
        with caplog.at_level(logging.ERROR, logger="whatshooked.accounts.whatsapp_web.adapter"):
            await until(lambda: sessions.last.starts >= 2)
        assert any("session supervisor died" in r.getMessage() and "a bug in the retry path" in r.getMessage()
                   for r in caplog.records)
        await sessions.last.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
