"""The config as frozen dataclasses (DESIGN §3); `load.py` reads and `parse.py` validates it.

Every problem names the file, the dotted key and why; all problems are collected before raising,
so `check-config` can print them at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from whatshooked.config.values import Secret, is_credential_header

log = logging.getLogger(__name__)

ACCOUNT_TYPES = ("whatsmeow", "business-api")
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
