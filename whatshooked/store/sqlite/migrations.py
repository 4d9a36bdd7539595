"""Numbered schema migrations for the store, recorded in a version table.

Append new migrations; never edit a released one. As in mautrix's upgrade table, each step receives
the scheme it runs for and gives that dialect's SQL (only `sqlite` here; a step may differ per scheme).
A database whose version is newer than the last migration here was written by a newer whatshooked and
is refused rather than guessed at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import aiosqlite

from whatshooked.errors import StoreError
from whatshooked.store.base import StoreUnreadable

log = logging.getLogger(__name__)

Step = Callable[[str], str]  # scheme -> the step's SQL script


# Few indexes on purpose: every event is inserted and deleted once, and each index costs on both.
# Listing by type, pruning by age and per-hook lookups scan instead; they are rare and the tables
# hold only what is undelivered.
def _v1(scheme: str) -> str:
    return """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        created_at REAL NOT NULL,
        body BLOB NOT NULL
    );
    CREATE TABLE deliveries (
        event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        hook_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        retryable INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (event_id, hook_id)
    ) WITHOUT ROWID;
    CREATE TABLE dedupe (
        key TEXT PRIMARY KEY,
        seen_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX dedupe_seen ON dedupe (seen_at);
    """


def _v2_feed(scheme: str) -> str:
    """Attempt history, the gap-free feed (DESIGN §8.2, §8.3) and the columns their filters need.

    `delivered_at` stays NULL while some hook is owed the event (it is in "the cache"); delivered events
    are kept until `message_cache.keep_delivered` runs out. `counters.seq` is the last `seq` handed out,
    so a seq is never reused even after the newest events were deleted. Attempts are clustered by event
    (no rowid), so an event's deletion finds its attempts without another index.
    Old bodies in clear give their account_id; sealed ones keep NULL (their events predate the filter).
    """
    return """
    ALTER TABLE events ADD COLUMN delivered_at REAL;
    ALTER TABLE events ADD COLUMN account_id TEXT;
    UPDATE events SET account_id = json_extract(CAST(body AS TEXT), '$.data.account_id')
        WHERE json_valid(CAST(body AS TEXT));
    CREATE TABLE attempts (
        event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        hook_id TEXT NOT NULL,
        at REAL NOT NULL,
        http_status INTEGER,
        error TEXT NOT NULL DEFAULT '',
        latency_ms REAL NOT NULL,
        PRIMARY KEY (event_id, hook_id, at)
    ) WITHOUT ROWID;
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO counters (name, value) SELECT 'seq', COALESCE(MAX(seq), 0) FROM events;
    """


def _idempotency(scope: str) -> str:
    """Sends' first answers by Idempotency-Key (api/idempotency.py), kept 24 h. Its own step, to be
    renumbered freely against other branches' steps."""
    return """
    CREATE TABLE idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_created ON idempotency (created_at);
    """


MIGRATIONS: tuple[tuple[int, Step], ...] = ((1, _v1), (2, _v2_feed), (3, _idempotency))

LATEST = MIGRATIONS[-1][0]


def refuse_non_file(path: Path) -> None:
    if path.exists() and not path.is_file():
        raise StoreUnreadable(path, "it is a directory or a device, not a file")


async def refuse_foreign(db: aiosqlite.Connection, path: Path) -> None:
    """A database with tables but no `schema_version` belongs to another program: never migrate into it."""
    names = {row[0] for row in await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if names and "schema_version" not in names:
        shown = ", ".join(sorted(names)[:5])
        raise StoreUnreadable(path, f"it is another program's database (tables: {shown})")


async def schema_version(db: aiosqlite.Connection) -> int:
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    rows = list(await db.execute_fetchall("SELECT MAX(version) FROM schema_version"))
    return int(rows[0][0] or 0) if rows else 0


async def migrate(db: aiosqlite.Connection, path: Path, scheme: str = "sqlite") -> int:
    """Bring the schema up to LATEST, one transaction per migration; returns the version reached."""
    current = await schema_version(db)
    if current > LATEST:
        raise StoreError(
            f"{path}: the database has schema version {current}, but this whatshooked knows only up to "
            f"{LATEST}; run a newer whatshooked, or point storage.path at another file"
        )
    for version, step in MIGRATIONS:
        if version <= current:
            continue
        script = (
            f"BEGIN IMMEDIATE;\n{step(scheme)}\nDELETE FROM schema_version;\n"
            f"INSERT INTO schema_version (version) VALUES ({version});\nCOMMIT;"
        )
        try:
            await db.executescript(script)
        except Exception:
            if db.in_transaction:
                await db.rollback()
            raise
        log.info("store %s migrated to schema version %d", path, version)
        current = version
    return current
