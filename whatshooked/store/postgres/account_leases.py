"""Which daemon drives each WhatsApp Web account, and where its whatsmeow session lives (DESIGN §8.3).

A WhatsApp Web session may run in one place only (a second would replace the first's stream), so
each such account is leased to one daemon at a time: `account_leases(account_id, node_id,
lease_until)` (schema version 2), on the database's clock (`wh_now()`). One statement takes, renews and reports: a row
that is free, this node's own, or whose lease ran out becomes this node's; the others name their owner.
A daemon killed with SIGKILL keeps its accounts until the lease runs out; a clean stop frees them at once.

The session itself lives in the same database, in a schema of the account's own (`whatsmeow_<id>`),
handed to neonize's Go side as a lib/pq URL with that schema as its `search_path`; so whichever
daemon takes the account over finds the paired device there, without a new QR scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from whatshooked.errors import StoreError
from whatshooked.store.postgres.writes import UNREACHABLE

# $1 account ids, $2 this node, $3 lease seconds → (account_id, owner). The INSERT's own rows are not
# visible to the SELECT of the same statement, so taken rows are named from `took`; an owner that
# committed just now (by another daemon, while this statement waited) reads as '' until the next round.
HOLD = """
WITH wanted AS (
    SELECT DISTINCT unnest($1::text[]) AS account_id
), took AS (
    INSERT INTO account_leases AS l (account_id, node_id, lease_until)
    SELECT account_id, $2, wh_now() + $3 FROM wanted ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE SET node_id = EXCLUDED.node_id, lease_until = EXCLUDED.lease_until
    WHERE l.node_id = EXCLUDED.node_id OR l.lease_until < wh_now()
    RETURNING account_id
)
SELECT w.account_id, CASE WHEN t.account_id IS NOT NULL THEN $2 ELSE COALESCE(l.node_id, '') END AS owner
FROM wanted w LEFT JOIN took t USING (account_id) LEFT JOIN account_leases l USING (account_id)
"""

RELEASE = "DELETE FROM account_leases WHERE node_id = $1 AND account_id = ANY($2::text[])"

# What whatsmeow's migrations (go.mau.fi/util dbutil) would create first. Its checks of the version table
# read information_schema without naming a schema, so with a second account's schema they would see the
# first's table and skip creating their own: made here, empty, it starts every schema at version 0.
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS {schema}.whatsmeow_version (version INTEGER, compat INTEGER)"


def schema_name(account_id: str) -> str:
    """`whatsmeow_<id>`, shortened with a hash past PostgreSQL's 63-byte names (ids may be 64 long)."""
    name = f"whatsmeow_{account_id}"
    if len(name.encode()) <= 63:
        return name
    return f"whatsmeow_{account_id[:40]}_{hashlib.sha256(account_id.encode()).hexdigest()[:12]}"


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def session_url(url: str, schema: str) -> str:
    """`url` for lib/pq: the schema as `search_path` (lib/pq sends unknown parameters as run-time settings),
    and asyncpg's default `sslmode=prefer` unless the URL names one (lib/pq would otherwise require SSL)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "search_path"]
    if not any(k == "sslmode" for k, _ in query):
        query.append(("sslmode", "prefer"))
    query.append(("search_path", quoted(schema)))
    return urlunsplit(parts._replace(query=urlencode(query)))


class PgAccountLeases:
    def __init__(self, pool: asyncpg.Pool, url: str, where: str, node: str, lease: float) -> None:
        self._pool, self._url, self._where = pool, url, where
        self.node = node
        self.lease = lease

    async def hold(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Take or renew the lease of each account that is free, ours or expired: {account id: owner}."""
        if not account_ids:
            return {}
        try:
            rows = await self._pool.fetch(HOLD, list(account_ids), self.node, self.lease)
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            raise StoreError(f"{self._where}: cannot renew the WhatsApp Web account leases: {exc}") from None
        return {row[0]: row[1] for row in rows}

    async def release(self, account_ids: Sequence[str]) -> None:
        """Free this node's leases on these accounts (their sessions are stopped): another daemon may take them."""
        if not account_ids:
            return
        try:
            await self._pool.execute(RELEASE, self.node, list(account_ids))
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            raise StoreError(f"{self._where}: cannot free the WhatsApp Web account leases: {exc}") from None

    async def session_database(self, account_id: str) -> str:
        """Make the account's schema (and whatsmeow's version table in it); the URL neonize opens it by."""
        schema = schema_name(account_id)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
                await conn.execute(VERSION_TABLE.format(schema=quoted(schema)))
        except asyncpg.UniqueViolationError:
            pass  # two daemons made it at the same moment: it is there
        except (*UNREACHABLE, asyncpg.PostgresError) as exc:
            raise StoreError(f"{self._where}: cannot prepare the WhatsApp Web session schema {schema}: {exc}") from None
        return session_url(self._url, schema)
