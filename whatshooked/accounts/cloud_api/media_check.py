"""A Cloud API media download checked against what Meta says the file is.

`GET /{media-id}` gives the file's `file_size` and `sha256` with its URL. A download cut short
without an error the client can see (a proxy, a close-delimited answer) must not be stored and
reported as the media: a mismatch becomes the event's `media.error`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from whatshooked.errors import SendError

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class MediaMismatch(SendError):
    """The downloaded bytes are not the file Meta described (cut short, or not the same file)."""


def _expected_digest(value: Any) -> bytes | None:
    """Meta's sha256 as bytes: hex (the media URL's answer) or base64 (webhooks); None if neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _HEX.match(text):
        return bytes.fromhex(text)
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 32 else None


def check_download(media_id: str, data: bytes, info: dict[str, Any]) -> None:
    """Raise MediaMismatch when `data` differs from Meta's `file_size` or `sha256` (each when given)."""
    size = info.get("file_size")
    if isinstance(size, str) and size.isascii() and size.isdigit() and len(size) < 20:
        size = int(size)
    if isinstance(size, int) and not isinstance(size, bool) and size != len(data):
        raise MediaMismatch(f"media {media_id}: downloaded {len(data)} bytes, Meta's file_size is {size} "
                            "(the download was cut short or is not the file)")
    expected = _expected_digest(info.get("sha256"))
    if expected is not None and not hmac.compare_digest(hashlib.sha256(data).digest(), expected):
        raise MediaMismatch(f"media {media_id}: the downloaded bytes do not have Meta's sha256 "
                            "(the download was cut short or is not the file)")
