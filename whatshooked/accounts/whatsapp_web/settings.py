"""A WhatsApp Web account's keys (session file, QR, device name, proxy, …), their validation and API form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from whatshooked.accounts.spec import assign_changed
from whatshooked.config.reader import SectionReader
from whatshooked.config.values import MASK, literal, masked_url
from whatshooked.errors import RequestError
from whatshooked.json_fields import Fields

PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")


@dataclass(frozen=True)
class WebSettings:
    session_path: Path | None = None
    """None only for settings built by hand: the adapter then uses data/sessions/<id>.db."""
    show_qr: bool = False
    proxy: str = ""
    """socks5://, socks5h://, http:// or https:// proxy for the session."""
    device_name: str = "whatshooked"
    """The name the phone lists under "Linked devices"."""
    status_broadcasts: bool = False
    presence: bool = False
    history: bool = False

    def extra_secrets(self) -> list[str]:
        """The proxy's password, scrubbed from logs like every `Secret`."""
        password = urlsplit(self.proxy).password if self.proxy else None
        return [password] if password else []


KEYS = frozenset(WebSettings.__dataclass_fields__)


def parse(item: dict[str, Any], key: str, account_id: str, reader: SectionReader) -> WebSettings:
    return WebSettings(
        session_path=session_path(reader.get(item, key, "session_path", str, ""), key, account_id, reader),
        show_qr=reader.get(item, key, "show_qr", bool, False),
        device_name=reader.get(item, key, "device_name", str, "") or "whatshooked",
        status_broadcasts=reader.get(item, key, "status_broadcasts", bool, False),
        presence=reader.get(item, key, "presence", bool, False),
        history=reader.get(item, key, "history", bool, False),
        proxy=proxy(item, key, reader),
    )


def proxy(item: dict[str, Any], key: str, reader: SectionReader) -> str:
    value = reader.get(item, key, "proxy", str, "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        reader.problem(f"{key}.proxy", f"must be a {', '.join(s + '://' for s in PROXY_SCHEMES)} URL "
                       "with a host, like socks5://127.0.0.1:1080")
        return ""
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        reader.problem(f"{key}.proxy", "has a port that is not a number from 1 to 65535")
        return ""
    return value


def session_path(session: str, key: str, account_id: str, reader: SectionReader) -> Path:
    """whatsmeow opens the session as a SQLite URI (`file:PATH?…`): `#`, `%` and `?` would name another file."""
    path = reader.path_of(session or f"data/sessions/{account_id}.db")
    resolved = path.resolve()
    if any(c in str(resolved) for c in "#%?"):  # the config folder, `~` and symlinks count too
        reader.problem(f"{key}.session_path", f"{str(resolved)!r} contains '#', '%' or '?', which WhatsApp "
                       "Web's database would read as a different file; choose a path without them")
    first = reader.claim("whatsapp_web.session_path", resolved, key)
    if first is not None:
        reader.problem(f"{key}.session_path", f"{str(path)!r} is also the session_path of "
                       f"{first}; every account needs its own session file")
    return path


def to_api(settings: WebSettings) -> dict[str, Any]:
    shown: dict[str, Any] = {"show_qr": settings.show_qr}
    if settings.session_path is not None:
        shown["session_path"] = str(settings.session_path)
    if settings.proxy:
        shown["proxy"] = masked_url(settings.proxy)
    return shown


def merge_update(entry: dict[str, Any], fields: dict[str, Any], current: WebSettings | None) -> None:
    """A proxy sent back as listed (`user:***@host`) keeps the stored password; with another host (or
    user) "***" is refused, so the stored password is never sent to a new proxy."""
    sent = fields.get("proxy")
    if isinstance(sent, str) and urlsplit(sent).password == MASK:
        if current is None or not current.proxy or sent != literal(masked_url(current.proxy)):
            raise RequestError("field 'proxy' must carry the password itself, not \"***\", when its host or "
                               "user changes (the stored password is not sent to a new proxy)")
        fields = {k: v for k, v in fields.items() if k != "proxy"}
    assign_changed(entry, fields)


def api_fields(body: dict[str, Any]) -> dict[str, Any]:
    reader, fields = Fields(body), dict[str, Any]()
    for name in ("session_path", "proxy"):
        if name in body:
            fields[name] = reader.value(name, (str,), "a string", False) or ""
    if "show_qr" in body:
        fields["show_qr"] = bool(reader.boolean("show_qr"))
    return fields
