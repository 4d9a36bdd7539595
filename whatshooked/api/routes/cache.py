"""The `/api/cache*` operations: undelivered events kept in the store, listed and replayed one by one
(replaying many, `POST /api/cache/replay`, is replays.py).

With `message_cache.enabled: false` the store keeps nothing (not `persistent`): every operation
answers 503, except stats, which answers `enabled: false`. The list comes in pages (`limit`, `after`
= the last id of the page before: `next_after`), filtered, each event with what every hook still owes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.delivery_json import attempt_json, delivery_json
from whatshooked.api.keys import DISPATCHER, SETTINGS, STORE
from whatshooked.api.query import Query
from whatshooked.errors import RequestError
from whatshooked.events import Event
from whatshooked.store.base import CacheQuery, DeliveryRow

if TYPE_CHECKING:
    from whatshooked.store.base import Store

DISABLED = "message cache is not enabled (message_cache.enabled is false in the config)"


LIST_PARAMETERS = ("limit", "after", "event_type", "account_id", "hook_id")


def cached_json(event: Event) -> dict[str, Any]:
    return {"id": event.id, "timestamp": event.timestamp, "seq": event.seq, "event": event.to_dict()}


def _store(request: web.Request) -> Store:
    store = request.app[STORE]
    if not store.persistent:
        raise RequestError(DISABLED, status=503)
    return store


async def _event(store: Store, event_id: str, owed: bool = True) -> Event:
    """A kept event; unless `owed` is False, one some hook is still owed (a delivered one is not in the cache)."""
    event = await store.get_event(event_id)
    if event is None or (owed and _delivered((await store.deliveries_for([event_id]))[event_id])):
        raise RequestError(f"event {event_id!r} not found in the cache", status=404)
    return event


def _delivered(rows: list[DeliveryRow]) -> bool:
    """Every hook it was meant for has it (an event no hook matched stays in the cache)."""
    return bool(rows) and all(row.state == "delivered" for row in rows)


async def list_events(request: web.Request) -> web.Response:
    query = Query(request, LIST_PARAMETERS)
    store = _store(request)
    limit, after = query.limit(), query.text("after")
    filters = CacheQuery(query.text("event_type"), query.ident("account_id"), query.ident("hook_id"))
    if filters.hook_id is not None and filters.hook_id not in {hook.id for hook in request.app[SETTINGS].config.hooks} \
            and filters.hook_id not in await store.owed_by_hook():
        raise RequestError(f"hook_id: no hook {filters.hook_id!r} is configured or owed anything")
    position = 0 if after is None else (await store.seq_of(after) or 0)
    page = await store.cached_after(position, limit + 1, filters)
    more, page = len(page) > limit, page[:limit]
    rows = await store.deliveries_for([event.id for _, event, _ in page])
    entries = [{**cached_json(event), "deliveries": [delivery_json(row) for row in rows[event.id]]}
               for _, event, _ in page]
    return web.json_response({
        "cached_events": entries, "count": len(entries), "limit": limit,
        "next_after": page[-1][1].id if more else None,
    })


async def clear(request: web.Request) -> web.Response:
    store = _store(request)
    if request.query.get("confirm", "").lower() != "true":
        raise RequestError("add confirm=true to the query to clear every cached event")
    cleared = await store.clear()
    return web.json_response({"success": True, "cleared": cleared, "message": f"cleared {cleared} cached event(s)"})


async def stats(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if not store.persistent:
        return web.json_response({"enabled": False, "total_count": 0, "by_event_type": {}})
    total, by_type = await store.stats()
    return web.json_response({"enabled": True, "total_count": total, "by_event_type": by_type})


async def get_event(request: web.Request) -> web.Response:
    """The event with what each hook owes and every attempt made; a delivered one too, while
    `message_cache.keep_delivered` keeps it (then `delivered` is true)."""
    store = _store(request)
    event = await _event(store, bodies.query_id(request), owed=False)
    rows = (await store.deliveries_for([event.id]))[event.id]
    return web.json_response({
        **cached_json(event), "delivered": _delivered(rows), "deliveries": [delivery_json(row) for row in rows],
        "attempts": [attempt_json(attempt) for attempt in await store.attempts_of(event.id)],
    })


async def delete_event(request: web.Request) -> web.Response:
    store = _store(request)
    event_id = bodies.query_id(request)
    if not await store.delete_event(event_id):
        raise RequestError(f"event {event_id!r} not found in the cache", status=404)
    return web.json_response({"success": True, "event_id": event_id, "message": "event deleted from the cache"})


async def replay_event(request: web.Request) -> web.Response:
    store = _store(request)
    body = None if request.query.get("id") else await bodies.read_json(request, optional=True)
    event_id = bodies.query_id(request, body)
    await _event(store, event_id)
    if not await request.app[DISPATCHER].replay_event(event_id):
        raise RequestError(f"replay of event {event_id!r} failed: no hook accepted it; it stays cached", status=500)
    return web.json_response({"success": True, "event_id": event_id, "message": "event replayed"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/cache", list_events)
    app.router.add_delete("/api/cache", clear)
    app.router.add_get("/api/cache/stats", stats)
    app.router.add_get("/api/cache/event", get_event)
    app.router.add_delete("/api/cache/event", delete_event)
    app.router.add_post("/api/cache/event/replay", replay_event)
