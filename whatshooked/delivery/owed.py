"""What each hook is still owed and its state now: for /metrics (and anything else that reports hooks).

With a cache the store knows (rows not delivered, given-up ones included); without one only the
runners' jobs in memory do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from whatshooked.config.model import HookConfig
from whatshooked.delivery.dispatcher import Dispatcher
from whatshooked.delivery.meters import event_time
from whatshooked.store.base import Owed


@dataclass(frozen=True, slots=True)
class HookFigures:
    hook_id: str
    state: str  # healthy | failing | paused
    pending: int
    oldest_pending_age: float  # seconds; 0 when nothing is owed


async def hook_figures(dispatcher: Dispatcher, hooks: Sequence[HookConfig]) -> list[HookFigures]:
    """One entry per hook given (the configured ones, inactive too), in their order."""
    store = dispatcher.store
    if store.persistent:
        owed = await store.owed_by_hook()
    else:
        owed = {}
        for hook_id, held in dispatcher.hooks.items():
            times = [event_time(job.event) for job in held.jobs.values()]
            owed[hook_id] = Owed(len(times), min(times) if times else None)
    now = time.time()
    out = []
    for hook in hooks:
        runner = dispatcher.hooks.get(hook.id)
        state = "paused" if not hook.active else "failing" if runner is not None and runner.failing else "healthy"
        figures = owed.get(hook.id, Owed(0, None))
        age = 0.0 if figures.oldest_at is None else max(0.0, now - figures.oldest_at)
        out.append(HookFigures(hook.id, state, figures.pending, age))
    return out
