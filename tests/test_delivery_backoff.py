from __future__ import annotations

import time

from whatshooked.delivery.backoff import JITTER, RETRY_AFTER_CAP, http_date, next_wait, parse_retry_after


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("-5", now) == 0.0
    when = parse_retry_after(http_date(now + 60), now)
    assert when is not None and 58 <= when <= 61
    assert parse_retry_after(http_date(now - 60), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


def test_waits_have_jitter_and_run_out() -> None:
    waits = (10.0, 20.0)
    first = [next_wait(waits, 1, None) for _ in range(200)]
    assert all(w is not None and 10 * (1 - JITTER) <= w <= 10 * (1 + JITTER) for w in first)
    assert len(set(first)) > 1
    second = next_wait(waits, 2, None)
    assert second is not None and second >= 20 * (1 - JITTER)
    assert next_wait(waits, 3, None) is None
    assert next_wait((), 1, None) is None


def test_retry_after_raises_the_wait_up_to_a_cap() -> None:
    assert next_wait((1.0,), 1, 30.0) == 30.0
    wait = next_wait((100.0,), 1, 1.0)
    assert wait is not None and wait >= 80.0  # never shorter than the configured wait
    assert next_wait((1.0,), 1, 10 * RETRY_AFTER_CAP) == RETRY_AFTER_CAP
