"""WhatsApp Web addresses: what users type (phone numbers, JIDs) and what hooks see (`+digits`).

whatsmeow addresses people as `digits@s.whatsapp.net`, groups as `id@g.us`, and — more and more —
people by an opaque "linked id" `id@lid`. Hooks get `+digits` whenever the phone number is known.
"""

from __future__ import annotations

import re

from whatshooked.errors import RequestError
from whatshooked.phone import phone_digits

USER_SERVER = "s.whatsapp.net"
LEGACY_USER_SERVER = "c.us"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"
NEWSLETTER_SERVER = "newsletter"

_GROUP_ID = re.compile(r"^\d{5,}(-\d+)?$")
_LID_ID = re.compile(r"^\d{5,20}$")
_NEWSLETTER_ID = re.compile(r"^\d{5,30}$")


def split_jid(jid: str) -> tuple[str, str]:
    """`user@server` → (user without agent/device suffix, server)."""
    user, _, server = jid.partition("@")
    user = user.split(":", 1)[0].split(".", 1)[0]
    return user, server


def normalize_recipient(to: str, field: str = "to") -> str:
    """A phone number or JID as whatsmeow wants it (`digits@s.whatsapp.net`, `id@g.us`, `id@lid`)."""
    if not isinstance(to, str) or not to.strip():
        raise RequestError(f"'{field}' is required: a phone number like +15551234567 or a WhatsApp JID")
    text = to.strip()
    if "@" not in text:
        return f"{phone_digits(text, field)}@{USER_SERVER}"
    user, server = split_jid(text)
    if server in (USER_SERVER, LEGACY_USER_SERVER):
        return f"{phone_digits(user, field)}@{USER_SERVER}"
    if server == GROUP_SERVER and _GROUP_ID.match(user):
        return f"{user}@{GROUP_SERVER}"
    if server == LID_SERVER and _LID_ID.match(user):
        return f"{user}@{LID_SERVER}"
    if server == NEWSLETTER_SERVER and _NEWSLETTER_ID.match(user):
        return f"{user}@{NEWSLETTER_SERVER}"
    raise RequestError(
        f"'{field}' {to!r} is not a phone number or a WhatsApp JID this account can message "
        f"(…@{USER_SERVER}, …@{GROUP_SERVER} or …@{LID_SERVER})"
    )


def public_address(user: str, server: str, alt_user: str = "", alt_server: str = "") -> str:
    """How hooks see an address: `+digits` for a person whose number is known, else the JID."""
    if server in (USER_SERVER, LEGACY_USER_SERVER) and user.isdigit():
        return f"+{user}"
    if server == LID_SERVER and alt_server == USER_SERVER and alt_user.isdigit():
        return f"+{alt_user}"
    if not user:
        return server
    return f"{user}@{server}"
