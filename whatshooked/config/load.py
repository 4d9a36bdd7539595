"""Reading the config file: YAML (libyaml when present), `${VAR}` interpolation, then validation.

Every problem names the file, the dotted key and why; all are collected before raising.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from whatshooked.config.model import Config
from whatshooked.config.parse import ConfigBuilder
from whatshooked.config.values import interpolate
from whatshooked.config.yaml_loader import SafeLoader
from whatshooked.errors import ConfigError

# libyaml's loader when PyYAML has it (the wheels do): the same safe rules, ten times faster on a big file,
# and duplicate keys refused.
SAFE_LOADER: Any = SafeLoader
NOT_A_MAPPING = "the top level must be a mapping of keys like server:, accounts:, hooks:"


def resolve_config_path(cli_value: str | None) -> Path:
    """`-c/--config`, else `$WHATSHOOKED_CONFIG`, else `./config.yaml`."""
    return Path(cli_value or os.environ.get("WHATSHOOKED_CONFIG") or "config.yaml").absolute()


def load_config(path: Path, env: dict[str, str] | None = None, strict: bool = False) -> Config:
    """Read, interpolate and validate. `strict` turns unknown keys into errors (check-config)."""
    return parse_config(_read_text(path), path, env=env, strict=strict)


def read_raw(path: Path) -> dict[str, Any]:
    """The YAML document as written (no interpolation), for write-back; {} when there is no file.

    A file that does not parse raises the same one-line ConfigError as loading it: reading it as {}
    would let a write-back replace everything it holds.
    """
    return read_document(path)[1]


def read_document(path: Path) -> tuple[str, dict[str, Any]]:
    """`read_raw`, with the text it was read from ("" when there is no file): one read, one version."""
    if not path.exists():
        return "", {}
    text = _read_text(path)
    return text, _document(text, path)


def yaml_error(exc: Exception, path: Path) -> ConfigError:
    """A YAML parser's error (PyYAML's or ruamel's: both carry `problem_mark`) as one line naming where."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return ConfigError([f"{path}: not valid YAML{where}: {problem}"])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"]) from None


def _document(text: str, path: Path) -> dict[str, Any]:
    """The top-level mapping ({} for an empty file), or a ConfigError saying where and why."""
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, path) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: {NOT_A_MAPPING}"])
    return raw


def parse_config(text: str, path: Path, env: dict[str, str] | None = None, strict: bool = False) -> Config:
    raw = _document(text, path)
    missing: list[str] = []
    tree = interpolate(raw, env, missing)
    builder = ConfigBuilder(path, strict)
    for name in dict.fromkeys(missing):
        builder.warnings.append(f"{path}: ${{{name}}} is not set in the environment and reads as empty")
    for index, written in _app_secrets_read_as_empty(raw, env):
        builder.problem(f"accounts[{index}].business_api.app_secret", f"{written!r} reads as empty (is its "
                        "environment variable set?); an empty app_secret would turn signature checks off")
    return builder.build(tree)


def _app_secrets_read_as_empty(raw: Any, env: dict[str, str] | None) -> list[tuple[int, str]]:
    """app_secrets written as an unset `${VAR}` (no default) that read as empty: fail closed, not open."""
    found = []
    accounts = raw.get("accounts") if isinstance(raw, dict) else None
    for index, account in enumerate(accounts if isinstance(accounts, list) else []):
        block = account.get("business_api") if isinstance(account, dict) else None
        written = block.get("app_secret") if isinstance(block, dict) else None
        unset: list[str] = []
        if isinstance(written, str) and not interpolate(written, env, unset) and unset:
            found.append((index, written))
    return found
