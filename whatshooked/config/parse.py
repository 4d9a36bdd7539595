"""Builds a `Config` from the interpolated YAML tree, collecting every problem with its dotted key."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from whatshooked.config.hook_headers import header_problem
from whatshooked.config.model import (
    ACCOUNT_TYPES,
    HOOK_METHODS,
    ID_PATTERN,
    LOG_FORMATS,
    MEDIA_MODES,
    AccountConfig,
    BusinessApiConfig,
    CacheConfig,
    Config,
    DeliveryConfig,
    HookConfig,
    LoggingConfig,
    MediaConfig,
    ServerConfig,
    StorageConfig,
)
from whatshooked.config.rules import trusted_origins, webhook_path_problem
from whatshooked.config.values import Secret, parse_duration, parse_size
from whatshooked.errors import ConfigError
from whatshooked.store.seal import decode_key


class ConfigBuilder:
    """Walks the interpolated YAML tree, collecting every problem with its dotted key."""

    def __init__(self, path: Path, strict: bool) -> None:
        self.path = path
        self.strict = strict
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.sessions: dict[Path, str] = {}
        """Resolved session_path → the key of the account that uses it (no two may share one)."""
        self.webhook_paths: dict[str, str] = {}
        """webhook_path → the key of the account that uses it (the first would take every webhook on it)."""

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

    # -- sections ---------------------------------------------------------
    def build(self, raw: dict[str, Any]) -> Config:
        self.unknown_keys("", raw, set(_TOP_KEYS))
        server = self.server(self.section(raw, "server", _SERVER_KEYS))
        storage = self.storage(self.section(raw, "storage", {"path", "encryption_key", "old_encryption_keys"}))
        mc = self.section(raw, "message_cache", {"enabled", "max_age", "max_events"})
        cache = CacheConfig(
            enabled=self.get(mc, "message_cache", "enabled", bool, True),
            max_age=self.convert(mc, "message_cache", "max_age", parse_duration, 7 * 86400.0),
            max_events=self.positive(mc, "message_cache", "max_events", 100_000),
        )
        dl = self.section(raw, "delivery", {"timeout", "retry", "concurrency"})
        delivery = DeliveryConfig(
            timeout=self.convert(dl, "delivery", "timeout", parse_duration, 10.0),
            retry=self.retry(dl),
            concurrency=self.positive(dl, "delivery", "concurrency", 16),
        )
        md = self.section(raw, "media", {"mode", "dir", "ttl", "fetch_private"})
        media = MediaConfig(
            mode=self.choice(md, "media", "mode", MEDIA_MODES, "url"),
            dir=self.path_of(self.get(md, "media", "dir", str, "data/media")),
            ttl=self.convert(md, "media", "ttl", parse_duration, 86400.0),
            fetch_private=self.get(md, "media", "fetch_private", bool, False),
        )
        lg = self.section(raw, "logging", {"level", "format"})
        level = self.get(lg, "logging", "level", str, "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            self.problem("logging.level", f"must be one of debug, info, warning, error, not {level.lower()!r}")
            level = "INFO"
        logging_cfg = LoggingConfig(level=level, format=self.choice(lg, "logging", "format", LOG_FORMATS, "text"))
        accounts = self.items(raw, "accounts", self.account)
        hooks = self.items(raw, "hooks", self.hook)
        if self.problems:
            raise ConfigError(self.problems)
        return Config(
            path=self.path, server=server, storage=storage, message_cache=cache, delivery=delivery,
            media=media, logging=logging_cfg, accounts=tuple(accounts), hooks=tuple(hooks),
            warnings=tuple(self.warnings),
        )

    def storage(self, sto: dict[str, Any]) -> StorageConfig:
        key = self.sealing_key(self.get(sto, "storage", "encryption_key", str, ""), "storage.encryption_key")
        old = self.get(sto, "storage", "old_encryption_keys", list, [])
        old_keys = tuple(self.sealing_key(str(value), f"storage.old_encryption_keys[{i}]")
                         for i, value in enumerate(old) if value)
        if old_keys and not key:
            self.problem("storage.old_encryption_keys", "needs storage.encryption_key (old keys are only read)")
        return StorageConfig(path=self.path_of(self.get(sto, "storage", "path", str, "data/whatshooked.db")),
                             encryption_key=key, old_encryption_keys=old_keys)

    def sealing_key(self, value: str, where: str) -> Secret:
        if not value:
            return Secret("")
        try:
            decode_key(value)
        except ValueError as exc:
            self.problem(where, str(exc))
            return Secret("")
        return Secret(value)

    def positive(self, sec: dict[str, Any], key: str, name: str, default: int) -> int:
        value = self.get(sec, key, name, int, default)
        if value < 1:
            self.problem(f"{key}.{name}", f"must be a whole number of at least 1, not {value!r}")
            return default
        return value

    def retry(self, dl: dict[str, Any]) -> tuple[float, ...]:
        value = dl.get("retry")
        if value is None:
            return DeliveryConfig.retry
        if not isinstance(value, list):
            self.problem("delivery.retry", "must be a list of waits, like [1s, 5s, 30s]")
            return DeliveryConfig.retry
        waits = []
        for index, item in enumerate(value):
            try:
                waits.append(parse_duration(item))
            except ValueError as exc:
                self.problem(f"delivery.retry[{index}]", str(exc))
        return tuple(waits)

    def server(self, sv: dict[str, Any]) -> ServerConfig:
        port = self.get(sv, "server", "port", int, 8825)
        if not 0 <= port <= 65535:
            self.problem("server.port", f"must be between 0 and 65535, not {port}")
        username = self.get(sv, "server", "username", str, "")
        password = self.get(sv, "server", "password", str, "")
        if bool(username) != bool(password):
            self.problem("server.username" if password else "server.password",
                         "username and password go together: set both or neither (an unset ${VAR} reads as empty)")
        public_url = self.get(sv, "server", "public_url", str, "").rstrip("/")
        if public_url and not public_url.startswith(("http://", "https://")):
            self.problem("server.public_url", f"must start with http:// or https://, not {public_url!r}")
        return ServerConfig(
            host=self.get(sv, "server", "host", str, "127.0.0.1"), port=port,
            api_key=Secret(self.get(sv, "server", "api_key", str, "")),
            username=username, password=Secret(password), public_url=public_url,
            max_body=self.convert(sv, "server", "max_body", parse_size, 64 * 1024 * 1024),
            metrics_public=self.get(sv, "server", "metrics_public", bool, False),
            trusted_origins=self.origins(sv.get("trusted_origins")),
            request_timeout=self.timeout(sv),
            max_connections=self.positive(sv, "server", "max_connections", 1024),
        )

    def origins(self, value: Any) -> tuple[str, ...]:
        found, problems = trusted_origins(value)
        for key, why in problems:
            self.problem(key, why)
        return found

    def timeout(self, sv: dict[str, Any]) -> float:
        value = self.convert(sv, "server", "request_timeout", parse_duration, 30.0)
        if value <= 0:
            self.problem("server.request_timeout", f"must be more than 0, not {sv['request_timeout']!r}")
            return 30.0
        return float(value)

    def items(self, raw: dict[str, Any], name: str, build: Any) -> list[Any]:
        value = raw.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(name, "must be a list")
            return []
        built, seen = [], set()
        for index, item in enumerate(value):
            key = f"{name}[{index}]"
            if not isinstance(item, dict):
                self.problem(key, "must be a mapping")
                continue
            obj = build(item, key)
            if obj is None:
                continue
            if obj.id in seen:
                self.problem(f"{key}.id", f"{obj.id!r} is used twice")
            seen.add(obj.id)
            built.append(obj)
        return built

    def ident(self, item: dict[str, Any], key: str) -> str | None:
        value = self.get(item, key, "id", str, "")
        if not value:
            self.problem(f"{key}.id", "is required")
            return None
        if not ID_PATTERN.fullmatch(value):
            self.problem(f"{key}.id", f"{value!r} must be letters, digits, '_', '.' or '-' (at most 64)")
            return None
        return value

    def account(self, item: dict[str, Any], key: str) -> AccountConfig | None:
        self.unknown_keys(key, item, _ACCOUNT_KEYS)
        account_id = self.ident(item, key)
        kind = self.choice(item, key, "type", ACCOUNT_TYPES, "whatsmeow")
        if account_id is None:
            return None
        session = self.get(item, key, "session_path", str, "")
        business = None
        if kind == "business-api":
            business = self.business(item.get("business_api"), f"{key}.business_api", account_id)
        elif item.get("business_api") is not None:
            self.warnings.append(f"{self.path}: {key}.business_api: ignored for a whatsmeow account")
        session_path = self.session_path(session, key, account_id) if kind == "whatsmeow" else None
        return AccountConfig(
            id=account_id, type=kind,
            phone_number=self.get(item, key, "phone_number", str, ""),
            session_path=session_path,
            show_qr=self.get(item, key, "show_qr", bool, False),
            disabled=self.get(item, key, "disabled", bool, False),
            business_api=business,
            device_name=self.get(item, key, "device_name", str, "") or "whatshooked",
            status_broadcasts=self.get(item, key, "status_broadcasts", bool, False),
            presence=self.get(item, key, "presence", bool, False),
            history=self.get(item, key, "history", bool, False),
            proxy=self.proxy(item, key, kind),
        )

    def proxy(self, item: dict[str, Any], key: str, kind: str) -> str:
        value = self.get(item, key, "proxy", str, "").strip()
        if not value:
            return ""
        if kind != "whatsmeow":
            self.problem(f"{key}.proxy", "is only for whatsmeow (WhatsApp Web) accounts")
            return ""
        parts = urlsplit(value)
        if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
            self.problem(f"{key}.proxy", f"must be a {', '.join(s + '://' for s in PROXY_SCHEMES)} URL "
                         "with a host, like socks5://127.0.0.1:1080")
            return ""
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            self.problem(f"{key}.proxy", "has a port that is not a number from 1 to 65535")
            return ""
        return value

    def session_path(self, session: str, key: str, account_id: str) -> Path:
        """whatsmeow opens the session as a SQLite URI (`file:PATH?…`): `#`, `%` and `?` would name another file."""
        path = self.path_of(session or f"data/sessions/{account_id}.db")
        resolved = path.resolve()
        if any(c in str(resolved) for c in "#%?"):  # the config folder, `~` and symlinks count too
            self.problem(f"{key}.session_path", f"{str(resolved)!r} contains '#', '%' or '?', which WhatsApp "
                         "Web's database would read as a different file; choose a path without them")
        if resolved in self.sessions:
            self.problem(f"{key}.session_path", f"{str(path)!r} is also the session_path of "
                         f"{self.sessions[resolved]}; every account needs its own session file")
        else:
            self.sessions[resolved] = key
        return path

    def business(self, raw: Any, key: str, account_id: str) -> BusinessApiConfig | None:
        if not isinstance(raw, dict):
            self.problem(key, "is required for a business-api account (phone_number_id, access_token, …)")
            return None
        self.unknown_keys(key, raw, _BUSINESS_KEYS)
        phone_number_id = self.get(raw, key, "phone_number_id", str, "")
        token = self.get(raw, key, "access_token", str, "")
        if not phone_number_id:
            self.problem(f"{key}.phone_number_id", "is required")
        if not token:
            self.problem(f"{key}.access_token", "is required (is its environment variable set?)")
        path = self.get(raw, key, "webhook_path", str, "") or f"/webhooks/whatsapp/{account_id}"
        if (why := webhook_path_problem(path)) is not None:
            self.problem(f"{key}.webhook_path", why)
        elif path in self.webhook_paths:
            self.problem(f"{key}.webhook_path", f"{path!r} is also the webhook_path of {self.webhook_paths[path]}; "
                         "every account needs its own")
        self.webhook_paths.setdefault(path, key)
        graph_url = self.get(raw, key, "graph_url", str, "https://graph.facebook.com").rstrip("/")
        if not graph_url.startswith(("http://", "https://")):
            self.problem(f"{key}.graph_url", f"must start with http:// or https://, not {graph_url!r}")
        return BusinessApiConfig(
            phone_number_id=phone_number_id, access_token=Secret(token),
            app_secret=Secret(self.get(raw, key, "app_secret", str, "")),
            verify_token=Secret(self.get(raw, key, "verify_token", str, "")),
            waba_id=self.get(raw, key, "waba_id", str, ""),
            business_account_id=self.get(raw, key, "business_account_id", str, ""),
            api_version=self.get(raw, key, "api_version", str, "v21.0"),
            webhook_path=path, graph_url=graph_url,
        )

    def hook(self, item: dict[str, Any], key: str) -> HookConfig | None:
        self.unknown_keys(key, item, _HOOK_KEYS)
        hook_id = self.ident(item, key)
        url = self.get(item, key, "url", str, "")
        if not url:
            self.problem(f"{key}.url", "is required")
        elif not url.startswith(("http://", "https://")):
            self.problem(f"{key}.url", f"must start with http:// or https://, not {url!r}")
        method = self.get(item, key, "method", str, "POST").upper()
        if method not in HOOK_METHODS:
            self.problem(f"{key}.method", f"must be one of {', '.join(HOOK_METHODS)}, not {method!r}")
        headers = self.get(item, key, "headers", dict, {})
        for name, value in headers.items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                self.problem(f"{key}.headers.{name}", "must be a string")
            elif (why := header_problem(str(name), str(value))) is not None:
                self.problem(f"{key}.headers.{name}", why)
        events = self.get(item, key, "events", list, [])
        for index, pattern in enumerate(events):
            if not isinstance(pattern, str) or not pattern:
                self.problem(f"{key}.events[{index}]", "must be an event name like message.received or message.*")
        secret = self.get(item, key, "secret", str, "")
        if secret:
            from whatshooked.delivery.signing import SigningError, decode_secret

            try:
                decode_secret(secret)
            except SigningError as exc:
                self.problem(f"{key}.secret", str(exc))
        if hook_id is None:
            return None
        return HookConfig(
            id=hook_id, url=url, name=self.get(item, key, "name", str, "") or hook_id, method=method,
            headers={str(k): str(v) for k, v in headers.items()},
            active=self.get(item, key, "active", bool, True),
            events=tuple(str(e) for e in events), secret=Secret(secret),
            allow_insecure=self.get(item, key, "allow_insecure", bool, False),
            description=self.get(item, key, "description", str, ""),
        )


_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false", dict: "a mapping", list: "a list"}
_TOP_KEYS = ("server", "storage", "message_cache", "delivery", "media", "logging", "accounts", "hooks")
_SERVER_KEYS = {"host", "port", "api_key", "username", "password", "public_url", "max_body", "metrics_public",
                "trusted_origins", "request_timeout", "max_connections"}
_ACCOUNT_KEYS = {"id", "type", "phone_number", "session_path", "show_qr", "disabled", "business_api", "proxy",
                 "device_name", "status_broadcasts", "presence", "history"}
PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")
_BUSINESS_KEYS = {
    "phone_number_id", "access_token", "app_secret", "verify_token", "waba_id",
    "business_account_id", "api_version", "webhook_path", "graph_url",
}
_HOOK_KEYS = {"id", "name", "url", "method", "headers", "active", "events", "secret", "allow_insecure", "description"}
