"""Daemon-level tests of the attempt history, the feed, idempotent sends and replays again, with the
daemon's store on PostgreSQL (`storage.url`): the same answers from either backend (issue 12 on issue 11).

The store-level tests of those files run on both backends by parametrizing over BACKENDS; these run
the daemon, so they are collected again here with every config they start given `storage.url`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import tests.test_attempt_history as history
import tests.test_feed as feed
import tests.test_idempotency as idempotency
import tests.test_metrics_alerts as metrics
import tests.test_replay_jobs as jobs
import tests.test_replay_race as race
from tests.support import harness
from tests.test_attempt_history import (  # noqa: F401 - collected again here, on PostgreSQL
    test_every_attempt_is_recorded_with_status_error_and_latency,
    test_the_cache_comes_in_pages_and_filters_and_refuses_unknown_parameters,
)
from tests.test_feed import (  # noqa: F401
    test_a_receiver_that_was_down_finds_and_fills_its_gap_from_the_feed,
    test_the_feed_pages_filters_and_refuses_what_it_does_not_know,
)
from tests.test_idempotency import (  # noqa: F401
    test_a_repeat_gets_the_first_answer_and_sends_nothing,
    test_a_restart_keeps_the_keys,
)
from tests.test_metrics_alerts import test_the_latency_histogram_counts_replays_from_the_event_time  # noqa: F401
from tests.test_replay_jobs import (  # noqa: F401
    other,
    test_a_background_job_tells_its_progress,
    test_filters_pick_the_events,
    test_hook_and_time_window_in_the_body,
)
from tests.test_replay_race import test_manual_and_automatic_replay_and_new_traffic_at_once  # noqa: F401

MODULES = (history, feed, idempotency, metrics, jobs, race)


@pytest.fixture(autouse=True)
def on_postgres(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every daemon those tests run gets `storage.url`: a fresh database of the session's cluster (one
    per test, so a restart within a test finds its database again)."""

    @contextlib.asynccontextmanager
    async def running(tmp_path: Path, config_text: str, *args: Any, **kwargs: Any) -> AsyncIterator[harness.Running]:
        async with harness.running(tmp_path, f'{config_text}storage:\n  url: "{pg_url}"\n', *args, **kwargs) as run:
            yield run

    for module in MODULES:
        monkeypatch.setattr(module, "running", running)


async def test_the_tests_here_run_on_postgres(tmp_path: Path) -> None:
    async with history.running(tmp_path, harness.config()) as run:
        assert type(run.daemon.store).__name__ == "PostgresStore"
