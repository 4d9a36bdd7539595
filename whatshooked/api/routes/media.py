"""`GET /api/media/{id}`: received media, for a hook receiver holding a signed link or for API users.

The handler is marked `public` so the auth middleware lets it decide: a `sig` this daemon issued
is enough, otherwise the usual API credentials are needed. Expiry is checked against the stored
file, so a link past `media.ttl` gets 404 (not 401).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from whatshooked.api.auth import is_authorized, public, unauthorized
from whatshooked.api.keys import MEDIA, SETTINGS

log = logging.getLogger(__name__)

MEDIA_PATH = re.compile(r"^/api/media/([0-9a-f]{32})$")


def is_signed_media_request(request: web.Request) -> bool:
    """True for `GET /api/media/{id}?expires=…&sig=…` with a signature this daemon made."""
    if request.method not in ("GET", "HEAD"):
        return False
    match = MEDIA_PATH.match(request.path)
    store = request.app.get(MEDIA)
    if match is None or store is None:
        return False
    return store.verify(match.group(1), request.query.get("expires"), request.query.get("sig"))


@public
async def get_media(request: web.Request) -> web.StreamResponse:
    if not is_signed_media_request(request):
        server = request.app[SETTINGS].config.server
        if not is_authorized(request, server):
            return unauthorized(server)
    stored = request.app[MEDIA].open(request.match_info["id"])
    if stored is None:
        return web.Response(status=404, text="no such media (links last media.ttl; it may have expired)")
    headers = {"Content-Type": stored.mime_type, "Cache-Control": "private, max-age=300"}
    if stored.filename:
        safe = stored.filename.replace('"', "").replace("\\", "")
        headers["Content-Disposition"] = f'inline; filename="{safe}"'
    return web.FileResponse(stored.path, headers=headers)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/media/{id}", get_media)
