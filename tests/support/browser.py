"""A real headless Chromium driven through its DevTools HTTP endpoint (no CDP library needed).

`async with chromium(profile) as browser:` starts it; `await browser.open(url)` opens a tab in the
same profile, so what one tab's page leaves in the browser (cached HTTP Basic credentials, cookies)
is there for the next, as in the operator's own browser.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.support.harness import until

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Browser:
    devtools: str  # http://127.0.0.1:PORT

    async def open(self, url: str) -> None:
        async with aiohttp.ClientSession() as http, http.put(f"{self.devtools}/json/new?{url}") as response:
            assert response.status == 200, await response.text()


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Browser]:
    """Chromium with its profile in `profile` (a new folder: Chromium makes it)."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
        "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        await until(lambda: port_file.exists() and port_file.read_text().count("\n") >= 1, within=60)
        yield Browser(f"http://127.0.0.1:{port_file.read_text().splitlines()[0]}")
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
