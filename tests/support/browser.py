"""A real headless Chromium driven through its DevTools HTTP endpoint (no CDP library needed).

`async with chromium(profile) as browser:` starts it; `await browser.open(url)` opens a tab in the
same profile, so what one tab's page leaves in the browser (cached HTTP Basic credentials, cookies)
is there for the next, as in the operator's own browser.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.harness import until

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Browser:
    devtools: str  # http://127.0.0.1:PORT

    async def open(self, url: str) -> None:
        async with aiohttp.ClientSession() as http, http.put(f"{self.devtools}/json/new?{url}") as response:
            assert response.status == 200, await response.text()

    async def measure(self, url: str, expression: str, width: int, height: int = 844) -> Any:
        """Open `url` in a new tab emulating a phone `width` CSS pixels wide (DevTools protocol), wait for it
        to load, and give back what `expression` evaluates to in the page."""
        value, _ = await self.render(url, expression, width, height, screenshot=False)
        return value

    async def render(self, url: str, expression: str, width: int, height: int = 844,
                     screenshot: bool = True) -> tuple[Any, bytes]:
        """Like `measure`, and also a PNG screenshot of the page as it is after `expression`."""
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{self.devtools}/json/new?about:blank") as response:
                tab = await response.json()
            async with http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1000))

                async def call(method: str, **params: Any) -> Any:
                    number = next(ids)
                    await ws.send_json({"id": number, "method": method, "params": params})
                    async for message in ws:
                        answer = message.json()
                        if answer.get("id") == number:
                            assert "error" not in answer, answer
                            return answer.get("result")
                    raise AssertionError("DevTools closed the connection")

                await call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=3,
                           mobile=True)
                await call("Page.navigate", url=url)
                await until(lambda: self._loaded(call), within=30)
                result = await call("Runtime.evaluate", expression=expression, returnByValue=True,
                                    awaitPromise=True)
                png = b""
                if screenshot:
                    shot = await call("Page.captureScreenshot", format="png")
                    png = base64.b64decode(shot["data"])
                return result["result"].get("value"), png

    @staticmethod
    async def _loaded(call: Any) -> bool:
        state = await call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
        return bool(state["result"].get("value") == "complete")


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
