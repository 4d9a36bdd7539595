"""API credentials: `x-api-key`, `Authorization: Bearer` or HTTP Basic, compared in constant time.

With neither `server.api_key` nor `server.username` configured the API stays locked (every `/api`
request gets 401 saying what to set): secure by default. `whatshooked init` always writes a key.
So that a browser can open the QR page with only an API key configured, Basic also accepts the API
key as the password (any user name), and a 401 always offers Basic.
"""

from __future__ import annotations

import base64
import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from whatshooked.api.keys import SETTINGS
from whatshooked.config.model import ServerConfig

log = logging.getLogger(__name__)

NO_CREDENTIALS = "no API credentials are configured: set server.api_key (or server.username and server.password)"
_PUBLIC_ATTR = "__whatshooked_public__"

def public(handler: Handler) -> Handler:
    """Mark a handler under /api that decides access itself (e.g. signed media links)."""
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def _same(given: str, expected: str) -> bool:
    # surrogateescape: aiohttp keeps a header's non-UTF-8 bytes as lone surrogates; they must compare, not raise.
    return bool(expected) and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def is_authorized(request: web.Request, server: ServerConfig) -> bool:
    api_key = server.api_key.reveal()
    given = request.headers.get("x-api-key")
    if given is not None and _same(given, api_key):
        return True
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return _same(value, api_key)
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 inside
            return False
        # Every comparison made every time, so timing does not tell which one was wrong.
        user_ok = _same(user, server.username)
        password_ok = _same(password, server.password.reveal())
        key_ok = _same(password, api_key)
        return bool(sep) and ((user_ok and password_ok) or key_ok)
    return False


def unauthorized(server: ServerConfig) -> web.Response:
    configured = bool(server.api_key or server.username)
    headers = {"WWW-Authenticate": 'Basic realm="whatshooked"'} if configured else {}
    text = "unauthorized" if configured else f"unauthorized: {NO_CREDENTIALS}"
    return web.Response(status=401, text=text, headers=headers)


PROTECTED = ("/api", "/docs", "/dashboard")
"""Path roots behind the API's credentials (the docs and the dashboard too: the browser asks once)."""


def needs_auth(request: web.Request) -> bool:
    path = request.path
    if path != "/" and not any(path == root or path.startswith(root + "/") for root in PROTECTED):
        return False
    handler = request.match_info.handler
    return not getattr(handler, _PUBLIC_ATTR, False)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if needs_auth(request):
        server = request.app[SETTINGS].config.server
        if not is_authorized(request, server):
            return unauthorized(server)
    return await handler(request)
