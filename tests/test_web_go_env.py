"""`serve` starts neonize's Go runtime with NEONIZE_BOT_TAG=off in its start-up environment (Go never
sees os.environ changes), keeps an operator's own value, and still stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.process import ServeProcess, free_port

ROOT = Path(__file__).resolve().parents[1]


def startup_environment(pid: int) -> dict[str, str]:
    """What /proc shows is the block the process started (or was last exec'd) with: what Go reads."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


@pytest.mark.parametrize("operator, expected", [(None, "off"), ("on", "on")])
async def test_serve_starts_go_with_the_bot_tag_setting(tmp_path: Path, operator: str | None, expected: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEONIZE_BOT_TAG", raising=False)  # this test process may have set it for itself
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  port: {port}\n  api_key: k\nstorage:\n  path: ./data/e.db\n"
                      "accounts:\n  - id: personal\n    session_path: ./s/p.db\nhooks: []\n")
    env = {"HTTPS_PROXY": "http://127.0.0.1:9"}
    if operator is not None:
        env["NEONIZE_BOT_TAG"] = operator
    serve = ServeProcess(config, port, env=env)
    try:
        await serve.start()
        assert serve.proc is not None
        await serve.healthy(within=30)
        environment = startup_environment(serve.proc.pid)  # the same PID: re-executed in place
        assert environment.get("NEONIZE_BOT_TAG") == expected
        serve.send(signal.SIGTERM)
        assert await serve.wait(within=10) == 0
    finally:
        await serve.stop()
