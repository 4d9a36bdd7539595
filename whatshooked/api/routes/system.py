"""`GET /health`: answers without credentials, for load balancers and `systemctl` checks.

503 naming the reason when the store cannot take writes (DESIGN §8.3; store/sqlite/guard.py).
"""

from __future__ import annotations

from aiohttp import web

from whatshooked.api.keys import STORE


async def health(request: web.Request) -> web.Response:
    reason = request.app[STORE].check()
    if reason is not None:
        return web.json_response({"status": "unhealthy", "reason": reason}, status=503)
    return web.json_response({"status": "healthy"})


def setup(app: web.Application) -> None:
    app.router.add_get("/health", health)
