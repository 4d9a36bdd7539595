"""Standard JSON only (RFC 8259), both ways: what comes in and what a hook or Meta is sent.

Python's json reads `NaN`/`Infinity` and turns `1e999` into `inf`, then writes them back as
`Infinity`, which no standard parser reads; and it reads the escape `"\\ud800"` into a lone surrogate,
which cannot be encoded to UTF-8 at all (the store or a hook's body would fail on it). So JSON is
read here with non-finite numbers refused and lone surrogates replaced by U+FFFD, and written with
the same two guards as a last line.

orjson reads and writes the common case several times faster; whatever it would read differently
(integers past 64 bits become floats there) or refuses (non-finite numbers, lone surrogates, nesting
past 1024) goes the standard library's way, so the answers are the same, only sooner.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

_SURROGATE = re.compile("[\ud800-\udfff]")
"""Any surrogate left in a Python str is a lone one (the parser joins valid pairs into one character)."""
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19
"""Nineteen digits in a row may be an integer past 64 bits (or below -2**63), which orjson would read
as a float: looked for with bytes.translate and `in` (a regex took five times orjson's own time)."""


FAST_DEPTH = 256
"""orjson's answer is kept only for values nested no deeper than this: json.loads refuses nesting near
Python's recursion limit (sooner on a deep stack), and callers rely on RecursionError for those."""
_COMPACT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
"""What json.dumps refuses (dataclasses, datetimes) or writes its own way (subclasses: IntEnum, str
subclasses) is passed to the standard library, which decides as it always did."""


def nested_deeper(value: Any, limit: int) -> bool:
    """True when containers nest more than `limit` deep (recursing at most `limit` calls deep).

    Runs for every webhook change: no tuple or generator per value, scalars skipped at once."""
    kind = type(value)
    return (kind is dict or kind is list) and _deeper(value, limit)


def _deeper(node: Any, room: int) -> bool:
    if room <= 0:
        return True
    for child in node.values() if type(node) is dict else node:
        kind = type(child)
        if (kind is dict or kind is list) and _deeper(child, room - 1):
            return True
    return False


class NotFinite(ValueError):
    """A number in the JSON is too big for a float (`1e999`): valid JSON, but not one to pass on."""


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotFinite(f"the number {text[:40]} is out of range")
    return value


def _walk_strings(value: Any) -> Any:
    """The value with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_walk_strings(item) for item in value]
    if isinstance(value, dict):
        return {_walk_strings(key): _walk_strings(item) for key, item in value.items()}
    return value


def loads(raw: bytes | str) -> Any:
    """Strict JSON: NotFinite for `1e999`, ValueError for NaN/Infinity and anything else not JSON.

    May raise RecursionError for bodies nested too deep, as json.loads does.
    """
    if isinstance(raw, bytes) and _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library's reading decides: its error, or U+FFFD for a lone surrogate
        else:  # orjson reads 1024 deep; past FAST_DEPTH the standard library decides (RecursionError)
            if raw.count(b"{") + raw.count(b"[") <= FAST_DEPTH or not nested_deeper(value, FAST_DEPTH):
                return value
    value = json.loads(raw, parse_constant=_constant, parse_float=_float)
    if isinstance(raw, str):
        if _SURROGATE.search(raw) or _SURROGATE_ESCAPE.search(raw.encode("utf-8", "surrogatepass")):
            value = _walk_strings(value)
    elif _SURROGATE_ESCAPE.search(raw):  # only an escape can make a surrogate: UTF-8 bytes never hold one
        value = _walk_strings(value)
    return value


def _finite(value: Any) -> Any:
    """The value with non-finite floats as null (what a browser's JSON.stringify writes)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def dumps(value: Any, **options: Any) -> str:
    """json.dumps that never writes NaN/Infinity (they become null) nor a lone surrogate (U+FFFD)."""
    try:
        text = json.dumps(value, allow_nan=False, **options)
    except ValueError:  # "Out of range float values are not JSON compliant"
        text = json.dumps(_finite(value), allow_nan=False, **options)
    return _SURROGATE.sub("\ufffd", text)


def compact(value: Any) -> bytes:
    """UTF-8 JSON without spaces (dumps with `separators=(",", ":"), ensure_ascii=False`), same guards."""
    try:
        return orjson.dumps(value, option=_COMPACT)  # NaN/Infinity become null here too
    except TypeError:  # a lone surrogate, an integer past 64 bits, a key that is not a string
        return dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
