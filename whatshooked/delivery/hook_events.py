"""`hook.failing` / `hook.recovered` (DESIGN §8.2): a hook's health turned; the OTHER hooks hear of it.

Told by health.py at each turn; raised as ordinary events (committed, retried, cached), to every
active hook that subscribes to them except the one they are about. When no other hook wants them,
nothing is raised (the log has the line anyway), so a lone hook's cache does not fill with them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from whatshooked.delivery.health import HookHealth
from whatshooked.delivery.runner import HookRunner
from whatshooked.events import Event, utc_timestamp
from whatshooked.store.base import Store

Publish = Callable[..., Awaitable[bool]]  # Dispatcher.publish(event, skip=hook_id)
Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class HookEvents:
    def __init__(self, store: Store, matching: Callable[[str], list[HookRunner]], runner: Callable[[str], Any],
                 publish: Publish, spawn: Spawn, closing: Callable[[], bool]) -> None:
        self._store = store
        self._matching = matching
        self._runner = runner
        self._publish = publish
        self._spawn = spawn
        self._closing = closing

    def __call__(self, kind: str, hook_id: str, health: HookHealth) -> None:
        if not self._closing() and any(runner.hook.id != hook_id for runner in self._matching(kind)):
            self._spawn(self._raise(kind, hook_id, health), f"whatshooked-{kind}-{hook_id}")

    async def _raise(self, kind: str, hook_id: str, health: HookHealth) -> None:
        if self._store.persistent:
            pending = (await self._store.owed()).get(hook_id, (0, 0.0))[0]
        else:
            runner = self._runner(hook_id)
            pending = len(runner.jobs) if runner is not None else 0
        since = utc_timestamp(health.failing_since) if health.failing_since is not None else None
        data = {"hook_id": hook_id, "since": since, "error": health.last_error, "pending": pending}
        await self._publish(Event(kind, data), skip=hook_id)
