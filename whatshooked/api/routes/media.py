"""`GET /api/media/{id}`: received media, for a hook receiver holding a signed link or for API users.

The handler is marked `public` so the auth middleware lets it decide: a `sig` this daemon issued
is enough, otherwise the usual API credentials are needed. Expiry is checked against the stored
file, so a link past `media.ttl` gets 404 (not 401).

What is served was chosen by whoever sent the message, so it must never run as this origin (where
a browser may hold Basic credentials for the API): only plain image/audio/video types are shown
inline, everything else is an attachment, with `nosniff` and a sandboxing CSP on every answer.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from whatshooked.api.auth import is_authorized, public, unauthorized
from whatshooked.api.keys import MEDIA, SETTINGS

log = logging.getLogger(__name__)

MEDIA_PATH = re.compile(r"^/api/media/([0-9a-f]{32})$")
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
MIME_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\x00-\x1f]*\"))*$")
INLINE_PREFIXES = ("image/", "audio/", "video/")
NOT_INLINE = frozenset({"image/svg+xml"})  # an SVG is a document that can run scripts


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
    gone = web.Response(status=404, text="no such media (links last media.ttl; it may have expired)")
    if is_signed_media_request(request):
        if request.app[MEDIA].link_expired(request.query["expires"]):
            return gone
    else:
        server = request.app[SETTINGS].config.server
        if not is_authorized(request, server):
            return unauthorized(server)
    stored = request.app[MEDIA].open(request.match_info["id"])
    if stored is None:
        return gone
    return web.FileResponse(stored.path, headers=media_headers(stored.mime_type, stored.filename))


def media_headers(mime_type: str, filename: str | None) -> dict[str, str]:
    """Headers that serve a sender-chosen file without letting it act as a page of this origin."""
    mime = mime_type.strip() if MIME_TYPE.match(mime_type.strip()) else "application/octet-stream"
    essence = mime.split(";")[0].strip().lower()
    inline = essence.startswith(INLINE_PREFIXES) and essence not in NOT_INLINE
    disposition = "inline" if inline else "attachment"
    if filename:
        safe = "".join(c for c in filename if c.isprintable() and c not in '"\\')
        disposition += f'; filename="{safe}"'
    return {
        "Content-Type": mime, "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, max-age=300",
    }


def setup(app: web.Application) -> None:
    app.router.add_get("/api/media/{id}", get_media)
