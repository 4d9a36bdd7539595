"""QR codes for pairing: compact terminal art (two modules per character row) and PNG images."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import segno

PNG_SCALE = 8
"""Pixels per module: a WhatsApp pairing code (version ~10) comes out at ~500 px, easy to scan."""
BORDER = 4
"""The quiet zone in modules, as the QR standard asks."""


def make(data: str) -> segno.QRCode:
    import segno  # only when a code is shown: a daemon without WhatsApp Web accounts never needs it

    return segno.make_qr(data, error="L")


def terminal_text(data: str) -> str:
    """The code as half-block characters, small enough for an 80x24 terminal."""
    out = io.StringIO()
    make(data).terminal(out=out, compact=True, border=BORDER)
    return out.getvalue()


def png_bytes(data: str, scale: int = PNG_SCALE) -> bytes:
    out = io.BytesIO()
    make(data).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def png_data_uri(data: str, scale: int = PNG_SCALE) -> str:
    return str(make(data).png_data_uri(scale=scale, border=BORDER))
