"""`/api/send*` bodies → the neonize protobuf `Message` whatsmeow sends.

We build messages ourselves rather than through neonize's `build_*_message` helpers, which need
ffmpeg, libmagic and PIL to guess what the caller already told us (the MIME type).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from whatshooked.accounts.base import SendKind, SendRequest
from whatshooked.accounts.sends import media_bytes
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.jid import split_jid
from whatshooked.errors import RequestError

Upload = Callable[[bytes, "nz.MediaType"], Awaitable["nz.UploadResponse"]]

MEDIA_KINDS = {
    # kind: (body field with the base64 bytes, default MIME type, upload class, message field)
    SendKind.IMAGE: ("image_data", "image/jpeg", nz.MediaType.MediaImage, "imageMessage"),
    SendKind.VIDEO: ("video_data", "video/mp4", nz.MediaType.MediaVideo, "videoMessage"),
    SendKind.DOCUMENT: ("document_data", "application/octet-stream", nz.MediaType.MediaDocument, "documentMessage"),
    SendKind.AUDIO: ("audio_data", "audio/mpeg", nz.MediaType.MediaAudio, "audioMessage"),
    SendKind.STICKER: ("sticker_data", "image/webp", nz.MediaType.MediaImage, "stickerMessage"),
}


def to_jid(jid: str) -> Any:
    user, server = split_jid(jid)
    return nz.JID(User=user, Server=server, RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def text_of(body: dict[str, Any], field: str, required: bool = False) -> str:
    value = body.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise RequestError(f"'{field}' must be a non-empty string" if required else f"'{field}' must be a string")
    return value


async def build_message(request: SendRequest, upload: Upload) -> Any:
    """The protobuf for a send (READ and REACTION need more than the body: see the adapter)."""
    body = request.body
    if request.kind is SendKind.TEXT:
        return nz.Message(conversation=text_of(body, "text", required=True))
    if request.kind in MEDIA_KINDS:
        field, default_mime, media_type, message_field = MEDIA_KINDS[request.kind]
        data = media_bytes(body, field)
        mime = text_of(body, "mime_type") or default_mime
        uploaded = await upload(data, media_type)
        return media_message(request.kind, message_field, uploaded, mime, body)
    if request.kind is SendKind.LOCATION:
        return location_message(body)
    if request.kind is SendKind.CONTACTS:
        return contacts_message(body)
    raise RequestError(f"{request.kind.value} messages cannot be sent from a WhatsApp Web account")


def media_message(kind: SendKind, message_field: str, uploaded: Any, mime: str, body: dict[str, Any]) -> Any:
    common: dict[str, Any] = dict(
        URL=uploaded.url, directPath=uploaded.DirectPath, mediaKey=uploaded.MediaKey,
        fileEncSHA256=uploaded.FileEncSHA256, fileSHA256=uploaded.FileSHA256, fileLength=uploaded.FileLength,
        mimetype=mime, mediaKeyTimestamp=int(time.time()),
    )
    caption = text_of(body, "caption")
    if kind is SendKind.IMAGE:
        return nz.Message(imageMessage=nz.wa.ImageMessage(caption=caption or None, **common))
    if kind is SendKind.VIDEO:
        return nz.Message(videoMessage=nz.wa.VideoMessage(caption=caption or None, **common))
    if kind is SendKind.DOCUMENT:
        filename = text_of(body, "filename") or "document"
        return nz.Message(documentMessage=nz.wa.DocumentMessage(
            fileName=filename, title=filename, caption=caption or None, **common))
    if kind is SendKind.AUDIO:
        voice = body.get("voice")
        ptt = bool(voice) if isinstance(voice, bool) else mime.startswith("audio/ogg")
        return nz.Message(audioMessage=nz.wa.AudioMessage(PTT=ptt, **common))
    return nz.Message(stickerMessage=nz.wa.StickerMessage(**common))


def location_message(body: dict[str, Any]) -> Any:
    coordinates = {}
    for field, limit in (("latitude", 90.0), ("longitude", 180.0)):
        value = body.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RequestError(f"'{field}' is required: a number")
        if abs(value) > limit:
            raise RequestError(f"'{field}' must be between -{limit:g} and {limit:g}")
        coordinates[field] = float(value)
    return nz.Message(locationMessage=nz.wa.LocationMessage(
        degreesLatitude=coordinates["latitude"], degreesLongitude=coordinates["longitude"],
        name=text_of(body, "name") or None, address=text_of(body, "address") or None))


def contacts_message(body: dict[str, Any]) -> Any:
    contacts = body.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        raise RequestError("'contacts' is required: a list of at least one contact")
    cards = [contact_card(item, index) for index, item in enumerate(contacts)]
    if len(cards) == 1:
        return nz.Message(contactMessage=cards[0])
    return nz.Message(contactsArrayMessage=nz.wa.ContactsArrayMessage(
        displayName=f"{len(cards)} contacts", contacts=cards))


def contact_card(item: Any, index: int) -> Any:
    where = f"contacts[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), dict):
        raise RequestError(f"'{where}.name' is required: an object with formatted_name")
    name = item["name"].get("formatted_name")
    if not isinstance(name, str) or not name.strip():
        raise RequestError(f"'{where}.name.formatted_name' must be a non-empty string")
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_escape(name)}"]
    first, last = item["name"].get("first_name") or "", item["name"].get("last_name") or ""
    if first or last:
        lines.append(f"N:{_vcard_escape(str(last))};{_vcard_escape(str(first))};;;")
    phones = item.get("phones") or []
    if not isinstance(phones, list):
        raise RequestError(f"'{where}.phones' must be a list")
    for number, phone in enumerate(phones):
        if not isinstance(phone, dict) or not isinstance(phone.get("phone"), str):
            raise RequestError(f"'{where}.phones[{number}].phone' must be a string")
        digits = phone.get("wa_id") or "".join(ch for ch in phone["phone"] if ch.isdigit())
        label = str(phone.get("type") or "CELL").upper()
        lines.append(f"TEL;type={_vcard_escape(label)};waid={digits}:{_vcard_escape(phone['phone'])}")
    lines.append("END:VCARD")
    return nz.wa.ContactMessage(displayName=name, vcard="\n".join(lines))


def _vcard_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(";", "\\;").replace(",", "\\,")


def reaction_message(chat: str, message_id: str, emoji: str, from_me: bool, participant: str | None) -> Any:
    key = nz.MessageKey(remoteJID=chat, fromMe=from_me, ID=message_id)
    if participant and not from_me:
        key.participant = participant
    return nz.Message(reactionMessage=nz.wa.ReactionMessage(
        key=key, text=emoji, senderTimestampMS=int(time.time() * 1000)))
