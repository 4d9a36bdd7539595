"""A WhatsApp Web account's life: pairing, connection state, backoff, watchdog, logout, shutdown."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import until
from tests.support.neonize_standin import P, Sessions, jid, web_world
from tests.support.receiver import HookReceiver
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.pairing import QR_EXPIRED
from whatshooked.accounts.whatsapp_web.session import SUBSCRIBED, NeonizeSession, SessionCallbacks

QR1 = "2@Zm9vYmFyYmF6cXV4,bWFpbmtleQ==,aWRlbnRpdHk=,YWR2c2VjcmV0"
QR2 = "2@c2Vjb25kY29kZQ,bWFpbmtleQ==,aWRlbnRpdHk=,YWR2c2VjcmV0"


async def events_of(receiver: HookReceiver, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    def matching() -> list[dict[str, Any]]:
        return [r.json() for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == event_type]

    await until(lambda: len(matching()) >= count)
    return matching()


async def test_qr_codes_replace_each_other_and_reach_terminal_and_hooks(
        tmp_path: Path, receiver: HookReceiver, capsys: pytest.CaptureFixture[str]) -> None:
    accounts = "  - id: personal\n    session_path: ./sessions/p.db\n    show_qr: true\n"
    async with web_world(tmp_path, receiver.url, accounts=accounts) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed_qr(QR1)
        await until(lambda: adapter.current_qr == QR1)
        assert adapter.state is AccountState.QR
        await session.afeed_qr(QR2)
        await until(lambda: adapter.current_qr == QR2)
        codes = await events_of(receiver, "whatsapp.qr.code", 2)
    assert sorted((e["data"]["qr"], e["data"]["expires_in"]) for e in codes) == [(QR1, 60), (QR2, 20)]
    out = capsys.readouterr().out
    assert "Scan this QR code" in out and "'personal'" in out
    assert "▀" in out or "▄" in out  # compact half-block rendering


async def test_qr_window_running_out_leaves_the_account_down_until_restarted(
        tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed_qr(QR1)
        await until(lambda: adapter.state is AccountState.QR)
        session.feed_login_status("timeout")
        await until(lambda: adapter.state is AccountState.DISCONNECTED and session.stops == 1)
        assert adapter.last_error == QR_EXPIRED and adapter.current_qr is None
        (gone,) = await events_of(receiver, "whatsapp.disconnected")
        assert gone["data"]["reason"] == "qr_timeout"
        assert session.starts == 1  # no fresh codes forever
        await world.manager.restart("personal")
        fresh = world.sessions.last
        assert fresh is not session
        await fresh.afeed_qr(QR2)
        await until(lambda: world.adapter().current_qr == QR2)


async def test_qr_window_expiry_noticed_without_whatsmeow_saying_so(tmp_path: Path, receiver: HookReceiver) -> None:
    timing = {"qr_first": 0.05, "qr_grace": 0.05}
    async with web_world(tmp_path, receiver.url, timing=timing) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed_qr(QR1)
        await until(lambda: adapter.state is AccountState.DISCONNECTED and adapter.last_error == QR_EXPIRED)


async def test_pairing_then_connected(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed_qr(QR1)
        await session.afeed(nz.PairStatusEv(ID=jid("15559990000@s.whatsapp.net"), BusinessName="", Platform="android",
                                            Status=P.PairStatus.SUCCESS, Error=""),
                            nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        (paired,) = await events_of(receiver, "whatsapp.pair.success")
        await events_of(receiver, "whatsapp.connected")
    assert paired["data"]["jid"] == "+15559990000" and paired["data"]["platform"] == "android"
    assert adapter.current_qr is None and adapter.last_error is None


async def test_pair_by_phone_code(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        with pytest.raises(Exception, match="not waiting to be paired"):
            await adapter.pair_phone("+1 555 999 0000")
        await session.afeed_qr(QR1)
        await until(lambda: adapter.state is AccountState.QR)
        assert await adapter.pair_phone("+1 555 999 0000") == "ABCD-EFGH"
    assert session.paired == ["15559990000"]


async def test_offline_start_backs_off_and_recovers(tmp_path: Path, receiver: HookReceiver) -> None:
    sessions = Sessions(fail_starts=3)
    async with web_world(tmp_path, receiver.url, sessions=sessions) as world:
        adapter = world.adapter()
        await until(lambda: sessions.last.starts >= 4)
        status = {s["id"]: s for s in world.manager.status()}["personal"]
        assert status["state"] in ("connecting", "disconnected")
        assert "no such host" in status["last_error"] and "attempt 3" in status["last_error"]
        assert adapter.backoff.attempts == 3
        assert sessions.last.stops >= 3
        await sessions.last.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        assert adapter.backoff.attempts == 0 and adapter.last_error is None


async def test_backoff_grows_then_caps() -> None:
    from whatshooked.accounts.whatsapp_web.backoff import Backoff

    backoff = Backoff(base=1, cap=30, jitter=0.2)
    nominal = []
    for _ in range(8):
        delay = backoff.next_delay()
        nominal.append(backoff.nominal())
        assert 0.8 * backoff.nominal() <= delay <= 1.2 * backoff.nominal()
    assert nominal == [1, 2, 4, 8, 16, 30, 30, 30]


async def test_logged_out_means_no_reconnect_storm(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        await session.afeed(nz.LoggedOutEv(OnConnect=False, Reason=P.ConnectFailureReason.LOGGED_OUT))
        (event,) = await events_of(receiver, "whatsapp.logged_out")
        await until(lambda: session.stops == 1 and adapter._supervisor.done())
        assert adapter.state is AccountState.LOGGED_OUT and "logged out" in (adapter.last_error or "")
        assert session.starts == 1
        status = {s["id"]: s for s in world.manager.status()}
        assert status["personal"]["state"] == "logged_out"
    assert event["data"]["reason"] == "logged_out"


@pytest.mark.parametrize("trouble", ["keepalive", "socket"])
async def test_watchdog_restarts_a_dead_session(tmp_path: Path, receiver: HookReceiver, trouble: str) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        if trouble == "keepalive":
            await session.afeed(nz.KeepAliveTimeoutEv(ErrorCount=3, LastSuccess=1_700_000_000))
            await until(lambda: adapter.last_error == "keep-alive failing (3 missed)")
        else:
            session.is_connected_answer = False
        await until(lambda: session.starts == 2)
        (gone,) = await events_of(receiver, "whatsapp.disconnected")
        assert gone["data"]["reason"] == "unresponsive"
        session.is_connected_answer = True
        await session.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)


async def test_keepalive_restored_clears_the_error(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url, timing={"unhealthy_grace": 30.0}) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True), nz.KeepAliveTimeoutEv(ErrorCount=1, LastSuccess=1))
        await until(lambda: adapter.last_error is not None)
        await session.afeed(nz.KeepAliveRestoredEv())
        await until(lambda: adapter.last_error is None)
        assert adapter.state is AccountState.CONNECTED and session.starts == 1


async def test_connect_deadline_when_whatsapp_never_answers(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url, timing={"connect_deadline": 0.1}) as world:
        adapter, session = world.adapter(), world.sessions.last
        await until(lambda: session.starts >= 2)
        assert session.stops >= 1
        assert "no answer from WhatsApp within" in (adapter.last_error or "")


async def test_dropped_connection_is_reported(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url, timing={"unhealthy_grace": 30.0}) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        await session.afeed(nz.DisconnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.DISCONNECTED)
        (gone,) = await events_of(receiver, "whatsapp.disconnected")
        assert gone["data"]["reason"] == "connection_lost"
        await session.afeed(nz.ConnectedEv(status=True))  # whatsmeow reconnected by itself
        await until(lambda: adapter.state is AccountState.CONNECTED)
        assert session.starts == 1


@pytest.mark.parametrize("event, state", [
    (nz.StreamReplacedEv(), AccountState.ERROR),
    (nz.ClientOutdatedEv(), AccountState.ERROR),
])
async def test_outcomes_retrying_cannot_fix(tmp_path: Path, receiver: HookReceiver, event: Any,
                                           state: AccountState) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        adapter, session = world.adapter(), world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True))
        await until(lambda: adapter.state is AccountState.CONNECTED)
        await session.afeed(event)
        await until(lambda: adapter.state is state and session.stops == 1)
        assert session.starts == 1 and adapter._supervisor.done()


async def test_temporary_ban_waits_it_out(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url, timing={"backoff_cap": 0.2}) as world:
        session = world.sessions.last
        await session.afeed(nz.ConnectedEv(status=True), nz.TemporaryBanEv(Code=P.TemporaryBan.BLOCKED_BY_USERS,
                                                                          Expire=0))
        await until(lambda: session.starts == 2)
        (gone,) = await events_of(receiver, "whatsapp.disconnected")
    assert gone["data"]["reason"] == "temporary_ban" and gone["data"]["ban_code"] == "blocked_by_users"


async def test_disabled_accounts_are_not_connected_and_shutdown_is_clean(tmp_path: Path,
                                                                         receiver: HookReceiver) -> None:
    accounts = ("  - id: personal\n    session_path: ./sessions/p.db\n"
                "  - id: work\n    session_path: ./sessions/w.db\n"
                "  - id: spare\n    session_path: ./sessions/o.db\n    disabled: true\n")
    sessions = Sessions()
    async with web_world(tmp_path, receiver.url, accounts=accounts, sessions=sessions) as world:
        assert [s.path.name for s in sessions.made] == ["p.db", "w.db"]
        assert world.adapter("spare").state is AccountState.DISABLED
        personal, work = sessions.made
        await work.afeed(nz.ConnectedEv(status=True))
        await until(lambda: world.adapter("work").state is AccountState.CONNECTED)
        assert world.adapter("personal").state is not AccountState.CONNECTED
        executor = asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]
        assert executor.sessions == 2 and executor._max_workers >= 2 + 16
        folder = tmp_path / "sessions"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "p.db").stat().st_mode) == 0o600
    assert personal.stops >= 1 and work.stops >= 1
    assert executor.sessions == 0


async def test_real_neonize_session_registers_handlers_before_connect_and_fails_fast_offline(
        tmp_path: Path) -> None:
    """The real Go library, on this machine with no network: the run ends with the dial error."""
    seen: list[str] = []

    async def on_event(message: Any) -> None:
        seen.append(type(message).__name__)

    async def on_qr(code: str) -> None:
        seen.append(code)

    session = NeonizeSession(tmp_path / "s" / "real.db", SessionCallbacks(on_event, on_qr, seen.append))
    subscribed = set(session._client.event.list_func)
    assert subscribed == {nz.EVENT_TO_INT[t] for t in SUBSCRIBED}
    ended = await session.start()
    assert stat.S_IMODE((tmp_path / "s" / "real.db").stat().st_mode) == 0o600
    with pytest.raises(nz.NeonizeError):
        async with asyncio.timeout(30):
            await ended
    await session.stop()
