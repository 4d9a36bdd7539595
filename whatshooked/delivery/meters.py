"""One hook's metric series, looked up once (label lookups per delivery add up at thousands a second)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whatshooked.service.metrics import Metrics


@dataclass(frozen=True, slots=True)
class HookMeters:
    delivered: Any
    retry: Any
    failed: Any
    retries: Any
    replays: Any
    latency: Any

    @classmethod
    def of(cls, metrics: Metrics, hook_id: str) -> HookMeters:
        outcome = metrics.deliveries
        return cls(
            delivered=outcome.labels(hook_id, "delivered"), retry=outcome.labels(hook_id, "retry"),
            failed=outcome.labels(hook_id, "failed"), retries=metrics.retries.labels(hook_id),
            replays=metrics.replays.labels(hook_id), latency=metrics.latency.labels(hook_id),
        )
