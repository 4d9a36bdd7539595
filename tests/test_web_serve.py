"""`python -m whatshooked serve` with a real WhatsApp Web account on this machine, which has no network.

The real neonize Go library runs: every attempt fails to dial, the daemon stays up, the account
says why and when it will retry (with a growing delay), the API keeps answering, and SIGTERM still
stops everything within DESIGN §2's 10 seconds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.harness import until
from tests.support.process import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY = "serve-test-key-0123456789"


async def test_offline_whatsapp_web_account_keeps_the_daemon_up(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {KEY}\n"
        f"storage:\n  path: {tmp_path}/data/events.db\nmedia:\n  dir: {tmp_path}/data/media\n"
        f"accounts:\n  - id: personal\n    type: whatsmeow\n    session_path: {tmp_path}/sessions/personal.db\n"
        f"    show_qr: true\nhooks: []\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "serve.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whatshooked", "serve", "-c", str(config), cwd=tmp_path, env=env,
            stdout=log, stderr=log)
    errors: list[str] = []
    try:
        async with aiohttp.ClientSession(headers={"x-api-key": KEY}) as http:
            async def status() -> dict[str, Any] | None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/api/accounts/status") as response:
                        assert response.status == 200
                        (account,) = await response.json()
                except aiohttp.ClientConnectionError:
                    return None
                error = account["last_error"] or ""
                if error and error not in errors:
                    errors.append(error)
                return account

            async def attempts(count: int) -> bool:
                account = await status()
                assert process.returncode is None, "the daemon died"
                return account is not None and f"(attempt {count})" in (account["last_error"] or "")

            await until(lambda: attempts(1), within=30)
            account = await status()
            assert account is not None and account["state"] in ("connecting", "disconnected")
            assert "dial" in account["last_error"] or "no such host" in account["last_error"]
            await until(lambda: attempts(3), within=30)
            async with http.get(f"http://127.0.0.1:{port}/health") as response:
                assert response.status == 200
        delays = [int(m.group(1)) for e in errors if (m := re.search(r"retrying in (\d+)s \(attempt", e))]
        assert len(delays) >= 3 and delays[0] < delays[1] < delays[2], errors
        assert (tmp_path / "sessions" / "personal.db").stat().st_mode & 0o777 == 0o600
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            code = await process.wait()
        assert code == 0 and time.monotonic() - started < 10
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
