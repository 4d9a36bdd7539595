"""`/api/hooks/status`, `/api/hooks/test`, `/api/hooks/update` (DESIGN §8.3): see and steer one hook.

An update changes only the fields it sends, written back to the YAML file like `/api/hooks/add`;
`"***"` (how lists show a secret, a URL's password or a credential header) keeps the stored value,
`${VAR}` reference included. `active: false` pauses a hook: its events wait, its state is `paused`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.keys import DISPATCHER, SETTINGS, STORE
from whatshooked.api.routes.hooks import hook_entry, hooks_of
from whatshooked.config.hook_schema import HOOK_KEYS
from whatshooked.config.model import HookConfig
from whatshooked.config.values import MASK, masked_url
from whatshooked.delivery.probe import test_hook
from whatshooked.errors import RequestError
from whatshooked.events import utc_timestamp


def _hook(request: web.Request, hook_id: str) -> HookConfig:
    for hook in request.app[SETTINGS].config.hooks:
        if hook.id == hook_id:
            return hook
    raise RequestError(f"hook {hook_id!r} not found", status=404)


def _when(moment: float | None) -> str | None:
    return None if moment is None else utc_timestamp(moment)


async def hooks_status(request: web.Request) -> web.Response:
    dispatcher, store = request.app[DISPATCHER], request.app[STORE]
    owed = await store.owed() if store.persistent else {}
    now = time.time()
    answer = []
    for hook in request.app[SETTINGS].config.hooks:
        health = dispatcher.health.of(hook.id)
        runner = dispatcher.hooks.get(hook.id)
        pending, oldest = owed.get(hook.id, (len(runner.jobs) if runner is not None else 0, None))
        state = "paused" if not hook.active else "failing" if health.failing_since is not None else "healthy"
        answer.append({
            "id": hook.id, "state": state, "pending": pending,
            "oldest_pending_age_s": None if oldest is None else round(max(now - oldest, 0.0), 3),
            "last_success": _when(health.last_success), "last_failure": _when(health.last_failure),
            "last_error": health.last_error or None, "consecutive_failures": health.consecutive_failures,
        })
    return web.json_response(answer)


async def hooks_test(request: web.Request) -> web.Response:
    body = await bodies.read_json(request)
    bodies.known_only(body, {"id"}, "a hook test")
    hook = _hook(request, bodies.text(body, "id", required=True))
    return web.json_response(await test_hook(request.app[DISPATCHER].lanes, hook))


def _kept(body: dict[str, Any], current: HookConfig) -> set[str]:
    """The fields sent back as listed (masked): they keep what the file has."""
    kept = {name for name in ("secret", "previous_secret") if body.get(name) == MASK}
    url = body.get("url")
    if isinstance(url, str) and MASK in url:
        if url != masked_url(current.url):
            raise RequestError("field 'url' has a masked password (***) but not the stored user and host: "
                               "send the whole URL with its password")
        kept.add("url")
    return kept


def _rotation_context(current: HookConfig, sent: dict[str, Any]) -> dict[str, Any]:
    """What the stored hook adds to a rotation sent without it: `previous_secret` needs a `secret` and a
    `previous_secret_until`, which the update may keep ("***", or not sent). Checked with, never written."""
    context: dict[str, Any] = {}
    if sent.get("previous_secret") in (None, ""):
        return context
    if "secret" not in sent and current.secret:
        context["secret"] = current.secret.reveal()
    if "previous_secret_until" not in sent and current.previous_secret_until is not None:
        until = time.gmtime(current.previous_secret_until)
        context["previous_secret_until"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", until)
    return context


async def hooks_update(request: web.Request) -> web.Response:
    body = await bodies.read_json(request)
    bodies.known_only(body, HOOK_KEYS, "a hook")
    hook_id = bodies.text(body, "id", required=True)
    current = _hook(request, hook_id)
    kept = _kept(body, current)
    sent = {name: value for name, value in body.items() if name not in kept and name != "id"}
    headers = sent.get("headers")
    masked_headers = {name for name, value in headers.items() if value == MASK} if isinstance(headers, dict) else set()
    for name in sorted(masked_headers - set(current.headers)):
        raise RequestError(f"field 'headers.{name}' is *** but the hook has no such header to keep")
    if masked_headers and isinstance(headers, dict):  # checked with a stand-in value; written back as the file has it
        sent["headers"] = {name: ("x" if name in masked_headers else value) for name, value in headers.items()}
    # Checked as a whole hook would be: the URL it will have, and what this update sends.
    accounts = {account.id for account in request.app[SETTINGS].config.accounts}
    entry = hook_entry({"id": hook_id, "url": current.url, **_rotation_context(current, sent), **sent}, accounts)

    def edit(raw: dict[str, Any]) -> None:
        found = [h for h in hooks_of(raw) if isinstance(h, dict) and h.get("id") == hook_id]
        if not found:
            raise RequestError(f"hook {hook_id!r} not found", status=404)
        target = found[0]
        for name in sent:
            value = entry.get(name)
            if name == "headers" and value:
                stored = target.get("headers")
                old: dict[str, Any] = stored if isinstance(stored, dict) else {}
                value = {key: (old.get(key, MASK) if key in masked_headers else item) for key, item in value.items()}
            if value in (None, "", [], {}) and name != "active":
                target.pop(name, None)
            else:
                target[name] = value

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok", "hook_id": hook_id})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/hooks/status", hooks_status)
    app.router.add_post("/api/hooks/test", hooks_test)
    app.router.add_post("/api/hooks/update", hooks_update)
