"""The store's interface: what the dispatcher, the daemon and the API type against (DESIGN §5).

Events stay until every hook they were meant for has them; "the cache" (`/api/cache`) is every event
kept. A backend (a module or package beside this file, found by `store/open.py`) subclasses `Store`.
Every read sees the store's own earlier writes, lazy ones included: no caller ever flushes.
Times (`next_attempt_at`, `now`) are Unix seconds.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from whatshooked.errors import StoreError
from whatshooked.events import Event


class StoreUnavailable(StoreError):
    """The store cannot take writes now; the message says why and what to do."""


class StoreUnreadable(StoreError):
    """At start: what storage.path names is not a usable store (a damaged one, or not one). Never touched."""

    def __init__(self, path: Path | str, exc: BaseException | str) -> None:
        super().__init__(
            f"{path} is not a usable whatshooked store ({exc}): move it aside (or restore it from a backup) and "
            "start again; whatshooked creates an empty store where none is"
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event still owed to one hook; `body` is the exact JSON sent on every attempt."""

    event: Event
    body: bytes
    hook_id: str
    state: str
    attempts: int
    next_attempt_at: float
    retryable: bool


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    hook_id: str
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str


class AccountLeases(Protocol):
    """Per-account leases in a shared store (store/postgres/account_leases.py)."""

    node: str
    lease: float

    async def hold(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Take or renew the free, own or expired ones; {account id: the node that holds it}."""
        ...

    async def release(self, account_ids: Sequence[str]) -> None: ...

    async def session_database(self, account_id: str) -> str:
        """The database (a URL) the account's WhatsApp Web session lives in, ready to be opened."""
        ...


class Store(ABC):
    """Events and their per-hook delivery state; dedupe keys."""

    @property
    @abstractmethod
    def persistent(self) -> bool:
        """True when events are kept (the cache routes answer); False for `message_cache.enabled: false`."""

    @property
    @abstractmethod
    def count(self) -> int:
        """Events kept now (kept current, no query)."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    def lease(self) -> float | None:
        """Shared by several daemons: seconds a claim on a pending delivery lasts (`pending()` then also
        claims, and should be asked again every third of it to take over a dead daemon's rows); None: not shared."""
        return None

    async def announce(self, message: str) -> None:
        """Shared store: tell every other daemon on it (PostgreSQL NOTIFY); not shared: nobody to tell."""
        return None

    def on_announcement(self, callback: Callable[[str], None] | None) -> None:
        """Shared store: called with what other daemons announce (not this one's own messages)."""
        return None

    @property
    def account_leases(self) -> AccountLeases | None:
        """Shared store: who drives each WhatsApp Web account (one daemon at a time); None: not shared."""
        return None

    def check(self) -> str | None:
        """Why the store cannot take writes now, or None."""
        return None

    def ensure_writable(self) -> None:
        """Raise StoreUnavailable (503) rather than start what could not be recorded (e.g. a send)."""
        reason = self.check()
        if reason is not None:
            raise StoreUnavailable(reason)

    @abstractmethod
    def on_count(self, callback: Callable[[int], None] | None) -> None:
        """Called with the event count after every change (the cache-size gauge)."""

    # -- writes ------------------------------------------------------------
    async def add_event(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None, dedupe_key: str | None = None,
    ) -> bool:
        """The event and one pending row per hook, committed; False (nothing stored) for a known dedupe key."""
        return bool(await asyncio.shield(self.add_event_soon(event, hook_ids, body, dedupe_key=dedupe_key)))

    @abstractmethod
    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[bool]:
        """Hand the event over; the future completes, and `after` runs, once it is committed.

        `after` runs even when whoever awaits the future was cancelled meanwhile; not for a duplicate.
        """

    @abstractmethod
    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> None:
        """Rows for more hooks (replays); existing rows kept."""

    @abstractmethod
    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str
    ) -> None: ...

    @abstractmethod
    async def mark_given_up(self, event_id: str, hook_id: str, error: str, retryable: bool = True) -> None: ...

    @abstractmethod
    async def mark_delivered(self, event_id: str, hook_id: str) -> None:
        """The event leaves once all its rows are delivered."""

    @abstractmethod
    def mark_delivered_soon(self, event_id: str, hook_id: str) -> None:
        """The same, queued without waiting for the commit (a crash before it means a duplicate, not a loss)."""

    @abstractmethod
    async def delete_event(self, event_id: str) -> bool: ...

    @abstractmethod
    async def clear(self) -> int: ...

    @abstractmethod
    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        """Drop events older than `max_age` seconds, then the oldest beyond `max_events`: {"max_age": n, ...}."""

    # -- reads (each sees every write handed over before it) ----------------
    @abstractmethod
    async def pending(self, hook_ids: Sequence[str]) -> list[Delivery]:
        """Rows still in their retry schedule for these hooks (to resume after a restart), oldest first.

        A shared store returns (and claims for this daemon) only the rows no live daemon holds."""

    async def take_over(self, hook_ids: Sequence[str]) -> list[Delivery]:
        """Shared store: claim the pending rows for these hooks that no live daemon holds (their daemon
        died or stopped), oldest first, for this daemon to resume. Not shared: none."""
        return []

    @abstractmethod
    async def given_up_for(self, hook_id: str) -> list[Delivery]:
        """Rows whose retries ran out on retryable errors (not refusals), oldest first."""

    @abstractmethod
    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        """The hook is still owed the event (False once delivered, deleted or pruned)."""

    @abstractmethod
    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]: ...

    @abstractmethod
    async def events_after(self, seq: int, limit: int) -> list[tuple[int, Event, bytes]]:
        """A page of kept events after position `seq` (0 for the first page), oldest first."""

    async def get_event(self, event_id: str) -> Event | None:
        body = await self.get_body(event_id)
        return None if body is None else Event.from_json(body)

    @abstractmethod
    async def get_body(self, event_id: str) -> bytes | None: ...

    @abstractmethod
    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]: ...

    @abstractmethod
    async def stats(self) -> tuple[int, dict[str, int]]:
        """(total, {type: count})."""
