"""How long to wait before the next attempt: the configured waits with jitter, and `Retry-After`."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

JITTER = 0.2  # each wait is drawn from ±20% of the configured one, so failed bursts spread out
RETRY_AFTER_CAP = 3600.0  # a hook's Retry-After is honoured up to an hour


def jittered(wait: float, rng: random.Random | None = None) -> float:
    draw = (rng or random).uniform(1.0 - JITTER, 1.0 + JITTER)
    return max(0.0, wait * draw)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def next_wait(waits: tuple[float, ...], attempts: int, retry_after: float | None) -> float | None:
    """The wait after `attempts` failed attempts, or None when the waits have run out."""
    if attempts > len(waits):
        return None
    wait = jittered(waits[attempts - 1])
    if retry_after is not None:
        wait = max(wait, min(retry_after, RETRY_AFTER_CAP))
    return wait


def http_date(epoch: float) -> str:
    """An HTTP date (for tests and hooks that want one)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
