"""What the webhook and the management operations need of a Cloud API account.

They type against this protocol, not the adapter module, so the adapter can import them without
an import circle (the adapter satisfies it; mypy checks that where it hands itself over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from whatshooked.accounts.base import AdapterContext
    from whatshooked.accounts.cloud_api.graph_client import GraphClient
    from whatshooked.accounts.cloud_api.inbound import Inbound
    from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
    from whatshooked.events import Event


class CloudHost(Protocol):
    api: BusinessApiConfig
    graph: GraphClient
    ctx: AdapterContext

    @property
    def id(self) -> str: ...

    async def emit(self, event_type: str, *, dedupe_key: str | None = None, **data: Any) -> Event | None: ...

    def learn_waba(self, waba_ids: set[str]) -> None: ...

    def require_waba(self) -> str: ...

    def sibling(self, phone_number_id: str) -> CloudHost | None:
        """The running Cloud API account for another number of the same Meta app, if any."""

    async def raise_inbound(self, item: Inbound) -> None:
        """Raise one parsed webhook item as this account's event (committed before it returns)."""
