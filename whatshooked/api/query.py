"""Query strings of the listing routes (`/api/cache`, `/api/events`): each problem a 400 naming the parameter.

A parameter a route does not know is refused rather than ignored (a misspelt filter would otherwise
answer everything), as is one given twice.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from whatshooked.config.model import ID_PATTERN
from whatshooked.errors import RequestError

DEFAULT_LIMIT = 100  # events per page when `limit` is not given
MAX_LIMIT = 1000


class Query:
    """The request's query, checked against the names a route takes."""

    def __init__(self, request: web.Request, allowed: Collection[str]) -> None:
        query = request.query
        unknown = sorted({name for name in query if name not in allowed})
        if unknown:
            raise RequestError(f"unknown query parameter {', '.join(unknown)} (this route takes: "
                               f"{', '.join(sorted(allowed))})")
        for name in query:
            if len(query.getall(name)) > 1:
                raise RequestError(f"{name}: given more than once")
        self._query = query

    def text(self, name: str) -> str | None:
        value = self._query.get(name)
        if value is None:
            return None
        if not value or len(value) > 256 or not value.isprintable():
            raise RequestError(f"{name}: must be a non-empty text of up to 256 printable characters")
        return value

    def ident(self, name: str) -> str | None:
        """A hook or account id (config ids: letters, digits, `.`, `_`, `-`; up to 64)."""
        value = self.text(name)
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise RequestError(f"{name}: {value!r} is not a valid id (letters, digits, '.', '_', '-'; up to 64)")
        return value

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        raw = self._query.get(name)
        if raw is None:
            return default
        if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
            raise RequestError(f"{name}: must be a whole number, not {raw[:40]!r}")
        value = int(raw)
        if value < low or (high is not None and value > high):
            within = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise RequestError(f"{name}: must be {within}, not {value}")
        return value

    def limit(self) -> int:
        return self.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
