"""`serve` on an address that is taken: one line naming server.port, before any account starts, and
"ready" only once the API really listens (it used to log ready, then fail on "address already in use")."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.process import ServeProcess, free_port, run_cli

KEY = "port-test-key-0123456789"


def write_config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {KEY}\n"
        f"storage:\n  path: {tmp_path}/data/events.db\nmedia:\n  dir: {tmp_path}/data/media\n"
        f"accounts:\n  - id: personal\n    type: whatsmeow\n    session_path: {tmp_path}/sessions/personal.db\n"
    )
    return config


def test_a_taken_port_fails_before_anything_starts_naming_the_key(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "-c", str(write_config(tmp_path, port)), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port} (server.host / server.port)" in done.stderr
    assert "another whatshooked" in done.stderr
    assert "whatshooked ready" not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert not (tmp_path / "sessions").exists()  # no WhatsApp Web session was opened


async def test_ready_is_logged_once_the_api_listens(tmp_path: Path) -> None:
    port = free_port()
    serve = ServeProcess(write_config(tmp_path, port), port)
    await serve.start()
    try:
        await serve.healthy()
        log = serve.output()
        assert log.index("API listening on") < log.index("whatshooked ready"), log
    finally:
        await serve.stop()
