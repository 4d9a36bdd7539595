"""Several daemons on one database: resume the deliveries a dead or stopped daemon left behind.

Every third of the store's lease, the rows no live daemon holds are claimed (the store does that
with `FOR UPDATE SKIP LOCKED`, so two daemons never take the same row) and handed to this daemon's
hook runners at their scheduled time, under their event ids, attempts counted so far kept.
"""

from __future__ import annotations

import asyncio
import logging
import time

from whatshooked.delivery.dispatcher import Dispatcher
from whatshooked.delivery.job import Job
from whatshooked.errors import StoreError
from whatshooked.store.base import Store

log = logging.getLogger(__name__)


async def take_over_forever(store: Store, dispatcher: Dispatcher, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        if dispatcher.closing:
            return
        try:
            await take_over(store, dispatcher)
        except (StoreError, OSError) as exc:
            log.warning("could not look for deliveries other daemons left: %s", exc)


async def take_over(store: Store, dispatcher: Dispatcher) -> int:
    """Claim and schedule what is left; returns how many rows were taken."""
    runners = dispatcher.hooks
    rows = await store.take_over([hook_id for hook_id, runner in runners.items() if runner.hook.active])
    now = time.time()
    taken = 0
    for row in rows:
        runner = runners.get(row.hook_id)
        if runner is not None and runner.submit_later(Job(row.event, row.body, attempts=row.attempts),
                                                      row.next_attempt_at - now):
            taken += 1
    if rows:
        log.info("took over %d pending deliveries left by another daemon", taken)
    return taken
