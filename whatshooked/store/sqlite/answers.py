"""Idempotent sends' kept answers in SQLite (the `idempotency` table), so a restart keeps the keys."""

from __future__ import annotations

import sqlite3

import aiosqlite

from whatshooked.store.base import KeptAnswer
from whatshooked.store.sqlite.writer import Write, Writer


class KeptAnswers:
    """Mixed into SQLiteStore: writes through its writer, reads on its connection."""

    _db: aiosqlite.Connection
    _writer: Writer

    async def kept_answer(self, scope: str, key: str, since: float) -> KeptAnswer | None:
        await self._writer.settled()
        rows = list(await self._db.execute_fetchall(
            "SELECT fingerprint, status, content_type, body, created_at FROM idempotency "
            "WHERE scope = ? AND key = ? AND created_at >= ?", (scope, key, since),
        ))
        if not rows:
            return None
        fingerprint, status, content_type, body, at = rows[0]
        return KeptAnswer(fingerprint, int(status), content_type, bytes(body), float(at))

    async def keep_answer(self, scope: str, key: str, answer: KeptAnswer, forget_before: float) -> None:
        def run(conn: sqlite3.Connection) -> tuple[None, int]:
            conn.execute("DELETE FROM idempotency WHERE created_at < ?", (forget_before,))
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (scope, key, fingerprint, status, content_type, body, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, key, answer.fingerprint, answer.status, answer.content_type, answer.body, answer.at),
            )
            return None, 0

        await self._writer.submit(Write(custom=run))
