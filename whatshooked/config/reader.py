"""Typed reads of the config's YAML sections, shared by the core parser and each account backend.

A backend's `parse` gets a SectionReader, so its problems name the file and the dotted key
exactly as the core's do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SectionReader:
    """Typed reads of YAML sections; every problem is collected with its file and dotted key."""

    def __init__(self, path: Path, strict: bool) -> None:
        self.path = path
        self.strict = strict
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.claims: dict[str, dict[object, str]] = {}
        """What → value → the key that uses it, for values no two entries may share (see `claim`)."""

    # -- reporting -------------------------------------------------------
    def problem(self, key: str, why: str) -> None:
        self.problems.append(f"{self.path}: {key}: {why}")

    def unknown_keys(self, key: str, section: dict[str, Any], known: set[str]) -> None:
        for name in section:
            if name not in known:
                where = f"{key}.{name}" if key else str(name)
                message = f"{self.path}: {where}: unknown key (known: {', '.join(sorted(known))})"
                (self.problems if self.strict else self.warnings).append(message)

    # -- typed getters ----------------------------------------------------
    def section(self, raw: dict[str, Any], name: str, known: set[str]) -> dict[str, Any]:
        value = raw.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(name, "must be a mapping")
            return {}
        self.unknown_keys(name, value, known)
        return value

    def get(self, sec: dict[str, Any], key: str, name: str, kind: type, default: Any) -> Any:
        if name not in sec or sec[name] is None:
            return default
        value = sec[name]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if kind is int and isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(f"{key}.{name}", f"must be {_KIND_NAMES[kind]}, not {value!r}")
            return default
        return value

    def convert(self, sec: dict[str, Any], key: str, name: str, parser: Any, default: Any) -> Any:
        if name not in sec or sec[name] is None:
            return default
        try:
            return parser(sec[name])
        except ValueError as exc:
            self.problem(f"{key}.{name}", str(exc))
            return default

    def choice(self, sec: dict[str, Any], key: str, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.get(sec, key, name, str, default)
        if value not in options:
            self.problem(f"{key}.{name}", f"must be one of {', '.join(options)}, not {value!r}")
            return default
        return value

    def path_of(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.path.parent / path)

    def claim(self, what: str, value: object, key: str) -> str | None:
        """Record that `key` uses `value` (a session file…); the key that claimed it first, if another did."""
        owners = self.claims.setdefault(what, {})
        if value in owners:
            return owners[value]
        owners[value] = key
        return None


_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false", dict: "a mapping", list: "a list"}
