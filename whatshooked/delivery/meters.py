"""One hook's metric series, looked up once (label lookups per delivery add up at thousands a second)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whatshooked.delivery.job import Job
from whatshooked.events import Event
from whatshooked.service.metrics import Metrics


@dataclass(frozen=True, slots=True)
class HookMeters:
    delivered: Any
    retry: Any
    failed: Any
    replays: Any
    latency: Any

    @classmethod
    def of(cls, metrics: Metrics, hook_id: str) -> HookMeters:
        outcome = metrics.deliveries
        return cls(
            delivered=outcome.labels(hook_id, "delivered"), retry=outcome.labels(hook_id, "retry"),
            failed=outcome.labels(hook_id, "failed"), replays=metrics.replays.labels(hook_id),
            latency=metrics.latency.labels(hook_id),
        )

    def observe_latency(self, job: Job, persistent: bool) -> None:
        """From the commit to the hook's 2xx. A job resumed, replayed or retried for hours has no commit
        in this run: it counts from the event's own time (with a cache; without one nothing outlives a run)."""
        if job.committed_at is not None:
            self.latency.observe(asyncio.get_running_loop().time() - job.committed_at)
        elif persistent:
            self.latency.observe(max(0.0, time.time() - event_time(job.event)))


def event_time(event: Event) -> float:
    """The event's own time in Unix seconds (now, for a timestamp that does not parse)."""
    try:
        return datetime.fromisoformat(event.timestamp).timestamp()
    except ValueError:
        return time.time()
