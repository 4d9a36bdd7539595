"""`whatshooked serve` and its signals, as systemd drives it: READY/RELOADING/STOPPING, SIGHUP, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp

from tests.support.process import ServeProcess, free_port

API_KEY = "signals-test-api-key"


def config_text(port: int, hooks: str = "[]") -> str:
    return f"server: {{port: {port}, api_key: {API_KEY}}}\nstorage: {{path: ./state.db}}\nhooks: {hooks}\n"


async def hook_ids(url: str) -> list[str]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/hooks", headers={"x-api-key": API_KEY}) as r:
        return [h["id"] for h in await r.json()]


async def test_notify_reload_and_stop(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(port))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.setblocking(False)
    loop = asyncio.get_running_loop()
    child = ServeProcess(path, port, env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})

    async def message() -> str:
        """The next datagram that is not just a STATUS= refresh."""
        async with asyncio.timeout(10):
            while True:
                text = (await loop.sock_recv(notify, 4096)).decode()
                if not text.startswith("STATUS="):
                    return text

    try:
        await child.start()
        ready = await message()
        assert ready.startswith("READY=1\nSTATUS=0/0 accounts connected, 0 events cached"), ready
        assert await hook_ids(child.url) == []  # READY came once the API was listening

        path.write_text(config_text(port, hooks='[{id: added, url: "http://127.0.0.1:9/x"}]'))
        child.send(signal.SIGHUP)
        assert (await message()).startswith("RELOADING=1")
        assert (await message()).startswith("READY=1")
        assert await hook_ids(child.url) == ["added"]  # READY=1 again once the reload was applied

        child.send(signal.SIGTERM)
        assert (await message()).startswith("STOPPING=1")
        assert await child.wait(10) == 0
    finally:
        await child.stop()
        notify.close()
