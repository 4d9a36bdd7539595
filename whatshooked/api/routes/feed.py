"""`GET /api/events`: the feed, every kept event in `seq` order, so a receiver can find and fill gaps.

A receiver remembers the highest `seq` it has handled and asks for `after=<that seq>` (0 at first):
whatever it missed while it was down comes back in order, delivered events included while
`message_cache.keep_delivered` keeps them. It does not depend on retries having worked. Pages go on
with `after=<next_after>` while `more` is true.
"""

from __future__ import annotations

from aiohttp import web

from whatshooked.api.keys import STORE
from whatshooked.api.query import Query
from whatshooked.errors import RequestError

PATH = "/api/events"
PARAMETERS = ("after", "limit", "type", "account_id")
DISABLED = "the feed needs the message cache (message_cache.enabled is false in the config)"


async def list_feed(request: web.Request) -> web.Response:
    query = Query(request, PARAMETERS)
    after, limit = query.integer("after", 0, 0), query.limit()
    event_type, account_id = query.text("type"), query.ident("account_id")
    store = request.app[STORE]
    if not store.persistent:
        raise RequestError(DISABLED, status=503)
    page = await store.events_after(after, limit + 1, event_type, account_id)
    more, page = len(page) > limit, page[:limit]
    return web.json_response({
        "events": [event.to_dict() for _, event, _ in page],
        "count": len(page),
        "next_after": page[-1][0] if page else after,
        "more": more,
    })


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, list_feed)
