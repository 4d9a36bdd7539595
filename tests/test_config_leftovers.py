"""Temp copies of the config left by a config write that was killed (issue 8, item 4).

`write_atomically` writes `.config.yaml.PID.tmp` (and `.config.yaml.bak.PID.tmp`), then renames it;
a kill in between leaves the copy, secrets included. `whatshooked serve` removes ours at start: the
writer's pattern, of a process that is not running (or of this very PID, e.g. PID 1 in a container).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from tests.support.harness import until
from tests.support.process import ServeProcess, free_port

API_KEY = "leftover-test-api-key"


def config_text(tmp_path: Path, port: int) -> str:
    return (f"server: {{host: 127.0.0.1, port: {port}, api_key: {API_KEY}}}\n"
            f"storage: {{path: {tmp_path / 'state.db'}}}\nmedia: {{dir: {tmp_path / 'media'}}}\nhooks: []\n")


def dead_pid() -> int:
    """A PID no process has now: a child that has been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


async def test_serve_removes_the_temp_copies_a_killed_config_write_left(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, port))
    dead = dead_pid()
    ours = [tmp_path / f".config.yaml.{dead}.tmp", tmp_path / f".config.yaml.bak.{dead}.tmp"]
    for leftover in ours:
        leftover.write_text(config_text(tmp_path, port))  # as the writer leaves it: the API key inside
        leftover.chmod(0o600)
    alive = tmp_path / f".config.yaml.{os.getpid()}.tmp"  # a running process may be writing it now
    not_ours = [
        alive,
        tmp_path / f".config.yaml.{dead}.tmp.keep",
        tmp_path / f".config.yaml.{dead}",
        tmp_path / f"config.yaml.{dead}.tmp",
        tmp_path / f".other.yaml.{dead}.tmp",
        tmp_path / ".config.yaml.notapid.tmp",
    ]
    for other in not_ours:
        other.write_text("someone else's")
    daemon = ServeProcess(config, port)
    await daemon.start()
    try:
        await daemon.healthy()
    finally:
        await daemon.stop()
    assert [path.name for path in ours if path.exists()] == []
    assert [path.name for path in not_ours if not path.exists()] == []
    assert f".config.yaml.{dead}.tmp" in daemon.output()  # said what it removed


async def test_a_kill_during_a_config_write_leaves_nothing_after_the_next_start(tmp_path: Path) -> None:
    """A real SIGKILL mid-write: the writer is held where it opens its temp file (a FIFO nobody reads
    yet stands there), so the kill lands inside the write, every time."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, port))
    before = config.read_text()
    daemon = ServeProcess(config, port)
    await daemon.start()
    try:
        await daemon.healthy()
        assert daemon.proc is not None
        trap = tmp_path / f".config.yaml.bak.{daemon.proc.pid}.tmp"
        os.mkfifo(trap, 0o600)
        async with aiohttp.ClientSession() as http:
            adding = asyncio.ensure_future(http.post(
                f"{daemon.url}/api/hooks/add", json={"id": "crm", "url": "https://example.com/hook"},
                headers={"x-api-key": API_KEY}))
            pid = daemon.proc.pid
            await until(lambda: _waits_for_a_fifo_reader(pid), within=10)
            daemon.send(signal.SIGKILL)
            assert await daemon.wait(10) == -signal.SIGKILL
            adding.cancel()
    finally:
        await daemon.stop()
    assert config.read_text() == before  # the config itself is whole
    again = ServeProcess(config, port, name="again")
    await again.start()
    try:
        await again.healthy()
    finally:
        await again.stop()
    assert sorted(name for name in os.listdir(tmp_path) if name.startswith(".config.yaml")) == []


def _waits_for_a_fifo_reader(pid: int) -> bool:
    """One of the process's threads is blocked opening a FIFO for writing (the kernel's wchan says so)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "wchan").read_text().strip() == "wait_for_partner":
                return True
        except OSError:
            continue
    return False
