"""A real hook receiver on 127.0.0.1 that records every request and answers as scripted."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer (to provoke timeouts)


class HookReceiver:
    """Scripted replies are used in order, then `default` for every request after them."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.url = ""
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def start(self, path: str = "/hook") -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # events with inline media are megabytes
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{path}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Received(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        self._changed.set()
        reply = self.script.popleft() if self.script else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if isinstance(reply.body, (dict, list)):
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        text = reply.body if reply.body is not None else b""
        data = text.encode() if isinstance(text, str) else text
        return web.Response(body=data, status=reply.status, headers=reply.headers)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:  # noqa: ASYNC109 - a test helper
        """Wait (with a deadline, no fixed sleeps) until at least `count` requests arrived."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.requests[:count]
