"""Reading JSON request bodies: every problem becomes a 400 that names the field.

Routes call `await read_json(request)` and then the typed getters, e.g.
`url = text(body, "url", required=True)`. Nested objects pass `prefix` so errors say
`business_api.phone_number_id`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from whatshooked import strict_json
from whatshooked.errors import RequestError

_MISSING = object()


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


def _get(body: dict[str, Any], name: str, kinds: tuple[type, ...], what: str, required: bool,
         default: Any, prefix: str) -> Any:
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise RequestError(f"field '{prefix}{name}' is required")
        return default
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        raise RequestError(f"field '{prefix}{name}' must be {what}")
    return value


def text(body: dict[str, Any], name: str, *, required: bool = False, default: str = "", prefix: str = "",
         non_empty: bool | None = None) -> str:
    """A string field; a required one must also be non-empty (unless `non_empty=False`)."""
    value = _get(body, name, (str,), "a string", required, default, prefix)
    if (required if non_empty is None else non_empty) and not value.strip():
        raise RequestError(f"field '{prefix}{name}' must not be empty")
    return value


def boolean(body: dict[str, Any], name: str, *, required: bool = False, default: bool = False,
            prefix: str = "") -> bool:
    return _get(body, name, (bool,), "true or false", required, default, prefix)


def integer(body: dict[str, Any], name: str, *, required: bool = False, default: int | None = None,
            prefix: str = "") -> int | None:
    return _get(body, name, (int,), "a whole number", required, default, prefix)


def number(body: dict[str, Any], name: str, *, required: bool = False, default: float | None = None,
           prefix: str = "") -> float | None:
    value = _get(body, name, (int, float), "a number", required, default, prefix)
    return float(value) if value is not None else None


def mapping(body: dict[str, Any], name: str, *, required: bool = False, prefix: str = "") -> dict[str, Any] | None:
    return _get(body, name, (dict,), "a JSON object", required, None, prefix)


def array(body: dict[str, Any], name: str, *, required: bool = False, prefix: str = "") -> list[Any] | None:
    return _get(body, name, (list,), "a JSON array", required, None, prefix)


def string_list(body: dict[str, Any], name: str, *, required: bool = False, prefix: str = "") -> list[str]:
    values = array(body, name, required=required, prefix=prefix) or []
    for index, item in enumerate(values):
        if not isinstance(item, str):
            raise RequestError(f"field '{prefix}{name}[{index}]' must be a string")
    return values


def string_map(body: dict[str, Any], name: str, *, prefix: str = "") -> dict[str, str]:
    values = mapping(body, name, prefix=prefix) or {}
    for key, item in values.items():
        if not isinstance(item, str):
            raise RequestError(f"field '{prefix}{name}.{key}' must be a string")
    return values


def choice(body: dict[str, Any], name: str, options: tuple[str, ...], *, default: str, prefix: str = "",
           upper: bool = False) -> str:
    value = text(body, name, default=default, prefix=prefix)
    value = value.upper() if upper else value
    if value not in options:
        raise RequestError(f"field '{prefix}{name}' must be one of {', '.join(options)}, not {value!r}")
    return value


def query_id(request: web.Request, body: dict[str, Any] | None = None, name: str = "id") -> str:
    """An id from the query string, else from the JSON body; 400 when neither has it."""
    value = request.query.get(name) or ((body or {}).get(name))
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{name}' is required (as a query parameter or in the JSON body)")
    return value.strip()
