"""Review of issue 14's lazily moved deadline timer: a client that leaves while its handler runs."""

from __future__ import annotations

import asyncio
import socket

import uvloop
from aiohttp import web

from tests.support.harness import until
from whatshooked.api.connections import CONNECTIONS, ConnectionGuard, GuardedProtocol, GuardedSite, guard_middleware


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _left_mid_handler() -> tuple[GuardedProtocol, ConnectionGuard]:
    """A request whose client closes its socket while the handler still runs; then the handler ends."""
    go_on, finished = asyncio.Event(), asyncio.Event()
    seen: list[GuardedProtocol] = []
    guard = ConnectionGuard(30.0, 100)

    async def slow(request: web.Request) -> web.Response:
        conn = guard.of(request.protocol)
        assert conn is not None
        seen.append(conn)
        try:
            await go_on.wait()
        finally:
            finished.set()
        return web.Response(text="ok")

    app = web.Application(middlewares=[guard_middleware])
    app[CONNECTIONS] = guard
    app.router.add_get("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _port()
    try:
        await GuardedSite(runner, "127.0.0.1", port, guard).start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await until(lambda: bool(seen))
        writer.close()
        await until(lambda: not guard._open)  # connection_lost has run
        go_on.set()
        await finished.wait()
        await asyncio.sleep(0)  # the middleware's `finally` (conn.finished) runs right after the handler
        return seen[0], guard
    finally:
        await runner.cleanup()


def test_no_deadline_is_armed_after_the_connection_is_gone() -> None:
    """Else, request_timeout later, the timer 'cuts' the closed connection: a warning counting a cut that
    never was, a forced gc.collect, and on uvloop (serve's default) an ERROR traceback from writing the 408
    to the closed transport (RuntimeError: unable to perform operation ... the handler is closed)."""
    for run in (asyncio.run, uvloop.run):
        conn, _guard = run(_left_mid_handler())
        assert conn._timer is None, run
