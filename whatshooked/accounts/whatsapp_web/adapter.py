"""WhatsApp Web accounts (`type: whatsmeow`) through neonize: pairing, a resilient session, events, sends.

One supervisor task per account runs the session, restarts it with capped, jittered backoff, and
stops for good on the outcomes retrying cannot fix (logged out, QR window over, client outdated,
stream replaced). A watchdog restarts a session that claims to be connected but is dead.
Test seams: `ctx.seams.get(WebSeams)` (a session factory, timings); see `seams.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

from whatshooked.accounts.base import AccountState, AdapterContext, SendKind, SendRequest, SendResult
from whatshooked.accounts.whatsapp_web.backoff import Backoff
from whatshooked.accounts.whatsapp_web.compose import COMPOSED_KINDS, Known, decorate, special_message
from whatshooked.accounts.whatsapp_web.events import EventRouter
from whatshooked.accounts.whatsapp_web.host import Outcome
from whatshooked.accounts.whatsapp_web.jid import normalize_recipient, public_address, split_jid
from whatshooked.accounts.whatsapp_web.lookups import WebLookups
from whatshooked.accounts.whatsapp_web.outbound import build_message, reaction_message, text_of, to_jid
from whatshooked.accounts.whatsapp_web.pairing import QrWindow, TerminalQr
from whatshooked.accounts.whatsapp_web.seams import WebSeams, WebTiming
from whatshooked.accounts.whatsapp_web.session import (
    SessionCallbacks,
    SessionFactory,
    WebSession,
    neonize_session,
    release_session_thread,
    reserve_session_thread,
)
from whatshooked.accounts.whatsapp_web.settings import WebSettings
from whatshooked.config.model import AccountConfig
from whatshooked.errors import NotConnected, RequestError, SendError, StoreError
from whatshooked.phone import phone_digits

log = logging.getLogger(__name__)

RECENT_MESSAGES = 5000
"""Message ids remembered (chat, sender) so reactions and read receipts can be addressed."""
QUOTABLE = 1000
"""Messages whose content is kept so a reply can quote them."""


class WhatsAppWebAdapter(WebLookups):
    type_name: ClassVar[str] = "whatsmeow"
    send_kinds: ClassVar[frozenset[SendKind]] = frozenset({
        SendKind.TEXT, SendKind.IMAGE, SendKind.VIDEO, SendKind.DOCUMENT, SendKind.AUDIO, SendKind.STICKER,
        SendKind.LOCATION, SendKind.CONTACTS, SendKind.REACTION, SendKind.READ,
        SendKind.POLL, SendKind.EDIT, SendKind.REVOKE,
    })
    operations: ClassVar[frozenset[str]] = frozenset(
        {"chats.typing", "contacts.check", "groups.list", "groups.info", "accounts.logout"})
    pairs_by_qr: ClassVar[bool] = True
    exclusive: ClassVar[bool] = True

    def __init__(self, config: AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        seams = ctx.seams.get(WebSeams) or WebSeams()
        self.timing: WebTiming = seams.timing or WebTiming()
        self._factory: SessionFactory = seams.session_factory or neonize_session
        self.web = config.settings if isinstance(config.settings, WebSettings) else WebSettings()
        self.session_path = self.web.session_path or ctx.settings.base_dir / "data" / "sessions" / f"{config.id}.db"
        self.backoff = Backoff(base=self.timing.backoff_base, cap=self.timing.backoff_cap)
        self.qr = QrWindow(first=self.timing.qr_first, next=self.timing.qr_next, grace=self.timing.qr_grace)
        self.terminal = TerminalQr(config.id) if self.web.show_qr else None
        self.session: WebSession | None = None
        self.live = False
        """True while a Go session is running (its client exists): the only time Go calls are safe."""
        self.unhealthy_since: float | None = None
        self.router = EventRouter(self)
        self.recent: OrderedDict[str, tuple[str, str, bool]] = OrderedDict()
        self.quotable: OrderedDict[str, Any] = OrderedDict()
        """The content of the last QUOTABLE messages, for quoted replies (`reply_to`)."""
        self._outcome: asyncio.Future[Outcome] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._reserved = False

    # -- lifecycle ----------------------------------------------------------
    async def connect(self) -> None:
        if self.config.disabled:
            self.set_state(AccountState.DISABLED)
            return
        if self._supervisor is not None and not self._supervisor.done():
            return
        loop = asyncio.get_running_loop()
        if not self._reserved:
            reserve_session_thread(loop)
            self._reserved = True
        self.set_state(AccountState.CONNECTING)
        # In a cluster the session lives in the shared database: the supervisor makes it once its schema is ready.
        self.session = self._new_session() if self.ctx.session_database is None else None
        self._supervisor = loop.create_task(self._supervise(), name=f"whatsapp-web:{self.id}")
        self._watchdog = loop.create_task(self._watch(), name=f"whatsapp-web-watchdog:{self.id}")

    async def disconnect(self) -> None:
        for task in (self._watchdog, self._supervisor):
            if task is not None:
                task.cancel()
        for task in (self._watchdog, self._supervisor):
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("account %s: session task failed", self.id, extra={"account_id": self.id})
        self._watchdog = self._supervisor = None
        await self._stop_session()
        await self.router.drain(self.timing.drain_wait)
        self.qr.clear()
        if self._reserved:
            release_session_thread(asyncio.get_running_loop())
            self._reserved = False
        if self.config.disabled:
            self.set_state(AccountState.DISABLED)
        elif self.state not in (AccountState.LOGGED_OUT, AccountState.ERROR, AccountState.DISCONNECTED):
            self.set_state(AccountState.DISCONNECTED)

    def end_run(self, outcome: Outcome) -> None:
        """Called by event handlers and the watchdog: end the current session run this way."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)

    def _new_session(self, database: str | None = None) -> WebSession:
        place = {"database": database} if database is not None else {}
        session = self._factory(Path(self.session_path), SessionCallbacks(
            on_event=self.router.on_event, on_qr=self.router.on_qr, on_login_status=self.router.on_login_status),
            device_name=self.web.device_name, **place)
        session.proxy = self.web.proxy
        return session

    async def _supervise(self, fresh: bool = True) -> None:
        if not fresh:
            await self._stop_session()  # whatever the dead supervisor left running
        while self.session is None:  # a cluster: the account's schema first (the database may be away a while)
            assert self.ctx.session_database is not None
            try:
                self.session = self._new_session(await self.ctx.session_database(self.id))
            except StoreError as exc:
                delay = self.backoff.next_delay()
                self.set_state(AccountState.DISCONNECTED, f"{exc}; retrying in {delay:.0f}s")
                await asyncio.sleep(delay)
                self.set_state(AccountState.CONNECTING)
        while True:
            loop = asyncio.get_running_loop()
            self._outcome = loop.create_future()
            self.router.new_run()
            outcome = await self._run_once(self.session)
            await self._stop_session()
            if not outcome.retry:
                self.set_state(outcome.state, outcome.reason)
                return
            delay = outcome.delay if outcome.delay is not None else self.backoff.next_delay()
            retry = f"retrying in {delay:.0f}s (attempt {self.backoff.attempts})"
            self.set_state(outcome.state, f"{outcome.reason}; {retry}")
            await asyncio.sleep(delay)
            self.set_state(AccountState.CONNECTING)

    async def _run_once(self, session: WebSession) -> Outcome:
        assert self._outcome is not None
        try:
            ended = await session.start()
        except Exception as exc:
            return Outcome(f"could not start the session: {exc}")
        self.live = True
        waiters: set[asyncio.Future[Any]] = {ended, self._outcome}
        done, _ = await asyncio.wait(waiters, timeout=self.timing.connect_deadline, return_when="FIRST_COMPLETED")
        if not done and not self.router.progressed:
            return Outcome(f"no answer from WhatsApp within {self.timing.connect_deadline:.0f}s")
        if not done:
            await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
        if self._outcome.done():
            return self._outcome.result()
        error = ended.exception() if not ended.cancelled() else None
        return Outcome(f"session ended: {error}" if error else "session ended")

    async def _stop_session(self) -> None:
        self.live = False
        if self.session is not None:
            try:
                await self.session.stop()
            except Exception:
                log.exception("account %s: stopping the session failed", self.id, extra={"account_id": self.id})

    async def _watch(self) -> None:
        """Restart a session that says it is connected but is not, or a QR window that ran out, or a
        supervisor task that died of a bug (it would otherwise never retry again)."""
        while True:
            await asyncio.sleep(self.timing.watchdog_interval)
            self._revive_supervisor()
            if self.state is AccountState.QR and self.qr.expired():
                self.router.qr_expired()
                continue
            if self.state is AccountState.CONNECTED and self.live and self.session is not None:
                try:
                    async with asyncio.timeout(self.timing.watchdog_interval):
                        connected = await self.session.is_connected()
                except Exception as exc:
                    connected = False
                    log.debug("account %s: is_connected failed: %s", self.id, exc, extra={"account_id": self.id})
                if not connected and self.unhealthy_since is None:
                    self.unhealthy_since = time.monotonic()
            since = self.unhealthy_since
            if since is not None and time.monotonic() - since > self.timing.unhealthy_grace:
                self.unhealthy_since = None
                if self.state is AccountState.CONNECTED:
                    await self.emit("whatsapp.disconnected", reason="unresponsive")
                log.warning("account %s: session unresponsive for %.0fs; restarting it", self.id,
                            time.monotonic() - since, extra={"account_id": self.id})
                self.end_run(Outcome(f"session unresponsive for {self.timing.unhealthy_grace:.0f}s"))

    def _revive_supervisor(self) -> None:
        task = self._supervisor
        if task is None or not task.done() or task.cancelled() or task.exception() is None:
            return  # running, or ended on purpose (logged out, QR expired, …)
        log.error("account %s: the session supervisor died (%r); restarting it", self.id, task.exception(),
                  extra={"account_id": self.id})
        self.set_state(AccountState.CONNECTING, f"restarted after an internal error: {task.exception()!r}")
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(fresh=False),
                                                                  name=f"whatsapp-web:{self.id}")

    # -- pairing ------------------------------------------------------------
    @property
    def current_qr(self) -> str | None:
        return self.qr.code if self.state is AccountState.QR else None

    async def pair_phone(self, phone: str) -> str:
        digits = phone_digits(phone, "phone")
        if self.state is not AccountState.QR or not self.live or self.session is None:
            raise RequestError(f"account {self.id!r} is not waiting to be paired (state: {self.state.value}); "
                               "restart it with /api/accounts/enable or /api/accounts/update first")
        try:
            return await self.session.pair_phone(digits)
        except Exception as exc:
            raise SendError(f"WhatsApp refused pairing by phone code: {exc}", code=type(exc).__name__) from exc

    # -- sending ------------------------------------------------------------
    def normalize_recipient(self, to: str) -> str:
        return normalize_recipient(to)

    def remember(self, message_id: str, chat: str, sender: str, from_me: bool, message: Any = None) -> None:
        self.recent[message_id] = (chat, sender, from_me)
        self.recent.move_to_end(message_id)
        while len(self.recent) > RECENT_MESSAGES:
            self.recent.popitem(last=False)
        if message is not None:
            self.quotable[message_id] = message
            while len(self.quotable) > QUOTABLE:
                self.quotable.popitem(last=False)

    def known(self, message_id: str) -> Known | None:
        found = self.recent.get(message_id)
        return Known(*found, message=self.quotable.get(message_id)) if found is not None else None

    def live_session(self) -> WebSession:
        if self.session is None or not self.live or self.state is not AccountState.CONNECTED:
            raise NotConnected(self.id, self.state.value)
        return self.session

    async def send(self, request: SendRequest) -> SendResult:
        session = self.live_session()
        if request.kind is SendKind.READ:
            return await self._mark_read(session, request)
        if request.kind is SendKind.REACTION:
            message = self._reaction(request)
        elif request.kind in COMPOSED_KINDS:
            message = special_message(request, self.known(str(request.body.get("message_id", ""))))
        else:
            message = await build_message(request, self._uploader(session))
        reply_to = request.body.get("reply_to")
        message = decorate(message, request.body, request.to, self.known(reply_to) if reply_to else None)
        try:
            response = await session.send_message(to_jid(request.to), message)
        except Exception as exc:
            raise SendError(f"WhatsApp did not accept the message: {exc}", code=type(exc).__name__) from exc
        user, server = split_jid(request.to)
        if request.kind in (SendKind.EDIT, SendKind.REVOKE):
            return SendResult(message_id=str(request.body["message_id"]), to=public_address(user, server))
        self.remember(response.ID, request.to, "", True, message)
        if request.kind is SendKind.POLL:
            self.router.messages.remember_sent_poll(response.ID, message)
        return SendResult(message_id=response.ID, to=public_address(user, server),
                          raw={"timestamp": response.Timestamp, "server_id": response.ServerID})

    def _uploader(self, session: WebSession) -> Any:
        async def upload(data: bytes, media_type: Any) -> Any:
            try:
                return await session.upload(data, media_type)
            except Exception as exc:
                raise SendError(f"uploading the media to WhatsApp failed: {exc}", code=type(exc).__name__) from exc
        return upload

    def _reaction(self, request: SendRequest) -> Any:
        message_id = text_of(request.body, "message_id", required=True)
        emoji = text_of(request.body, "emoji")
        _chat, sender, from_me = self.recent.get(message_id, (request.to, "", False))
        return reaction_message(request.to, message_id, emoji, from_me, sender or None)

    async def _mark_read(self, session: WebSession, request: SendRequest) -> SendResult:
        message_id = text_of(request.body, "message_id", required=True)
        known = self.recent.get(message_id)
        if known is not None:
            chat, sender, _ = known
        elif request.to and not request.to.endswith("@g.us"):
            chat = sender = request.to
        else:
            raise RequestError(f"message {message_id!r} was not received by account {self.id!r} since it started; "
                               "pass 'to' (the chat) to mark it read", status=404)
        try:
            await session.mark_read([message_id], to_jid(chat), to_jid(sender or chat))
        except Exception as exc:
            raise SendError(f"WhatsApp did not accept the read receipt: {exc}", code=type(exc).__name__) from exc
        user, server = split_jid(chat)
        return SendResult(message_id=message_id, to=public_address(user, server))
