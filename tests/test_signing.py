"""Standard Webhooks signatures, checked against a computation written out here, not signing.py's."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from whatshooked.delivery.signing import SigningError, decode_secret, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def expected(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_the_standard_webhooks_example_vector() -> None:
    # From the Standard Webhooks specification's example.
    body = b'{"test": 2432232314}'
    signature = sign(decode_secret(SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signature == expected(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)


def test_sign_and_verify_agree_and_reject_tampering() -> None:
    key = decode_secret(SECRET)
    header = sign(key, "evt_1", 1700000000, b"{}")
    assert verify(key, "evt_1", 1700000000, b"{}", header)
    assert verify(key, "evt_1", 1700000000, b"{}", f"v1,bm90aGluZw== {header}")  # any of several
    assert not verify(key, "evt_1", 1700000001, b"{}", header)
    assert not verify(key, "evt_2", 1700000000, b"{}", header)
    assert not verify(key, "evt_1", 1700000000, b"{ }", header)


def test_a_secret_without_the_prefix_is_base64_too() -> None:
    assert decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == decode_secret(SECRET)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_abc"])
def test_malformed_secrets_are_refused_with_a_usable_message(bad: str) -> None:
    with pytest.raises(SigningError, match="whsec_"):
        decode_secret(bad)
