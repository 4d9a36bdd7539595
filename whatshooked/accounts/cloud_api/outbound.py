"""A validated send body turned into the exact message JSON Meta documents for `POST /{phone_number_id}/messages`.

Pure functions: no I/O. Media kinds take the id of the already uploaded file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whatshooked.accounts.base import SendKind


@dataclass(frozen=True, slots=True)
class MediaSpec:
    data_field: str
    default_mime: str
    caption: bool
    filename: bool = False


MEDIA_KINDS: dict[SendKind, MediaSpec] = {
    SendKind.IMAGE: MediaSpec("image_data", "image/jpeg", caption=True),
    SendKind.VIDEO: MediaSpec("video_data", "video/mp4", caption=True),
    SendKind.DOCUMENT: MediaSpec("document_data", "application/octet-stream", caption=True, filename=True),
    SendKind.AUDIO: MediaSpec("audio_data", "audio/mpeg", caption=False),
    SendKind.STICKER: MediaSpec("sticker_data", "image/webp", caption=False),
}


def envelope(to: str, message_type: str, content: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": message_type,
        message_type: content,
    }


def read_receipt(message_id: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def _text(value: str) -> dict[str, str]:
    return {"text": value}


def _optional(target: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, ""):
        target[key] = value


def media_message(kind: SendKind, to: str, body: dict[str, Any], media_id: str) -> dict[str, Any]:
    spec = MEDIA_KINDS[kind]
    content: dict[str, Any] = {"id": media_id}
    if spec.caption:
        _optional(content, "caption", body.get("caption"))
    if spec.filename:
        content["filename"] = body.get("filename") or "document"
    return envelope(to, kind.value, content)


def build_message(kind: SendKind, to: str, body: dict[str, Any]) -> dict[str, Any]:
    """Every kind except the media ones (see `media_message`) and READ (see `read_receipt`)."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ValueError(f"no message builder for {kind}")
    return builder(to, body)


def _text_message(to: str, body: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"body": body["text"]}
    if "preview_url" in body:
        content["preview_url"] = bool(body["preview_url"])
    return envelope(to, "text", content)


def _location(to: str, body: dict[str, Any]) -> dict[str, Any]:
    # Meta's spec types the coordinates as strings; str() of a float is its shortest exact form
    content: dict[str, Any] = {"latitude": str(body["latitude"]), "longitude": str(body["longitude"])}
    _optional(content, "name", body.get("name"))
    _optional(content, "address", body.get("address"))
    return envelope(to, "location", content)


def _contacts(to: str, body: dict[str, Any]) -> dict[str, Any]:
    return envelope(to, "contacts", body["contacts"])


def _interactive(to: str, body: dict[str, Any]) -> dict[str, Any]:
    return envelope(to, "interactive", body["interactive"])


def _template(to: str, body: dict[str, Any]) -> dict[str, Any]:
    """Meta's spec requires `language.policy`, whose only value is `deterministic`: added when left out."""
    template = body["template"]
    language = template.get("language") if isinstance(template, dict) else None
    if isinstance(language, dict) and "policy" not in language:
        template = {**template, "language": {"policy": "deterministic", **language}}
    return envelope(to, "template", template)


def _reaction(to: str, body: dict[str, Any]) -> dict[str, Any]:
    return envelope(to, "reaction", {"message_id": body["message_id"], "emoji": body["emoji"]})


def _flow(to: str, body: dict[str, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "flow_message_version": "3",
        "flow_token": body["flow_token"],
        "flow_id": body["flow_id"],
        "flow_cta": body["button_text"],
    }
    if body.get("screen"):
        payload: dict[str, Any] = {"screen": body["screen"]}
        if body.get("flow_data"):
            payload["data"] = body["flow_data"]
        parameters["flow_action"] = "navigate"
        parameters["flow_action_payload"] = payload
    interactive: dict[str, Any] = {"type": "flow"}
    if body.get("header_text"):
        interactive["header"] = {"type": "text", "text": body["header_text"]}
    interactive["body"] = _text(body["body_text"])
    if body.get("footer_text"):
        interactive["footer"] = _text(body["footer_text"])
    interactive["action"] = {"name": "flow", "parameters": parameters}
    return envelope(to, "interactive", interactive)


def _catalog(to: str, body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = {"name": "catalog_message"}
    if body.get("thumbnail_product_retailer_id"):
        action["parameters"] = {"thumbnail_product_retailer_id": body["thumbnail_product_retailer_id"]}
    interactive: dict[str, Any] = {"type": "catalog_message", "body": _text(body["body_text"]), "action": action}
    if body.get("footer_text"):
        interactive["footer"] = _text(body["footer_text"])
    return envelope(to, "interactive", interactive)


def _product(to: str, body: dict[str, Any]) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": "product", "body": _text(body["body_text"])}
    if body.get("footer_text"):
        interactive["footer"] = _text(body["footer_text"])
    interactive["action"] = {"catalog_id": body["catalog_id"], "product_retailer_id": body["product_retailer_id"]}
    return envelope(to, "interactive", interactive)


def _product_list(to: str, body: dict[str, Any]) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "product_list",
        "header": {"type": "text", "text": body["header_text"]},
        "body": _text(body["body_text"]),
    }
    if body.get("footer_text"):
        interactive["footer"] = _text(body["footer_text"])
    sections = [
        {"title": s["title"], "product_items": [{"product_retailer_id": i["product_retailer_id"]}
                                                for i in s["product_items"]]}
        for s in body["sections"]
    ]
    interactive["action"] = {"catalog_id": body["catalog_id"], "sections": sections}
    return envelope(to, "interactive", interactive)


_BUILDERS = {
    SendKind.TEXT: _text_message,
    SendKind.LOCATION: _location,
    SendKind.CONTACTS: _contacts,
    SendKind.INTERACTIVE: _interactive,
    SendKind.TEMPLATE: _template,
    SendKind.FLOW: _flow,
    SendKind.REACTION: _reaction,
    SendKind.CATALOG: _catalog,
    SendKind.PRODUCT: _product,
    SendKind.PRODUCT_LIST: _product_list,
}
