"""How delivery state and attempt history look in the API (`/api/cache*`): times as ISO 8601 UTC."""

from __future__ import annotations

from typing import Any

from whatshooked.events import utc_timestamp
from whatshooked.store.base import Attempt, DeliveryRow


def delivery_json(row: DeliveryRow) -> dict[str, Any]:
    """What one hook still owes for an event and why: `pending` (in its retry schedule, `next_attempt_at`
    null when due now), `failed` (its retries ran out, or it was refused: replay it), or `delivered`."""
    waiting = row.state == "pending" and row.next_attempt_at > 0
    return {
        "hook_id": row.hook_id,
        "state": row.state,
        "attempts": row.attempts,
        "last_error": row.last_error or None,
        "next_attempt_at": utc_timestamp(row.next_attempt_at) if waiting else None,
    }


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "hook_id": attempt.hook_id,
        "at": utc_timestamp(attempt.at),
        "http_status": attempt.http_status,
        "error": attempt.error or None,
        "latency_ms": attempt.latency_ms,
    }
