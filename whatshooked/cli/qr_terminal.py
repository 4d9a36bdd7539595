"""The daemon's QR PNG drawn in a terminal: the CLI has the image, not the code's text.

A tiny decoder for the PNGs qr_render writes (greyscale, 1-8 bits, not interlaced), then
the modules sampled back and drawn two rows per character with half blocks.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class NotDrawable(ValueError):
    """An image this decoder does not read; the caller saves it instead."""


def draw(png: bytes, scale: int) -> str:
    """Text art of the code; `scale` is the PNG's pixels per module (qr_render.PNG_SCALE)."""
    rows = _pixels(png)
    middle = scale // 2  # sample each module at its centre
    dark = [[rows[y][x] == 0 for x in range(middle, len(rows[0]), scale)] for y in range(middle, len(rows), scale)]
    if len(dark) % 2:
        dark.append([True] * len(dark[0]))
    # Light modules are drawn (█), dark ones left blank, as qr_render.terminal_text (segno) does.
    glyphs = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    lines = ["".join(glyphs[(not top, not bottom)] for top, bottom in zip(dark[i], dark[i + 1], strict=True))
             for i in range(0, len(dark), 2)]
    return "\n".join(lines) + "\n"


def _pixels(png: bytes) -> list[list[int]]:
    """Rows of greyscale samples (0 = black)."""
    if not png.startswith(SIGNATURE):
        raise NotDrawable("not a PNG image")
    offset, header, data = len(SIGNATURE), b"", bytearray()
    while offset + 8 <= len(png):
        (length,), kind = struct.unpack(">I", png[offset:offset + 4]), png[offset + 4:offset + 8]
        chunk = png[offset + 8:offset + 8 + length]
        header = chunk if kind == b"IHDR" else header
        data += chunk if kind == b"IDAT" else b""
        offset += 12 + length
    if len(header) != 13:
        raise NotDrawable("PNG without a header")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if color != 0 or depth not in (1, 2, 4, 8) or interlace:
        raise NotDrawable("PNG kind not drawn in a terminal")
    raw = zlib.decompress(bytes(data))
    stride = (width * depth + 7) // 8
    rows: list[list[int]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous)
        per_byte, mask = 8 // depth, (1 << depth) - 1
        rows.append([(line[x // per_byte] >> (8 - depth * (x % per_byte + 1))) & mask for x in range(width)])
        previous = line
    return rows


def _unfilter(kind: int, line: bytearray, previous: bytearray) -> bytearray:
    """Undo one scanline's filter (bytes-per-pixel is 1 for these depths)."""
    for i in range(len(line)):
        left = line[i - 1] if i else 0
        up, corner = previous[i], previous[i - 1] if i else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            near = min((abs(guess - left), left), (abs(guess - up), up), (abs(guess - corner), corner),
                       key=lambda pair: pair[0])
            line[i] = (line[i] + near[1]) & 0xFF
        elif kind != 0:
            raise NotDrawable(f"unknown PNG filter {kind}")
    return line
