"""What tests may hand a WhatsApp Web adapter instead of its defaults: `AdapterContext.seams.get(WebSeams)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whatshooked.accounts.whatsapp_web.session import SessionFactory


@dataclass(frozen=True)
class WebTiming:
    connect_deadline: float = 60.0
    """No QR code, connection or error within this long after starting: the attempt is abandoned."""
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    watchdog_interval: float = 15.0
    unhealthy_grace: float = 90.0
    """Keep-alive failing, or disconnected without whatsmeow reconnecting, this long: restart."""
    qr_first: float = 60.0
    qr_next: float = 20.0
    qr_grace: float = 15.0
    download_timeout: float = 120.0
    drain_wait: float = 5.0


@dataclass(frozen=True)
class WebSeams:
    session_factory: SessionFactory | None = None
    """Builds the session instead of neonize (a stand-in that feeds events, or one that hangs)."""
    timing: WebTiming | None = None
    """Shorter deadlines and backoffs than production's."""
