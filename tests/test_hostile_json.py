"""Issue 8 follow-ups: only standard JSON in and out, cut media downloads, stalled keep-alive requests."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.support.cloud_daemon import API_KEY, cloud_daemon
from tests.support.pipelining import said_to
from tests.support.receiver import HookReceiver
from tests.test_review_hostile import text_webhook
from whatshooked import strict_json
from whatshooked.accounts.cloud_api.media_check import MediaMismatch, check_download
from whatshooked.events import Event


def _no_constants(name: str) -> None:
    pytest.fail(f"{name} is not standard JSON")


def test_event_json_never_holds_infinity_nor_a_lone_surrogate() -> None:
    event = Event("message.received", {"n": float("inf"), "m": [float("nan")], "text": "a\ud800b"})
    body = event.to_json()  # encodes to UTF-8: no surrogate is left
    assert json.loads(body, parse_constant=_no_constants)["data"] == {"n": None, "m": [None], "text": "a\ufffdb"}


def test_strict_loads_refuses_non_finite_numbers_and_replaces_lone_surrogates() -> None:
    with pytest.raises(strict_json.NotFinite):
        strict_json.loads(b'{"x": -1e999}')
    with pytest.raises(ValueError):
        strict_json.loads(b'{"x": NaN}')
    assert strict_json.loads(b'{"\\udc00k": ["\\ud800", "\\ud83d\\ude00"]}') == {"\ufffdk": ["\ufffd", "\U0001f600"]}


async def test_a_lone_surrogate_reaches_the_hook_as_the_replacement_character(tmp_path: Path) -> None:
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.LONE", body="\ud800x"))
            assert await rig.webhook(raw.encode()) == (200, "ok")
            [got] = await receiver.wait_for(1)
        assert got.headers["X-Whatshooked-Event"] == "message.received"
        assert got.json()["data"]["text"] == "\ufffdx"
        assert "\ufffdx".encode() in got.body
    finally:
        await receiver.close()


async def test_an_overflowing_number_in_a_signed_webhook_is_raised_as_business_errors(tmp_path: Path) -> None:
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.HUGE2")).replace('"type": "text"', '"type": "text", "x": 1e999')
            assert await rig.webhook(raw.encode()) == (200, "ok")
            [got] = await receiver.wait_for(1)
        assert got.headers["X-Whatshooked-Event"] == "business.errors"
        assert "1e999" in got.json()["data"]["errors"][0]["message"]
    finally:
        await receiver.close()


@pytest.mark.parametrize("value", ["1e999", "-1e400", "9" * 5000], ids=["inf", "-inf", "5000 digits"])
async def test_an_api_body_with_a_number_json_cannot_pass_on_is_400(tmp_path: Path, value: str) -> None:
    async with cloud_daemon(tmp_path) as rig:
        raw = '{"account_id": "shop", "to": "+16505551234", "text": "hi", "x": ' + value + "}"
        headers = {"x-api-key": API_KEY, "Content-Type": "application/json"}
        async with rig.http.post(f"{rig.url}/api/send", data=raw, headers=headers) as response:
            status, text = response.status, await response.text()
        assert status == 400 and "not valid JSON" in text, text


def test_a_download_is_checked_against_metas_size_and_hash() -> None:
    data = b"whole file"
    check_download("m", data, {"file_size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    check_download("m", data, {"sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()})
    check_download("m", data, {"sha256": "73298ec14751fhfonf4wfxxxf52f4fb031db3892ff5"})  # not a hash: not checked
    with pytest.raises(MediaMismatch, match="file_size is 11"):
        check_download("m", data, {"file_size": "11"})
    with pytest.raises(MediaMismatch, match="sha256"):
        check_download("m", data[:5], {"sha256": hashlib.sha256(data).hexdigest()})


async def test_an_http_1_0_keep_alive_request_then_a_stalled_one_is_cut(tmp_path: Path) -> None:
    said = await said_to(tmp_path, b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                   b"GET /health HTTP/1.0\r\nX-Slow")
    assert said.startswith(b"HTTP/1.") and b" 200 " in said.split(b"\r\n", 1)[0], said
    assert b"HTTP/1.1 408" in said, said
