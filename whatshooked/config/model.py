"""The config as frozen dataclasses (DESIGN §3); `load.py` reads and `parse.py` validates it.

Every problem names the file, the dotted key and why; all problems are collected before raising,
so `check-config` can print them at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from whatshooked.config.values import Secret, is_credential_header

log = logging.getLogger(__name__)

HOOK_METHODS = ("GET", "POST", "PUT", "PATCH")
MEDIA_MODES = ("url", "base64", "none")
LOG_FORMATS = ("text", "json")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # use fullmatch: `$` lets a trailing newline in


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
    event_loop: str = "asyncio"  # asyncio | uvloop (docs/performance.md)

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
    url: str = ""
    """A database URL (`postgresql://…`) instead of the SQLite file at `path`, as written (never a Path)."""
    node_id: str = ""
    """This daemon's name among those sharing the database (empty: host:pid)."""
    lease: float = 30.0
    """Seconds a daemon's claim on a pending delivery lasts unless renewed (another takes it over after)."""

    @property
    def location(self) -> str:
        """What the store backend is picked by: the URL, else the file's path."""
        return self.url or str(self.path)

    @property
    def key(self) -> str:
        """The config key naming the store, for messages (a URL written under `path` is read as `url`)."""
        return "storage.url" if self.url else "storage.path"

    def url_password(self) -> str:
        return (urlsplit(self.url).password or "") if self.url else ""


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    max_age: float = 7 * 86400.0
    max_events: int = 100_000
    keep_delivered: float = 86400.0
    """Delivered events stay readable through GET /api/events this long (0: they leave at once)."""


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
class AccountConfig:
    """What every account has; the rest is `settings`, owned by the backend named by `type`.

    The backend's spec (`accounts/<backend>/__init__.py`) parses its keys into `settings`; the
    core never looks inside beyond finding its `Secret` fields for scrubbing.
    """

    id: str
    type: str = "whatsmeow"
    phone_number: str = ""
    disabled: bool = False
    settings: Any = None


@dataclass(frozen=True)
class ChatFilter:
    """A hook's `chats` key (delivery/routing.py applies it). Entries are `+digits` or JIDs, lower case."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    groups: bool = True
    from_me: bool = True


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
    accounts: tuple[str, ...] = ()
    """Only events of these accounts; empty: every account's (and events of none)."""
    chats: ChatFilter | None = None
    timeout: float | None = None
    """Overrides delivery.timeout for this hook."""
    retry: tuple[float, ...] | None = None
    """Overrides delivery.retry for this hook."""
    ordered: bool = False
    previous_secret: Secret = Secret("")
    previous_secret_until: float | None = None
    """Unix seconds: until then deliveries carry a signature with `previous_secret` too."""


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
        """Every secret value configured (credential-like hook headers too), for log scrubbing and tests.

        Found by type: every `Secret` anywhere in the config, an account's backend settings included,
        plus what a settings object adds through `extra_secrets()` (e.g. a proxy URL's password).
        """
        revealed = [value.reveal() for value in secrets_in(self) if value]
        revealed += [password for password in [self.storage.url_password()] if password]
        for hook in self.hooks:
            revealed += [value for name, value in hook.headers.items() if value and is_credential_header(name)]
        for account in self.accounts:
            revealed += [v for v in getattr(account.settings, "extra_secrets", lambda: [])() if v]
        return revealed


def secrets_in(value: Any) -> list[Secret]:
    """Every `Secret` in a tree of dataclasses and tuples."""
    if isinstance(value, Secret):
        return [value]
    if isinstance(value, (tuple, list)):
        return [s for item in value for s in secrets_in(item)]
    if is_dataclass(value) and not isinstance(value, type):
        return [s for f in fields(value) for s in secrets_in(getattr(value, f.name))]
    return []
