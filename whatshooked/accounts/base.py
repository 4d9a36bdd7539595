"""The one interface every kind of account implements; the core only ever talks to this."""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from whatshooked.accounts.seams import Seams
from whatshooked.errors import Unsupported
from whatshooked.events import Event

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web

    from whatshooked.config.model import AccountConfig, Config
    from whatshooked.service.metrics import Metrics

log = logging.getLogger(__name__)


class AccountState(enum.StrEnum):
    CONNECTING = "connecting"
    QR = "qr"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    DISABLED = "disabled"
    ERROR = "error"
    STANDBY = "standby"
    """Driven by another daemon sharing the database (its node is the status entry's `node`)."""


class SendKind(enum.StrEnum):
    """One per `/api/send*` route (and `/api/messages/read`)."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    AUDIO = "audio"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    TEMPLATE = "template"
    FLOW = "flow"
    REACTION = "reaction"
    CATALOG = "catalog"
    PRODUCT = "product"
    PRODUCT_LIST = "product-list"
    POLL = "poll"
    READ = "read"
    EDIT = "edit"
    REVOKE = "revoke"


QUIET_KINDS = frozenset({SendKind.READ, SendKind.EDIT, SendKind.REVOKE})
"""Operations on existing messages: they raise no `message.sent` / `message.failed`."""


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A validated send: `body` is the route's JSON body without `account_id` and `to`."""

    kind: SendKind
    to: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str
    to: str
    raw: dict[str, Any] | None = None


class MediaSink(Protocol):
    """Where adapters put received media (implemented by `whatshooked.media.store.MediaStore`)."""

    async def save(
        self, data: bytes, mime_type: str, *, filename: str | None = None, sha256: str | None = None
    ) -> dict[str, Any]:
        """Store the bytes; return the event's `media` object for the configured `media.mode`."""
        ...


class Emit(Protocol):
    """Publish an event; with `dedupe_key`, the key is committed with it and False means a duplicate."""

    def __call__(self, event: Event, dedupe_key: str | None = None) -> Awaitable[bool]: ...


def sent_key(account_id: str, message_id: str) -> str:
    """The dedupe key of `message.sent`: one per message id, whether the send or Meta's `sent` status raised it."""
    return f"sent:{account_id}:{message_id}"


class AccountDirectory(Protocol):
    """What an adapter may see of the other accounts (the AccountManager)."""

    def adapters(self) -> list[AccountAdapter]: ...


StateListener = Callable[["AccountAdapter", "AccountState", "str | None"], None]


@dataclass
class AdapterContext:
    """What the daemon lends an adapter. `emit` returns once the event is committed."""

    emit: Emit
    http: aiohttp.ClientSession
    media: MediaSink
    settings: Config
    on_state: StateListener | None = None
    metrics: Metrics | None = None
    accounts: AccountDirectory | None = None
    """The daemon's other accounts (a Cloud API webhook hands a sibling number's changes to its account)."""
    seams: Seams = field(default_factory=Seams)
    """Backend-typed replacements for defaults (session factories, timings), for tests; see `seams.py`."""
    session_database: Callable[[str], Awaitable[str]] | None = None
    """In a cluster: the database (a URL) an exclusive account's session lives in, made ready; None: local files."""


class AccountAdapter(abc.ABC):
    """One WhatsApp account. `connect` must return promptly: long-lived work goes in owned tasks."""

    type_name: ClassVar[str]
    send_kinds: ClassVar[frozenset[SendKind]] = frozenset()
    operations: ClassVar[frozenset[str]] = frozenset()
    """Management operations beyond sending (`templates.list`, `flows.create`, …)."""
    pairs_by_qr: ClassVar[bool] = False
    """Linked by scanning a QR code (`current_qr`, the `/api/qr/{account}` page)."""
    exclusive: ClassVar[bool] = False
    """Driven by one daemon at a time when several share a database (a WhatsApp Web session)."""

    def __init__(self, config: AccountConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        self._state = AccountState.DISABLED if config.disabled else AccountState.DISCONNECTED
        self._last_error: str | None = None
        self.node = ""
        """The node driving it when that is another daemon ("": this one)."""

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def state(self) -> AccountState:
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def set_state(self, state: AccountState, error: str | None = None) -> None:
        """Record a state change; one log line per change, and listeners told."""
        if state is self._state and error == self._last_error:
            return
        previous, self._state = self._state, state
        if error is not None or state in (AccountState.CONNECTED, AccountState.QR):
            self._last_error = error
        if error:
            log.warning("account %s: %s -> %s (%s)", self.id, previous, state, error, extra={"account_id": self.id})
        else:
            log.info("account %s: %s -> %s", self.id, previous, state, extra={"account_id": self.id})
        if self.ctx.on_state is not None:
            self.ctx.on_state(self, state, error)

    async def emit(self, event_type: str, *, dedupe_key: str | None = None, **data: Any) -> Event | None:
        """Raise an event; returns it once committed, or None when `dedupe_key` was seen before.

        The key (e.g. WhatsApp's message id) is recorded in the event's own commit, and survives
        restarts while the cache keeps it (`message_cache.max_age`).
        """
        event = Event(type=event_type, data={"account_id": self.id, **data})
        if not await self.ctx.emit(event, dedupe_key):
            log.debug("account %s: %s already raised (%s)", self.id, event_type, dedupe_key,
                      extra={"account_id": self.id})
            return None
        return event

    @abc.abstractmethod
    async def connect(self) -> None:
        """Start the session; failures end in a state (`error`, …), never an exception."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Close the session and cancel every task this adapter owns."""

    @abc.abstractmethod
    def normalize_recipient(self, to: str) -> str:
        """A phone number or JID as this backend wants it; raises RequestError if invalid."""

    @abc.abstractmethod
    async def send(self, request: SendRequest) -> SendResult:
        """Send, or raise SendError with WhatsApp's reason."""

    def supports(self, kind: SendKind) -> bool:
        return kind in self.send_kinds

    def offers(self, operation: str) -> bool:
        return operation in self.operations

    async def manage(self, operation: str, params: dict[str, Any]) -> Any:
        """A Business API management call; returns the backend's JSON."""
        raise Unsupported(self.id, self.type_name, operation)

    # Optional capabilities -------------------------------------------------
    webhook_path: str | None = None
    """Set by adapters that receive HTTP webhooks (Cloud API); the daemon routes them here."""

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        raise Unsupported(self.id, self.type_name, "inbound webhooks")

    @property
    def current_qr(self) -> str | None:
        """The QR string waiting to be scanned, if any."""
        return None

    async def pair_phone(self, phone: str) -> str:
        raise Unsupported(self.id, self.type_name, "pairing by phone code")

    # Chat state and lookups (DESIGN §8.3); the manager checks the account is connected first.
    async def chat_typing(self, to: str, state: str, message_id: str | None) -> None:
        raise Unsupported(self.id, self.type_name, "typing indicators")

    async def check_contacts(self, phones: list[str]) -> list[dict[str, Any]]:
        raise Unsupported(self.id, self.type_name, "contact checks")

    async def list_groups(self) -> list[dict[str, Any]]:
        raise Unsupported(self.id, self.type_name, "group lookups")

    async def group_info(self, jid: str) -> dict[str, Any]:
        raise Unsupported(self.id, self.type_name, "group lookups")

    async def logout(self) -> None:
        raise Unsupported(self.id, self.type_name, "logging out")
