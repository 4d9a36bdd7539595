"""Idempotent sends' kept answers in PostgreSQL (the `idempotency` table), shared by every daemon on it.

Two daemons answering one key at once both keep their answer with one INSERT … ON CONFLICT: the first
to commit wins, the other's is not kept (a repeat then gets the first answer, from any daemon). An
answer past its window is replaced; expired ones go with the next keep.
"""

from __future__ import annotations

import asyncio

import asyncpg

from whatshooked.store.base import KeptAnswer
from whatshooked.store.postgres.writes import Writes

# $1 scope, $2 key, $3 fingerprint, $4 status, $5 content type, $6 body, $7 at, $8 forget before.
KEEP = """
WITH old AS (
    DELETE FROM idempotency WHERE (scope, key) IN (
        SELECT scope, key FROM idempotency WHERE created_at < $8 AND NOT (scope = $1 AND key = $2)
        FOR UPDATE SKIP LOCKED)
)
INSERT INTO idempotency (scope, key, fingerprint, status, content_type, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,
    content_type = EXCLUDED.content_type, body = EXCLUDED.body, created_at = EXCLUDED.created_at
WHERE idempotency.created_at < $8
"""

KEPT = """
SELECT fingerprint, status, content_type, body, created_at FROM idempotency
WHERE scope = $1 AND key = $2 AND created_at >= $3
"""


class KeptAnswers:
    """Mixed into PostgresStore: one statement each, through its writes (a keep is waited for by reads)."""

    _pool: asyncpg.Pool
    _writes: Writes

    async def kept_answer(self, scope: str, key: str, since: float) -> KeptAnswer | None:
        await self._writes.settled()
        row = await self._pool.fetchrow(KEPT, scope, key, since)
        if row is None:
            return None
        return KeptAnswer(row["fingerprint"], int(row["status"]), row["content_type"], bytes(row["body"]),
                          float(row["created_at"]))

    async def keep_answer(self, scope: str, key: str, answer: KeptAnswer, forget_before: float) -> None:
        await asyncio.shield(self._writes.start(KEEP, scope, key, answer.fingerprint, answer.status,
                                                answer.content_type, answer.body, answer.at, forget_before))
