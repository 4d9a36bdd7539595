"""The store for `message_cache.enabled: false`: nothing is kept, only recent dedupe keys.

Nothing survives a restart anyway; the keys only stop Meta's quick redeliveries and repeated
statuses from raising an event twice while the daemon runs. Deliveries live in the hooks' runners
alone: a retry waits in memory, one given up is dropped, and the cache routes answer 503.
Events still get a `seq` (counted from 1 each start: nothing before it is kept to fill a gap from),
and attempts are not recorded (no history is kept).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence

from whatshooked.config.model import StorageConfig
from whatshooked.events import Event
from whatshooked.store.base import Attempt, CacheQuery, Delivery, DeliveryRow, Owed, Store

SCHEMES = ("memory",)
MEMORY_DEDUPE_KEYS = 100_000


class RecentKeys:
    """The last `limit` keys, oldest forgotten first."""

    def __init__(self, limit: int = MEMORY_DEDUPE_KEYS) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, key: str) -> bool:
        """Record the key; False when it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._limit:
            self._keys.popitem(last=False)
        return True


class MemoryStore(Store):
    def __init__(self, dedupe_keys: int = MEMORY_DEDUPE_KEYS) -> None:
        self._recent = RecentKeys(dedupe_keys)
        self._seq = 0

    @property
    def persistent(self) -> bool:
        return False

    @property
    def count(self) -> int:
        return 0

    async def close(self) -> None:
        pass

    def on_count(self, callback: Callable[[int], None] | None) -> None:
        pass

    def set_keep_delivered(self, seconds: float) -> None:
        pass

    def add_event_soon(
        self, event: Event, hook_ids: Sequence[str], body: bytes | None = None,
        after: Callable[[int], None] | None = None, dedupe_key: str | None = None,
    ) -> asyncio.Future[int]:
        """Nothing to commit: `after` runs at once (unless the key was seen) and the future is done."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        seq = 0
        if dedupe_key is None or self._recent.add(dedupe_key):
            self._seq += 1
            seq = self._seq
            if after is not None:
                after(seq)
        future.set_result(seq)
        return future

    async def add_deliveries(self, event_id: str, hook_ids: Sequence[str]) -> bool:
        return False

    async def mark_attempt(
        self, event_id: str, hook_id: str, attempts: int, next_attempt_at: float, error: str,
        attempt: Attempt | None = None,
    ) -> None:
        pass

    async def mark_given_up(
        self, event_id: str, hook_id: str, error: str, retryable: bool = True, attempt: Attempt | None = None,
    ) -> None:
        pass

    async def mark_delivered(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        pass

    def mark_delivered_soon(self, event_id: str, hook_id: str, attempt: Attempt | None = None) -> None:
        pass

    async def finish_event(self, event_id: str) -> None:
        pass

    async def delete_event(self, event_id: str) -> bool:
        return False

    async def clear(self) -> int:
        return 0

    async def prune(self, max_age: float, max_events: int, now: float | None = None) -> dict[str, int]:
        return {}

    async def pending(self, hook_ids: Sequence[str]) -> list[Delivery]:
        return []

    async def given_up_for(self, hook_id: str, after: int = 0, limit: int | None = None) -> list[Delivery]:
        return []

    async def has_delivery(self, event_id: str, hook_id: str) -> bool:
        """Nothing kept means nothing deleted or pruned: a job a runner still holds is still owed."""
        return True

    async def owed(self) -> dict[str, tuple[int, float]]:
        return {}  # only the runners know (their jobs in memory)

    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]:
        return []

    async def events_after(
        self, seq: int, limit: int, event_type: str | None = None, account_id: str | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        return []

    async def cached_after(
        self, seq: int, limit: int, query: CacheQuery | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        return []

    async def seq_of(self, event_id: str) -> int | None:
        return None

    async def deliveries_for(self, event_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
        return {event_id: [] for event_id in event_ids}

    async def attempts_of(self, event_id: str) -> list[Attempt]:
        return []

    async def owed_by_hook(self) -> dict[str, Owed]:
        return {}

    async def get_body(self, event_id: str) -> bytes | None:
        return None

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        return []

    async def stats(self) -> tuple[int, dict[str, int]]:
        return 0, {}


async def open(location: str, storage: StorageConfig) -> Store:  # noqa: A001 - the backend's entry point
    return MemoryStore()
