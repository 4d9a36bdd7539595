"""What a backend tells the core about itself: its config section, secrets and API shape.

Each subpackage of `whatshooked/accounts/` declares one `SPEC = BackendSpec(...)` in its
`__init__.py` (cheap: no adapter import); `backends.py` finds them. The config parser, the
`/api/accounts` routes and the write-back ask the spec, so a new account type touches only its
own folder. Secrets are found by type: any `Secret` field of a settings dataclass is masked in the
API and scrubbed from logs without being listed anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from whatshooked.config.reader import SectionReader
from whatshooked.config.values import Secret, masked_fields

Parse = Callable[[dict[str, Any], str, str, SectionReader], Any]
"""(account entry, its dotted key, account id, reader) → the backend's settings, problems on the reader."""


def assign_changed(target: dict[str, Any], values: dict[str, Any]) -> None:
    """Assign only what differs, so a value sent unchanged keeps its line in the file as written."""
    for name, value in values.items():
        if name not in target or target[name] != value:
            target[name] = value


def _merge_plain(entry: dict[str, Any], fields: dict[str, Any], current: Any) -> None:
    assign_changed(entry, fields)


def _nothing_required(fields: dict[str, Any]) -> None:
    return None


def secret_fields(settings_type: type) -> tuple[str, ...]:
    """The names of a settings dataclass's `Secret` fields: what the API masks and keeps on "***"."""
    return tuple(f.name for f in dataclasses.fields(settings_type) if f.type in (Secret, "Secret"))


def settings_json(settings: Any) -> dict[str, Any]:
    """A settings dataclass as the API shows it: plain values as they are, set secrets as "***"."""
    return masked_fields(settings)


@dataclass(frozen=True)
class BackendSpec:
    """One account `type`: everything the core may ask of a backend without importing it."""

    type_name: str
    label: str
    """How messages name the type, e.g. "whatsmeow (WhatsApp Web)"."""
    adapter: str
    """"module:Class", imported only when an account of this type is built."""
    keys: frozenset[str]
    """The keys of an account entry this backend owns (beside id, type, phone_number, disabled)."""
    parse: Parse
    to_api: Callable[[Any], dict[str, Any]]
    """Settings → the JSON `/api/accounts` lists (secrets as "***")."""
    api_fields: Callable[[dict[str, Any]], dict[str, Any]]
    """A request body → this backend's entry keys, type-checked (RequestError naming the field)."""
    merge_update: Callable[[dict[str, Any], dict[str, Any], Any], None] = _merge_plain
    """(YAML entry, fields from `api_fields`, current settings or None): edit the entry in place."""
    check_new: Callable[[dict[str, Any]], None] = _nothing_required
    """Refuse (RequestError) an added account whose fields lack what this type needs."""
    default: bool = False
    """The type of an account that names none."""
    refuse_elsewhere: frozenset[str] = frozenset()
    """Own keys that are a config error on another type's account."""
    warn_elsewhere: frozenset[str] = frozenset()
    """Own keys that are ignored, with a warning, on another type's account."""
    loads_in_background: bool = False
    """Its adapter takes long to import (WhatsApp Web: neonize): the import runs in a thread, and at
    start-up its accounts show as `connecting` meanwhile, so the API listens at once."""
