"""The SQLite store's reads for the feed, the cache's pages and the attempt history (DESIGN §8.3).

A part of SQLiteStore (store.py), kept apart to keep that module small; the SQL is in queries.py.
Like every read of the store, each first waits for the writes handed over before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

import whatshooked.store.sqlite.queries as queries
from whatshooked.events import Event, with_seq
from whatshooked.store.base import Attempt, CacheQuery, DeliveryRow, Owed
from whatshooked.store.sqlite.statements import padded
from whatshooked.store.sqlite.writer import Writer


class HistoryReads:
    """Mixed into SQLiteStore, which gives the connection, the writer and how bodies are opened."""

    _db: aiosqlite.Connection
    _writer: Writer

    def _plain(self, blob: bytes) -> bytes:
        raise NotImplementedError

    async def events_after(
        self, seq: int, limit: int, event_type: str | None = None, account_id: str | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        return await self._page(*queries.feed_page(seq, limit, event_type, account_id))

    async def cached_after(
        self, seq: int, limit: int, query: CacheQuery | None = None,
    ) -> list[tuple[int, Event, bytes]]:
        return await self._page(*queries.cache_page(seq, limit, query or CacheQuery()))

    async def cached_seqs(self, seq: int, limit: int) -> list[int]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(
            "SELECT seq FROM events WHERE seq > ? AND delivered_at IS NULL ORDER BY seq LIMIT ?", (seq, limit))
        return [int(position) for (position,) in rows]

    async def _page(self, sql: str, params: list[Any]) -> list[tuple[int, Event, bytes]]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(sql, params)
        pages = [(int(position), with_seq(self._plain(blob), position)) for position, blob in rows]
        return [(position, Event.from_json(body), body) for position, body in pages]

    async def owed_among(self, hook_id: str, event_ids: Sequence[str]) -> set[str]:
        """Without waiting for the writes handed over: a delivered mark not committed yet is taken from the
        writer instead (taken before the read, so each mark is seen one way or the other), and the commit
        that waiting would force for each question is saved (deletions racing the read may be missed,
        as if they had come just after it)."""
        if not event_ids:
            return set()
        marked = self._writer.uncommitted_delivered(hook_id)
        owed: set[str] = set()
        for start in range(0, len(event_ids), 512):  # well under SQLite's parameter limit
            part = padded(list(event_ids[start:start + 512]))  # a few statement texts, each prepared once
            rows = await self._db.execute_fetchall(
                f"SELECT event_id FROM deliveries WHERE hook_id = ? AND event_id IN ({','.join('?' * len(part))}) "
                "AND state != 'delivered'", (hook_id, *part),
            )
            owed.update(event_id for (event_id,) in rows)
        return owed - marked

    async def seq_of(self, event_id: str) -> int | None:
        await self._writer.settled()
        rows = list(await self._db.execute_fetchall(*queries.seq_of(event_id)))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    async def deliveries_for(self, event_ids: Sequence[str]) -> dict[str, list[DeliveryRow]]:
        out: dict[str, list[DeliveryRow]] = {event_id: [] for event_id in event_ids}
        if not event_ids:
            return out
        await self._writer.settled()
        for event_id, *row in await self._db.execute_fetchall(*queries.deliveries_for(event_ids)):
            out[event_id].append(DeliveryRow(*row))
        return out

    async def attempts_of(self, event_id: str) -> list[Attempt]:
        await self._writer.settled()
        return [Attempt(*row) for row in await self._db.execute_fetchall(*queries.attempts_of(event_id))]

    async def owed_by_hook(self) -> dict[str, Owed]:
        await self._writer.settled()
        rows = await self._db.execute_fetchall(*queries.owed_by_hook())
        return {hook_id: Owed(int(count), oldest) for hook_id, count, oldest in rows}

