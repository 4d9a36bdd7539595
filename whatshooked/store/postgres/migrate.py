"""Bringing a PostgreSQL database to the current schema, and its bodies under the current key.

Both run under one session advisory lock, so daemons that start at once on an empty database take
turns: the first migrates (and reseals), the next finds nothing left to do.
"""

from __future__ import annotations

import logging
from typing import Any

from whatshooked.errors import StoreError
from whatshooked.store.base import StoreUnreadable
from whatshooked.store.postgres.schema import LATEST, MIGRATE_LOCK, MIGRATIONS, OUR_TABLES
from whatshooked.store.seal import MAGIC, Sealer, open_plain

log = logging.getLogger(__name__)

RESEAL_BATCH = 500


async def prepare(conn: Any, where: str, sealer: Sealer | None) -> int:
    """Migrate, then check or reseal the bodies; returns the schema version reached. `conn`: asyncpg."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
    try:
        version = await _migrate(conn, where)
        await _reseal(conn, where, sealer)
        return version
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)


async def _migrate(conn: Any, where: str) -> int:
    tables = {row[0] for row in await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
    if "schema_version" not in tables and tables & set(OUR_TABLES):
        shown = ", ".join(sorted(tables)[:5])
        raise StoreUnreadable(where, f"it holds another program's tables ({shown}) without whatshooked's "
                              "schema_version; use a database (or schema) of its own")
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    current = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
    if current > LATEST:
        raise StoreError(
            f"{where}: the database has schema version {current}, but this whatshooked knows only up to "
            f"{LATEST}; run a newer whatshooked, or point storage.url at another database"
        )
    for version, script in MIGRATIONS:
        if version <= current:
            continue
        async with conn.transaction():
            await conn.execute(script)
            await conn.execute("DELETE FROM schema_version")
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        log.info("store %s migrated to schema version %d", where, version)
        current = version
    return current


async def _reseal(conn: Any, where: str, sealer: Sealer | None) -> None:
    """Without a key, a sealed body is a config error; with one, plain or old-key bodies are resealed."""
    if sealer is None:
        if await conn.fetchval("SELECT 1 FROM events WHERE substring(body FROM 1 FOR 4) = $1 LIMIT 1", MAGIC):
            open_plain(MAGIC, where)  # raises, naming the key to set
        return
    stale = await conn.fetch("SELECT seq, body FROM events WHERE substring(body FROM 1 FOR 12) != $1 ORDER BY seq",
                             MAGIC + sealer.key_id)
    if not stale:
        return
    async with conn.transaction():
        for start in range(0, len(stale), RESEAL_BATCH):
            part = stale[start:start + RESEAL_BATCH]
            await conn.executemany("UPDATE events SET body = $1 WHERE seq = $2",
                                   [(sealer.seal(sealer.open(bytes(row[1]), where)), row[0]) for row in part])
    # The old row versions (in clear) would stay in the table's pages: FULL rewrites the table into a new file.
    await conn.execute("VACUUM FULL events")
    log.info("store %s: %d event(s) sealed with the current storage.encryption_key", where, len(stale))
