"""`POST /api/cache/replay` with filters, as a job; `GET /api/replays/{job_id}` for its progress (DESIGN §8.3).

Filters come in the query or the JSON body: `event_type` (a type or `message.*`), `account_id`,
`hook_id` (only to that hook), `since` / `until` (ISO 8601, UTC: the event's timestamp, `since`
included, `until` not), and `wait` (default true: answer with the totals once done; false: 202
`{job_id}` at once). An unknown filter or a bad value is a 400 naming it, never ignored.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.keys import DISPATCHER, SETTINGS, STORE
from whatshooked.api.routes.cache import DISABLED
from whatshooked.delivery.replay_filter import ReplayFilter
from whatshooked.errors import RequestError

FIELDS = frozenset({"event_type", "account_id", "hook_id", "since", "until", "wait"})


async def _fields(request: web.Request) -> dict[str, Any]:
    """The query's and the body's fields together; each given once."""
    body = await bodies.read_json(request, optional=True)
    query = dict(request.query)
    bodies.known_only(query, FIELDS, "a replay")
    bodies.known_only(body, FIELDS, "a replay")
    for name in sorted(set(query) & set(body)):
        raise RequestError(f"field '{name}' is given both in the query and in the body: give it once")
    return {**query, **body}


def _text(fields: dict[str, Any], name: str) -> str | None:
    if name not in fields:
        return None
    value = fields[name]
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"field '{name}' must be a non-empty string")
    return value.strip()


def _time(fields: dict[str, Any], name: str) -> datetime | None:
    value = _text(fields, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RequestError(f"field '{name}' must be an ISO 8601 time in UTC like 2026-12-01T10:00:00Z, "
                           f"not {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _wait(fields: dict[str, Any]) -> bool:
    value = fields.get("wait", True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise RequestError("field 'wait' must be true or false")


def replay_filter(request: web.Request, fields: dict[str, Any]) -> ReplayFilter:
    hook_id = _text(fields, "hook_id")
    if hook_id is not None and hook_id not in {hook.id for hook in request.app[SETTINGS].config.hooks}:
        raise RequestError(f"field 'hook_id': no hook {hook_id!r} is configured")
    since, until = _time(fields, "since"), _time(fields, "until")
    if since is not None and until is not None and until <= since:
        raise RequestError("field 'until' must be after 'since'")
    return ReplayFilter(_text(fields, "event_type"), _text(fields, "account_id"), hook_id, since, until)


async def replay(request: web.Request) -> web.Response:
    if not request.app[STORE].persistent:
        raise RequestError(DISABLED, status=503)
    fields = await _fields(request)
    wanted, wait = replay_filter(request, fields), _wait(fields)
    job = request.app[DISPATCHER].replays.start(wanted)
    if not wait:
        return web.json_response({"job_id": job.id}, status=202)
    assert job.task is not None
    result = await asyncio.shield(job.task)  # a client that goes away leaves the job running
    return web.json_response({
        "success": True, "replayed": result.replayed, "delivered": result.delivered,
        "failed": result.failed, "remaining_cached": result.remaining_cached,
    })


async def replay_job(request: web.Request) -> web.Response:
    job = request.app[DISPATCHER].replays.get(request.match_info["job_id"])
    if job is None:
        raise RequestError(f"replay job {request.match_info['job_id']!r} not found (finished jobs are kept for "
                           "the last 100)", status=404)
    return web.json_response(job.to_json())


def setup(app: web.Application) -> None:
    app.router.add_post("/api/cache/replay", replay)
    app.router.add_get("/api/replays/{job_id}", replay_job)
