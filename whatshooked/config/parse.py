"""Builds a `Config` from the interpolated YAML tree, collecting every problem with its dotted key."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from whatshooked.accounts.backends import backend_specs, default_type
from whatshooked.accounts.spec import BackendSpec
from whatshooked.config.hook_routing import routing_fields, unknown_accounts
from whatshooked.config.hook_schema import HOOK_KEYS, hook_problems
from whatshooked.config.model import (
    ID_PATTERN,
    LOG_FORMATS,
    MEDIA_MODES,
    AccountConfig,
    CacheConfig,
    Config,
    DeliveryConfig,
    HookConfig,
    LoggingConfig,
    MediaConfig,
    ServerConfig,
    StorageConfig,
)
from whatshooked.config.reader import SectionReader
from whatshooked.config.rules import trusted_origins
from whatshooked.config.values import Secret, parse_duration, parse_size
from whatshooked.errors import ConfigError
from whatshooked.store.seal import decode_key


class ConfigBuilder(SectionReader):
    """Walks the interpolated YAML tree, collecting every problem with its dotted key."""

    account_ids: set[str]  # every account id in the file, for hooks' `accounts`

    # -- sections ---------------------------------------------------------
    def build(self, raw: dict[str, Any]) -> Config:
        self.unknown_keys("", raw, set(_TOP_KEYS))
        server = self.server(self.section(raw, "server", _SERVER_KEYS))
        storage = self.storage(self.section(raw, "storage", _STORAGE_KEYS))
        mc = self.section(raw, "message_cache", {"enabled", "max_age", "max_events", "keep_delivered"})
        cache = CacheConfig(
            enabled=self.get(mc, "message_cache", "enabled", bool, True),
            max_age=self.convert(mc, "message_cache", "max_age", parse_duration, 7 * 86400.0),
            max_events=self.positive(mc, "message_cache", "max_events", 100_000),
            keep_delivered=self.convert(mc, "message_cache", "keep_delivered", parse_duration, 86400.0),
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
        self.account_ids = {a.id for a in accounts} | _raw_ids(raw.get("accounts"))
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
        path = self.get(sto, "storage", "path", str, "")
        url, url_key = self.get(sto, "storage", "url", str, "").strip(), "storage.url"
        if url and path:
            self.problem("storage.url", "and storage.path are both set: give one (url for a database server, "
                         "path for the SQLite file)")
        elif _URL.match(path):  # a URL under path: kept as written (a Path would collapse its `//`)
            url, url_key, path = path, "storage.path", ""
        if url and not _URL.match(url):
            self.problem(url_key, f"must be a URL like postgresql://user:password@host/database, not {url!r}")
        node_id = self.get(sto, "storage", "node_id", str, "").strip()
        lease = self.convert(sto, "storage", "lease", parse_duration, 30.0)
        if lease < 1:
            self.problem("storage.lease", f"must be at least 1s (a claim renewed every third of it), not {lease}s")
            lease = 30.0
        return StorageConfig(path=self.path_of(path or "data/whatshooked.db"), encryption_key=key,
                             old_encryption_keys=old_keys, url=url, node_id=node_id,
                             lease=lease)

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
            event_loop=self.event_loop(sv),
        )

    def event_loop(self, sv: dict[str, Any]) -> str:
        value = self.get(sv, "server", "event_loop", str, "asyncio")
        if value not in EVENT_LOOPS:
            self.problem("server.event_loop", f"must be one of {', '.join(EVENT_LOOPS)}, not {value!r}")
            return "asyncio"
        if value == "uvloop" and importlib.util.find_spec("uvloop") is None:
            self.problem("server.event_loop", "uvloop is not installed here (pip install uvloop), or use asyncio")
        return value

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
        """The common keys here; the backend named by `type` parses and validates its own."""
        specs = backend_specs()
        self.unknown_keys(key, item, _ACCOUNT_KEYS.union(*(spec.keys for spec in specs.values())))
        account_id = self.ident(item, key)
        kind = self.choice(item, key, "type", tuple(specs), default_type())
        if account_id is None:
            return None
        for other in specs.values():
            if other.type_name != kind:
                self.foreign_keys(item, key, kind, other)
        return AccountConfig(
            id=account_id, type=kind,
            phone_number=self.get(item, key, "phone_number", str, ""),
            disabled=self.get(item, key, "disabled", bool, False),
            settings=specs[kind].parse(item, key, account_id, self),
        )

    def foreign_keys(self, item: dict[str, Any], key: str, kind: str, owner: BackendSpec) -> None:
        """Another backend's keys on this account: refused or ignored, as that backend declares."""
        for name in sorted(owner.refuse_elsewhere | owner.warn_elsewhere):
            if item.get(name) in (None, ""):
                continue
            if name in owner.refuse_elsewhere:
                self.problem(f"{key}.{name}", f"is only for {owner.label} accounts")
            else:
                self.warnings.append(f"{self.path}: {key}.{name}: ignored for a {kind} account")

    def hook(self, item: dict[str, Any], key: str) -> HookConfig | None:
        self.unknown_keys(key, item, set(HOOK_KEYS))
        hook_id = self.ident(item, key)
        url = self.get(item, key, "url", str, "")
        method = self.get(item, key, "method", str, "POST").upper()
        headers: dict[str, str] = {}
        for name, value in self.get(item, key, "headers", dict, {}).items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                self.problem(f"{key}.headers.{name}", "must be a string")
            else:
                headers[str(name)] = str(value)
        events = self.get(item, key, "events", list, [])
        secret = self.get(item, key, "secret", str, "")
        for name, why in hook_problems(url, method, headers, events, secret):
            self.problem(f"{key}.{name}", why)
        routing, problems = routing_fields(item, secret)
        for name, why in problems + unknown_accounts(item.get("accounts"), self.account_ids):
            self.problem(f"{key}.{name}", why)
        if hook_id is None:
            return None
        return HookConfig(
            id=hook_id, url=url, name=self.get(item, key, "name", str, "") or hook_id, method=method,
            headers=headers, active=self.get(item, key, "active", bool, True),
            events=tuple(str(e) for e in events), secret=Secret(secret),
            allow_insecure=self.get(item, key, "allow_insecure", bool, False),
            description=self.get(item, key, "description", str, ""), **routing,
        )


def _raw_ids(accounts: Any) -> set[str]:
    """Every account id written in the file, parsed or not (a hook naming a broken account is not wrong too)."""
    items = accounts if isinstance(accounts, list) else []
    return {str(item["id"]) for item in items if isinstance(item, dict) and item.get("id") is not None}


_STORAGE_KEYS = {"path", "url", "node_id", "lease", "encryption_key", "old_encryption_keys"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TOP_KEYS = ("server", "storage", "message_cache", "delivery", "media", "logging", "accounts", "hooks")
_SERVER_KEYS = {"host", "port", "api_key", "username", "password", "public_url", "max_body", "metrics_public",
                "trusted_origins", "request_timeout", "max_connections", "event_loop"}
EVENT_LOOPS = ("asyncio", "uvloop")
_ACCOUNT_KEYS = {"id", "type", "phone_number", "disabled"}
