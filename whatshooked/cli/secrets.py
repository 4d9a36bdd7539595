"""Fresh hook signing secrets: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form)."""

from __future__ import annotations

import base64
import os

from whatshooked.delivery.signing import SECRET_PREFIX

SECRET_BYTES = 32


def new_secret() -> str:
    """A new secret for one hook: every hook (and every example) should have its own."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()
