"""The `/api/cache*` operations: undelivered events kept in the store, listed and replayed one by one
(replaying many, `POST /api/cache/replay`, is replays.py).

With `message_cache.enabled: false` the store keeps nothing (not `persistent`): every operation
answers 503, except stats, which answers `enabled: false`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.keys import DISPATCHER, STORE
from whatshooked.errors import RequestError
from whatshooked.events import Event

if TYPE_CHECKING:
    from whatshooked.store.base import Store

DISABLED = "message cache is not enabled (message_cache.enabled is false in the config)"


def cached_json(event: Event) -> dict[str, Any]:
    return {"id": event.id, "timestamp": event.timestamp, "event": event.to_dict()}


def _store(request: web.Request) -> Store:
    store = request.app[STORE]
    if not store.persistent:
        raise RequestError(DISABLED, status=503)
    return store


async def _event(store: Store, event_id: str) -> Event:
    event = await store.get_event(event_id)
    if event is None:
        raise RequestError(f"event {event_id!r} not found in the cache", status=404)
    return event


async def list_events(request: web.Request) -> web.Response:
    event_type = request.query.get("event_type") or None
    store = _store(request)
    events = await store.list_undelivered(event_type=event_type)
    return web.json_response({"cached_events": [cached_json(e) for e in events], "count": len(events)})


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
    store = _store(request)
    return web.json_response(cached_json(await _event(store, bodies.query_id(request))))


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
