"""Comparing the routes an OpenAPI document lists with those an app serves (test-only)."""

from __future__ import annotations

import re
from typing import Any

from whatshooked.api.openapi import METHODS

_PARAM = re.compile(r"\{[^}]*\}")


def documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) for every operation in the document."""
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


def normalized(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Parameter names blanked (`/api/qr/{account_id}` ~ `/api/qr/{id}`), so only the shapes compare."""
    return {(method, _PARAM.sub("{}", path)) for method, path in routes}
