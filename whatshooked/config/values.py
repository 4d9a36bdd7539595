"""Parsing of the config's scalar forms: `${VAR}` interpolation, durations, sizes, secrets."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# `$${` is an escaped, literal `${` (how values that came in through the API are written);
# `${NAME}` / `${NAME:-default}` read the environment.
_VAR = re.compile(r"\$(\$\{)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib|k|m|g)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
    "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3,
}


_CREDENTIAL_HEADER_PARTS = ("authorization", "cookie", "token", "secret", "key", "password", "auth")


def is_credential_header(name: str) -> bool:
    """A hook header whose value is a credential: masked in API answers and scrubbed from logs."""
    lowered = name.lower()
    return any(part in lowered for part in _CREDENTIAL_HEADER_PARTS)


class Secret(str):
    """A string whose repr and str-format hide the value; `.reveal()` gives it back."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


MASK = "***"
"""How the API shows a set secret; an update that sends it back keeps the stored value."""


def masked_url(url: str) -> str:
    """A URL with its password (if any) shown as `***`: hook URLs and proxies alike."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))


def masked_fields(obj: Any) -> dict[str, Any]:
    """A config dataclass as the API shows it: set `Secret` fields as "***" (unset ones left out), tuples as lists."""
    shown: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Secret):
            if value:
                shown[f.name] = MASK
        else:
            shown[f.name] = list(value) if isinstance(value, tuple) else value
    return shown


def interpolate(value: Any, env: Mapping[str, str] | None = None, missing: list[str] | None = None) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string of a YAML tree."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return escaped
            if name in env:
                return env[name]
            if default is None and missing is not None:
                missing.append(name)
            return default or ""
        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [interpolate(item, env, missing) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env, missing) for key, item in value.items()}
    return value


def literal(value: Any) -> Any:
    """`value` (a string, or a tree of them) as it must be written so that it reads back as itself.

    Values sent through the API are text (DESIGN §8.1): a `${NAME}` in them is written `$${NAME}`,
    which `interpolate` reads back as `${NAME}` instead of the environment's value.
    """
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, dict):
        return {key: literal(item) for key, item in value.items()}
    return value


def parse_duration(value: Any) -> float:
    """Seconds from a number or `500ms`, `30s`, `10m`, `2h`, `7d`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 30s, 10m, 2h, 7d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration (a number of seconds, or like 500ms, 30s, 10m, 2h, 7d)")


def parse_size(value: Any) -> int:
    """Bytes from a number or `64MB`, `512kb`, `1GiB` (powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a string like 64MB")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size must be positive")
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = match.group(2).lower() if match.group(2) else None
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"{value!r} is not a size (a number of bytes, or like 512KB, 64MB, 1GB)")
