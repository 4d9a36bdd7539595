"""test_crash.py's SIGKILL and SIGTERM tests again, with `serve` storing in PostgreSQL (storage.url).

A restarted daemon is a new node (host:pid): after a SIGKILL it takes over what the killed one had
claimed once that claim's lease (2 s here) runs out; after a SIGTERM the claims were freed at once."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.test_crash as on_sqlite
from tests.test_crash import (  # noqa: F401 - collected again here, on PostgreSQL
    test_sigkill_mid_stream_loses_no_committed_event,
    test_sigterm_with_deliveries_in_flight_exits_0_and_delivers_after_restart,
)

_SQLITE_CONFIG = on_sqlite.config_text


@pytest.fixture(autouse=True)
def on_postgres(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def config_text(tmp_path: Path, port: int, graph: str, hook: str) -> str:
        text = _SQLITE_CONFIG(tmp_path, port, graph, hook)
        shared = f'storage: {{url: "{pg_url}", lease: 2s}}'
        return text.replace(f"storage: {{path: {tmp_path / 'state.db'}}}", shared)

    monkeypatch.setattr(on_sqlite, "config_text", config_text)


def test_the_tests_here_run_on_postgres(tmp_path: Path, pg_url: str) -> None:
    assert f'url: "{pg_url}"' in on_sqlite.config_text(tmp_path, 1, "http://g", "http://h")
