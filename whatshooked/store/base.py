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
    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> bool:
        """Rows for more hooks (replays); existing rows kept. False (nothing written) when the event is gone:
        a replay running beside another one may find it delivered and deleted meanwhile."""

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
        """Rows still in their retry schedule for these hooks (to resume after a restart), oldest first."""

    @abstractmethod
    async def given_up_for(self, hook_id: str) -> list[Delivery]:
        """Rows whose retries ran out on retryable errors (not refusals), oldest first."""

    @abstractmethod
    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        """The hook is still owed the event (False once delivered, deleted or pruned)."""

    @abstractmethod
    async def owed(self) -> dict[str, tuple[int, float]]:
        """Per hook: how many events it is still owed, and when the oldest of them was stored."""

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
