"""Dedupe keys in memory, for when there is no store (message_cache.enabled: false).

Without a store nothing survives a restart anyway; this only stops Meta's quick redeliveries and
repeated statuses from raising an event twice while the daemon runs.
"""

from __future__ import annotations

from collections import OrderedDict

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
