"""SIGTERM stops the daemon with exit 0 within DESIGN §2's 10 seconds, even in the awkward cases."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.support.process import child_env, free_port

KEY = "serve-stops-test-key-0123"


def web_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"server: {{host: 127.0.0.1, port: {port}, api_key: {KEY}}}\nstorage: {{path: ./data/events.db}}\n"
        "accounts:\n  - id: personal\n    type: whatsmeow\n    session_path: ./sessions/personal.db\nhooks: []\n")
    return path


async def test_sigterm_exits_although_a_session_thread_never_returns(tmp_path: Path) -> None:
    """A neonize Go call that never returns must not hold the stop: the thread is left behind, with a warning."""
    port = free_port()
    config = web_config(tmp_path, port)
    with (tmp_path / "serve.err").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.stuck_web_serve", str(config), cwd=tmp_path, env=child_env(),
            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 20
            while not (await _healthy(http, port) and (tmp_path / "sessions" / "connect.hanging").exists()):
                assert process.returncode is None, (tmp_path / "serve.err").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.err").read_text()
                await asyncio.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                code = await process.wait()
        except TimeoutError:
            raise AssertionError("SIGTERM did not stop the daemon within 10 s:\n"
                                 + (tmp_path / "serve.err").read_text()) from None
        output = (tmp_path / "serve.err").read_text()
        assert code == 0, output
        assert time.monotonic() - started < 10
        assert "whatshooked stopped" in output
        (warning,) = [line for line in output.splitlines() if "never returned" in line]
        assert "WARNING" in warning and "whatshooked-io" in warning, warning
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _healthy(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/health") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@contextlib.asynccontextmanager
async def starting_serve(tmp_path: Path, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """`whatshooked serve` with a whatsmeow account, yielded once its store has begun to open: still starting
    up (the WhatsApp Web backend, whose import takes a good part of a second, loads after that)."""
    config = web_config(tmp_path, port)
    with (tmp_path / "serve.err").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whatshooked", "serve", "-c", str(config), cwd=tmp_path, env=child_env(),
            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "data" / "events.db").exists():  # Store.open has begun
            assert process.returncode is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.err").read_text()
            await asyncio.sleep(0.005)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stopped_output(tmp_path: Path, process: asyncio.subprocess.Process) -> str:
    """SIGTERM, then the exit must be 0 within DESIGN §2's 10 s; returns what the daemon printed."""
    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        code = await process.wait()
    output = (tmp_path / "serve.err").read_text()
    assert code == 0, output
    return output


async def test_sigterm_while_starting_up_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGTERM while starting: what was opened is closed, exit 0. It may land before the API listens (then
    it never does) or once it listens while the WhatsApp Web backend still loads (test_web_start_background)."""
    async with starting_serve(tmp_path, free_port()) as process:
        output = await stopped_output(tmp_path, process)
        before = "stopped while starting up" in output and "API listening" not in output
        assert before or ("API listening" in output and "whatshooked stopped" in output), output


async def test_sighup_while_starting_up_is_a_reload_once_serving(tmp_path: Path) -> None:
    """A SIGHUP that arrives before the daemon listens neither kills it (the default action) nor is lost:
    the reload runs once the daemon serves, and the hook added to the file meanwhile is served."""
    port = free_port()
    async with starting_serve(tmp_path, port) as process:
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text().replace("hooks: []", "hooks:\n  - {id: late, url: http://127.0.0.1:9/}"))
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession(headers={"x-api-key": KEY}) as http:
            while True:
                assert process.returncode is None, (tmp_path / "serve.err").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.err").read_text()
                try:
                    async with http.get(f"http://127.0.0.1:{port}/api/hooks") as response:
                        if [hook["id"] for hook in await response.json()] == ["late"]:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.02)
        output = await stopped_output(tmp_path, process)
        assert "SIGHUP: reloading" in output, output
