"""`GET /health`: answers without credentials, for load balancers and `systemctl` checks."""

from __future__ import annotations

from aiohttp import web


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy"})


def setup(app: web.Application) -> None:
    app.router.add_get("/health", health)
