"""Several daemons on one database: each exclusive account (WhatsApp Web) is driven by one of them.

The account manager asks here, at start and every third of `storage.lease`, who holds each enabled
exclusive account; holding renews this daemon's own leases and takes those that are free or whose
daemon died. A daemon that cannot reach the database for most of a lease stops its sessions itself
(`lost()`): another daemon may take them once the lease runs out, and two sessions of one device
would knock each other off WhatsApp.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from whatshooked.accounts.base import AccountAdapter
from whatshooked.errors import StoreError
from whatshooked.store.base import AccountLeases

log = logging.getLogger(__name__)

LOST_AFTER = 0.8
"""Of the lease: renewals failing this long mean this daemon must assume its leases are gone."""


class Leasing:
    def __init__(self, leases: AccountLeases) -> None:
        self.leases = leases
        self.node = leases.node
        self._held_at = time.monotonic()

    @property
    def interval(self) -> float:
        return self.leases.lease / 3

    async def owners(self, adapters: Iterable[AccountAdapter]) -> dict[str, str] | None:
        """{account id: the node driving it}, ours taken or renewed; None when the database did not answer."""
        try:
            found = await self.leases.hold([adapter.id for adapter in adapters])
        except StoreError as exc:
            log.warning("%s", exc)
            return None
        self._held_at = time.monotonic()
        return found

    def lost(self) -> bool:
        return time.monotonic() - self._held_at > LOST_AFTER * self.leases.lease

    async def release(self, account_ids: list[str]) -> None:
        try:
            await self.leases.release(account_ids)
        except StoreError as exc:
            log.warning("%s (the other daemons take them when the lease runs out)", exc)
