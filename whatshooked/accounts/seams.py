"""Typed seams a backend may be handed in place of its defaults (tests use them; production passes none).

Each backend declares its own seam dataclass in its folder (e.g. `whatsapp_web.seams.WebSeams`
with a session factory and timings); the daemon lends them untouched in `AdapterContext.seams`
and the backend asks for its own by class, so the core knows no backend and no string keys.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class Seams:
    """One object per class; `get(WebSeams)` is the backend's own, or None for the defaults."""

    def __init__(self, *parts: object) -> None:
        self._parts = {type(part): part for part in parts}

    def get(self, kind: type[T]) -> T | None:
        part = self._parts.get(kind)
        return part if isinstance(part, kind) else None
