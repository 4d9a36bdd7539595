"""A stand-in for the Go side of a WhatsApp Web session, behind the adapter's one seam (WebSession).

Events reach the adapter exactly as in production: the stand-in owns a real neonize `Event`, the
adapter's callbacks are registered on it by the same `register_callbacks`, and `feed()` serializes
a real neonize protobuf and calls `Event.execute` through a ctypes callback pointer from another
thread — the way the Go library does. QR codes go through neonize's own `__onQr` callback.
What the adapter asks of the session (sends, uploads, read marks, pairing) is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.session import SessionCallbacks, prepare_session_file, register_callbacks


@dataclass
class Sessions:
    """The factory tests lend as `WebSeams(session_factory=…)`; keeps every session made."""

    made: list[StandInSession] = field(default_factory=list)
    fail_starts: int = 0
    """How many starts (across sessions) fail at once, as an offline Go session does."""

    def __call__(self, path: Path, callbacks: SessionCallbacks, **options: Any) -> StandInSession:
        session = StandInSession(path, callbacks, self)
        session.options = options
        self.made.append(session)
        return session

    @property
    def last(self) -> StandInSession:
        return self.made[-1]


class StandInSession:
    def __init__(self, path: Path, callbacks: SessionCallbacks, owner: Sessions) -> None:
        self.path = path
        self.owner = owner
        self.uuid = str(path).encode()
        self.event = nz.aio_events.Event(self)  # neonize's dispatcher; it sets `me` and `connected` on us
        self.me: Any = None
        self.connected = False
        register_callbacks(self.event, callbacks)
        self.callbacks = callbacks
        self._event_cb = nz.func_callback_bytes(self.event.execute)
        self._qr_cb = nz.func_string(functools.partial(nz.NewAClient._NewAClient__onQr, self))
        self.starts = 0
        self.stops = 0
        self.ended: asyncio.Future[None] | None = None
        self.started = asyncio.Event()
        self.is_connected_answer = True
        self.sent: list[tuple[Any, Any]] = []
        self.uploads: list[tuple[bytes, Any]] = []
        self.read_marks: list[tuple[list[str], Any, Any]] = []
        self.paired: list[str] = []
        self.download_gate: asyncio.Event | None = None
        """When set, downloads wait for it (a slow media server)."""
        self.downloads: dict[str, bytes] = {}
        """Bytes to answer download_any with, by the media message's fileSHA256 hex."""
        self.send_error: Exception | None = None
        self.proxy = ""
        self.presences: list[tuple[Any, bool, bool]] = []
        self.on_whatsapp: dict[str, str] = {}
        """Phone digits -> JID the stand-in's WhatsApp knows (is_on_whatsapp answers from this)."""
        self.groups: list[Any] = []
        self.logouts = 0
        self.options: dict[str, Any] = {}
        """What the adapter asked for besides path and callbacks (device_name, …)."""

    # -- the seam -------------------------------------------------------------
    async def start(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        nz.bind_event_loop(loop)
        prepare_session_file(self.path)
        self.starts += 1
        self.ended = loop.create_future()
        if self.owner.fail_starts > 0:
            self.owner.fail_starts -= 1
            self.ended.set_exception(nz.NeonizeError(
                'failed to dial whatsapp web websocket: dial tcp: lookup web.whatsapp.com: no such host'))
        self.started.set()
        return self.ended

    async def stop(self) -> None:
        self.stops += 1
        if self.ended is not None and not self.ended.done():
            self.ended.set_result(None)
        if self.ended is not None and self.ended.done() and not self.ended.cancelled():
            self.ended.exception()

    async def is_connected(self) -> bool:
        return self.is_connected_answer

    async def send_message(self, to: Any, message: Any) -> Any:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((to, message))
        return nz.SendResponse(ID=f"3EB0{len(self.sent):016X}", Timestamp=1_700_000_000, ServerID=len(self.sent))

    async def upload(self, data: bytes, media_type: Any) -> Any:
        self.uploads.append((data, media_type))
        return nz.UploadResponse(url=f"https://mmg.whatsapp.net/upload/{len(self.uploads)}",
                                 DirectPath=f"/v/t62/{len(self.uploads)}", MediaKey=b"k" * 32,
                                 FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32, FileLength=len(data))

    async def download_any(self, message: Any) -> bytes:
        if self.download_gate is not None:
            await self.download_gate.wait()
        for _descriptor, part in message.ListFields():
            sha = getattr(part, "fileSHA256", b"")
            if sha and sha.hex() in self.downloads:
                return self.downloads[sha.hex()]
        raise nz.NeonizeError("download failed: media not found on the server")

    async def mark_read(self, message_ids: list[str], chat: Any, sender: Any) -> None:
        self.read_marks.append((message_ids, chat, sender))

    async def pair_phone(self, phone: str) -> str:
        self.paired.append(phone)
        return "ABCD-EFGH"

    async def chat_presence(self, chat: Any, composing: bool, audio: bool) -> None:
        self.presences.append((chat, composing, audio))

    async def is_on_whatsapp(self, phones: list[str]) -> list[Any]:
        answers = []
        for phone in phones:
            known = self.on_whatsapp.get(phone.lstrip("+"), "")
            answers.append(P.IsOnWhatsAppResponse(Query=phone, JID=jid(known), IsIn=bool(known)))
        return answers

    async def joined_groups(self) -> list[Any]:
        return list(self.groups)

    async def group_info(self, group: Any) -> Any:
        for info in self.groups:
            if info.JID.User == group.User:
                return info
        raise nz.NeonizeError("info query returned status 404: item-not-found")

    async def logout(self) -> None:
        self.logouts += 1

    # -- playing the Go side ---------------------------------------------------
    def feed(self, message: Any) -> None:
        """Deliver one event the way Go does: serialized bytes and the event's type id, from this thread."""
        data = message.SerializeToString()
        buffer = ctypes.create_string_buffer(data, len(data) or 1)
        self._event_cb(self.uuid, ctypes.addressof(buffer), len(data), nz.EVENT_TO_INT[type(message)])

    async def afeed(self, *messages: Any) -> None:
        for message in messages:
            await asyncio.to_thread(self.feed, message)

    def feed_qr(self, code: str) -> None:
        buffer = ctypes.create_string_buffer(code.encode())
        self._qr_cb(None, ctypes.addressof(buffer))

    async def afeed_qr(self, code: str) -> None:
        await asyncio.to_thread(self.feed_qr, code)

    def feed_login_status(self, status: str) -> None:
        """whatsmeow's QR-channel outcome, as NeonizeSession forwards it from Go's thread."""
        loop = nz.aio_events.event_global_loop
        assert loop is not None
        loop.call_soon_threadsafe(self.callbacks.on_login_status, status)


# -- real neonize events, filled in the way the Go encoder fills them --------------------------------
P = nz.neonize_proto


def complete(message: Any) -> Any:
    """Give every unset required (proto2) field its zero value, as Go's encoder always writes them all."""
    for spec in message.DESCRIPTOR.fields:
        if spec.is_repeated:
            if spec.message_type is not None:
                for item in getattr(message, spec.name):
                    complete(item)
            continue
        if spec.message_type is not None:
            if spec.is_required or message.HasField(spec.name):
                complete(getattr(message, spec.name))
                if not message.HasField(spec.name):
                    getattr(message, spec.name).SetInParent()
        elif spec.is_required and not message.HasField(spec.name):
            setattr(message, spec.name, spec.default_value)
    return message


def jid(text: str) -> Any:
    user, _, server = text.partition("@")
    return P.JID(User=user, Server=server, RawAgent=0, Device=0, Integrator=0, IsEmpty=not text)


def source(chat: str, sender: str, *, from_me: bool = False, sender_alt: str = "", recipient_alt: str = "") -> Any:
    return P.MessageSource(Chat=jid(chat), Sender=jid(sender), IsFromMe=from_me, IsGroup=chat.endswith("@g.us"),
                           AddressingMode=P.AddressingMode.PN, SenderAlt=jid(sender_alt),
                           RecipientAlt=jid(recipient_alt), BroadcastListOwner=jid(""))


def message_ev(message: Any, *, message_id: str = "3EB0C0FFEE000001", chat: str = "15551234567@s.whatsapp.net",
               sender: str = "", from_me: bool = False, pushname: str = "Alice", timestamp_ms: int = 1_700_000_000_123,
               sender_alt: str = "", recipient_alt: str = "") -> Any:
    info = P.MessageInfo(
        MessageSource=source(chat, sender or chat, from_me=from_me, sender_alt=sender_alt, recipient_alt=recipient_alt),
        ID=message_id, ServerID=0, Type="text", Pushname=pushname, Timestamp=timestamp_ms, Category="",
        Multicast=False, MediaType="", Edit="")
    return nz.MessageEv(Info=info, Message=message, IsEphemeral=False, IsViewOnce=False, IsViewOnceV2=False,
                        IsViewOnceV2Extension=False, IsDocumentWithCaption=False, IsLottieSticker=False, IsEdit=False,
                        UnavailableRequestID="", RetryCount=0, Raw=message)


def receipt_ev(kind: int, message_ids: list[str], *, chat: str = "15551234567@s.whatsapp.net", sender: str = "",
               sender_alt: str = "", timestamp: int = 1_700_000_100) -> Any:
    return nz.ReceiptEv(MessageSource=source(chat, sender or chat, sender_alt=sender_alt), MessageIDs=message_ids,
                        Timestamp=timestamp, Type=kind)


# -- the real pipeline around real adapters: store, dispatcher, hook receiver, account manager ------
@dataclass
class WebWorld:
    manager: Any
    sessions: Sessions
    config: Any
    media: Any
    store: Any

    def adapter(self, account_id: str = "personal") -> Any:
        return self.manager.get(account_id)


FAST = dict(connect_deadline=5.0, backoff_base=0.05, backoff_cap=0.4, watchdog_interval=0.05,
            unhealthy_grace=0.3, qr_first=60.0, qr_next=20.0, qr_grace=15.0, download_timeout=5.0, drain_wait=2.0)


@contextlib.asynccontextmanager
async def web_world(tmp_path: Path, hook_url: str, *, accounts: str | None = None, media_mode: str = "url",
                    timing: dict[str, float] | None = None, sessions: Sessions | None = None,
                    fetch_private: bool = False) -> AsyncIterator[WebWorld]:
    """Real Store, Dispatcher (delivering to `hook_url`), MediaStore and AccountManager; sessions stood in."""
    from whatshooked.accounts.manager import AccountManager, Lent
    from whatshooked.accounts.seams import Seams
    from whatshooked.accounts.whatsapp_web.seams import WebSeams, WebTiming
    from whatshooked.config.load import load_config
    from whatshooked.delivery.dispatcher import Dispatcher
    from whatshooked.media.store import MediaStore
    from whatshooked.service.metrics import Metrics
    from whatshooked.store.sqlite.store import SQLiteStore

    accounts = accounts or ("  - id: personal\n    type: whatsmeow\n    session_path: ./sessions/personal.db\n")
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  api_key: k\nstorage:\n  path: ./data/events.db\nmedia:\n  mode: {media_mode}\n"
                    f"  dir: ./data/media\n  fetch_private: {str(fetch_private).lower()}\naccounts:\n{accounts}"
                    f"hooks:\n  - id: rec\n    url: {hook_url}\n")
    config = load_config(path, env={})
    sessions = sessions or Sessions()
    store = await SQLiteStore.open(config.storage.path)
    http = aiohttp.ClientSession()
    media = MediaStore.from_config(config)
    metrics = Metrics()
    holder: dict[str, Any] = {}

    async def reply(event: Any, items: list[dict[str, Any]]) -> None:
        await holder["manager"].handle_reply(event, items)

    dispatcher = Dispatcher(config, store, metrics, reply_handler=reply)
    await dispatcher.start()
    seams = Seams(WebSeams(session_factory=sessions, timing=WebTiming(**{**FAST, **(timing or {})})))
    manager = AccountManager(Lent(emit=dispatcher.publish, http=http, media=media,
                                  metrics=metrics, seams=seams))
    holder["manager"] = manager
    try:
        await manager.start(config)
        yield WebWorld(manager, sessions, config, media, store)
    finally:
        await manager.close()
        await dispatcher.close(2.0)
        await media.close()
        await http.close()
        await store.close()

