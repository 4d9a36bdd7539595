"""Reading JSON request bodies: every problem becomes a 400 that names the field.

Routes call `await read_json(request)` and then the typed getters, e.g.
`url = text(body, "url", required=True)`: short forms over the one reader, `json_fields.Fields`.
Nested objects pass `prefix` so errors say `business_api.phone_number_id`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from whatshooked import strict_json
from whatshooked.errors import RequestError
from whatshooked.json_fields import Fields


async def read_json(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` when `optional`, else a 400."""
    raw = await request.read()  # raises 413 past client_max_size
    if not raw.strip():
        if optional:
            return {}
        raise RequestError("request body is empty: send a JSON object")
    try:
        body = strict_json.loads(raw)  # NaN, Infinity, 1e999 refused: Meta and hooks get standard JSON only
    except ValueError as exc:  # also a number past Python's 4300-digit int limit
        raise RequestError(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestError("request body is not valid JSON: nested too deep") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


def text(body: dict[str, Any], name: str, *, required: bool = False, default: str = "", prefix: str = "",
         non_empty: bool | None = None) -> str:
    """A string field; a required one must also be non-empty (unless `non_empty=False`)."""
    fields = Fields(body, prefix)
    value = fields.value(name, (str,), "a string", required)
    if value is None:
        return default
    return fields.non_empty(name, value) if (required if non_empty is None else non_empty) else value


def boolean(body: dict[str, Any], name: str, *, required: bool = False, default: bool = False,
            prefix: str = "") -> bool:
    value = Fields(body, prefix).boolean(name, required)
    return default if value is None else value


def mapping(body: dict[str, Any], name: str, *, required: bool = False, prefix: str = "") -> dict[str, Any] | None:
    return Fields(body, prefix).value(name, (dict,), "a JSON object", required)


def string_list(body: dict[str, Any], name: str, *, required: bool = False, prefix: str = "") -> list[str]:
    return Fields(body, prefix).strings(name, required, non_empty=False)


def string_map(body: dict[str, Any], name: str, *, prefix: str = "") -> dict[str, str]:
    return Fields(body, prefix).string_map(name)


def choice(body: dict[str, Any], name: str, options: tuple[str, ...], *, default: str, prefix: str = "",
           upper: bool = False) -> str:
    return Fields(body, prefix).choice(name, options, default, upper)


def query_id(request: web.Request, body: dict[str, Any] | None = None, name: str = "id") -> str:
    """An id from the query string, else from the JSON body; 400 when neither has it."""
    value = request.query.get(name) or ((body or {}).get(name))
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{name}' is required (as a query parameter or in the JSON body)")
    return value.strip()


def known_only(body: dict[str, Any], allowed: frozenset[str] | set[str], what: str = "this route") -> None:
    """400 naming the first field of `body` that `what` does not take: an unknown field is never ignored."""
    unknown = sorted(name for name in body if name not in allowed)
    if unknown:
        raise RequestError(f"field '{unknown[0]}' is not a field of {what} (it takes: {', '.join(sorted(allowed))})")
