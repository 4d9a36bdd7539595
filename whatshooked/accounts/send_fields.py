"""The fields each `/api/send*` route takes: the contract's, plus DESIGN §8.3's (`reply_to`, media by
`url`, `mentions`, polls, edits, revokes). Anything else is a 400 naming it, never silently dropped
(issue 12: a send with `context` answered 200 and lost it)."""

from __future__ import annotations

from whatshooked.accounts.base import SendKind

_ADDRESS = frozenset({"account_id", "to"})
_MEDIA = frozenset({"url", "mime_type"})
_OWN: dict[SendKind, frozenset[str]] = {
    SendKind.TEXT: frozenset({"text", "preview_url", "mentions"}),
    SendKind.IMAGE: _MEDIA | {"image_data", "caption"},
    SendKind.VIDEO: _MEDIA | {"video_data", "caption"},
    SendKind.DOCUMENT: _MEDIA | {"document_data", "caption", "filename"},
    SendKind.AUDIO: _MEDIA | {"audio_data", "voice"},
    SendKind.STICKER: _MEDIA | {"sticker_data"},
    SendKind.LOCATION: frozenset({"latitude", "longitude", "name", "address"}),
    SendKind.CONTACTS: frozenset({"contacts"}),
    SendKind.INTERACTIVE: frozenset({"interactive"}),
    SendKind.TEMPLATE: frozenset({"template"}),
    SendKind.FLOW: frozenset({"flow_id", "flow_token", "body_text", "button_text", "header_text", "footer_text",
                              "screen", "flow_data"}),
    SendKind.CATALOG: frozenset({"body_text", "thumbnail_product_retailer_id", "footer_text"}),
    SendKind.PRODUCT: frozenset({"catalog_id", "product_retailer_id", "body_text", "footer_text"}),
    SendKind.PRODUCT_LIST: frozenset({"catalog_id", "header_text", "body_text", "footer_text", "sections"}),
    SendKind.POLL: frozenset({"name", "options", "selectable_count"}),
}
_NO_REPLY = {SendKind.REACTION: frozenset({"message_id", "emoji"}), SendKind.READ: frozenset({"message_id"}),
             SendKind.EDIT: frozenset({"message_id", "text"}), SendKind.REVOKE: frozenset({"message_id"})}

SEND_FIELDS: dict[SendKind, frozenset[str]] = {
    **{kind: own | _ADDRESS | {"reply_to"} for kind, own in _OWN.items()},
    **{kind: own | _ADDRESS for kind, own in _NO_REPLY.items()},
}
