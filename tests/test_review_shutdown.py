"""The SIGTERM budget (DESIGN §2: exit within 10 s) holds with a request that never ends."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web

from whatshooked.accounts.manager import DISCONNECT_TIMEOUT
from whatshooked.service.daemon import DELIVERY_GRACE, REQUESTS_GRACE, STOP_BUDGET, THREADS_GRACE

REST = 1.0
"""What the stop needs besides the API, accounts and deliveries (store, HTTP client, media, notifier)."""


async def test_api_shutdown_accounts_and_deliveries_fit_the_stop_budget() -> None:
    """aiohttp waits `shutdown_timeout` for a handler, then again after asking it to stop: count both."""
    started = asyncio.Event()

    async def hangs(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(3600)
        return web.Response()

    app = web.Application()
    app.router.add_get("/hang", hangs)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=REQUESTS_GRACE, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        request = asyncio.ensure_future(http.get(f"http://127.0.0.1:{port}/hang"))
        await started.wait()
        began = time.monotonic()
        await runner.cleanup()
        api = time.monotonic() - began
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
    assert api + DISCONNECT_TIMEOUT + DELIVERY_GRACE + REST + THREADS_GRACE <= STOP_BUDGET, api
