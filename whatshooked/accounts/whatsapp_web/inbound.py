"""neonize events → DESIGN §4 event data: `message.received` and the three receipt events. Pure.

whatsmeow has already unwrapped ephemeral / view-once / document-with-caption envelopes in
`MessageEv.Message`; we still look through them in case it did not.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.jid import public_address
from whatshooked.events import utc_timestamp

log = logging.getLogger(__name__)

IGNORED = frozenset({
    "protocolMessage", "senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage",
    "messageContextInfo", "pollUpdateMessage", "keepInChatMessage", "encReactionMessage", "pinInChatMessage",
})
"""Plumbing, not something a person sent: never a `message.received`."""

WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
            "documentWithCaptionMessage", "editedMessage", "pollCreationMessageV4")

MEDIA = {"imageMessage": "image", "videoMessage": "video", "ptvMessage": "video", "audioMessage": "audio",
         "documentMessage": "document", "stickerMessage": "sticker"}

POLLS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3", "pollCreationMessageV5",
         "pollCreationMessageV6")
"""The fields that carry a PollCreationMessage (V4 is a wrapper, unwrapped like the others)."""

RECEIPTS = {
    nz.neonize_proto.Receipt.DELIVERED: "message.delivered",
    nz.neonize_proto.Receipt.READ: "message.read",
    nz.neonize_proto.Receipt.PLAYED: "message.played",
}

_VCARD_TEL = re.compile(r"^(?:item\d+\.)?TEL(?P<params>[^:]*):(?P<number>.+)$", re.IGNORECASE | re.MULTILINE)
_WAID = re.compile(r"waid=(\d+)", re.IGNORECASE)
_VCARD_FN = re.compile(r"^FN:(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass
class Inbound:
    """A received message: its event data, and the media to fetch (if any) before emitting it."""

    data: dict[str, Any]
    media_kind: str | None = None
    media_info: dict[str, Any] = field(default_factory=dict)
    """mime_type, file_size, sha256 (hex), filename — known before downloading."""


def jid_text(jid: Any) -> str:
    if not jid.User and not jid.Server:
        return ""
    return f"{jid.User}@{jid.Server}" if jid.User else jid.Server


def epoch_seconds(value: int) -> float:
    """neonize gives message timestamps in milliseconds and receipt timestamps in seconds."""
    return value / 1000 if value > 100_000_000_000 else float(value)


def sender_address(source: Any) -> str:
    return public_address(source.Sender.User, source.Sender.Server, source.SenderAlt.User, source.SenderAlt.Server)


def chat_address(source: Any) -> str:
    """The chat as hooks see it (`+digits`, `id@g.us`); a `@lid` 1:1 chat is resolved when WhatsApp says."""
    chat = source.Chat
    if chat.Server == "lid" and not source.IsGroup:
        alt = source.RecipientAlt if source.IsFromMe else source.SenderAlt
        return public_address(chat.User, chat.Server, alt.User, alt.Server)
    return public_address(chat.User, chat.Server)


def unwrap(message: Any) -> Any:
    for _ in range(4):
        for name in WRAPPERS:
            if message.HasField(name) and getattr(message, name).HasField("message"):
                message = getattr(message, name).message
                break
        else:
            return message
    return message


def downloadable(message: Any) -> Any:
    """The media message in a form whatsmeow's DownloadAny accepts: it looks only at image, video, audio,
    document and sticker fields, so a video note (`ptvMessage`, itself a VideoMessage) goes as a video."""
    message = unwrap(message)
    if message.HasField("ptvMessage"):
        return nz.wa.Message(videoMessage=message.ptvMessage)
    return message


def content_field(message: Any) -> str | None:
    """The name of the field that carries what was sent (`conversation`, `imageMessage`, …)."""
    names = [f.name for f, _ in message.ListFields() if f.name not in IGNORED]
    return names[0] if names else None


def parse_message(ev: Any) -> Inbound | None:
    """A `MessageEv` as `message.received` data, or None for plumbing (key distribution, revokes, …)."""
    source = ev.Info.MessageSource
    message = unwrap(ev.Message)
    name = content_field(message)
    if name is None:
        return None
    data: dict[str, Any] = {
        "message_id": ev.Info.ID, "chat": chat_address(source), "from": sender_address(source),
        "from_name": ev.Info.Pushname or None, "from_me": bool(source.IsFromMe), "is_group": bool(source.IsGroup),
        "type": "unknown", "text": None, "caption": None, "media": None, "location": None, "contacts": None,
        "reaction": None, "interactive": None, "context": None,
        "timestamp": utc_timestamp(epoch_seconds(ev.Info.Timestamp)) if ev.Info.Timestamp else utc_timestamp(),
        "raw": MessageToDict(ev.Message, preserving_proto_field_name=True),
    }
    inbound = Inbound(data)
    part = getattr(message, name)
    _fill(inbound, name, part)
    context = getattr(part, "contextInfo", None) if name != "conversation" else None
    if context is not None and context.stanzaID:
        data["context"] = {"message_id": context.stanzaID, "from": _participant(context.participant)}
    return inbound


def _fill(inbound: Inbound, name: str, part: Any) -> None:
    data = inbound.data
    if name == "conversation":
        data.update(type="text", text=part)
    elif name == "extendedTextMessage":
        data.update(type="text", text=part.text)
    elif name in MEDIA:
        kind = MEDIA[name]
        data["type"] = kind
        if kind in ("image", "video", "document"):
            data["caption"] = part.caption or None
        inbound.media_kind = kind
        inbound.media_info = {
            "mime_type": part.mimetype or "application/octet-stream", "file_size": part.fileLength or None,
            "sha256": part.fileSHA256.hex() or None, "filename": getattr(part, "fileName", "") or None,
        }
        if kind == "audio":
            inbound.media_info["voice"] = bool(part.PTT)
    elif name in ("locationMessage", "liveLocationMessage"):
        data["type"] = "location"
        data["location"] = {"latitude": part.degreesLatitude, "longitude": part.degreesLongitude,
                            "name": getattr(part, "name", "") or None, "address": getattr(part, "address", "") or None,
                            "url": getattr(part, "URL", "") or None}
    elif name == "contactMessage":
        data.update(type="contacts", contacts=[contact_of(part.displayName, part.vcard)])
    elif name == "contactsArrayMessage":
        data.update(type="contacts", contacts=[contact_of(c.displayName, c.vcard) for c in part.contacts])
    elif name == "reactionMessage":
        data["type"] = "reaction"
        data["reaction"] = {"message_id": part.key.ID, "emoji": part.text or None}
    elif name in ("buttonsResponseMessage", "templateButtonReplyMessage"):
        button_id = part.selectedButtonID if name == "buttonsResponseMessage" else part.selectedID
        data.update(type="button", text=part.selectedDisplayText or None)
        data["interactive"] = {"type": "button_reply", "button_reply": {"id": button_id,
                                                                          "title": part.selectedDisplayText}}
    elif name == "listResponseMessage":
        data["type"] = "interactive"
        data["interactive"] = {"type": "list_reply", "list_reply": {
            "id": part.singleSelectReply.selectedRowID, "title": part.title, "description": part.description or None}}
    elif name == "interactiveResponseMessage":
        flow = part.nativeFlowResponseMessage
        data["type"] = "interactive"
        data["interactive"] = {"type": "nfm_reply", "nfm_reply": {
            "name": flow.name, "response_json": flow.paramsJSON, "body": part.body.text or None}}
    elif name in POLLS:
        data["type"] = "poll"
        data["text"] = part.name or None
        data["poll"] = {"name": part.name, "options": [o.optionName for o in part.options],
                        "selectable_count": part.selectableOptionsCount}
    elif name == "orderMessage":
        data.update(type="order", text=part.message or None)
    else:
        log.debug("message field %s passed on as type unknown", name)


def _participant(jid_string: str) -> str | None:
    if not jid_string:
        return None
    user, _, server = jid_string.partition("@")
    return public_address(user.split(":", 1)[0], server)


def contact_of(display_name: str, vcard: str) -> dict[str, Any]:
    phones = []
    for match in _VCARD_TEL.finditer(vcard or ""):
        waid = _WAID.search(match.group("params"))
        phones.append({"phone": match.group("number").strip(), "wa_id": waid.group(1) if waid else None})
    full_name = _VCARD_FN.search(vcard or "")
    name = display_name or (full_name.group(1).strip() if full_name else "")
    return {"name": {"formatted_name": name}, "phones": phones, "vcard": vcard or None}


def receipt_events(ev: Any) -> list[tuple[str, dict[str, Any]]]:
    """One (event type, data) per message id in a delivered / read / played receipt; none for others."""
    event_type = RECEIPTS.get(ev.Type)
    if event_type is None:
        return []
    source = ev.MessageSource
    chat, by = chat_address(source), sender_address(source)
    when = utc_timestamp(epoch_seconds(ev.Timestamp)) if ev.Timestamp else utc_timestamp()
    return [(event_type, {"message_id": message_id, "chat": chat, "by": by, "timestamp": when})
            for message_id in ev.MessageIDs]
