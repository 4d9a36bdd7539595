"""A store that is deleted, replaced or cannot be written under a running daemon (issue 8, item 2).

Nothing is acknowledged that was not committed to the file at `storage.path`: webhooks answer 503
(Meta redelivers), API sends are refused, `/health` answers 503 naming the reason, and the log says
what to do. A real `whatshooked serve` child; the file is deleted for real, and "disk full" is a real
write error: the child's file-size limit (RLIMIT_FSIZE) is lowered under it, as a full disk would.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.cloud_serve import PHONE_NUMBER_ID
from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from tests.support.process import ServeProcess, child_env, free_port
from tests.support.receiver import HookReceiver
from tests.test_crash import config_text, payload

AUTH = {"x-api-key": "crash-test-api-key"}
WEBHOOK = "/webhooks/whatsapp/shop"


async def post(http: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, str]:
    async with http.post(url + WEBHOOK, data=body, headers={"Content-Type": "application/json"}) as response:
        return response.status, await response.text()


async def health(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/health") as response:
        return response.status, await response.json()


async def send_text(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.post(url + "/api/send", json={"account_id": "shop", "to": "+15551234567", "text": "hi"},
                         headers=AUTH) as response:
        return response.status, await response.text()


@pytest.fixture
async def graph() -> AsyncIterator[GraphStandin]:
    standin = GraphStandin("test-token")
    await standin.start()
    yield standin
    await standin.close()


def texts(receiver: HookReceiver) -> list[str]:
    return [r.json()["data"].get("text") for r in receiver.requests]


@pytest.mark.parametrize("how", ["deleted", "deleted with its -wal and -shm", "replaced"])
async def test_a_store_deleted_or_replaced_under_the_daemon_acknowledges_nothing_more(
    tmp_path: Path, graph: GraphStandin, receiver: HookReceiver, how: str
) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, port, graph.url, receiver.url))
    db = tmp_path / "state.db"
    daemon = ServeProcess(config, port)
    await daemon.start()
    try:
        await daemon.healthy()
        async with aiohttp.ClientSession() as http:
            assert await post(http, daemon.url, payload(1)) == (200, "ok")
            await receiver.wait_for(1)
            if how == "replaced":
                other = tmp_path / "other.db"
                sqlite3.connect(other).close()
                other.replace(db)
            else:
                os.unlink(db)
                if "wal" in how:
                    os.unlink(f"{db}-wal")
                    os.unlink(f"{db}-shm")
            # the webhook path is public: 503 so Meta redelivers, without the file's name
            assert await post(http, daemon.url, payload(2)) == (503, "events cannot be stored now; retry later")
            status, body = await health(http, daemon.url)
            assert status == 503
            assert body["status"] == "unhealthy" and str(db) in body["reason"] and "storage.path" in body["reason"]
            status, text = await send_text(http, daemon.url)
            assert status == 503 and "storage.path" in text
            assert graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages") == []  # refused before sending
        await until(lambda: "ERROR" in daemon.output() and "storage.path" in daemon.output())
        error = next(line for line in daemon.output().splitlines() if "ERROR" in line and "storage.path" in line)
        assert str(db) in error and "restart" in error
        assert "Traceback" not in daemon.output()
        daemon.send(signal.SIGTERM)
        assert await daemon.wait(15) == 0
        # After a restart Meta redelivers what was refused; it reaches the hook.
        again = ServeProcess(config, port, name="again")
        await again.start()
        try:
            await again.healthy()
            async with aiohttp.ClientSession() as http:
                assert await post(http, again.url, payload(2)) == (200, "ok")
                await until(lambda: "message 2" in texts(receiver))
        finally:
            await again.stop()
    finally:
        await daemon.stop()
    assert texts(receiver).count("message 2") == 1


class PipedServe:
    """`whatshooked serve` with its log read from a pipe (a pipe has no file-size limit, a log file would)."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PipedServe:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whatshooked", "serve", "-c", str(self.config), cwd=self.config.parent,
            env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        async with aiohttp.ClientSession() as http:
            async def up() -> bool:
                try:
                    return (await health(http, self.url))[0] == 200
                except aiohttp.ClientError:
                    return False
            await until(up, within=20)
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace"))

    def limit_file_size(self, size: int) -> None:
        assert self.proc is not None
        hard = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (size, hard))

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader


async def test_a_store_that_cannot_be_written_answers_503_and_recovers_by_itself(
    tmp_path: Path, graph: GraphStandin, receiver: HookReceiver
) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(config_text(tmp_path, port, graph.url, receiver.url))
    async with PipedServe(config, port) as daemon, aiohttp.ClientSession() as http:
        assert await post(http, daemon.url, payload(1)) == (200, "ok")
        await receiver.wait_for(1)
        daemon.limit_file_size(1)  # every write past the first byte of a file fails: a full disk
        assert await post(http, daemon.url, payload(2)) == (503, "events cannot be stored now; retry later")
        status, body = await health(http, daemon.url)
        assert status == 503 and "storage.path" in body["reason"]
        status, text = await send_text(http, daemon.url)
        assert status == 503, text
        await until(lambda: any("ERROR" in line and "storage.path" in line for line in daemon.lines))
        daemon.limit_file_size(resource.RLIM_INFINITY)  # space again

        async def healthy_again() -> bool:
            return (await health(http, daemon.url))[0] == 200

        await until(healthy_again, within=10)  # /health finds out by itself (a probe write)
        assert await post(http, daemon.url, payload(2)) == (200, "ok")  # Meta's redelivery
        await until(lambda: "message 2" in texts(receiver))
    assert not any("Traceback" in line for line in daemon.lines)
    assert sum("ERROR" in line for line in daemon.lines) == 1  # said once, not per request
    assert any("can be written again" in line for line in daemon.lines)
