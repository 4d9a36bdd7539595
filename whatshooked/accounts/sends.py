"""The body of each `/api/send*` route checked once, for the API and for hooks' two-way replies.

Every problem is a RequestError (400) naming the field, e.g. `field 'contacts[0].name.formatted_name'
is required`. A validated body keeps only what the route accepts (without `account_id` and `to`).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from whatshooked.accounts.base import SendKind
from whatshooked.errors import RequestError
from whatshooked.json_fields import Fields
from whatshooked.phone import phone_digits

_WHITESPACE = re.compile(r"\s+")

_MESSAGE_OPS = (SendKind.READ, SendKind.EDIT, SendKind.REVOKE)

# route path -> kind (a two-way reply item's "type" is the kind: "text" for /api/send)
SEND_ROUTES: dict[str, SendKind] = {
    "/api/send": SendKind.TEXT,
    **{f"/api/send/{kind.value}": kind for kind in SendKind if kind is not SendKind.TEXT and kind not in _MESSAGE_OPS},
    **{f"/api/messages/{kind.value}": kind for kind in _MESSAGE_OPS},
}
MEDIA_SEND_KINDS = (SendKind.IMAGE, SendKind.VIDEO, SendKind.DOCUMENT, SendKind.AUDIO, SendKind.STICKER)
POLL_OPTIONS = (2, 12)


def decode_base64(value: str, field: str) -> bytes:
    """Standard base64, line breaks allowed, an optional `data:…;base64,` prefix ignored."""
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        data = base64.b64decode(_WHITESPACE.sub("", value), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"field '{field}' must be base64-encoded data") from None
    if not data:
        raise RequestError(f"field '{field}' is empty")
    return data


def media_bytes(body: dict[str, Any], field: str) -> bytes:
    """The file of a validated media send (`image_data`, …), decoded exactly as validation read it.

    A send by `url` carries the fetched bytes in the same field (see `whatshooked.media.fetch`).
    """
    value = body.get(field)
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise RequestError(f"field '{field}' is required")
    return decode_base64(value, field)


def _pick(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: body[key] for key in keys if body.get(key) is not None}


def validate_send_body(kind: SendKind, body: Any) -> dict[str, Any]:
    """The route's body for `kind`, checked; raises RequestError naming the first bad field."""
    f = Fields(body)
    if kind in _MESSAGE_OPS:
        return _validate_kind(kind, f)
    reply_to = f.text("reply_to", required=False)
    if reply_to is not None and kind is SendKind.REACTION:
        raise RequestError("field 'reply_to' cannot be used with a reaction (it names its message in 'message_id')")
    checked = _validate_kind(kind, f)
    return {**checked, "reply_to": reply_to} if reply_to is not None else checked


def refuse_unknown_fields(body: dict[str, Any], checked: dict[str, Any]) -> None:
    """A 400 naming the fields a route does not take (e.g. Meta's `context`, which is `reply_to` here)."""
    allowed = {"account_id", "to", "reply_to", *checked}
    unknown = sorted(name for name, value in body.items() if name not in allowed and value is not None)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        hint = " (a quoted reply is 'reply_to': the message id)" if "context" in unknown else ""
        raise RequestError(f"unknown field {names} for this route{hint}")


def _validate_kind(kind: SendKind, f: Fields) -> dict[str, Any]:
    b = f.body
    if kind is SendKind.TEXT:
        f.text("text")
        f.boolean("preview_url")
        for index, phone in enumerate(f.strings("mentions", required=False)):
            phone_digits(phone, f"mentions[{index}]")
        return _pick(b, "text", "preview_url", "mentions")
    if kind in MEDIA_SEND_KINDS:
        data_field = f"{kind.value}_data"
        if b.get("url") is not None and b.get(data_field) is not None:
            raise RequestError(f"fields '{data_field}' and 'url' exclude each other: send the file one way")
        if b.get("url") is not None:
            url = f.text("url")
            assert url is not None
            if not url.lower().startswith(("http://", "https://")):
                raise f.wrong("url", "an http:// or https:// URL")
        else:
            data = f.text(data_field)
            assert data is not None
            decode_base64(data, f.name(data_field))
        f.text("mime_type", required=False)
        if kind in (SendKind.IMAGE, SendKind.VIDEO, SendKind.DOCUMENT):
            f.text("caption", required=False, allow_empty=True)
        if kind is SendKind.DOCUMENT:
            f.text("filename", required=False)
        if kind is SendKind.AUDIO:
            f.boolean("voice")
        return _pick(b, data_field, "url", "mime_type", "caption", "filename", "voice")
    if kind is SendKind.POLL:
        f.text("name")
        options = f.strings("options")
        low, high = POLL_OPTIONS
        if not low <= len(options) <= high:
            raise f.wrong("options", f"a list of {low} to {high} options")
        if len(set(options)) != len(options):
            raise f.wrong("options", "a list of different options")
        if b.get("selectable_count") is not None:
            count = f.number("selectable_count", 0, len(options))
            if count != int(count):
                raise f.wrong("selectable_count", "a whole number")
        return {**_pick(b, "name", "options"), "selectable_count": int(b.get("selectable_count", 1))}
    if kind is SendKind.EDIT:
        f.text("message_id")
        f.text("text")
        return _pick(b, "message_id", "text")
    if kind is SendKind.REVOKE:
        f.text("message_id")
        return _pick(b, "message_id")
    if kind is SendKind.LOCATION:
        f.number("latitude", -90, 90)
        f.number("longitude", -180, 180)
        f.text("name", required=False)
        f.text("address", required=False)
        return _pick(b, "latitude", "longitude", "name", "address")
    if kind is SendKind.CONTACTS:
        for index, contact in enumerate(f.array("contacts", min_items=1) or []):
            card = Fields(contact, f"contacts[{index}].")
            name = card.obj("name")
            assert name is not None
            name.text("formatted_name")
            for p_index, phone in enumerate(card.array("phones", required=False) or []):
                Fields(phone, f"contacts[{index}].phones[{p_index}].").text("phone", required=False)
        return _pick(b, "contacts")
    if kind is SendKind.INTERACTIVE:
        interactive = f.obj("interactive")
        assert interactive is not None
        interactive.text("type")
        interactive.obj("body")
        interactive.obj("action")
        interactive.obj("header", required=False)
        interactive.obj("footer", required=False)
        return _pick(b, "interactive")
    if kind is SendKind.TEMPLATE:
        template = f.obj("template")
        assert template is not None
        template.text("name")
        language = template.obj("language")
        assert language is not None
        language.text("code")
        for index, component in enumerate(template.array("components", required=False) or []):
            Fields(component, f"template.components[{index}].")
        return _pick(b, "template")
    if kind is SendKind.FLOW:
        for key in ("flow_id", "flow_token", "body_text", "button_text"):
            f.text(key)
        for key in ("header_text", "footer_text", "screen"):
            f.text(key, required=False)
        f.obj("flow_data", required=False)
        return _pick(b, "flow_id", "flow_token", "body_text", "button_text", "header_text", "footer_text",
                     "screen", "flow_data")
    if kind is SendKind.REACTION:
        f.text("message_id")
        f.text("emoji", allow_empty=True)  # an empty emoji removes the reaction
        return _pick(b, "message_id", "emoji")
    if kind is SendKind.CATALOG:
        f.text("body_text")
        f.text("thumbnail_product_retailer_id", required=False)
        f.text("footer_text", required=False)
        return _pick(b, "body_text", "thumbnail_product_retailer_id", "footer_text")
    if kind is SendKind.PRODUCT:
        for key in ("catalog_id", "product_retailer_id", "body_text"):
            f.text(key)
        f.text("footer_text", required=False)
        return _pick(b, "catalog_id", "product_retailer_id", "body_text", "footer_text")
    if kind is SendKind.PRODUCT_LIST:
        for key in ("catalog_id", "header_text", "body_text"):
            f.text(key)
        f.text("footer_text", required=False)
        for index, section in enumerate(f.array("sections", min_items=1) or []):
            sec = Fields(section, f"sections[{index}].")
            sec.text("title")
            for i_index, item in enumerate(sec.array("product_items", min_items=1) or []):
                Fields(item, f"sections[{index}].product_items[{i_index}].").text("product_retailer_id")
        return _pick(b, "catalog_id", "header_text", "body_text", "footer_text", "sections")
    if kind is SendKind.READ:
        f.text("message_id")
        return _pick(b, "message_id")
    raise RequestError(f"unknown send type {kind!r}")
