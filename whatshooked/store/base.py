"""The store's interface: what the dispatcher, the daemon and the API type against (DESIGN §5).

Events stay until every hook they were meant for has them; "the cache" (`/api/cache`) is every event
kept. A backend (a module or package beside this file, found by `store/open.py`) subclasses `Store`.
Every read sees the store's own earlier writes, lazy ones included: no caller ever flushes.
Times (`next_attempt_at`, `now`, `at`) are Unix seconds.

Every stored event gets a `seq` (DESIGN §8.2): increasing in store order, never reused. Stored bodies
do not hold it; every body a read returns has it (events.with_seq), as do the bodies hooks receive.
With `keep_delivered` on, a delivered event leaves the cache but stays for the feed (`events_after`)
until `prune` expires it.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from whatshooked.errors import StoreError
from whatshooked.events import Event

_S = TypeVar("_S", bound="Store")
_P = ParamSpec("_P")
_T = TypeVar("_T")


def removing(method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]
             ) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """For a backend's writes that take rows away: `Store.removals` moves before the write is handed
    over and again once it is done, so an answer read around it is seen as stale either way. The
    write is shielded (a cancelled caller does not stop it), so "done" is when it lands, not when
    the caller stops waiting: the method runs as a task of its own, which moves `removals` as it ends."""
    @functools.wraps(method)
    async def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        self.removals += 1
        write = asyncio.ensure_future(method(self, *args, **kwargs))
        write.add_done_callback(functools.partial(_removed, self))
        return await asyncio.shield(write)

    return wrapper


def _removed(store: Store, write: asyncio.Future[Any]) -> None:
    store.removals += 1
    if not write.cancelled():
        write.exception()  # the caller's to see; retrieved here too, for a caller cancelled meanwhile


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
class KeptAnswer:
    """A send's first answer under an `Idempotency-Key` (api/idempotency.py), returned again for a repeat."""

    fingerprint: str  # of the request (path and body): the same key with another request is refused
    status: int
    content_type: str
    body: bytes
    at: float


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    hook_id: str
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt to deliver an event to a hook, as recorded in its history."""

    hook_id: str
    at: float  # when it started
    http_status: int | None  # None: no HTTP answer (the error says why)
    error: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class CacheQuery:
    """Filters of `/api/cache` (and replays): None matches everything."""

    event_type: str | None = None
    account_id: str | None = None
    hook_id: str | None = None  # events this hook is still owed


@dataclass(frozen=True, slots=True)
class Owed:
    """What one hook is still owed: how many events, and when the oldest was stored (None: nothing)."""

    pending: int
    oldest_at: float | None


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

    removals = 0
    """Moves before and after each of this daemon's writes that take rows away (finish_event, delete_event,
    clear, prune): an answer read while it stood still still holds (delivery/owed_check.py)."""

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

    @abstractmethod
    def set_keep_delivered(self, seconds: float) -> None:
        """Keep delivered events this long for the feed (`message_cache.keep_delivered`); 0: they leave at once."""

    # -- writes ------------------------------------------------------------
    async def add_event(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None, dedupe_key: str | None = None,
    ) -> bool:
        """The event and one pending row per hook, committed; False (nothing stored) for a known dedupe key."""
        return bool(await asyncio.shield(self.add_event_soon(event, hook_ids, body, dedupe_key=dedupe_key)))

    @abstractmethod
    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[int], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[int]:
        """Hand the event over (`body` without a seq); the future gives its seq, and `after(seq)` runs, once
        it is committed; 0 for a duplicate dedupe key (then `after` does not run).

        `after` runs even when whoever awaits the future was cancelled meanwhile.
        """

    @abstractmethod
    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> bool:
        """Rows for more hooks (replays); existing rows kept. False (nothing written) when the event is gone:
        a replay running beside another one may find it delivered and deleted meanwhile."""

    # Each mark may carry the `attempt` that led to it: recorded in the history with the mark's own write.
    @abstractmethod
    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str,
        attempt: Attempt | None = None,
    ) -> None: ...

    @abstractmethod
    async def mark_given_up(
        self, event_id: str, hook_id: str, error: str, retryable: bool = True, attempt: Attempt | None = None,
    ) -> None: ...

    @abstractmethod
    async def mark_delivered(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        """The event leaves the cache once all its rows are delivered."""

    @abstractmethod
    def mark_delivered_soon(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        """The same, queued without waiting for the commit (a crash before it means a duplicate, not a loss)."""

    @abstractmethod
    async def finish_event(self, event_id: str) -> None:
        """Every hook it is meant for now has it: it leaves the cache (kept for the feed while keep_delivered)."""

    @abstractmethod
    async def delete_event(self, event_id: str) -> bool: ...

    @abstractmethod
    async def clear(self) -> int: ...

    @abstractmethod
    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        """Drop undelivered events older than `max_age` seconds, then the oldest beyond `max_events`:
        {"max_age": n, ...}; delivered ones kept longer than keep_delivered too (not counted)."""

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
    async def given_up_for(self, hook_id: str, after: int = 0, limit: int | None = None) -> list[Delivery]:
        """Rows whose retries ran out on retryable errors (not refusals), oldest first: those of events
        after seq `after`, at most `limit` of them (a page; None: all)."""

    @abstractmethod
    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        """The hook is still owed the event (False once delivered, deleted or pruned)."""

    async def owed_among(self, hook_id: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these events the hook is still owed (has_delivery for many, one read where the
        backend can)."""
        return {event_id for event_id in event_ids if await self.has_delivery(event_id, hook_id)}

    @abstractmethod
    async def owed(self) -> dict[str, tuple[int, float]]:
        """Per hook: how many events it is still owed, and when the oldest of them was stored."""

    @abstractmethod
    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]: ...

    @abstractmethod
    async def events_after(
        self, seq: int, limit: int, event_type: str | None = None, account_id: str | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        """The feed: a page of kept events after `seq` (0 for the first page), delivered ones included,
        in seq order."""

    @abstractmethod
    async def cached_after(
        self, seq: int, limit: int, query: CacheQuery | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        """A page of the cache (undelivered events) after `seq`, in seq order."""

    async def cached_seqs(self, seq: int, limit: int) -> list[int]:
        """The seqs of a page of the cache after `seq`: cached_after without reading the bodies."""
        return [position for position, _, _ in await self.cached_after(seq, limit)]

    @abstractmethod
    async def seq_of(self, event_id: str) -> int | None:
        """Where a kept event stands in the feed; for one gone, the seq of the last kept event stored before it
        (ids are time-ordered), so a page after it still continues where it was; None when nothing is older."""

    @abstractmethod
    async def deliveries_for(self, event_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
        """Each event's rows, `attempts` counting the recorded history."""

    @abstractmethod
    async def attempts_of(self, event_id: str) -> list[Attempt]:
        """The event's attempt history, oldest first."""

    @abstractmethod
    async def owed_by_hook(self) -> dict[str, Owed]:
        """Per hook still owed something: how much, and since when."""

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

    # -- idempotent sends ------------------------------------------------------
    # Kept in this process by default (the memory store); a persistent backend overrides both, so
    # that a restart keeps the keys.
    async def kept_answer(self, scope: str, key: str, since: float) -> KeptAnswer | None:
        """The answer kept for (scope, key) at `since` or later, or None."""
        answer = self.__dict__.setdefault("_kept_answers", {}).get((scope, key))
        return answer if answer is not None and answer.at >= since else None

    async def keep_answer(self, scope: str, key: str, answer: KeptAnswer, forget_before: float) -> None:
        """Keep the answer for (scope, key); answers kept before `forget_before` go."""
        kept: dict[tuple[str, str], KeptAnswer] = self.__dict__.setdefault("_kept_answers", {})
        for old in [name for name, value in kept.items() if value.at < forget_before]:
            del kept[old]
        kept[(scope, key)] = answer
