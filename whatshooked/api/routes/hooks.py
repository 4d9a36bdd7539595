"""`/api/hooks`, `/api/hooks/add`, `/api/hooks/remove`: changes are written back to the YAML file."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.keys import SETTINGS
from whatshooked.config.hook_routing import ROUTING_KEYS, routing_fields, unknown_accounts
from whatshooked.config.hook_schema import HOOK_KEYS, hook_json, hook_problems
from whatshooked.config.model import HOOK_METHODS, ID_PATTERN
from whatshooked.config.values import literal
from whatshooked.errors import RequestError


def hook_entry(body: dict[str, Any], account_ids: set[str]) -> dict[str, Any]:
    """The YAML entry for a new hook, from the request body (400 naming the field otherwise), escaped."""
    bodies.known_only(body, HOOK_KEYS, "a hook")
    hook_id = bodies.text(body, "id") or f"hook-{secrets.token_hex(4)}"
    if not ID_PATTERN.fullmatch(hook_id):
        raise RequestError("field 'id' must be letters, digits, '_', '.' or '-' (at most 64)")
    url = bodies.text(body, "url", required=True)
    method = bodies.choice(body, "method", HOOK_METHODS, default="POST", upper=True)
    headers = bodies.string_map(body, "headers")
    events = bodies.string_list(body, "events")
    secret = bodies.text(body, "secret")
    _, routing = routing_fields(body, secret)
    for name, why in hook_problems(url, method, headers, events, secret) + routing + \
            unknown_accounts(body.get("accounts"), account_ids):
        raise RequestError(f"field '{name}' {why}" if why.startswith(("must ", "is ")) else f"field '{name}': {why}")
    entry: dict[str, Any] = {
        "id": hook_id, "name": bodies.text(body, "name") or hook_id, "url": url, "method": method,
        "active": bodies.boolean(body, "active", default=True),
    }
    optional = {
        "headers": headers, "events": events, "secret": secret,
        "description": bodies.text(body, "description"),
        "allow_insecure": bodies.boolean(body, "allow_insecure"),
    }
    entry.update({key: value for key, value in optional.items() if value})
    entry.update({key: body[key] for key in ROUTING_KEYS if body.get(key) not in (None, "")})  # checked above
    return literal(entry)  # API values are text: a `${VAR}` in them is never read from the environment


def hooks_of(raw: dict[str, Any]) -> list[Any]:
    hooks = raw.get("hooks")
    if hooks is None:
        hooks = raw["hooks"] = []
    if not isinstance(hooks, list):
        raise RequestError("the config file's 'hooks' is not a list; fix the file first")
    return hooks


async def list_hooks(request: web.Request) -> web.Response:
    return web.json_response([hook_json(h) for h in request.app[SETTINGS].config.hooks])


async def add_hook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    entry = hook_entry(await bodies.read_json(request), {account.id for account in settings.config.accounts})

    def edit(raw: dict[str, Any]) -> None:
        hooks = hooks_of(raw)
        if any(isinstance(h, dict) and h.get("id") == entry["id"] for h in hooks):
            raise RequestError(f"hook {entry['id']!r} already exists")
        hooks.append(entry)

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok", "hook_id": entry["id"]}, status=201)


async def remove_hook(request: web.Request) -> web.Response:
    hook_id = bodies.text(await bodies.read_json(request), "id", required=True)

    def edit(raw: dict[str, Any]) -> None:
        hooks = hooks_of(raw)
        found = [i for i, h in enumerate(hooks) if isinstance(h, dict) and h.get("id") == hook_id]
        if not found:
            raise RequestError(f"hook {hook_id!r} not found", status=404)
        for index in reversed(found):  # in place: the list keeps its comments
            del hooks[index]

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/hooks", list_hooks)
    app.router.add_post("/api/hooks/add", add_hook)
    app.router.add_post("/api/hooks/remove", remove_hook)
