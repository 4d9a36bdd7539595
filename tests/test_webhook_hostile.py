"""Hostile and malformed input at the public webhook path and the media links (issue 8, items 6 and 11).

Anyone on the internet reaches these, so nothing sent there may cross accounts, answer 500 or leave a
traceback in the log; a signed (so: Meta's) body that is odd still answers 200 so it is not redelivered
for days.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.cloud_daemon import API_KEY, PHONE_NUMBER_ID, WEBHOOK_PATH, cloud_daemon, sign
from tests.support.graph_standin import GraphStandin, fixture
from tests.support.receiver import HookReceiver

OTHER_ID = "1122334455667"
OTHER_PATH = "/webhooks/whatsapp/open"


def other_account(graph_url: str, secret: str | None = None) -> str:
    """A second Cloud API account at its own path; without `secret` it checks no signature."""
    lines = ["  - id: open", "    type: business-api", "    business_api:",
             f'      phone_number_id: "{OTHER_ID}"', "      access_token: test-token", f"      graph_url: {graph_url}"]
    if secret:
        lines.append(f"      app_secret: {secret}")
    return "\n".join(lines) + "\n"


async def raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send exactly these bytes (header values aiohttp's client would refuse) and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- item 6: no crossing accounts ---------------------------------------------------------
async def test_an_unsigned_post_to_an_open_account_raises_nothing_for_a_signed_one(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    try:
        async with cloud_daemon(tmp_path, receiver, graph=graph, extra_yaml=other_account(graph.url)) as rig:
            forged = fixture("message_text.json")  # metadata.phone_number_id is shop's, which has an app_secret
            assert forged["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
            status, _ = await rig.webhook(forged, signature=None, path=OTHER_PATH)
            assert status == 200
            # shop's own, signed traffic still flows: the next event the hook sees is this one
            own = copy.deepcopy(forged)
            own["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.own"
            assert await rig.webhook(own) == (200, "ok")
            [event] = [r.json() for r in await receiver.wait_for(1)]
    finally:
        await graph.close()
    assert event["data"]["message_id"] == "wamid.own"
    assert any("app_secret" in r.getMessage() and "shop" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


async def test_a_sibling_with_its_own_secret_takes_only_what_its_secret_signed(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    payload = fixture("message_text.json")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = OTHER_ID
    try:
        extra = other_account(graph.url, secret="open-secret")
        async with cloud_daemon(tmp_path, receiver, graph=graph, extra_yaml=extra) as rig:
            body = json.dumps(payload).encode()
            # signed with shop's secret, meant for `open`, which has another secret: not handed over
            assert await rig.webhook(body) == (200, "ok")
            # signed with open's own secret (one Meta app, one secret, one callback URL): handed over
            assert await rig.webhook(body, signature=sign(body, "open-secret"), path=OTHER_PATH) == (200, "ok")
            [event] = [r.json() for r in await receiver.wait_for(1)]
    finally:
        await graph.close()
    assert event["data"]["account_id"] == "open"


# -- item 11: unauthenticated input never answers 500 --------------------------------------
async def test_a_non_ascii_signature_header_is_401_not_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(fixture("message_text.json")).encode()
    async with cloud_daemon(tmp_path) as rig:
        head = (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Connection: close\r\nContent-Length: {len(body)}\r\n").encode()
        for value in ("sha256=\u00e9\u00e9", "sha256=" + "\u0661" * 64, "\u00ff"):
            status, _ = await raw_request(rig.url, head + b"X-Hub-Signature-256: " + value.encode() + b"\r\n", body)
            assert status == 401, value
    no_tracebacks(caplog)


async def test_a_non_ascii_expires_on_a_media_link_is_refused_not_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with cloud_daemon(tmp_path) as rig:
        saved = await rig.daemon.media.save(b"hello", "text/plain")
        media_id = saved["id"]
        good_sig = saved["url"].split("sig=")[1]
        for expires, sig in (("\u00b2", good_sig), ("\u0661\u0662", good_sig), ("1", "\u00e9" * 64),
                             ("9999999999", "\u0661" * 64)):
            path = f"/api/media/{media_id}?expires={quote(expires)}&sig={quote(sig)}"
            head = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
            status, _ = await raw_request(rig.url, head)
            assert status == 401, (expires, sig)
    no_tracebacks(caplog)


def _message_payload() -> dict[str, Any]:
    return fixture("message_text.json")


def _value(payload: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]
    return value


def _mutate(where: str, wrong: Any) -> dict[str, Any]:
    payload = _message_payload()
    if where == "changes":
        payload["entry"][0]["changes"] = wrong
    elif where == "entry":
        payload["entry"] = [wrong]
    elif where == "value":
        payload["entry"][0]["changes"][0]["value"] = wrong
    elif where in ("message.text", "message.context", "message.id", "message.from"):
        _value(payload)["messages"][0][where.split(".")[1]] = wrong
    elif where == "profile":
        _value(payload)["contacts"][0]["profile"] = wrong
    elif where == "statuses.errors":
        _value(payload)["statuses"] = [{"id": "wamid.s", "status": "failed", "errors": wrong}]
    else:
        _value(payload)[where] = wrong
    return payload


WRONG_TYPES = [
    (where, wrong)
    for where in ("changes", "entry", "value", "metadata", "messages", "statuses", "contacts", "errors",
                  "profile", "message.text", "message.context", "message.id", "message.from", "statuses.errors")
    for wrong in (7, "text", [1, "x"], {"a": 1}, None, True, 1.5)
]


async def test_signed_payloads_of_the_wrong_shape_answer_200_and_never_a_traceback(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        for index, (where, wrong) in enumerate(WRONG_TYPES):
            payload = _mutate(where, wrong)
            text = json.dumps(payload).replace("wamid.HBgL", f"wamid.shape{index}.")  # each one new
            status, answer = await rig.webhook(text.encode())
            assert status == 200, (where, wrong, answer)
    no_tracebacks(caplog)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_deeply_nested_signed_bodies_answer_200_without_a_traceback(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        whole = _nested(100_000).encode()
        assert await rig.webhook(whole) == (200, "ok")
        for depth in (900, 5_000, 100_000):
            text = json.dumps(_message_payload()).replace('"Does it come in another color?"', _nested(depth))
            text = text.replace("wamid.", f"wamid.deep{depth}.")
            status, answer = await rig.webhook(text.encode())
            assert status == 200, (depth, answer)
        events = [r.json() for r in await receiver.wait_for(4)]
    # nothing that deep can be raised as itself: each is a business.errors saying why
    assert [e["type"] for e in events] == ["business.errors"] * 4
    assert all(e["data"]["errors"][0]["title"] == "Unreadable webhook content" for e in events)
    no_tracebacks(caplog)


async def test_nan_never_reaches_a_hook(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        for constant in ("NaN", "Infinity", "-Infinity"):
            text = json.dumps(_message_payload()).replace('"1749416383"', constant)
            text = text.replace("wamid.", f"wamid.{constant}.")
            status, _ = await rig.webhook(text.encode())
            assert status in (200, 400)
        assert await rig.webhook(_message_payload()) == (200, "ok")
        received = await receiver.wait_for(1)
    for item in received:  # whatever arrives is standard JSON
        json.loads(item.body, parse_constant=lambda c: pytest.fail(f"{c} reached a hook"))


async def test_mutated_real_payloads_never_answer_500(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A bounded fuzz: each sample, with one node replaced by a value of another type, 200 times."""
    samples = [fixture(name) for name in ("message_text.json", "message_image.json", "status_failed.json",
                                          "message_interactive_nfm_reply.json", "webhook_value_errors.json",
                                          "message_contacts.json", "message_order.json")]
    rng = random.Random(8)
    replacements: list[Any] = [None, 0, -1, 1e300, "", "x" * 50, [], {}, [None], {"id": {}}, True, [[[]]]]
    async with cloud_daemon(tmp_path, receiver) as rig:
        for _ in range(200):
            payload = copy.deepcopy(rng.choice(samples))
            nodes = list(_paths(payload))
            path = rng.choice(nodes)
            replacement = rng.choice(replacements)
            _set(payload, path, replacement)
            status, text = await rig.webhook(payload)
            # only a body that is no webhook at all (no 'entry' list) is refused, as before: 400
            no_webhook = path == ("entry",) and not isinstance(replacement, list)
            assert status == (400 if no_webhook else 200), (path, text)
    no_tracebacks(caplog)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Any:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


async def test_what_can_be_read_is_raised_and_the_rest_is_a_business_error(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    payload = _mutate("profile", 7)
    _value(payload)["metadata"] = "not an object"
    _value(payload)["statuses"] = {"id": "wamid.x"}
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(payload) == (200, "ok")
        events = [r.json() for r in await receiver.wait_for(3)]
    by_type = {e["type"]: e["data"] for e in events if e["type"] != "business.errors"}
    assert by_type["message.received"]["text"] == "Does it come in another color?"
    assert by_type["message.received"]["from_name"] is None
    errors = [e["data"] for e in events if e["type"] == "business.errors"]
    assert sorted(e["raw"] for e in errors if isinstance(e["raw"], str)) == ["not an object"]
    assert [e["raw"] for e in errors if isinstance(e["raw"], dict)] == [{"id": "wamid.x"}]
    assert all(e["errors"][0]["message"].startswith("'") for e in errors)


async def test_a_client_that_goes_away_mid_body_leaves_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with cloud_daemon(tmp_path) as rig:
        host, port = rig.url.removeprefix("http://").split(":")
        for path in (WEBHOOK_PATH, "/api/send"):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nx-api-key: {API_KEY}\r\nContent-Type: application/json"
                         "\r\nContent-Length: 100000\r\n\r\n{\"entry\": [".encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        assert await rig.webhook(fixture("message_text.json")) == (200, "ok")  # and the path still answers
    no_tracebacks(caplog)


async def test_nan_or_deep_nesting_in_an_api_body_is_400(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        valid = ('{"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": [{"type": "reply", '
                 '"reply": {"id": "yes", "title": "Yes"}}]}, "x": NaN}')
        for raw in ('{"account_id": "shop", "to": "+16505551234", "interactive": ' + valid + "}",
                    '{"account_id": "shop", "to": "+16505551234", "interactive": ' + _nested(100_000) + "}"):
            headers = {"x-api-key": API_KEY, "Content-Type": "application/json"}
            async with rig.http.post(f"{rig.url}/api/send/interactive", data=raw, headers=headers) as response:
                status, text = response.status, await response.text()
            assert status == 400 and "not valid JSON" in text, text
        assert rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages") == []
