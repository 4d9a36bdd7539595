"""Phone numbers and WhatsApp JIDs as users type them, turned into one canonical form.

Users write `+1 (555) 123-4567`, `15551234567`, `15551234567@s.whatsapp.net` or `…@c.us`; WhatsApp's
Cloud API wants the digits and hooks want `+` and the digits. E.164 allows at most 15 digits.
"""

from __future__ import annotations

import re

from whatshooked.errors import RequestError

USER_SERVERS = ("s.whatsapp.net", "c.us")
GROUP_SERVER = "g.us"
_SEPARATORS = re.compile(r"[\s().\-/]")
_DIGITS = re.compile(r"^\d{7,15}$")


def phone_digits(value: str, field: str = "to") -> str:
    """The digits of a phone number or user JID (`15551234567`); RequestError (400) if it is neither."""
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{field}' is required: a phone number in international format like +15551234567")
    text = value.strip()
    if "@" in text:
        user, _, server = text.partition("@")
        if server == GROUP_SERVER:
            raise RequestError(f"'{field}' is a group JID ({text}); this account can only message phone numbers")
        if server not in USER_SERVERS:
            raise RequestError(f"'{field}' {text!r} is not a WhatsApp JID (expected …@s.whatsapp.net)")
        text = user.split(":", 1)[0]  # a device suffix (`123:4@s.whatsapp.net`) is not part of the number
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not _DIGITS.match(text):
        raise RequestError(
            f"'{field}' {value!r} is not a phone number in international format (country code first, "
            "7 to 15 digits, e.g. +15551234567) or a WhatsApp JID"
        )
    return text


def international(wa_id: str | None) -> str | None:
    """A WhatsApp id or number as `+<digits>`, the form hooks see in `from` and `chat`."""
    if not wa_id:
        return None
    digits = wa_id.strip().lstrip("+")
    return f"+{digits}" if digits.isdigit() else wa_id
