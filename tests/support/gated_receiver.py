"""A hook receiver on 127.0.0.1 that holds chosen answers until the test opens their gate.

Arrivals are recorded the moment a request comes in (before any answer), so a test can assert the
order requests reached the hook, and what had arrived while an answer was held. No sleeps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


class GatedReceiver:
    def __init__(self, hold: Callable[[dict[str, Any], int], bool]) -> None:
        """`hold(event, n)`: whether the n-th request (from 0), carrying `event`, waits for `gate`."""
        self.hold = hold
        self.gate = asyncio.Event()
        self.arrived: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answer statuses to give, in order (then 200)
        self.url = ""
        self._changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        index = len(self.arrived)
        self.arrived.append(event)
        self._changed.set()
        if self.hold(event, index):
            await self.gate.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    def texts(self) -> list[str]:
        return [event["data"].get("text") for event in self.arrived]

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.arrived) < count:
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def gated(hold: Callable[[dict[str, Any], int], bool]) -> AsyncIterator[GatedReceiver]:
    receiver = GatedReceiver(hold)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        receiver.gate.set()  # held answers finish, so the server stops at once
        await runner.cleanup()
