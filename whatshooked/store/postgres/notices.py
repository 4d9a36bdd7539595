"""Messages between the daemons sharing a database, over PostgreSQL's LISTEN/NOTIFY.

One connection of its own listens (a pooled one could not: it is handed to other work); a message
is `node\\npayload`, and a daemon skips its own. When the listening connection drops it is opened
again, so a restarted database server does not leave a daemon deaf for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "whatshooked"
RETRY = 2.0


class Notices:
    def __init__(self, url: str, where: str, node: str) -> None:
        self._url, self._where, self._node = url, where, node
        self._callback: Callable[[str], None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def send(self, pool: Any, message: str) -> None:
        await pool.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{self._node}\n{message}")

    def listen(self, callback: Callable[[str], None] | None) -> None:
        self._callback = callback
        if callback is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="whatshooked-store-notices")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        node, _, message = payload.partition("\n")
        if node != self._node and self._callback is not None:
            self._callback(message)

    async def _until_lost(self, conn: Any) -> None:
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        conn.add_termination_listener(lambda _conn: None if lost.done() else lost.set_result(None))
        await conn.add_listener(CHANNEL, self._heard)
        await lost

    async def _listen(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._url)
                await self._until_lost(conn)
                log.warning("store %s: the connection for other daemons' notices dropped; reconnecting", self._where)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("store %s: cannot listen for other daemons' notices (%s); retrying", self._where, exc)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(RETRY)
