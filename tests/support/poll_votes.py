"""Poll votes sealed as a voter's phone seals them, to feed the WhatsApp Web adapter (test-only)."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.poll_votes import POLL_VOTE, poll_key


def seal_vote(poll_id: str, creator: str, voter: str, secret: bytes, options: list[str], iv: bytes) -> Any:
    """A `PollEncValue` as a voter's phone makes it (the mirror of `open_vote`)."""
    key, aad = poll_key(POLL_VOTE.decode(), poll_id, creator, voter, secret)
    plain = nz.wa.PollVoteMessage(selectedOptions=[hashlib.sha256(o.encode()).digest() for o in options])
    return nz.wa.PollEncValue(encPayload=AESGCM(key).encrypt(iv, plain.SerializeToString(), aad), encIV=iv)
