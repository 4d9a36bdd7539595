"""`GET /docs`: interactive docs of `/api/openapi.json` (DESIGN §8.3), served from the package.

Swagger UI comes from the `swagger-ui-bundle-v2` package (its files, not a CDN: the page works
offline); our own page and start-up script live in `api/docs/`. Same credentials as the API (the
browser asks once, then the page's own requests to /api carry them), and a CSP that allows nothing
but this origin.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

OURS = Path(__file__).resolve().parent.parent / "docs"
"""The package's own files: a plain folder (importlib.resources would load zipfile and more for nothing)."""
BUNDLE_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
OWN_FILES = {"init.js": "text/javascript"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def bundle_path() -> Path:
    import swagger_ui_bundle  # only when the docs are asked for

    return Path(str(swagger_ui_bundle.swagger_ui_path))


async def index(request: web.Request) -> web.Response:
    page = (OURS / "index.html").read_bytes()
    return web.Response(body=page, content_type="text/html", charset="utf-8",
                        headers={**HEADERS, "Cache-Control": "no-cache"})


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name in OWN_FILES:
        return web.Response(body=(OURS / name).read_bytes(), content_type=OWN_FILES[name],
                            headers={**HEADERS, "Cache-Control": "no-cache"})
    if name not in BUNDLE_FILES:
        raise web.HTTPNotFound(text="not found")
    return web.FileResponse(bundle_path() / name, headers={
        **HEADERS, "Content-Type": BUNDLE_FILES[name], "Cache-Control": "public, max-age=86400"})


def setup(app: web.Application) -> None:
    app.router.add_get("/docs", index)
    app.router.add_get("/docs/{name}", asset)
