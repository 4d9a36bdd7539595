"""Meta's webhook payloads turned into our events (DESIGN §4). Pure functions: no I/O.

One POST holds `entry[].changes[]`; a `messages` change holds messages, statuses or errors; every
other field becomes `business.<field>` with its value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from whatshooked.accounts.base import sent_key
from whatshooked.accounts.cloud_api import unreadable as unread
from whatshooked.events import utc_timestamp
from whatshooked.phone import international

log = logging.getLogger(__name__)

MESSAGE_TYPES = frozenset({
    "text", "image", "video", "audio", "document", "sticker", "location", "contacts", "reaction",
    "interactive", "button", "order", "system",
})
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
CHANGE_TYPES = frozenset({"revoke", "edit"})
"""A message deleted for everyone, or edited: `{type: revoke|edit, revoke|edit: {original_message_id, …}}`."""
STATUS_EVENTS = {
    "sent": "message.sent", "delivered": "message.delivered", "read": "message.read",
    "played": "message.played", "failed": "message.failed",
}


@dataclass
class Inbound:
    """One event to raise; `media` is Meta's media object to fetch before raising it."""

    type: str
    data: dict[str, Any]
    dedupe_key: str | None = None
    media: dict[str, Any] | None = None


@dataclass
class Parsed:
    items: list[Inbound] = field(default_factory=list)
    waba_ids: set[str] = field(default_factory=set)
    foreign: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """`messages` changes for other phone_number_ids, by id, as a payload each (to hand to that account)."""


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>`."""
    if not header or not header.isascii() or not header.startswith("sha256="):
        return False  # compare_digest refuses non-ASCII text: such a header is simply wrong
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def parse_payload(payload: Any, account_id: str, phone_number_id: str, shallow: bool = False) -> Parsed:
    """Every change of every entry; raises ValueError when this is not a WhatsApp webhook at all.

    `shallow`: the caller knows no part nests too deep (unreadable.nests_within), so no change is walked.

    Inside a webhook nothing raises: a part of the wrong type or shape becomes a `business.errors`
    event (see `unreadable`), so Meta gets its 200 and the part is not lost.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("not a WhatsApp webhook: expected an object with an 'entry' list")
    parsed = Parsed()
    for entry in payload["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            parsed.items.append(unreadable("an entry is not an object with a 'changes' list", entry))
            continue
        if isinstance(entry.get("id"), (str, int)) and entry["id"]:
            parsed.waba_ids.add(str(entry["id"]))
        for change in changes:
            _guarded_change(entry, change, account_id, phone_number_id, parsed, shallow)
    return parsed


def unreadable(why: str, raw: Any) -> Inbound:
    log.warning("webhook content not raised as an event of its own (business.errors instead): %s", why)
    return Inbound("business.errors", unread.unreadable_data(why, raw))


def _guarded_change(entry: dict[str, Any], change: Any, account_id: str, phone_number_id: str,
                    parsed: Parsed, shallow: bool = False) -> None:
    """One change; what it yields is kept only when all of it could be read."""
    if not isinstance(change, dict):
        parsed.items.append(unreadable("a change is not an object", change))
        return
    if not shallow and unread.too_deep(change):
        parsed.items.append(unreadable("a change nests too deep to be raised", None))
        return
    own = Parsed()
    try:
        _change(entry, change, account_id, phone_number_id, own)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        parsed.items.append(unreadable(f"a {change.get('field')!r} change could not be read "
                                       f"({type(exc).__name__}: {exc})", change))
        return
    parsed.items.extend(own.items)
    for number, entries in own.foreign.items():
        parsed.foreign.setdefault(number, []).extend(entries)


def _change(entry: dict[str, Any], change: dict[str, Any], account_id: str, phone_number_id: str,
            parsed: Parsed) -> None:
    name = str(change.get("field") or "unknown")
    value = change.get("value")
    if name != "messages" or not isinstance(value, dict):
        data = dict(value) if isinstance(value, dict) else {"value": value}
        parsed.items.append(Inbound(f"business.{name}", data))
        return
    number = str(unread.mapping(value.get("metadata")).get("phone_number_id") or "")
    if number and number != phone_number_id:
        entries = parsed.foreign.setdefault(number, [])
        entries.append({"id": entry.get("id"), "changes": [change]})
        return
    contacts = unread.dicts(value.get("contacts"))
    for message in unread.dicts(value.get("messages")):
        parsed.items.append(message_item(message, contacts, account_id))
    for status in unread.dicts(value.get("statuses")):
        item = status_item(status, account_id)
        if item is not None:
            parsed.items.append(item)
    if value.get("errors"):
        parsed.items.append(Inbound("business.errors", {"errors": value["errors"]}))
    for part in ("messages", "statuses", "contacts", "metadata"):
        kind = dict if part == "metadata" else list
        if value.get(part) is not None and not isinstance(value[part], kind):
            what = "an object" if kind is dict else "a list"
            parsed.items.append(unreadable(f"'{part}' of a messages change is not {what}", value[part]))


def iso_time(epoch: Any) -> str:
    try:
        return utc_timestamp(float(epoch))
    except (TypeError, ValueError, OverflowError, OSError):
        return utc_timestamp()


def message_item(message: dict[str, Any], contacts: list[dict[str, Any]], account_id: str) -> Inbound:
    """A `message.received` with the fields of DESIGN §4 and Meta's object as `raw`."""
    sender = str(message.get("from") or "")
    meta_type = str(message.get("type") or "unknown")
    kind = meta_type if meta_type in MESSAGE_TYPES else "unknown"
    profile = next((c for c in contacts if c.get("wa_id") == sender), contacts[0] if contacts else {})
    group = message.get("group_id")
    data: dict[str, Any] = {
        "message_id": message.get("id"),
        "chat": str(group) if group else international(sender),
        "from": international(sender),
        "from_name": unread.mapping(profile.get("profile")).get("name"),
        "is_group": bool(group),
        "type": kind,
        "text": None,
    }
    if meta_type in CHANGE_TYPES:
        return change_item(meta_type, message, data, account_id)
    content = message.get(meta_type)
    content = content if isinstance(content, dict) else {}
    media = None
    if kind == "text":
        data["text"] = content.get("body")
    elif kind in MEDIA_TYPES:
        media = content
        if content.get("caption") is not None:
            data["caption"] = content["caption"]
        data["media"] = {
            k: content[k] for k in ("mime_type", "sha256", "filename") if content.get(k) is not None
        }
    elif kind == "location":
        data["location"] = {
            k: content.get(k) for k in ("latitude", "longitude", "name", "address", "url") if k in content
        }
    elif kind == "contacts":
        data["contacts"] = message.get("contacts") or []
    elif kind == "reaction":
        data["reaction"] = {"message_id": content.get("message_id"), "emoji": content.get("emoji")}
        data["text"] = content.get("emoji")
    elif kind == "interactive":
        data["interactive"] = interactive_reply(content)
        data["text"] = data["interactive"].get("title") or data["interactive"].get("body")
    elif kind == "button":
        payload = content.get("payload")
        data["interactive"] = {"type": "button", "id": payload, "title": content.get("text"), "payload": payload}
        data["text"] = content.get("text")
    elif kind == "order":
        data["order"] = content
        data["text"] = content.get("text")
    elif kind == "system":
        data["system"] = content
        data["text"] = content.get("body")
    context = message.get("context")
    if isinstance(context, dict) and (context.get("id") or context.get("referred_product")):
        data["context"] = {"message_id": context.get("id")}
        if context.get("from"):
            data["context"]["from"] = international(str(context["from"]))
        if context.get("referred_product"):
            data["context"]["referred_product"] = context["referred_product"]
    if message.get("referral"):
        data["referral"] = message["referral"]
    if message.get("errors"):
        data["errors"] = message["errors"]
    data["timestamp"] = iso_time(message.get("timestamp"))
    data["raw"] = message
    key = f"cloud:msg:{account_id}:{message['id']}" if message.get("id") else None
    return Inbound("message.received", data, key, media)


def change_item(meta_type: str, message: dict[str, Any], known: dict[str, Any], account_id: str) -> Inbound:
    """`message.revoked` / `message.edited` (DESIGN §8.2) about the original message, as on WhatsApp Web."""
    content = unread.mapping(message.get(meta_type))
    data: dict[str, Any] = {
        "message_id": content.get("original_message_id"), "chat": known["chat"], "from": known["from"],
    }
    if meta_type == "revoke":
        event_type = "message.revoked"
        data["by"] = known["from"]
    else:
        event_type = "message.edited"
        edited = unread.mapping(content.get("message"))
        body = unread.mapping(edited.get(str(edited.get("type") or "")))
        data["text"] = body.get("body") if edited.get("type") == "text" else body.get("caption")
        data["edited_at"] = iso_time(message.get("timestamp"))
    data["raw"] = message
    key = f"cloud:msg:{account_id}:{message['id']}" if message.get("id") else None
    return Inbound(event_type, data, key)


def interactive_reply(content: dict[str, Any]) -> dict[str, Any]:
    """button_reply / list_reply as {type, id, title[, description]}; a Flow's nfm_reply with `response` parsed."""
    reply_type = str(content.get("type") or "unknown")
    reply = content.get(reply_type)
    reply = reply if isinstance(reply, dict) else {}
    result: dict[str, Any] = {"type": reply_type, **reply}
    if reply_type == "nfm_reply":
        raw = reply.get("response_json")
        try:
            result["response"] = unread.load_body(raw.encode()) if isinstance(raw, str) else raw
        except (unread.NotJson, unread.TooDeep):
            result["response"] = None
    return result


def status_item(status: dict[str, Any], account_id: str) -> Inbound | None:
    """Receipts: sent/delivered/read/played, and `failed` as message.failed with Meta's error."""
    name = str(status.get("status") or "")
    event_type = STATUS_EVENTS.get(name)
    if event_type is None:
        log.info("cloud account %s: ignoring status %r of %s", account_id, name, status.get("id"),
                 extra={"account_id": account_id})
        return None
    recipient = international(str(status.get("recipient_id") or "")) or None
    data: dict[str, Any] = {
        "message_id": status.get("id"),
        "chat": recipient,
        "by": recipient,
        "timestamp": iso_time(status.get("timestamp")),
        "status": name,
    }
    if name in ("sent", "failed"):
        data["to"] = recipient
    if name == "failed":
        errors = unread.dicts(status.get("errors"))
        first = errors[0] if errors else {}
        details = (first.get("error_data") or {}).get("details") if isinstance(first.get("error_data"), dict) else None
        data["error"] = {
            "code": first.get("code"),
            "message": first.get("message") or first.get("title") or "message failed",
        }
        if details:
            data["error"]["details"] = details
        data["errors"] = errors
    for extra in ("conversation", "pricing", "biz_opaque_callback_data"):
        if status.get(extra) is not None:
            data[extra] = status[extra]
    data["raw"] = status
    key = None
    if status.get("id"):  # `sent` shares its key with the message.sent our own send raised, if it did
        message_id = str(status["id"])
        key = sent_key(account_id, message_id) if name == "sent" else f"cloud:status:{account_id}:{message_id}:{name}"
    return Inbound(event_type, data, key)
