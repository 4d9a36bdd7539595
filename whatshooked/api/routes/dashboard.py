"""`GET /`: the operator's dashboard (DESIGN §8.3) — accounts, hooks, the cache per hook, replays.

A static page and script from the package (no CDN, works offline) that read and steer the daemon
through its own `/api` with the credentials the browser already holds: the same Basic prompt as the
QR page and `/docs`. Same origin, so the cross-site rule lets its POSTs through and nobody else's;
the CSP allows nothing but this origin and no framing.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from whatshooked.api.routes.docs import HEADERS

PAGE = Path(__file__).resolve().parent.parent / "dashboard"
FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


async def index(request: web.Request) -> web.Response:
    return web.Response(body=(PAGE / "index.html").read_bytes(), content_type="text/html", charset="utf-8",
                        headers={**HEADERS, "Cache-Control": "no-cache"})


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound(text="not found")
    return web.Response(body=(PAGE / name).read_bytes(), content_type=FILES[name],
                        headers={**HEADERS, "Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/dashboard/{name}", asset)
