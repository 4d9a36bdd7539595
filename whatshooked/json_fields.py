"""The one typed reader of JSON bodies: every problem is a RequestError (400) naming the field.

Used by the `/api` routes (through `api/bodies.py`), by send validation (`accounts/sends.py`,
which also checks hooks' two-way replies) and by account backends reading their API fields.
`where` prefixes nested names, so errors say `contacts[0].name.formatted_name` or
`business_api.phone_number_id`.
"""

from __future__ import annotations

import math
from typing import Any

from whatshooked.errors import RequestError


class Fields:
    """Typed reads of one JSON object; a missing or null field is None (or a RequestError when required)."""

    def __init__(self, body: Any, where: str = "") -> None:
        if not isinstance(body, dict):
            raise RequestError(f"field '{where.rstrip('.') or 'body'}' must be a JSON object")
        self.body = body
        self.where = where

    def name(self, key: str) -> str:
        return f"{self.where}{key}"

    def missing(self, key: str) -> RequestError:
        return RequestError(f"field '{self.name(key)}' is required")

    def wrong(self, key: str, what: str) -> RequestError:
        return RequestError(f"field '{self.name(key)}' must be {what}")

    def value(self, key: str, kinds: tuple[type, ...], what: str, required: bool) -> Any:
        """The field when it has one of `kinds` (a bool is never a number), None when absent and optional."""
        value = self.body.get(key)
        if value is None:
            if required:
                raise self.missing(key)
            return None
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise self.wrong(key, what)
        return value

    def text(self, key: str, required: bool = True, allow_empty: bool = False) -> str | None:
        """A string; an empty one counts as missing unless `allow_empty`."""
        value = self.value(key, (str,), "a string", required)
        if value == "" and not allow_empty:
            if required:
                raise self.missing(key)
            return None
        return value

    def non_empty(self, key: str, value: str) -> str:
        if not value.strip():
            raise self.wrong(key, "not empty")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        """A required finite number within [low, high]."""
        value = self.value(key, (int, float), "a number", True)
        if not math.isfinite(value):
            raise self.wrong(key, "a number")
        if not low <= value <= high:
            raise self.wrong(key, f"between {low:g} and {high:g}")
        return value

    def obj(self, key: str, required: bool = True) -> Fields | None:
        value = self.value(key, (dict,), "a JSON object", required)
        return None if value is None else Fields(value, f"{self.name(key)}.")

    def array(self, key: str, required: bool = True, min_items: int = 0) -> list[Any] | None:
        value = self.value(key, (list,), "a JSON array", required)
        if value is not None and len(value) < min_items:
            raise self.wrong(key, f"an array of at least {min_items} item(s)")
        return value

    def boolean(self, key: str, required: bool = False) -> bool | None:
        return self.value(key, (bool,), "true or false", required)

    def strings(self, key: str, required: bool = True, min_items: int = 0, non_empty: bool = True) -> list[str]:
        values = self.array(key, required, min_items) or []
        for index, value in enumerate(values):
            if not isinstance(value, str) or (non_empty and not value.strip()):
                raise self.wrong(f"{key}[{index}]", "a non-empty string" if non_empty else "a string")
        return values

    def string_map(self, key: str) -> dict[str, str]:
        values = self.value(key, (dict,), "a JSON object", False) or {}
        for name, item in values.items():
            if not isinstance(item, str):
                raise self.wrong(f"{key}.{name}", "a string")
        return values

    def choice(self, key: str, options: tuple[str, ...], default: str, upper: bool = False) -> str:
        value = self.value(key, (str,), "a string", False)
        value = default if value is None else (value.upper() if upper else value)
        if value not in options:
            raise self.wrong(key, f"one of {', '.join(options)}, not {value!r}")
        return value
