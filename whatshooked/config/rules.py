"""Checks shared by the config file and the API where a value would break or shadow something else."""

from __future__ import annotations

from typing import Any

from yarl import URL

OWN_PATHS = ("/", "/api", "/docs", "/health", "/metrics")
OWN_PREFIXES = ("/api/", "/docs/", "/dashboard/")


def webhook_path_problem(path: str) -> str | None:
    """A Cloud API webhook path is served before the routes: it must not take one of the daemon's own."""
    if not path.startswith("/") or path in OWN_PATHS or path.startswith(OWN_PREFIXES):
        return (f"must start with / and not with /api/, and must not be one of the daemon's own paths "
                f"({', '.join(OWN_PATHS)} or under /docs/ or /dashboard/), not {path!r}")
    return None


def origin_key(value: str) -> str | None:
    """`scheme://host:port` of an http(s) origin (lower case, port explicit), or None if it is not one.

    `null` (a sandboxed frame, a file: page), paths, queries and user info are not origins.
    """
    try:
        url = URL(value.strip())
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host or url.user is not None or url.password is not None:
        return None
    if url.raw_path not in ("", "/") or url.raw_query_string or url.raw_fragment:
        return None
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host.lower()}:{url.port}"


def trusted_origins(value: Any) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """`server.trusted_origins` as origin keys, and the (key, why) of every entry that is not an origin."""
    if value is None:
        return (), []
    if not isinstance(value, list):
        return (), [("server.trusted_origins", "must be a list of origins, like [https://dash.example.com]")]
    found, problems = [], []
    for index, item in enumerate(value):
        key = origin_key(item) if isinstance(item, str) else None
        if key is None:
            problems.append((f"server.trusted_origins[{index}]",
                             f"must be an origin: http(s)://host[:port] with no path, not {item!r}"))
        else:
            found.append(key)
    return tuple(found), problems
