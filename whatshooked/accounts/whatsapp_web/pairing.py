"""The QR side of pairing: which code is current, when the window runs out, the terminal print."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from whatshooked.accounts import qr_render

log = logging.getLogger(__name__)

QR_EXPIRED = "QR code expired; restart pairing with /api/accounts/enable or /api/accounts/update"


@dataclass
class QrWindow:
    """whatsmeow shows a handful of codes: the first for `first` seconds, each later one for `next`."""

    first: float = 60.0
    next: float = 20.0
    grace: float = 15.0
    """How long past a code's expiry we wait for another before calling the window closed."""
    clock: Callable[[], float] = time.monotonic
    code: str | None = None
    shown: int = 0
    deadline: float | None = None

    def show(self, code: str) -> int:
        """Record a new code (it replaces the old); returns its lifetime in seconds."""
        expires_in = self.first if self.shown == 0 else self.next
        self.code, self.shown = code, self.shown + 1
        self.deadline = self.clock() + expires_in + self.grace
        return int(expires_in)

    def expired(self) -> bool:
        return self.deadline is not None and self.clock() > self.deadline

    def clear(self) -> None:
        self.code, self.shown, self.deadline = None, 0, None


@dataclass
class TerminalQr:
    """Prints codes for `show_qr` accounts: compact half-block art a phone can scan off a terminal."""

    account_id: str
    out: TextIO = field(default_factory=lambda: sys.stdout)

    def print(self, code: str, expires_in: int) -> None:
        art = qr_render.terminal_text(code)
        self.out.write(f"\nScan this QR code with WhatsApp (Linked devices) for account "
                       f"'{self.account_id}' (valid {expires_in}s):\n{art}\n")
        self.out.flush()
