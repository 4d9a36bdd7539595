"""The YAML config file as frozen dataclasses, validated once at load (DESIGN §3).

Every problem names the file, the dotted key and why; all problems are collected before raising,
so `check-config` can print them at once.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from whatshooked.config_values import Secret, interpolate, is_credential_header
from whatshooked.errors import ConfigError

log = logging.getLogger(__name__)

ACCOUNT_TYPES = ("whatsmeow", "business-api")
HOOK_METHODS = ("GET", "POST", "PUT", "PATCH")
MEDIA_MODES = ("url", "base64", "none")
LOG_FORMATS = ("text", "json")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # use fullmatch: `$` lets a trailing newline in
# libyaml's loader when PyYAML has it (the wheels do): the same safe rules, ten times faster on a big file.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NOT_A_MAPPING = "the top level must be a mapping of keys like server:, accounts:, hooks:"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8825
    api_key: Secret = Secret("")
    username: str = ""
    password: Secret = Secret("")
    public_url: str = ""
    max_body: int = 64 * 1024 * 1024
    metrics_public: bool = False
    trusted_origins: tuple[str, ...] = ()  # config_rules.origin_key forms: scheme://host:port
    request_timeout: float = 30.0
    max_connections: int = 1024

    @property
    def local_url(self) -> str:
        """The API's address from this machine: a wildcard listener is reached on the loopback."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class StorageConfig:
    path: Path = Path("data/whatshooked.db")
    encryption_key: Secret = Secret("")
    """Base64 of 32 bytes: event bodies are sealed at rest (store_seal.py)."""
    old_encryption_keys: tuple[Secret, ...] = ()
    """Read, never written: what older keys sealed stays readable and is resealed with the current one."""


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    max_age: float = 7 * 86400.0
    max_events: int = 100_000


@dataclass(frozen=True)
class DeliveryConfig:
    timeout: float = 10.0
    retry: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    concurrency: int = 16


@dataclass(frozen=True)
class MediaConfig:
    mode: str = "url"
    dir: Path = Path("data/media")
    ttl: float = 86400.0
    fetch_private: bool = False
    """Media sends by `url` may fetch from private, loopback and link-local addresses."""


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True)
class BusinessApiConfig:
    phone_number_id: str
    access_token: Secret
    app_secret: Secret = Secret("")
    verify_token: Secret = Secret("")
    waba_id: str = ""
    business_account_id: str = ""
    api_version: str = "v21.0"
    webhook_path: str = ""
    graph_url: str = "https://graph.facebook.com"


@dataclass(frozen=True)
class AccountConfig:
    id: str
    type: str = "whatsmeow"
    phone_number: str = ""
    session_path: Path | None = None
    show_qr: bool = False
    disabled: bool = False
    business_api: BusinessApiConfig | None = None
    proxy: str = ""
    """WhatsApp Web only: socks5://, socks5h://, http:// or https:// proxy for the session."""
    device_name: str = "whatshooked"
    """WhatsApp Web: the name the phone lists under "Linked devices"."""
    status_broadcasts: bool = False
    presence: bool = False
    history: bool = False


@dataclass(frozen=True)
class HookConfig:
    id: str
    url: str
    name: str = ""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    active: bool = True
    events: tuple[str, ...] = ()
    secret: Secret = Secret("")
    allow_insecure: bool = False
    description: str = ""


@dataclass(frozen=True)
class Config:
    path: Path
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    message_cache: CacheConfig = CacheConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    media: MediaConfig = MediaConfig()
    logging: LoggingConfig = LoggingConfig()
    accounts: tuple[AccountConfig, ...] = ()
    hooks: tuple[HookConfig, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def account(self, account_id: str) -> AccountConfig | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def hook(self, hook_id: str) -> HookConfig | None:
        return next((h for h in self.hooks if h.id == hook_id), None)

    def secrets(self) -> list[str]:
        """Every secret value configured (credential-like hook headers too), for log scrubbing and tests."""
        values = [self.server.api_key, self.server.password, self.storage.encryption_key,
                  *self.storage.old_encryption_keys]
        for account in self.accounts:
            if account.business_api:
                b = account.business_api
                values += [b.access_token, b.app_secret, b.verify_token]
        values += [hook.secret for hook in self.hooks]
        revealed = [v.reveal() for v in values if v]
        for hook in self.hooks:
            revealed += [value for name, value in hook.headers.items() if value and is_credential_header(name)]
        revealed += [p for p in (urlsplit(a.proxy).password for a in self.accounts if a.proxy) if p]
        return revealed


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
    from whatshooked.config_builder import ConfigBuilder  # imports this module's dataclasses

    missing: list[str] = []
    tree = interpolate(raw, env, missing)
    builder = ConfigBuilder(path, strict)
    for name in dict.fromkeys(missing):
        builder.warnings.append(f"{path}: ${{{name}}} is not set in the environment and reads as empty")
    return builder.build(tree)
