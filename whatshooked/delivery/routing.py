"""Which events a hook takes beyond its `events` names: `accounts` and `chats` (DESIGN §8.1).

Chats are compared in one form: a phone number or user JID as `+digits` (what hooks see in `chat`
and `from`), any other JID (`…@g.us`, `…@lid`, `…@newsletter`) as written, lower case. An entry of
`include` / `exclude` matches an event whose chat (`chat`, or `to` for a send's events) or sender
(`from`) is that address. Events with no chat or sender (`whatsapp.connected`, `hook.*`, …) pass the
chat filters; events with no account pass the account filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from whatshooked.config.model import ChatFilter, HookConfig
from whatshooked.events import Event

USER_SERVERS = ("s.whatsapp.net", "c.us")
GROUP_SERVER = "g.us"
_SEPARATORS = re.compile(r"[\s().\-/]")
_DIGITS = re.compile(r"[0-9]{7,15}\Z")


def chat_key(value: Any) -> str | None:
    """The comparable form of a phone number or JID, or None when it is neither."""
    if not isinstance(value, str):
        return None
    if value[:1] == "+" and value[1:].isascii() and value[1:].isdigit() and 7 <= len(value) - 1 <= 15:
        return value  # the form events carry already: the hot path
    text = value.strip()
    if not text:
        return None
    if "@" in text:
        user, _, server = text.partition("@")
        server = server.lower()
        user = user.split(":", 1)[0]  # a device suffix (`123:4@s.whatsapp.net`) is not part of the address
        if not user or not server:
            return None
        if server not in USER_SERVERS:
            return f"{user.lower()}@{server}"
        text = user
    text = _SEPARATORS.sub("", text)
    text = text[1:] if text.startswith("+") else text[2:] if text.startswith("00") else text
    return f"+{text}" if _DIGITS.match(text) else None


def _chat_of(data: dict[str, Any]) -> str | None:
    return chat_key(data.get("chat")) or chat_key(data.get("to"))


def _is_group(data: dict[str, Any], chat: str | None) -> bool:
    return data.get("is_group") is True or (chat is not None and chat.endswith("@" + GROUP_SERVER))


def ordering_key(event: Event) -> str | None:
    """The chat an event belongs to, for `ordered` hooks (None: it waits for nothing)."""
    chat = _chat_of(event.data)
    return None if chat is None else f"{event.account_id or ''}/{chat}"


@dataclass(frozen=True, slots=True)
class Route:
    """A hook's `accounts` and `chats`, ready to test events against."""

    accounts: frozenset[str]
    include: frozenset[str]
    exclude: frozenset[str]
    groups: bool = True
    from_me: bool = True

    @classmethod
    def of(cls, hook: HookConfig) -> Route:
        chats = hook.chats or ChatFilter()
        return cls(frozenset(hook.accounts), frozenset(chats.include), frozenset(chats.exclude),
                   chats.groups, chats.from_me)

    @property
    def everything(self) -> bool:
        return not (self.accounts or self.include or self.exclude) and self.groups and self.from_me

    def accepts(self, event: Event) -> bool:
        if self.everything:
            return True
        account = event.account_id
        if self.accounts and account is not None and account not in self.accounts:
            return False
        data = event.data
        if not self.from_me and data.get("from_me") is True:
            return False
        chat = _chat_of(data)
        if not self.groups and _is_group(data, chat):
            return False
        addresses = {key for key in (chat, chat_key(data.get("from"))) if key is not None}
        if not addresses:
            return True
        if addresses & self.exclude:
            return False
        return not self.include or bool(addresses & self.include)
