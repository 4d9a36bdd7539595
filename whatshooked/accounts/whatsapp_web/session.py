"""The one seam around neonize's Go client: the few calls the WhatsApp Web adapter makes.

Tests swap `NeonizeSession` for a stand-in with the same methods; both register the adapter's
callbacks on a real `neonize.aioze.events.Event`, so events always arrive through neonize's own
dispatch (`Event.execute`, called by Go with serialized protobuf bytes).

Traps handled here: handlers are registered in the constructor, before `connect()` (neonize tells Go
which events to forward at connect time); neonize's per-process event loop is re-bound at every
start; neonize's GC finalizer (which would stop *another* session sharing the same id) is detached;
the Go call that runs a session holds a default-executor thread for the session's whole life.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web import go_gate
from whatshooked.accounts.whatsapp_web.session_calls import SessionCalls
from whatshooked.executors import default_executor, set_default_executor

log = logging.getLogger(__name__)

SUBSCRIBED: tuple[type[Any], ...] = (
    nz.PairStatusEv, nz.ConnectedEv, nz.KeepAliveTimeoutEv, nz.KeepAliveRestoredEv, nz.LoggedOutEv,
    nz.StreamReplacedEv, nz.TemporaryBanEv, nz.ConnectFailureEv, nz.ClientOutdatedEv, nz.StreamErrorEv,
    nz.DisconnectedEv, nz.MessageEv, nz.ReceiptEv, nz.UndecryptableMessageEv,
    nz.GroupInfoEv, nz.JoinedGroupEv, nz.CallOfferEv, nz.CallTerminateEv, nz.PresenceEv, nz.ChatPresenceEv,
    nz.HistorySyncEv,
)
"""The neonize events the adapter handles (Go forwards only these)."""

STOP_WAIT = 1.4  # twice this stays inside the account manager's DISCONNECT_TIMEOUT (3 s)
"""How long `stop()` waits for the Go session to end before giving up on it."""

EXECUTOR_HEADROOM = 16
"""Default-executor threads kept free for short calls (sends, uploads, downloads, DNS) beside sessions."""


@dataclass
class SessionCallbacks:
    """What the session reports back; every callback runs on the adapter's event loop."""

    on_event: Callable[[Any], Awaitable[None]]
    """Any event in SUBSCRIBED, as neonize parsed it."""
    on_qr: Callable[[str], Awaitable[None]]
    on_login_status: Callable[[str], None]
    """whatsmeow's QR-channel outcome: `success`, `timeout`, `err-client-outdated`, …"""


class WebSession(Protocol):
    proxy: str
    """The account's `proxy` URL ("" for none), used from the next start."""

    async def start(self) -> asyncio.Future[Any]:
        """Start the Go session; the returned future ends (or fails) when the session ends."""
        ...

    async def stop(self) -> None: ...

    async def is_connected(self) -> bool: ...

    async def send_message(self, to: nz.JID, message: nz.Message) -> nz.SendResponse: ...

    async def upload(self, data: bytes, media_type: nz.MediaType) -> nz.UploadResponse: ...

    async def download_any(self, message: nz.Message) -> bytes: ...

    async def mark_read(self, message_ids: list[str], chat: nz.JID, sender: nz.JID) -> None: ...

    async def pair_phone(self, phone: str) -> str: ...

    async def chat_presence(self, chat: nz.JID, composing: bool, audio: bool) -> None: ...

    async def is_on_whatsapp(self, phones: list[str]) -> list[Any]: ...

    async def joined_groups(self) -> list[Any]: ...

    async def group_info(self, jid: nz.JID) -> Any: ...

    async def logout(self) -> None: ...


SessionFactory = Callable[..., WebSession]
"""`factory(path, callbacks, device_name=…)` → a session; `database=` (a `postgres://` URL) only in a cluster."""


def register_callbacks(event: Any, callbacks: SessionCallbacks) -> None:
    """Hook `callbacks` into a neonize `Event` (before connect, as neonize requires)."""

    async def on_event(_client: Any, message: Any) -> None:
        await callbacks.on_event(message)

    async def on_qr(_client: Any, code: bytes) -> None:
        await callbacks.on_qr(code.decode() if isinstance(code, bytes) else str(code))

    for event_type in SUBSCRIBED:
        event(event_type)(on_event)
    event.qr(on_qr)


def prepare_session_file(path: Path) -> None:
    """Create the session database (0600) and its folder (0700) before whatsmeow opens it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class _SessionExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, sized for the sessions holding a thread each."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.capacity = 2 * sessions + 2 * EXECUTOR_HEADROOM  # room to grow before the next swap
        super().__init__(max_workers=self.capacity, thread_name_prefix="whatshooked-io")


def reserve_session_thread(loop: asyncio.AbstractEventLoop, sessions: int = 1) -> None:
    """Make sure the default executor has a thread for every live session plus headroom.

    neonize runs every Go call through `asyncio.to_thread`, and a session's main call never returns
    while it is connected; with Python's default pool (cpu + 4 threads) a few accounts would starve
    every other blocking call. The daemon may call this once with the number of whatsmeow accounts;
    adapters call it at start so the pool grows as sessions are added.
    """
    current = default_executor(loop)
    reserved = (current.sessions if isinstance(current, _SessionExecutor) else 0) + sessions
    if isinstance(current, _SessionExecutor) and current.capacity >= reserved + EXECUTOR_HEADROOM:
        current.sessions = reserved
        return
    set_default_executor(loop, _SessionExecutor(reserved))
    log.debug("default executor sized for %d WhatsApp Web sessions", reserved)


def release_session_thread(loop: asyncio.AbstractEventLoop) -> None:
    current = default_executor(loop)
    if isinstance(current, _SessionExecutor) and current.sessions > 0:
        current.sessions -= 1


class _Client(nz.NewAClient):
    """neonize's client, plus whatsmeow's QR-channel outcomes (neonize drops them), its Go calls gated
    (go_gate), and a signal when Go first calls back for it (its registration is over)."""

    def __init__(self, name: str, on_login_status: Callable[[str], None], device_name: str, uuid: str) -> None:
        super().__init__(name, props=nz.DeviceProps(os=device_name, platformType=nz.DeviceProps.SAFARI), uuid=uuid)
        self._NewAClient__client = go_gate.GatedGoCode()
        self._on_login_status = on_login_status
        self.answered: threading.Event | None = None
        execute = self.event.execute

        def execute_and_signal(uuid: int, binary: int, size: int, code: int) -> None:
            self.signal_answer()
            execute(uuid, binary, size, code)

        self.event.execute = execute_and_signal

    def signal_answer(self) -> None:
        """Called on Go's threads: Go is past registering this client."""
        if self.answered is not None:
            self.answered.set()

    def _NewAClient__onLoginStatus(self, uuid: int, status: int) -> None:  # noqa: N802 - overrides a private
        self.signal_answer()
        text = ctypes.string_at(status).decode(errors="replace") if status else ""
        if self.loop is not None and text:
            self.loop.call_soon_threadsafe(self._on_login_status, text)

    def _NewAClient__onQr(self, uuid: int, qr_protoaddr: int) -> None:  # noqa: N802 - overrides a private
        self.signal_answer()
        nz.NewAClient._NewAClient__onQr(self, uuid, qr_protoaddr)


class NeonizeSession(SessionCalls):
    """One whatsmeow session: its SQLite file is both neonize's database name and its client id.

    In a cluster `database` is a `postgres://` URL instead (neonize's Go side then opens whatsmeow's
    PostgreSQL store through lib/pq), with the account's own schema as its `search_path`; the
    client id stays the file's path, so no password is handed around as a name.
    """

    def __init__(self, path: Path, callbacks: SessionCallbacks, device_name: str = "whatshooked",
                 database: str | None = None) -> None:
        self.path = path
        self.database = database
        self._client = _Client(database or str(path), callbacks.on_login_status, device_name, uuid=str(path))
        self._client._stop_finalizer.detach()  # it would Stop a newer session with the same id
        register_callbacks(self._client.event, callbacks)
        self._task: asyncio.Future[Any] | None = None
        self._retired: deque[Any] = deque(maxlen=16)
        """ctypes callbacks of earlier runs: Go goroutines may still log through them briefly."""
        self.proxy: str = ""
        """The account's `proxy`, handed to whatsmeow at every connect."""

    async def start(self) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        nz.bind_event_loop(loop)
        if self.database is None:
            prepare_session_file(self.path)
        refs = getattr(self._client, "_connect_refs", None)
        if refs is not None:
            self._retired.append(refs)
        answered = self._client.answered = threading.Event()
        proxy = nz.ProxySettings(proxy_address=self.proxy) if self.proxy else None
        try:
            await go_gate.hold_for_registration(answered)  # no other lifecycle Go call runs until it is over
            self._task = task = await self._client.connect(proxy)
        except BaseException:
            answered.set()
            raise
        task.add_done_callback(lambda _t: answered.set())
        return task

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(self._client.stop(), STOP_WAIT)
        except TimeoutError:
            log.warning("session %s: whatsmeow did not stop within %ss", self.path.name, STOP_WAIT)
        if task is not None and not task.done():
            done, _ = await asyncio.wait([task], timeout=STOP_WAIT)
            if not done:
                log.warning("session %s: the Go session is still ending; it is removed when it does",
                            self.path.name)
        # Go may have registered the client after our Stop (a stop right after a start): remove it once
        # the run is over, so no zombie client is left behind to connect on its own.
        if task is not None and task.done():
            self._retrieve(task)
            # queued, not awaited: it may wait for other sessions' long reads (go_gate); a restart queues after it
            go_gate.stop_client(self._client.uuid)
        elif task is not None:
            task.add_done_callback(self._forget)

    @staticmethod
    def _retrieve(task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: its failure was already handled or no longer matters

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._retrieve(task)
        if self._task is None:  # not restarted meanwhile
            go_gate.stop_client(self._client.uuid)

    @property
    def me(self) -> Any:
        """This device's JIDs as Go reported them when the session started (None before)."""
        return self._client.me

    async def is_connected(self) -> bool:
        return bool(await self._client.is_connected)  # neonize's property returns a coroutine

    async def send_message(self, to: nz.JID, message: nz.Message) -> nz.SendResponse:
        response: nz.SendResponse = await self._client.send_message(to, message)
        return response

    async def upload(self, data: bytes, media_type: nz.MediaType) -> nz.UploadResponse:
        response: nz.UploadResponse = await self._client.upload(data, media_type)
        return response

    async def download_any(self, message: nz.Message) -> bytes:
        data: bytes = await self._client.download_any(message)
        return data

    async def mark_read(self, message_ids: list[str], chat: nz.JID, sender: nz.JID) -> None:
        await self._client.mark_read(*message_ids, chat=chat, sender=sender, receipt=nz.ReceiptType.READ)

    async def pair_phone(self, phone: str) -> str:
        code: str = await self._client.PairPhone(phone, show_push_notification=True)
        return code


def neonize_session(path: Path, callbacks: SessionCallbacks, device_name: str = "whatshooked",
                    database: str | None = None) -> WebSession:
    return NeonizeSession(path, callbacks, device_name, database)
