"""WhatsApp Web sessions in PostgreSQL (issue 11 item 3), with the REAL neonize library, offline.

In a cluster each account's whatsmeow store lives in the shared database, in a schema of its own
(`whatshooked.store.postgres.account_leases`): neonize's Go side opens it through lib/pq with that
schema as `search_path`. A device paired there by one daemon is loaded by another (no QR), and two
accounts never share a device row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncpg

from tests.support.paired_session import OWN_JID, make_paired_session_pg, quiet_callbacks, run_offline
from whatshooked.accounts.whatsapp_web.session import NeonizeSession
from whatshooked.config.model import StorageConfig
from whatshooked.store.open import open_store
from whatshooked.store.postgres.account_leases import schema_name, session_url


def test_the_session_url_names_the_schema_and_keeps_the_rest() -> None:
    assert session_url("postgresql://u:p%40ss@db:5433/wh", "whatsmeow_shop") == \
        "postgresql://u:p%40ss@db:5433/wh?sslmode=prefer&search_path=%22whatsmeow_shop%22"
    assert session_url("postgres://db/wh?sslmode=require&search_path=x", 'whatsmeow_a"b') == \
        "postgres://db/wh?sslmode=require&search_path=%22whatsmeow_a%22%22b%22"
    long = "x" * 64
    assert len(schema_name(long).encode()) <= 63 and schema_name(long) != schema_name(long[:-1] + "y")


async def tables_by_schema(conn: Any) -> dict[str, int]:
    rows = await conn.fetch("SELECT table_schema, count(*) FROM information_schema.tables "
                            "WHERE table_name LIKE 'whatsmeow%' GROUP BY 1")
    return {row[0]: int(row[1]) for row in rows}


async def test_a_paired_session_in_postgresql_is_loaded_by_another_daemon(tmp_path: Path, pg_url: str) -> None:
    first = await open_store(StorageConfig(url=pg_url, node_id="a"))
    second = await open_store(StorageConfig(url=pg_url, node_id="b"))
    conn = await asyncpg.connect(pg_url)
    try:
        assert first.account_leases is not None and second.account_leases is not None
        shop = await first.account_leases.session_database("shop")
        await make_paired_session_pg(shop, "whatsmeow_shop")
        home = await first.account_leases.session_database("Home.2")  # a second account, mixed case
        creator = NeonizeSession(tmp_path / "home.db", quiet_callbacks(), database=home)
        error = await run_offline(creator)
        await creator.stop()
        assert "dial" in str(error), error  # whatsmeow's store opened; only the network failed
        assert await tables_by_schema(conn) == {"whatsmeow_shop": 17, "whatsmeow_Home.2": 17}
        assert await conn.fetchval('SELECT array_agg(jid) FROM "whatsmeow_shop".whatsmeow_device') == [OWN_JID]
        assert await conn.fetchval('SELECT count(*) FROM "whatsmeow_Home.2".whatsmeow_device') == 0
        assert not os.listdir(tmp_path), "no SQLite session file in a cluster"

        seen: list[Any] = []  # the other daemon takes the account over: same schema, its own client
        taken = NeonizeSession(tmp_path / "elsewhere" / "shop.db", quiet_callbacks(seen),
                               database=await second.account_leases.session_database("shop"))
        error = await run_offline(taken)
        try:
            assert "dial" in str(error), error
            assert not [s for s in seen if isinstance(s, tuple) and s[0] == "qr"], "a paired session asks no QR"
            me = await taken._client.get_me()
            assert f"{me.JID.User}:{me.JID.Device}@{me.JID.Server}" == OWN_JID
        finally:
            await taken.stop()
    finally:
        await conn.close()
        await first.close()
        await second.close()
