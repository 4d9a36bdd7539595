"""Webhook bodies that are odd but signed: read strictly, and what cannot be read becomes an event.

Meta redelivers anything not answered 200 for days, so a body that is JSON but not of the shape we
know is answered 200: what can be raised is raised, and each part that cannot becomes a
`business.errors` event (Meta's own error shape, with whatshooked's reason and the part as `raw`),
so nothing is dropped silently and nothing answers 500.
"""

from __future__ import annotations

from typing import Any

from whatshooked import strict_json

MAX_DEPTH = 64
"""Meta's payloads nest about 10 deep; deeper parts are not raised (the JSON encoders' recursion limit)."""


class NotJson(ValueError):
    """The body is not standard JSON (RFC 8259): not parsed, or NaN/Infinity in it."""


class OutOfRange(NotJson):
    """A number too big for a float (`1e999`): valid JSON, but it cannot be passed on as standard JSON."""


class TooDeep(Exception):
    """The body is JSON nested past what the parser can hold."""


def load_body(body: bytes) -> Any:
    """Strict JSON: NaN, Infinity and -Infinity are refused (a hook must only ever get standard JSON).

    `1e999` is valid JSON but becomes OutOfRange; lone surrogates (`"\\ud800"`) are read as U+FFFD.
    """
    try:
        return strict_json.loads(body)
    except RecursionError:
        raise TooDeep(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except strict_json.NotFinite as exc:
        raise OutOfRange(f"{exc}: a number must fit a double to be passed on as JSON") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise NotJson(str(exc)) from None


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when containers nest more than `limit` deep."""
    return strict_json.nested_deeper(value, limit)


def nests_within(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when a JSON body surely cannot nest past `limit`: it opens no more than `limit` objects and
    lists in all. Then no part of it needs `too_deep`'s walk (a POST of one message opens about 12);
    False says only "maybe" (a batch of many messages): its parts are walked."""
    return body.count(b"{") + body.count(b"[") <= limit


def unreadable_data(why: str, raw: Any = None) -> dict[str, Any]:
    """`business.errors` data for a part of a webhook whatshooked could not turn into an event."""
    error = {"code": None, "title": "Unreadable webhook content", "message": why, "error_data": {"details": why}}
    data: dict[str, Any] = {"errors": [error], "source": "whatshooked"}
    if raw is not None and not too_deep(raw):
        data["raw"] = raw
    return data


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list; anything else (a wrong type from a malformed payload) is no objects."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
