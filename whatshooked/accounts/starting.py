"""The stand-in an account has while its backend still loads in the background (WhatsApp Web at start-up).

The daemon listens before neonize is imported (issue 14: /health within 1 s of start); until the
account manager's start-up task builds the real adapter, the account is listed as `connecting`
(`disabled` when it is), and whatever needs it answers 409 naming that state, as for any account
that is not connected.
"""

from __future__ import annotations

from typing import ClassVar

from whatshooked.accounts.base import AccountAdapter, AccountState, SendKind, SendRequest, SendResult
from whatshooked.errors import NotConnected


class StartingAdapter(AccountAdapter):
    type_name: ClassVar[str] = "starting"
    pairs_by_qr: ClassVar[bool] = True
    """As the one backend loaded in the background (WhatsApp Web): its QR page shows `connecting` and refreshes."""
    exclusive: ClassVar[bool] = True
    """As WhatsApp Web: in a cluster its lease is asked for at once, so an account another daemon drives is
    `standby` from the start (test_web_start_background checks these traits against the real adapter's)."""

    def supports(self, kind: SendKind) -> bool:
        """What it can send or do is known once its backend is loaded: until then nothing is refused as
        unsupported, only as not connected (409)."""
        return True

    def offers(self, operation: str) -> bool:
        return True

    async def connect(self) -> None:
        """The manager's start-up task replaces this adapter; it connects the real one."""
        self._state = AccountState.CONNECTING  # not set_state: the real adapter logs the account's changes

    async def disconnect(self) -> None:
        """Nothing was started."""

    def normalize_recipient(self, to: str) -> str:
        return to

    async def send(self, request: SendRequest) -> SendResult:
        raise NotConnected(self.id, self.state.value)

    async def pair_phone(self, phone: str) -> str:
        raise NotConnected(self.id, self.state.value)
