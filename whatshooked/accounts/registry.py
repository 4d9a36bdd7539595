"""Which adapter class serves which account `type`; backends are imported only when needed.

The types are those the subpackages of `accounts/` declare (`backends.py`); the core never imports
an adapter module itself: neonize is loaded only when a WhatsApp Web account is built.
Tests pass their own mapping (a type name to a stand-in class).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from typing import ClassVar

from whatshooked.accounts.backends import backend_specs
from whatshooked.accounts.base import AccountAdapter, AccountState, SendRequest, SendResult
from whatshooked.errors import SendError

log = logging.getLogger(__name__)

class BackendUnavailable(Exception):
    """The backend for an account type could not be loaded."""


class Registry:
    """Maps an account type to its adapter class: a class, or "module:Class" imported on first use."""

    def __init__(self, backends: Mapping[str, str | type[AccountAdapter]] | None = None) -> None:
        specs = backend_specs()
        if backends is None:
            backends = {name: spec.adapter for name, spec in specs.items()}
        self._backends: dict[str, str | type[AccountAdapter]] = dict(backends)
        self._slow = frozenset(name for name, spec in specs.items() if spec.loads_in_background)
        self._loading: dict[str, asyncio.Future[type[AccountAdapter]]] = {}

    def loads_slowly(self, account_type: str) -> bool:
        """Its adapter is still to be imported, and that takes long (`BackendSpec.loads_in_background`)."""
        return account_type in self._slow and not isinstance(self._backends.get(account_type), type)

    async def load(self, account_type: str) -> type[AccountAdapter]:
        """`adapter_class`, with a slow backend's import run in a thread: the event loop keeps serving meanwhile.

        Waiters share one import; a waiter cancelled leaves it running (an import cannot be stopped)."""
        if not self.loads_slowly(account_type):
            return self.adapter_class(account_type)
        loading = self._loading.get(account_type)
        if loading is None:
            loading = asyncio.get_running_loop().run_in_executor(None, self.adapter_class, account_type)
            self._loading[account_type] = loading
            loading.add_done_callback(lambda done: self._loaded(account_type, done))
        return await asyncio.shield(loading)

    def _loaded(self, account_type: str, done: asyncio.Future[type[AccountAdapter]]) -> None:
        self._loading.pop(account_type, None)
        if not done.cancelled() and done.exception() is None:
            log.info("%s backend loaded", account_type)

    async def settle(self, within: float) -> None:
        """Wait, at most `within` seconds, for imports still running, so a stop leaves no thread behind."""
        if self._loading:
            await asyncio.wait(list(self._loading.values()), timeout=within)

    def adapter_class(self, account_type: str) -> type[AccountAdapter]:
        target = self._backends.get(account_type)
        if target is None:
            raise BackendUnavailable(f"unknown account type {account_type!r} (known: {', '.join(self._backends)})")
        if isinstance(target, type):
            return target
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, class_name)
        except (ImportError, AttributeError) as exc:
            raise BackendUnavailable(f"the {account_type} backend could not be loaded: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, AccountAdapter)):
            raise BackendUnavailable(f"{target} is not an AccountAdapter")
        self._backends[account_type] = cls
        return cls


class UnavailableAdapter(AccountAdapter):
    """Stands in for an account whose backend failed to load, so it still shows in status as `error`."""

    type_name: ClassVar[str] = "unavailable"

    def __init__(self, *args: object, reason: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reason = reason

    async def connect(self) -> None:
        self.set_state(AccountState.ERROR, self.reason)

    async def disconnect(self) -> None:
        if self.state is not AccountState.DISABLED:
            self.set_state(AccountState.DISCONNECTED)

    def normalize_recipient(self, to: str) -> str:
        return to

    async def send(self, request: SendRequest) -> SendResult:
        raise SendError(self.reason)
