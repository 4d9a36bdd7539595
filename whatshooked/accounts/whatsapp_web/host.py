"""What the event router and its handlers need of a WhatsApp Web account.

`events`, `messages` and `notifications` type against this protocol, not the adapter module, so
the adapter can build them without an import circle (mypy checks the adapter satisfies it where
it hands itself over). `Outcome` lives here because both sides speak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from whatshooked.accounts.base import AccountState

if TYPE_CHECKING:
    from whatshooked.accounts.base import AdapterContext
    from whatshooked.accounts.whatsapp_web.backoff import Backoff
    from whatshooked.accounts.whatsapp_web.pairing import QrWindow, TerminalQr
    from whatshooked.accounts.whatsapp_web.seams import WebTiming
    from whatshooked.accounts.whatsapp_web.session import WebSession
    from whatshooked.accounts.whatsapp_web.settings import WebSettings
    from whatshooked.events import Event


@dataclass
class Outcome:
    """Why a session run ended: `retry` runs again after backoff (or `delay`), otherwise it stays down."""

    reason: str
    retry: bool = True
    delay: float | None = None
    state: AccountState = AccountState.DISCONNECTED


class WebHost(Protocol):
    ctx: AdapterContext
    web: WebSettings
    timing: WebTiming
    backoff: Backoff
    qr: QrWindow
    terminal: TerminalQr | None
    session: WebSession | None
    live: bool
    unhealthy_since: float | None

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> AccountState: ...

    def set_state(self, state: AccountState, error: str | None = None) -> None: ...

    async def emit(self, event_type: str, *, dedupe_key: str | None = None, **data: Any) -> Event | None: ...

    def end_run(self, outcome: Outcome) -> None:
        """End the current session run; the supervisor acts on the outcome."""

    def remember(self, message_id: str, chat: str, sender: str, from_me: bool, message: Any = None) -> None:
        """Keep a message's addressing (and content) for later reactions, receipts and quoted replies."""
