"""Checks shared by the config file and the API where a value would break or shadow something else."""

from __future__ import annotations

OWN_PATHS = ("/", "/api", "/docs", "/health", "/metrics")
OWN_PREFIXES = ("/api/", "/docs/")


def webhook_path_problem(path: str) -> str | None:
    """A Cloud API webhook path is served before the routes: it must not take one of the daemon's own."""
    if not path.startswith("/") or path in OWN_PATHS or path.startswith(OWN_PREFIXES):
        return (f"must start with / and not with /api/, and must not be one of the daemon's own paths "
                f"({', '.join(OWN_PATHS)} or under /docs/), not {path!r}")
    return None
