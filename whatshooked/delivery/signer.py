"""A hook's signing keys: HMAC `whsec_` (v1) or Ed25519 `whsk_` (v1a), and rotation with overlap.

Standard Webhooks (https://www.standardwebhooks.com) signs `"{id}.{timestamp}.{body}"`; the
`webhook-signature` header carries space-separated `version,base64` signatures, so a receiver
verifies with whichever key it has. While a hook rotates (`previous_secret` until
`previous_secret_until`), every delivery is signed with both keys, the current one first.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from whatshooked.config.model import HookConfig
from whatshooked.delivery.signing import SigningError, decode_secret, sign

if TYPE_CHECKING:  # cryptography is imported only for a whsk_ secret (idle RSS: issue 14)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ED25519_PREFIX = "whsk_"
PUBLIC_PREFIX = "whpk_"
SEED_SIZE = 32


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One decoded secret: an HMAC key, or an Ed25519 private key."""

    hmac_key: bytes | None = None
    ed25519: Ed25519PrivateKey | None = None

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        if self.ed25519 is None:
            assert self.hmac_key is not None
            return sign(self.hmac_key, msg_id, timestamp, body)
        signed = self.ed25519.sign(f"{msg_id}.{timestamp}.".encode() + body)
        return "v1a," + base64.b64encode(signed).decode()

    @property
    def public_key(self) -> str | None:
        """`whpk_` + base64 of the raw Ed25519 public key; None for an HMAC secret (it has none)."""
        if self.ed25519 is None:
            return None
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.ed25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PUBLIC_PREFIX + base64.b64encode(raw).decode()


def signing_key(secret: str) -> SigningKey:
    """`whsec_…` (or bare base64) → HMAC; `whsk_` + base64 of a 32-byte seed → Ed25519. SigningError otherwise."""
    if not secret.startswith(ED25519_PREFIX):
        try:
            return SigningKey(hmac_key=decode_secret(secret))
        except SigningError:
            raise SigningError(
                "must be whsec_ followed by base64 (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw), "
                "or whsk_ followed by the base64 of a 32-byte Ed25519 seed"
            ) from None
    try:
        seed = base64.b64decode(secret[len(ED25519_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != SEED_SIZE:
        raise SigningError(f"must be whsk_ followed by the base64 of exactly {SEED_SIZE} bytes (an Ed25519 seed), "
                           "e.g. from: python -c \"import os,base64;print('whsk_'+base64.b64encode(os.urandom(32))"
                           ".decode())\"")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return SigningKey(ed25519=Ed25519PrivateKey.from_private_bytes(seed))


def secret_problem(secret: str) -> str | None:
    """Why a secret cannot sign, or None (for config and API validation)."""
    try:
        signing_key(secret)
    except SigningError as exc:
        return str(exc)
    return None


class Signer:
    """The keys of one hook, decoded once per definition; `header` gives `webhook-signature`."""

    def __init__(self, hook: HookConfig) -> None:
        self.current = signing_key(hook.secret.reveal())
        self.previous = signing_key(hook.previous_secret.reveal()) if hook.previous_secret else None
        self.previous_until = hook.previous_secret_until

    def header(self, msg_id: str, timestamp: int, body: bytes, now: float | None = None) -> str:
        signatures = [self.current.signature(msg_id, timestamp, body)]
        if self.previous is not None and self.previous_until is not None:
            if (time.time() if now is None else now) < self.previous_until:
                signatures.append(self.previous.signature(msg_id, timestamp, body))
        return " ".join(signatures)


def signer_for(hook: HookConfig) -> Signer | None:
    """None when the hook has no secret (its deliveries carry no signature)."""
    return Signer(hook) if hook.secret else None


def public_keys(hook: HookConfig) -> dict[str, str]:
    """What GET /api/hooks shows of Ed25519 secrets: `public_key` (and `previous_public_key`), `whpk_…`."""
    shown = {}
    for name, secret in (("public_key", hook.secret), ("previous_public_key", hook.previous_secret)):
        if secret and secret_problem(secret.reveal()) is None:
            public = signing_key(secret.reveal()).public_key
            if public is not None:
                shown[name] = public
    return shown
