"""A hook's routing, delivery and rotation keys (DESIGN §8.1), read once for the file and the API.

`routing_fields(item)` reads `accounts`, `chats`, `timeout`, `retry`, `ordered`, `previous_secret` and
`previous_secret_until` from a hook's mapping (YAML or a JSON body alike) and gives the HookConfig
values with every (field, why) wrong, field names relative (`chats.include[0]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from whatshooked.config.model import ID_PATTERN, ChatFilter
from whatshooked.config.values import Secret, parse_duration
from whatshooked.delivery.routing import chat_key
from whatshooked.delivery.signer import secret_problem

ROUTING_KEYS = ("accounts", "chats", "timeout", "retry", "ordered", "previous_secret", "previous_secret_until")
CHAT_KEYS = ("include", "exclude", "groups", "from_me")
ADDRESS = "must be a phone number in international format (+15551234567) or a WhatsApp JID (…@g.us)"
UTC_TIME = "must be a time in ISO 8601, in UTC, like 2026-12-31T00:00:00Z"

Problems = list[tuple[str, str]]


def routing_fields(item: Mapping[str, Any], secret: str) -> tuple[dict[str, Any], Problems]:
    """The HookConfig values of these keys (only those given) and what is wrong with them."""
    values: dict[str, Any] = {}
    problems: Problems = []
    if item.get("accounts") is not None:
        values["accounts"] = _accounts(item["accounts"], problems)
    if item.get("chats") is not None:
        values["chats"] = _chats(item["chats"], problems)
    if item.get("timeout") is not None:
        values["timeout"] = _timeout(item["timeout"], problems)
    if item.get("retry") is not None:
        values["retry"] = _retry(item["retry"], problems)
    if item.get("ordered") is not None:
        values["ordered"] = _flag(item["ordered"], "ordered", problems)
    previous, until = item.get("previous_secret"), item.get("previous_secret_until")
    if previous not in (None, ""):
        if not isinstance(previous, str):
            problems.append(("previous_secret", "must be a string"))
        elif (why := secret_problem(previous)) is not None:
            problems.append(("previous_secret", why))
        elif not secret:
            problems.append(("previous_secret", "needs secret (the new secret deliveries are signed with)"))
        else:
            values["previous_secret"] = Secret(previous)
        if until in (None, ""):
            problems.append(("previous_secret_until", "is required with previous_secret: when to stop using it"))
    if until not in (None, ""):
        values["previous_secret_until"] = _until(until, problems)
    return values, problems


def _accounts(value: Any, problems: Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.append(("accounts", "must be a list of account ids"))
        return ()
    found = []
    for index, item in enumerate(value):
        if isinstance(item, str) and ID_PATTERN.fullmatch(item):
            found.append(item)
        else:
            problems.append((f"accounts[{index}]", f"must be an account id, not {item!r}"))
    return tuple(found)


def unknown_accounts(accounts: Any, known: set[str]) -> Problems:
    """(field, why) for every entry of a hook's `accounts` that names no configured account."""
    if not isinstance(accounts, list):
        return []
    shown = ", ".join(sorted(known)) or "none"
    return [(f"accounts[{index}]", f"names no configured account: {item!r} (known: {shown})")
            for index, item in enumerate(accounts) if isinstance(item, str) and item not in known]


def _chats(value: Any, problems: Problems) -> ChatFilter:
    if not isinstance(value, dict):
        problems.append(("chats", "must be a mapping: {include: [], exclude: [], groups: true, from_me: true}"))
        return ChatFilter()
    for name in value:
        if name not in CHAT_KEYS:
            problems.append((f"chats.{name}", f"unknown key (known: {', '.join(CHAT_KEYS)})"))
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("include", "exclude"):
        entries = value.get(name)
        if entries is None:
            lists[name] = ()
            continue
        if not isinstance(entries, list):
            problems.append((f"chats.{name}", "must be a list of phone numbers or JIDs"))
            entries = []
        keys = []
        for index, entry in enumerate(entries):
            key = chat_key(str(entry)) if isinstance(entry, str | int) and not isinstance(entry, bool) else None
            if key is None:
                problems.append((f"chats.{name}[{index}]", f"{ADDRESS}, not {entry!r}"))
            else:
                keys.append(key)
        lists[name] = tuple(keys)
    groups = _flag(value.get("groups", True), "chats.groups", problems)
    from_me = _flag(value.get("from_me", True), "chats.from_me", problems)
    return ChatFilter(lists["include"], lists["exclude"], groups, from_me)


def _flag(value: Any, field: str, problems: Problems) -> bool:
    if not isinstance(value, bool):
        problems.append((field, f"must be true or false, not {value!r}"))
        return False
    return value


def _timeout(value: Any, problems: Problems) -> float | None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.append(("timeout", str(exc)))
        return None
    if seconds <= 0:
        problems.append(("timeout", f"must be more than 0, not {value!r}"))
        return None
    return seconds


def _retry(value: Any, problems: Problems) -> tuple[float, ...] | None:
    if not isinstance(value, list):
        problems.append(("retry", "must be a list of waits, like [1s, 5s, 30s] ([] for no retries)"))
        return None
    waits = []
    for index, item in enumerate(value):
        try:
            waits.append(parse_duration(item))
        except ValueError as exc:
            problems.append((f"retry[{index}]", str(exc)))
    return tuple(waits)


def _until(value: Any, problems: Problems) -> float | None:
    """Unix seconds of an ISO 8601 UTC time (a string, or the datetime YAML makes of one)."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, datetime) or moment.utcoffset() != timedelta(0):
        problems.append(("previous_secret_until", f"{UTC_TIME}, not {str(value)!r}"))
        return None
    return moment.astimezone(UTC).timestamp()
