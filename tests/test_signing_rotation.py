"""Secret rotation with overlap and Ed25519 (`whsk_`, v1a) signatures, checked on real deliveries.

HMAC (v1) signatures are verified with the Standard Webhooks Python library (`standardwebhooks`).
That library checks only `v1` (it skips every other version in the header), so `v1a` signatures are
verified with `cryptography`'s Ed25519, against the `whpk_` public key GET /api/hooks shows.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.harness import config, hook, running
from tests.support.receiver import HookReceiver, Received
from whatshooked.config.load import parse_config
from whatshooked.errors import ConfigError

NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ED = "whsk_" + base64.b64encode(bytes(range(32))).decode()
ACCOUNT = "  - id: shop\n"


def ed25519_ok(public_key: str, request: Received) -> bool:
    """Whether one of the header's v1a signatures verifies under `whpk_…`."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    for part in request.headers["webhook-signature"].split():
        version, _, signature = part.partition(",")
        if version == "v1a":
            try:
                key.verify(base64.b64decode(signature), signed)
                return True
            except InvalidSignature:
                continue
    return False


def hmac_ok(secret: str, request: Received) -> bool:
    try:
        Webhook(secret).verify(request.body, request.headers)
    except WebhookVerificationError:
        return False
    return True


async def delivered_once(tmp_path: Path, receiver: HookReceiver, **fields: str) -> tuple[Received, dict[str, str]]:
    """One event delivered to a hook with these fields; the request and the hook as GET /api/hooks shows it."""
    async with running(tmp_path, config(hooks=hook("crm", receiver.url, **fields), accounts=ACCOUNT)) as run:
        await run.adapter("shop").receive("hi")
        (request,) = await receiver.wait_for(1)
        shown = (await (await run.client.get("/api/hooks")).json())[0]
    return request, shown


async def test_during_rotation_both_secrets_verify(tmp_path: Path, receiver: HookReceiver) -> None:
    request, _ = await delivered_once(tmp_path, receiver, secret=NEW, previous_secret=OLD,
                                      previous_secret_until="2999-01-01T00:00:00Z")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert hmac_ok(NEW, request) and hmac_ok(OLD, request)
    assert not hmac_ok("whsec_" + base64.b64encode(os.urandom(32)).decode(), request)


async def test_after_previous_secret_until_only_the_new_secret_signs(tmp_path: Path, receiver: HookReceiver) -> None:
    request, _ = await delivered_once(tmp_path, receiver, secret=NEW, previous_secret=OLD,
                                      previous_secret_until="2020-01-01T00:00:00Z")
    assert request.headers["webhook-signature"].count(",") == 1
    assert hmac_ok(NEW, request) and not hmac_ok(OLD, request)


async def test_ed25519_secret_signs_v1a_verifiable_with_the_listed_public_key(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    request, shown = await delivered_once(tmp_path, receiver, secret=ED)
    assert request.headers["webhook-signature"].startswith("v1a,")
    assert shown["public_key"].startswith("whpk_") and shown["secret"] == "***"
    assert ed25519_ok(shown["public_key"], request)
    request.body += b" "
    assert not ed25519_ok(shown["public_key"], request)


async def test_rotating_from_hmac_to_ed25519_keeps_old_receivers_verifying(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    request, shown = await delivered_once(tmp_path, receiver, secret=ED, previous_secret=OLD,
                                          previous_secret_until="2999-01-01T00:00:00Z")
    versions = [part.split(",")[0] for part in request.headers["webhook-signature"].split(" ")]
    assert versions == ["v1a", "v1"]
    assert hmac_ok(OLD, request)  # the library skips the v1a entry and finds the v1 one
    assert ed25519_ok(shown["public_key"], request)


@pytest.mark.parametrize(("fields", "key", "why"), [
    ({"secret": "whsk_AAAA"}, "hooks[0].secret", "must be whsk_ followed by the base64 of exactly 32 bytes"),
    ({"secret": "whsk_not base64"}, "hooks[0].secret", "must be whsk_"),
    ({"secret": OLD, "previous_secret": "nope!"}, "hooks[0].previous_secret", "must be whsec_"),
    ({"secret": OLD, "previous_secret": OLD}, "hooks[0].previous_secret_until", "is required with previous_secret"),
    ({"secret": OLD, "previous_secret": OLD, "previous_secret_until": "2026-12-31T00:00:00"},
     "hooks[0].previous_secret_until", "must be a time in ISO 8601, in UTC"),
    ({"secret": OLD, "previous_secret": OLD, "previous_secret_until": "2026-12-31"},
     "hooks[0].previous_secret_until", "must be a time in ISO 8601, in UTC"),
])
def test_bad_secrets_are_config_errors_naming_the_key(tmp_path: Path, fields: dict[str, str], key: str,
                                                       why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config(hooks=hook("crm", "http://127.0.0.1:9/h", **fields)), tmp_path / "config.yaml")
    assert any(p.startswith(f"{tmp_path / 'config.yaml'}: {key}: {why}") for p in caught.value.problems), \
        caught.value.problems
