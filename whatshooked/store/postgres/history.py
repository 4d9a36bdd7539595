"""The PostgreSQL store's reads for the feed, the cache's pages and the attempt history (DESIGN §8.3).

A part of PostgresStore (store.py), kept apart to keep that module small; the SQLite store's
store/sqlite/history.py in PostgreSQL's dialect. Each read first waits for the writes handed over before
it. Filters are parameters that may be NULL (matching everything), so each read is one prepared statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from whatshooked.events import Event, with_seq
from whatshooked.store.base import Attempt, CacheQuery, DeliveryRow, Owed
from whatshooked.store.postgres.writes import Writes

OWED = "d.state != 'delivered'"

# $1 after seq, $2 type, $3 account (NULL: any), $4 limit (NULL: none).
FEED = """
SELECT seq, body FROM events
WHERE seq > $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR account_id = $3)
ORDER BY seq LIMIT $4
"""

# The same for the cache (undelivered events); $5 a hook: only events it is still owed (NULL: any).
CACHE = f"""
SELECT seq, body FROM events
WHERE seq > $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR account_id = $3)
    AND delivered_at IS NULL AND ($5::text IS NULL OR EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.hook_id = $5 AND {OWED}))
ORDER BY seq LIMIT $4
"""

# For one gone, the newest kept event stored before it (ids are time-ordered, compared byte for byte).
SEQ_OF = """
SELECT COALESCE((SELECT seq FROM events WHERE id = $1),
                (SELECT max(seq) FROM events WHERE id COLLATE "C" < $1 COLLATE "C"))
"""

# Rows older than the history (schema 1) count what their retry schedule did.
DELIVERIES_FOR = """
SELECT d.event_id, d.hook_id, d.state,
    GREATEST(d.attempts, (SELECT count(*) FROM attempts a WHERE a.event_id = d.event_id AND a.hook_id = d.hook_id)),
    d.next_attempt_at, d.last_error
FROM deliveries d WHERE d.event_id = ANY($1::text[]) ORDER BY d.event_id, d.hook_id
"""

ATTEMPTS_OF = ("SELECT hook_id, at, http_status, error, latency_ms FROM attempts WHERE event_id = $1 "
               "ORDER BY at, hook_id")

OWED_BY_HOOK = f"""
SELECT d.hook_id, count(*), min(e.created_at) FROM deliveries d JOIN events e ON e.id = d.event_id
WHERE {OWED} GROUP BY d.hook_id
"""


class HistoryReads:
    """Mixed into PostgresStore, which gives the pool, the writes in flight and how bodies are opened."""

    _pool: asyncpg.Pool
    _writes: Writes

    def _plain(self, blob: bytes) -> bytes:
        raise NotImplementedError

    async def events_after(
        self, seq: int, limit: int, event_type: str | None = None, account_id: str | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        return await self._page(FEED, seq, event_type or None, account_id or None, _limit(limit))

    async def cached_after(
        self, seq: int, limit: int, query: CacheQuery | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        query = query or CacheQuery()
        return await self._page(CACHE, seq, query.event_type or None, query.account_id or None, _limit(limit),
                                query.hook_id or None)

    async def list_undelivered(self, event_type: str | None = None, limit: int | None = None) -> list[Event]:
        page = await self.cached_after(0, -1 if limit is None else limit, CacheQuery(event_type=event_type))
        return [event for _, event, _ in page]

    async def _page(self, sql: str, *args: Any) -> list[tuple[int, Event, bytes]]:
        await self._writes.settled()
        rows = await self._pool.fetch(sql, *args)
        pages = [(int(position), with_seq(self._plain(blob), position)) for position, blob in rows]
        return [(position, Event.from_json(body), body) for position, body in pages]

    async def seq_of(self, event_id: str) -> int | None:
        await self._writes.settled()
        found = await self._pool.fetchval(SEQ_OF, event_id)
        return None if found is None else int(found)

    async def cached_seqs(self, seq: int, limit: int) -> list[int]:
        await self._writes.settled()
        rows = await self._pool.fetch(
            "SELECT seq FROM events WHERE seq > $1 AND delivered_at IS NULL ORDER BY seq LIMIT $2", seq, limit)
        return [int(row["seq"]) for row in rows]

    async def owed_among(self, hook_id: str, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        await self._writes.settled()
        rows = await self._pool.fetch(
            "SELECT event_id FROM deliveries WHERE hook_id = $1 AND event_id = ANY($2::text[]) "
            "AND state != 'delivered'", hook_id, list(event_ids))
        return {row["event_id"] for row in rows}

    async def deliveries_for(self, event_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
        out: dict[str, list[DeliveryRow]] = {event_id: [] for event_id in event_ids}
        if not event_ids:
            return out
        await self._writes.settled()
        for event_id, hook_id, state, attempts, next_at, error in await self._pool.fetch(DELIVERIES_FOR,
                                                                                         list(event_ids)):
            out[event_id].append(DeliveryRow(hook_id, state, int(attempts), next_at, error))
        return out

    async def attempts_of(self, event_id: str) -> list[Attempt]:
        await self._writes.settled()
        return [Attempt(*row) for row in await self._pool.fetch(ATTEMPTS_OF, event_id)]

    async def owed_by_hook(self) -> dict[str, Owed]:
        await self._writes.settled()
        return {hook_id: Owed(int(count), oldest) for hook_id, count, oldest in await self._pool.fetch(OWED_BY_HOOK)}

    async def owed(self) -> dict[str, tuple[int, float]]:
        await self._writes.settled()
        return {hook_id: (int(count), float(oldest))
                for hook_id, count, oldest in await self._pool.fetch(OWED_BY_HOOK)}


def _limit(limit: int) -> int | None:
    """SQLite's LIMIT -1 (none) is PostgreSQL's LIMIT NULL."""
    return None if limit < 0 else limit
