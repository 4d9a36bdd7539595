"""docs/operations.md's hook receiver example, run against signatures made by whatshooked itself."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.server import HTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from whatshooked.delivery.signing import decode_secret, sign

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
MARKER = "<!-- test: receiver-example -->"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The code block right after the marker, executed as a module that is not __main__."""
    text = DOC.read_text("utf-8")
    assert MARKER in text, f"{DOC} lost its {MARKER!r} marker"
    block = text.split(MARKER, 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "receiver_example"}
    with mock.patch.dict(os.environ, {"HOOK_SECRET": SECRET}):  # as the README has the reader export it
        exec(compile(block, f"{DOC}:receiver-example", "exec"), namespace)
    return namespace


def headers(msg_id: str, timestamp: int, signature: str) -> Message:
    """Case-insensitive like http.server's request headers."""
    message = Message()
    message["Webhook-Id"] = msg_id
    message["Webhook-Timestamp"] = str(timestamp)
    message["Webhook-Signature"] = signature
    return message


def test_verify_accepts_whatshookeds_signature(example: dict[str, Any]) -> None:
    verify = example["verify"]
    assert example["SECRET"] == SECRET
    body = b'{"id":"evt_1","type":"message.received","data":{"account_id":"shop"}}'
    now = int(time.time())
    good = sign(decode_secret(SECRET), "evt_1", now, body)
    assert verify(SECRET, headers("evt_1", now, good), body)
    assert verify(SECRET, headers("evt_1", now, f"v1,AAAA {good}"), body)  # one of several
    assert verify(SECRET, {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": good}, body)


def test_verify_refuses_anything_else(example: dict[str, Any]) -> None:
    verify = example["verify"]
    body = b'{"id":"evt_1"}'
    now = int(time.time())
    good = sign(decode_secret(SECRET), "evt_1", now, body)
    assert not verify(SECRET, headers("evt_1", now, good), body + b" ")  # body changed
    assert not verify(SECRET, headers("evt_2", now, good), body)  # id changed
    assert not verify(SECRET, headers("evt_1", now + 1, good), body)  # timestamp changed
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="
    assert not verify(other, headers("evt_1", now, good), body)  # another secret
    old = now - 3600
    assert not verify(SECRET, headers("evt_1", old, sign(decode_secret(SECRET), "evt_1", old, body)), body)
    assert not verify(SECRET, Message(), body)  # unsigned


@pytest.fixture
def served(example: dict[str, Any]) -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), example["Receiver"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def post(url: str, body: bytes, extra: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **extra})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_example_server_answers_signed_deliveries(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"id": "evt_9", "type": "message.received", "timestamp": "2026-11-21T10:00:00.000Z",
             "data": {"account_id": "shop", "text": "ping"}}
    body = json.dumps(event).encode()
    now = int(time.time())
    signed = {"webhook-id": "evt_9", "webhook-timestamp": str(now),
              "webhook-signature": sign(decode_secret(SECRET), "evt_9", now, body)}
    status, answer = post(served, body, signed)
    assert status == 200 and json.loads(answer) == {"send": [{"type": "text", "text": "pong"}]}
    assert "evt_9 message.received shop" in capsys.readouterr().out
    assert post(served, body, {**signed, "webhook-signature": "v1,AAAA"})[0] == 401
