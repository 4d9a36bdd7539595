"""A whatsmeow session file whose device is paired but can never connect here (no network).

The real neonize library creates the store (one offline start runs whatsmeow's own schema
migrations), then we add one `whatsmeow_device` row the way pairing would: a JID with a device
number, random keys of the sizes the schema checks, and an (empty) ADV identity. whatsmeow then
treats the session as logged in: a start shows no QR code and fails only when dialling WhatsApp,
and every call after that fails with whatsmeow's "websocket not connected".
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

from whatshooked.accounts.whatsapp_web.session import NeonizeSession, SessionCallbacks

OWN_JID = "15550001111:7@s.whatsapp.net"


def quiet_callbacks(seen: list[Any] | None = None) -> SessionCallbacks:
    async def on_event(event: Any) -> None:
        if seen is not None:
            seen.append(event)

    async def on_qr(code: str) -> None:
        if seen is not None:
            seen.append(("qr", code))

    return SessionCallbacks(on_event=on_event, on_qr=on_qr, on_login_status=lambda status: None)


async def run_offline(session: NeonizeSession, wait: float = 30.0) -> BaseException | None:
    """Start the real session and wait for whatsmeow to give up dialling; its error (or None)."""
    ended = await session.start()
    done, _ = await asyncio.wait([ended], timeout=wait)
    assert done, f"the offline session did not end within {wait}s"
    return ended.exception()


async def make_paired_session(path: Path, own_jid: str = OWN_JID) -> None:
    """Create `path` with the real library's schema and a paired device in it."""
    creator = NeonizeSession(path, quiet_callbacks())
    await run_offline(creator)
    await creator.stop()
    r = os.urandom
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key,"
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig, adv_account_sig_key,"
            " adv_device_sig, platform, push_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (own_jid, 12345, r(32), r(32), r(32), 1, r(64), r(32), b"", r(64), r(32), r(64), "", "whatshooked test"))
    db.close()


async def make_paired_session_pg(database: str, schema: str, own_jid: str = OWN_JID) -> None:
    """The same in PostgreSQL: `database` is the session's lib/pq URL (search_path = `schema`)."""
    import asyncpg

    creator = NeonizeSession(Path("/nonexistent/pg-creator.db"), quiet_callbacks(), database=database)
    await run_offline(creator)
    await creator.stop()
    r = os.urandom
    conn = await asyncpg.connect(database.partition("?")[0])
    try:
        await conn.execute(
            f'INSERT INTO "{schema}".whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key,'
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig, adv_account_sig_key,"
            " adv_device_sig, platform, push_name)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            own_jid, 12345, r(32), r(32), r(32), 1, r(64), r(32), b"", r(64), r(32), r(64), "", "whatshooked test")
    finally:
        await conn.close()
