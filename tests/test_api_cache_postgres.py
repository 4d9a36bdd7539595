"""The `/api/cache*` tests of test_api_cache.py again, with the daemon's store on PostgreSQL (storage.url):
the same answers, byte for byte, from either backend."""

from __future__ import annotations

import pytest

import tests.test_api_cache as on_sqlite
from tests.support import harness
from tests.test_api_cache import (  # noqa: F401 - collected again here, on PostgreSQL
    test_a_delivered_event_is_not_listed_once_the_hook_took_it,
    test_clear,
    test_clear_needs_confirm_true,
    test_get_and_delete_one_event,
    test_list_filter_and_stats,
    test_replay_all_counts_failures,
    test_replay_all_to_a_hook_added_later,
    test_replay_one_by_query_or_body,
    test_replay_one_that_fails_is_500_and_stays,
    test_with_the_cache_disabled_everything_is_503_but_stats,
)


@pytest.fixture(autouse=True)
def on_postgres(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every config those tests write gets `storage.url`: a fresh database of the session's cluster."""
    def config(hooks: str = "", accounts: str = "", extra: str = "", api_key: str = harness.API_KEY) -> str:
        return harness.config(hooks, accounts, f'storage:\n  url: "{pg_url}"\n{extra}', api_key)

    monkeypatch.setattr(on_sqlite, "config", config)


def test_the_tests_here_run_on_postgres(pg_url: str) -> None:
    assert f'url: "{pg_url}"' in on_sqlite.config()
