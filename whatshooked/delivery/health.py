"""Each hook's health (`GET /api/hooks/status`) and the few log lines a failing hook is worth.

A hook is failing from an attempt that gets no 2xx until its next 2xx. Runners report every attempt
here. A down hook used to write a WARNING per event and attempt (100,000 events: 180,000 lines, past
journald's rate limit); now it writes one WARNING when it starts failing, a summary at most once a
`SUMMARY_INTERVAL` while it fails (at its next failed attempt), and one INFO when it answers again.
Per-event lines are DEBUG (runner.py). The two transitions are also announced, so the dispatcher
can raise `hook.failing` / `hook.recovered` to the other hooks (DESIGN §8.2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

SUMMARY_INTERVAL = 60.0  # seconds between "still failing" lines of one hook
FAILING, RECOVERED = "hook.failing", "hook.recovered"


@dataclass(slots=True)
class HookHealth:
    failing_since: float | None = None  # Unix time of the first failed attempt of this run of failures
    last_success: float | None = None
    last_failure: float | None = None
    last_error: str = ""
    consecutive_failures: int = 0
    unreported: int = 0  # failed attempts not yet counted in a log line
    reported_at: float = 0.0


# (hook.failing or hook.recovered, hook id, the hook's health at that moment)
Announce = Callable[[str, str, HookHealth], None]


class Health:
    def __init__(self, announce: Announce | None = None, clock: Callable[[], float] = time.time) -> None:
        self._hooks: dict[str, HookHealth] = {}
        self._announce = announce
        self._clock = clock

    def of(self, hook_id: str) -> HookHealth:
        """The hook's health (a fresh, healthy one for a hook not heard of yet)."""
        health = self._hooks.get(hook_id)
        if health is None:
            health = self._hooks[hook_id] = HookHealth()
        return health

    def forget(self, hook_id: str) -> None:
        """A removed hook: a hook added again under its id starts healthy."""
        self._hooks.pop(hook_id, None)

    def succeeded(self, hook_id: str) -> None:
        health = self.of(hook_id)
        health.last_success = self._clock()
        if health.failing_since is not None:
            log.info("hook %s answers again after %s failing (%d failed attempts, the last: %s); "
                     "what it is owed is sent now", hook_id, _duration(health.last_success - health.failing_since),
                     health.consecutive_failures, health.last_error, extra={"hook_id": hook_id})
            self._tell(RECOVERED, hook_id, health)
            health.failing_since = None
        health.consecutive_failures = 0
        health.unreported = 0

    def failed(self, hook_id: str, error: str) -> None:
        health = self.of(hook_id)
        now = self._clock()
        health.last_failure = now
        health.last_error = error
        health.consecutive_failures += 1
        if health.failing_since is None:
            health.failing_since = health.reported_at = now
            health.unreported = 0
            log.warning("hook %s is failing: %s; its events are kept and retried (a summary at most once a "
                        "minute until it answers; each attempt at debug level)", hook_id, error,
                        extra={"hook_id": hook_id})
            self._tell(FAILING, hook_id, health)
            return
        health.unreported += 1
        if now - health.reported_at >= SUMMARY_INTERVAL:
            log.warning("hook %s still failing (for %s): %d more failed attempts in the last %s, the last: %s",
                        hook_id, _duration(now - health.failing_since), health.unreported,
                        _duration(now - health.reported_at), error, extra={"hook_id": hook_id})
            health.reported_at = now
            health.unreported = 0

    def _tell(self, kind: str, hook_id: str, health: HookHealth) -> None:
        if self._announce is not None:
            self._announce(kind, hook_id, replace(health))


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
