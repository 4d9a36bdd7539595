"""Events in, in batches: while one batch is in the database, the next gathers (group commit).

One batch at a time keeps `seq` in the order events were handed over, as the SQLite store's single
writer does, and a burst costs a few round trips, not one each. A batch the database refuses is
retried one event at a time, so only the event at fault fails (its dedupe key with it: a key is
never recorded without its event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

MAX_BATCH = 512


@dataclass
class Add:
    row: tuple[str, str, str, float, bytes]  # id, type, timestamp, created_at, body
    hook_ids: list[str]
    dedupe_key: str | None
    account_id: str | None = None
    future: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Run = Callable[[list[Add]], Awaitable[dict[str, int]]]  # a batch in one statement -> {id stored: its seq}


class AddQueue:
    def __init__(self, run: Run) -> None:
        self._run = run
        self._pending: list[Add] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, add: Add) -> asyncio.Future[int]:
        self._pending.append(add)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="whatshooked-store-adds")
        return add.future

    @property
    def busy(self) -> asyncio.Task[None] | None:
        """The running drain, if any (a read waits for it)."""
        return self._task if self._task is not None and not self._task.done() else None

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._commit(batch)

    async def _commit(self, batch: list[Add]) -> None:
        try:
            stored = await self._run(batch)
        except asyncpg.PostgresError as exc:  # one event at fault (or a lost race): find it, fail only it
            if len(batch) == 1:
                _settle(batch[0], exc=exc)
                return
            for add in batch:
                await self._commit([add])
            return
        except Exception as exc:  # noqa: BLE001 - unreachable database: every caller hears it
            for add in batch:
                _settle(add, exc=exc)
            return
        for add in batch:
            _settle(add, result=stored.get(add.row[0], 0))


def _settle(add: Add, result: Any = None, exc: BaseException | None = None) -> None:
    if add.future.done():
        return
    if exc is not None:
        add.future.set_exception(exc)
    else:
        add.future.set_result(int(result))
