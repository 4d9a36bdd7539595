"""Browser safety (DESIGN §8.3): another site's page cannot change anything through the operator's browser.

The QR page leaves the operator's Basic credentials cached in the browser, and the browser adds them
to any page's request to the daemon; a `text/plain` or form POST needs no CORS preflight, so such a
page could add a hook or send a message. Browsers say where every POST comes from (`Origin`, and
`Sec-Fetch-Site` in current ones): a state-changing `/api` request from an origin that is neither the
daemon's own (as the request's Host, or `server.public_url`) nor in `server.trusted_origins` gets 403.
curl and scripts send no `Origin` and are not affected.

Trusted origins also get CORS answers (a preflight, `Access-Control-Allow-Origin`), so a dashboard
served from one of them can call the API with `fetch` and a JSON body.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from whatshooked.api.keys import SETTINGS
from whatshooked.config.model import ServerConfig
from whatshooked.config.rules import origin_key

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CORS_HEADERS = "Authorization, Content-Type, X-Api-Key, Idempotency-Key"


def _is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def url_origin(url: str) -> str | None:
    """The origin (`scheme://host:port`) a URL's pages have, whatever its path: `public_url` may be
    `https://example.com/whatshooked` behind a reverse proxy at a sub-path, its pages still come from
    `https://example.com:443`."""
    try:
        parsed = URL(url.strip())
    except ValueError:
        return None
    if not parsed.absolute:
        return None
    return origin_key(str(parsed.origin()))


def own_origins(request: web.Request, server: ServerConfig) -> set[str]:
    own = {origin_key(f"{request.scheme}://{request.host}")}
    if server.public_url:
        own.add(url_origin(server.public_url))
    return {key for key in own if key is not None}


def refusal(request: web.Request, server: ServerConfig) -> str | None:
    """Why this request may not change anything, or None when it may."""
    if request.method in SAFE_METHODS or not _is_api(request):
        return None
    origin = request.headers.get("Origin")
    key = origin_key(origin) if origin is not None else None
    if key is not None and key in server.trusted_origins:
        return None
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return ("cross-site request refused: a page of another site cannot change anything here "
                "(add its origin to server.trusted_origins to allow it)")
    if origin is None or (key is not None and key in own_origins(request, server)):
        return None
    return (f"origin {origin!r} refused: only the daemon's own pages and server.trusted_origins may change "
            "anything here")


def _cors(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers.add("Vary", "Origin")


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = request.app[SETTINGS].config.server
    why = refusal(request, server)
    if why is not None:
        return web.Response(status=403, text=why)  # plain text, like every error of the contract
    origin = request.headers.get("Origin", "")
    if not (origin and _is_api(request) and origin_key(origin) in server.trusted_origins):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        preflight = web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
            "Access-Control-Allow-Headers": _CORS_HEADERS, "Access-Control-Max-Age": "600"})
        _cors(preflight, origin)
        return preflight
    response = await handler(request)
    _cors(response, origin)
    return response
