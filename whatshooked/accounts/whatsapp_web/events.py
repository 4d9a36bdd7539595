"""What each neonize event does to a WhatsApp Web account: its state, its session run, its hook events.

neonize hands every event to the loop as its own task, so handlers may overlap; each one is
tracked here so the adapter can let them finish (or cancel them) when it disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from whatshooked.accounts.base import AccountState
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.host import Outcome
from whatshooked.accounts.whatsapp_web.inbound import jid_text
from whatshooked.accounts.whatsapp_web.jid import public_address
from whatshooked.accounts.whatsapp_web.messages import STATUS_CHAT, MessageHandler
from whatshooked.accounts.whatsapp_web.notifications import Notifications
from whatshooked.accounts.whatsapp_web.pairing import QR_EXPIRED

if TYPE_CHECKING:
    from whatshooked.accounts.whatsapp_web.host import WebHost

log = logging.getLogger(__name__)

_REASONS = nz.neonize_proto.ConnectFailureReason
_BAN_CODES = nz.neonize_proto.TemporaryBan.TempBanReason
LOGOUT_FAILURES = {_REASONS.LOGGED_OUT, _REASONS.MAIN_DEVICE_GONE, _REASONS.UNKNOWN_LOGOUT}
"""Connect failures whatsmeow follows with a LoggedOut event: handled there, once."""


def reason_name(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value)).lower()
    except ValueError:
        return f"code_{value}"


class EventRouter:
    def __init__(self, adapter: WebHost) -> None:
        self.adapter = adapter
        self.progressed = False
        """WhatsApp answered this run (a QR code, a connection, a refusal): the connect deadline is met."""
        self._inflight: set[asyncio.Task[Any]] = set()
        self.messages = MessageHandler(adapter)
        self._handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            nz.ConnectedEv: self._connected, nz.DisconnectedEv: self._disconnected,
            nz.PairStatusEv: self._pair_status, nz.LoggedOutEv: self._logged_out,
            nz.StreamReplacedEv: self._stream_replaced, nz.TemporaryBanEv: self._temporary_ban,
            nz.ConnectFailureEv: self._connect_failure, nz.ClientOutdatedEv: self._client_outdated,
            nz.KeepAliveTimeoutEv: self._keepalive_timeout, nz.KeepAliveRestoredEv: self._keepalive_restored,
            nz.StreamErrorEv: self._stream_error, nz.MessageEv: self._message,
            nz.ReceiptEv: self.messages.receipt, nz.UndecryptableMessageEv: self.messages.undecryptable,
            **Notifications(adapter).handlers(),
        }

    def new_run(self) -> None:
        self.progressed = False
        self.adapter.qr.clear()

    # -- entry points (called by the session on the adapter's loop) ----------
    async def on_event(self, message: Any) -> None:
        handler = self._handlers.get(type(message))
        if handler is None or self._hidden_status(message):
            return
        await self._tracked(handler(message), type(message).__name__)

    def _hidden_status(self, message: Any) -> bool:
        """Anything in `status@broadcast` (posts, undecryptable posts, receipts) stays out unless opted in."""
        source = getattr(getattr(message, "Info", message), "MessageSource", None)
        return (source is not None and jid_text(source.Chat) == STATUS_CHAT
                and not self.adapter.web.status_broadcasts)

    async def on_qr(self, code: str) -> None:
        await self._tracked(self._qr(code), "QR")

    def on_login_status(self, status: str) -> None:
        log.info("account %s: pairing status %s", self.adapter.id, status, extra={"account_id": self.adapter.id})
        if status == "timeout":
            self.qr_expired()
        elif status == "err-client-outdated":
            self._spawn(self._client_outdated(None))
        elif status.startswith("err"):
            self.progressed = True
            self.adapter.end_run(Outcome(f"pairing failed: {status}"))

    def qr_expired(self) -> None:
        """The QR window ran out: stay down (no fresh codes forever) until the user restarts pairing."""
        if self.adapter.state is not AccountState.QR:
            return
        self.adapter.qr.clear()
        self.adapter.end_run(Outcome(QR_EXPIRED, retry=False))
        self._spawn(self.adapter.emit("whatsapp.disconnected", reason="qr_timeout"))

    async def drain(self, wait: float) -> None:
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=wait)
        for task in list(self._inflight):
            task.cancel()

    async def _tracked(self, work: Awaitable[Any], what: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("account %s: handling %s failed", self.adapter.id, what,
                          extra={"account_id": self.adapter.id})
        finally:
            if task is not None:
                self._inflight.discard(task)

    def _spawn(self, work: Awaitable[Any]) -> None:
        asyncio.get_running_loop().create_task(self._tracked(work, "event"))

    # -- pairing and connection ----------------------------------------------
    async def _qr(self, code: str) -> None:
        self.progressed = True
        adapter = self.adapter
        expires_in = adapter.qr.show(code)
        adapter.set_state(AccountState.QR)
        if adapter.terminal is not None:
            adapter.terminal.print(code, expires_in)
        await adapter.emit("whatsapp.qr.code", qr=code, expires_in=expires_in)

    async def _pair_status(self, ev: Any) -> None:
        self.progressed = True
        adapter = self.adapter
        if ev.Status == nz.neonize_proto.PairStatus.SUCCESS:
            adapter.qr.clear()
            adapter.set_state(AccountState.CONNECTING)
            await adapter.emit("whatsapp.pair.success", reason="paired",
                               jid=public_address(ev.ID.User, ev.ID.Server), platform=ev.Platform or None,
                               business_name=ev.BusinessName or None)
        else:
            log.warning("account %s: pairing failed: %s", adapter.id, ev.Error, extra={"account_id": adapter.id})
            adapter.set_state(adapter.state, f"pairing failed: {ev.Error}")

    async def _connected(self, ev: Any) -> None:
        self.progressed = True
        adapter = self.adapter
        adapter.backoff.reset()
        adapter.unhealthy_since = None
        adapter.qr.clear()
        adapter.set_state(AccountState.CONNECTED)
        await adapter.emit("whatsapp.connected")

    async def _disconnected(self, ev: Any) -> None:
        adapter = self.adapter
        was = adapter.state
        if adapter.unhealthy_since is None:
            adapter.unhealthy_since = time.monotonic()
        adapter.set_state(AccountState.DISCONNECTED, "connection to WhatsApp lost; reconnecting")
        if was is AccountState.CONNECTED:
            await adapter.emit("whatsapp.disconnected", reason="connection_lost")

    async def _logged_out(self, ev: Any) -> None:
        self.progressed = True
        adapter = self.adapter
        reason = reason_name(_REASONS, ev.Reason) if ev.HasField("Reason") else "logged_out"
        message = (f"logged out by WhatsApp ({reason}); pair again by restarting the account "
                   "(/api/accounts/enable or /api/accounts/update)")
        adapter.set_state(AccountState.LOGGED_OUT, message)
        adapter.end_run(Outcome(message, retry=False, state=AccountState.LOGGED_OUT))
        await adapter.emit("whatsapp.logged_out", reason=reason, on_connect=bool(ev.OnConnect))

    async def _stream_replaced(self, ev: Any) -> None:
        message = ("another WhatsApp Web client took over this session (stream replaced); "
                   "restart the account to take it back")
        self.adapter.end_run(Outcome(message, retry=False, state=AccountState.ERROR))
        await self.adapter.emit("whatsapp.disconnected", reason="stream_replaced")

    async def _temporary_ban(self, ev: Any) -> None:
        self.progressed = True
        code = reason_name(_BAN_CODES, ev.Code)
        expire = max(float(ev.Expire), self.adapter.timing.backoff_cap)
        self.adapter.end_run(Outcome(f"temporarily banned by WhatsApp ({code}, {ev.Expire}s)",
                                     delay=expire, state=AccountState.ERROR))
        await self.adapter.emit("whatsapp.disconnected", reason="temporary_ban", ban_code=code, expires_in=ev.Expire)

    async def _connect_failure(self, ev: Any) -> None:
        self.progressed = True
        if ev.Reason in LOGOUT_FAILURES:
            return
        if ev.Reason == _REASONS.CLIENT_OUTDATED:
            await self._client_outdated(ev)
            return
        reason = reason_name(_REASONS, ev.Reason)
        detail = f": {ev.Message}" if ev.Message else ""
        self.adapter.end_run(Outcome(f"WhatsApp refused the connection ({reason}{detail})"))

    async def _client_outdated(self, ev: Any) -> None:
        self.progressed = True
        message = "WhatsApp rejected this client as outdated: upgrade neonize, then restart the account"
        self.adapter.end_run(Outcome(message, retry=False, state=AccountState.ERROR))
        await self.adapter.emit("whatsapp.disconnected", reason="client_outdated")

    async def _keepalive_timeout(self, ev: Any) -> None:
        adapter = self.adapter
        if adapter.unhealthy_since is None:
            adapter.unhealthy_since = time.monotonic()
        if adapter.state is AccountState.CONNECTED:
            adapter.set_state(AccountState.CONNECTED, f"keep-alive failing ({ev.ErrorCount} missed)")

    async def _keepalive_restored(self, ev: Any) -> None:
        adapter = self.adapter
        adapter.unhealthy_since = None
        if adapter.state is AccountState.CONNECTED:
            adapter.set_state(AccountState.CONNECTED)

    async def _stream_error(self, ev: Any) -> None:
        log.warning("account %s: WhatsApp stream error %s", self.adapter.id, ev.Code,
                    extra={"account_id": self.adapter.id})

    # -- messages and receipts ------------------------------------------------
    async def _message(self, ev: Any) -> None:
        self.progressed = True
        await self.messages.message(ev)
