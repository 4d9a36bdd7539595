"""The event object of DESIGN §4: the same JSON in a hook's body, the cache and the logs."""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from whatshooked import strict_json

_COUNTER = [0]  # per-process tie-breaker for ids made in the same millisecond
_RANDOM = random.Random(os.urandom(16))
"""Ids need to be unique, not secret: a generator seeded once from the OS costs a fraction of an
`os.urandom` call per event (a system call on the hot path)."""
_SECONDS: dict[float, str] = {}  # whole seconds formatted lately: one strftime per second, not per event


def _new_id() -> str:
    """Time-ordered, unique id: `evt_` + 12 hex ms + 4 hex counter + 8 hex random."""
    _COUNTER[0] = (_COUNTER[0] + 1) & 0xFFFF
    return f"evt_{int(time.time() * 1000):012x}{_COUNTER[0]:04x}{_RANDOM.getrandbits(32):08x}"


def utc_timestamp(epoch: float | None = None) -> str:
    """ISO 8601 with milliseconds and a `Z`, e.g. `2026-11-21T10:00:00.123Z`."""
    if epoch is None:
        epoch = time.time()
    fraction, whole = math.modf(epoch)
    micros = round(fraction * 1e6)  # as datetime rounds it: half to even, to the microsecond
    if epoch < 0 or micros >= 1_000_000:  # rare: leave the carry and negative times to datetime
        moment = datetime.fromtimestamp(epoch, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    text = _SECONDS.get(whole)
    if text is None:  # the event's own time and the time a message says it was sent: a few seconds at once
        if len(_SECONDS) >= 256:
            _SECONDS.clear()
        text = _SECONDS[whole] = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{text}{micros // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    id: str = field(default_factory=_new_id)
    timestamp: str = field(default_factory=utc_timestamp)
    seq: int | None = field(default=None, compare=False)  # given by the store (DESIGN §8.2); last in the JSON

    @property
    def account_id(self) -> str | None:
        value = self.data.get("account_id")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "timestamp": self.timestamp, "data": self.data}
        if self.seq is not None:
            out["seq"] = self.seq
        return out

    def to_json(self) -> bytes:
        """Standard JSON always (strict_json.dumps): never NaN/Infinity, never a lone surrogate."""
        return strict_json.compact(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        seq = raw.get("seq")
        return cls(type=raw["type"], data=raw.get("data") or {}, id=raw["id"], timestamp=raw["timestamp"],
                   seq=seq if isinstance(seq, int) else None)

    @classmethod
    def from_json(cls, body: bytes | str) -> Event:
        """A body this daemon wrote: read by strict_json (orjson), as a recovery reads thousands at once.
        Versions before strict JSON (9b99a7d) wrote NaN and Infinity as json.dumps does: a body kept
        from one is read by the standard library, as it always was, not refused."""
        try:
            raw = strict_json.loads(body)
        except ValueError:
            raw = json.loads(body)
        return cls.from_dict(raw)


def with_seq(body: bytes, seq: int) -> bytes:
    """A stored body (an event's JSON object, without seq) with `"seq": n` added last, as `to_json` writes it.

    Spliced rather than re-encoded: it runs for every event on the way to the hooks.
    """
    return body[:-1] + b',"seq":%d}' % seq


def event_matches(patterns: tuple[str, ...] | list[str], event_type: str) -> bool:
    """Exact names or a trailing `.*`; no patterns at all means every event."""
    if not patterns:
        return True
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
