"""`GET /api/openapi.json`: the agreed contract merged with the routes whatshooked adds beyond it.

Both halves ship as package data: `openapi_contract.json` is a verbatim copy of the shared contract
(never edited here), `openapi_extra.json` describes DESIGN §6's routes, and the query parameters and
descriptions a contract route gained (DESIGN §8.3). `registered_routes` lets a
test hold the app and the document to each other.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from aiohttp import hdrs, web

from whatshooked.api.webhook_route import WEBHOOK_TEMPLATE, WebhookResource

PATH = "/api/openapi.json"
CONTRACT = "openapi_contract.json"
EXTRA = "openapi_extra.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("whatshooked.api").joinpath(name).read_text("utf-8"))
    return data


def build_document() -> dict[str, Any]:
    """The contract with the extra paths, schemas and tags added; the contract's own entries win."""
    doc = load(CONTRACT)
    extra = load(EXTRA)
    for path, item in extra.get("paths", {}).items():
        merged = doc["paths"].setdefault(path, {})
        for key, value in item.items():
            if key in merged and key in METHODS:
                _extend(merged[key], value)
            else:
                merged.setdefault(key, copy.deepcopy(value))
    for section, entries in extra.get("components", {}).items():
        target = doc.setdefault("components", {}).setdefault(section, {})
        for name, value in entries.items():
            target.setdefault(name, value)
    known_tags = {tag["name"] for tag in doc.get("tags", [])}
    doc.setdefault("tags", []).extend(tag for tag in extra.get("tags", []) if tag["name"] not in known_tags)
    return doc


def _extend(operation: dict[str, Any], extra: dict[str, Any]) -> None:
    """A contract operation whatshooked takes more of: the extra's new parameters join its own (after
    them), and its description when the contract has none. Nothing of the contract's changes."""
    known = {(p.get("name"), p.get("in")) for p in operation.get("parameters", [])}
    added = [copy.deepcopy(p) for p in extra.get("parameters", []) if (p.get("name"), p.get("in")) not in known]
    if added:
        operation["parameters"] = [*operation.get("parameters", []), *added]
    if "description" in extra:
        operation.setdefault("description", extra["description"])


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path template) for every route the app serves, without the HEAD aiohttp adds to each GET."""
    routes = set()
    for route in app.router.routes():
        if route.method == hdrs.METH_HEAD or route.resource is None:
            continue
        if isinstance(route.resource, WebhookResource):  # every account's webhook_path, by its default
            routes |= {("GET", WEBHOOK_TEMPLATE), ("POST", WEBHOOK_TEMPLATE)}
            continue
        routes.add((route.method, route.resource.canonical))
    return routes


def setup(app: web.Application) -> None:
    built: list[bytes] = []  # made on the first request: most daemons never serve it, and it costs ~1 MB

    async def openapi_json(request: web.Request) -> web.Response:
        if not built:
            built.append(json.dumps(build_document(), ensure_ascii=False, indent=1).encode())
        return web.Response(body=built[0], content_type="application/json", charset="utf-8")

    app.router.add_get(PATH, openapi_json)
