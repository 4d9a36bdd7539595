"""Every `/api/send*` route and `/api/messages/read` on a Cloud API account: the exact Graph request."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.graph_standin import FilePart, fixture
from tests.support.receiver import HookReceiver, Reply
from whatshooked.errors import RequestError
from whatshooked.phone import international, phone_digits

MESSAGES = f"{PHONE_NUMBER_ID}/messages"
TO = "16505551234"


def envelope(kind: str, content: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO, "type": kind, kind: content}


CONTACT = {"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
           "phones": [{"phone": "+14125550829", "type": "MOBILE"}]}
INTERACTIVE = {"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": [
    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}
TEMPLATE = {"name": "order_confirmation", "language": {"code": "en_US"}, "components": [
    {"type": "body", "parameters": [{"type": "text", "text": "Pablo"}]}]}
SECTIONS = [{"title": "Succulents", "product_items": [{"product_retailer_id": "di9ozbzfi4"},
                                                      {"product_retailer_id": "nqryix03ez"}]}]

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("/api/send", {"text": "Hello"}, envelope("text", {"body": "Hello"})),
    ("/api/send", {"text": "See https://example.com", "preview_url": True},
     envelope("text", {"body": "See https://example.com", "preview_url": True})),
    ("/api/send/location", {"latitude": 37.44, "longitude": -122.16, "name": "Philz", "address": "101 Forest Ave"},
     envelope("location", {"latitude": "37.44", "longitude": "-122.16", "name": "Philz",  # strings: Meta's spec
                           "address": "101 Forest Ave"})),
    ("/api/send/contacts", {"contacts": [CONTACT]}, envelope("contacts", [CONTACT])),
    ("/api/send/interactive", {"interactive": INTERACTIVE}, envelope("interactive", INTERACTIVE)),
    ("/api/send/template", {"template": TEMPLATE},  # Meta's spec requires language.policy
     envelope("template", {**TEMPLATE, "language": {"policy": "deterministic", "code": "en_US"}})),
    ("/api/send/reaction", {"message_id": "wamid.IN1", "emoji": "\U0001f44d"},
     envelope("reaction", {"message_id": "wamid.IN1", "emoji": "\U0001f44d"})),
    ("/api/send/flow", {"flow_id": "1234", "flow_token": "tok", "header_text": "Book", "body_text": "Pick a time",
                        "footer_text": "Thanks", "button_text": "Book now", "screen": "START",
                        "flow_data": {"name": "Ana"}},
     envelope("interactive", {"type": "flow", "header": {"type": "text", "text": "Book"},
                              "body": {"text": "Pick a time"}, "footer": {"text": "Thanks"},
                              "action": {"name": "flow", "parameters": {
                                  "flow_message_version": "3", "flow_token": "tok", "flow_id": "1234",
                                  "flow_cta": "Book now", "flow_action": "navigate",
                                  "flow_action_payload": {"screen": "START", "data": {"name": "Ana"}}}}})),
    ("/api/send/flow", {"flow_id": "1234", "flow_token": "tok", "body_text": "Go", "button_text": "Open"},
     envelope("interactive", {"type": "flow", "body": {"text": "Go"}, "action": {"name": "flow", "parameters": {
         "flow_message_version": "3", "flow_token": "tok", "flow_id": "1234", "flow_cta": "Open"}}})),
    ("/api/send/catalog", {"body_text": "Our catalog", "thumbnail_product_retailer_id": "2lc20305pt"},
     envelope("interactive", {"type": "catalog_message", "body": {"text": "Our catalog"}, "action": {
         "name": "catalog_message", "parameters": {"thumbnail_product_retailer_id": "2lc20305pt"}}})),
    ("/api/send/product", {"catalog_id": "194836987003835", "product_retailer_id": "di9ozbzfi4",
                           "body_text": "This one", "footer_text": "In stock"},
     envelope("interactive", {"type": "product", "body": {"text": "This one"}, "footer": {"text": "In stock"},
                              "action": {"catalog_id": "194836987003835", "product_retailer_id": "di9ozbzfi4"}})),
    ("/api/send/product-list", {"catalog_id": "194836987003835", "header_text": "Picks", "body_text": "For you",
                                "sections": SECTIONS},
     envelope("interactive", {"type": "product_list", "header": {"type": "text", "text": "Picks"},
                              "body": {"text": "For you"},
                              "action": {"catalog_id": "194836987003835", "sections": SECTIONS}})),
]


@pytest.mark.parametrize(("path", "body", "graph_json"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
async def test_send_builds_the_message_meta_documents(
    tmp_path: Path, receiver: HookReceiver, path: str, body: dict[str, Any], graph_json: dict[str, Any]
) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        status, answer = await rig.api(path, {"account_id": "shop", "to": "+1 (650) 555-1234", **body})
        assert status == 200, answer
        [sent] = rig.graph.graph_requests("POST", MESSAGES)
        [event] = [r.json() for r in await receiver.wait_for(1)]
    assert sent.version == "v21.0"
    assert sent.headers["Authorization"] == "Bearer test-token"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.json == graph_json
    assert answer == {"status": "ok", "message_id": answer["message_id"]}
    assert answer["message_id"].startswith("wamid.standin")
    assert event["type"] == "message.sent"
    kind = "text" if path == "/api/send" else path.rsplit("/", 1)[-1]
    assert event["data"] == {"account_id": "shop", "message_id": answer["message_id"], "to": TO, "type": kind}


MEDIA_CASES = [
    ("image", {"caption": "Taj Mahal"}, "image/jpeg", {"caption": "Taj Mahal"}),
    ("video", {"mime_type": "video/3gpp"}, "video/3gpp", {}),
    ("document", {"caption": "receipt", "filename": "receipt.pdf", "mime_type": "application/pdf"},
     "application/pdf", {"caption": "receipt", "filename": "receipt.pdf"}),
    ("audio", {}, "audio/mpeg", {}),
    ("sticker", {}, "image/webp", {}),
]


@pytest.mark.parametrize(("kind", "extra", "mime", "content"), MEDIA_CASES, ids=[c[0] for c in MEDIA_CASES])
async def test_media_is_uploaded_first_then_sent_by_id(
    tmp_path: Path, kind: str, extra: dict[str, Any], mime: str, content: dict[str, Any]
) -> None:
    data = b"\x00\x01binary media\xff" * 100
    body = {"account_id": "shop", "to": TO, f"{kind}_data": base64.b64encode(data).decode(), **extra}
    async with cloud_daemon(tmp_path) as rig:
        status, answer = await rig.api(f"/api/send/{kind}", body)
        assert status == 200, answer
        upload, message = rig.graph.requests[-2:]
    assert (upload.method, upload.path) == ("POST", f"{PHONE_NUMBER_ID}/media")
    assert upload.headers["Authorization"] == "Bearer test-token"
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert upload.form["messaging_product"] == "whatsapp"
    assert upload.form["type"] == mime
    part = upload.form["file"]
    assert isinstance(part, FilePart) and part.data == data and part.content_type == mime
    media_id = f"uploaded-media-{len(rig.graph.requests) - 1}"
    expected = {"id": media_id, **content}
    if kind == "document" and "filename" not in expected:
        expected["filename"] = "document"
    assert (message.method, message.path) == ("POST", MESSAGES)
    assert message.json == envelope(kind, expected)


async def test_mark_as_read(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        status, answer = await rig.api("/api/messages/read", {"account_id": "shop", "message_id": "wamid.IN1"})
        assert (status, answer) == (200, {"status": "ok", "message_id": "wamid.IN1"})
        [read] = rig.graph.graph_requests("POST", MESSAGES)
        # a read receipt raises no message.sent: the next event the hook sees is the marker
        await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "marker"})
        [event] = [r.json() for r in await receiver.wait_for(1)]
    assert read.json == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    assert event["data"]["type"] == "text"


@pytest.mark.parametrize("sample", [
    "error_response_130429_with_subcode.json", "error_response_100_invalid_parameter.json"])
async def test_meta_errors_are_500_with_metas_message_and_message_failed(
    tmp_path: Path, receiver: HookReceiver, sample: str
) -> None:
    error = fixture(sample)
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.answer("POST", MESSAGES, error, status=400)
        status, text = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "Hello"})
        [event] = [r.json() for r in await receiver.wait_for(1)]
    assert status == 500
    assert error["error"]["message"] in text
    assert event["type"] == "message.failed"
    assert event["data"]["to"] == TO
    assert event["data"]["error"]["code"] == error["error"]["code"]
    assert error["error"]["message"] in event["data"]["error"]["message"]


async def test_a_failed_media_upload_is_a_500_too(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("POST", f"{PHONE_NUMBER_ID}/media", fixture("error_response_100_invalid_parameter.json"),
                         status=400)
        status, text = await rig.api("/api/send/image", {"account_id": "shop", "to": TO, "image_data": "AAAA"})
        assert status == 500 and "Invalid parameter" in text
        assert rig.graph.graph_requests("POST", MESSAGES) == []


BAD_BODIES = [
    ("/api/send", {"to": TO, "text": "x"}, "account_id"),
    ("/api/send", {"account_id": "shop", "text": "x"}, "to"),
    ("/api/send", {"account_id": "shop", "to": TO}, "text"),
    ("/api/send", {"account_id": "shop", "to": TO, "text": 5}, "text"),
    ("/api/send/image", {"account_id": "shop", "to": TO, "image_data": "not base64!"}, "image_data"),
    ("/api/send/location", {"account_id": "shop", "to": TO, "latitude": "north", "longitude": 1}, "latitude"),
    ("/api/send/location", {"account_id": "shop", "to": TO, "latitude": 91, "longitude": 1}, "latitude"),
    ("/api/send/contacts", {"account_id": "shop", "to": TO, "contacts": []}, "contacts"),
    ("/api/send/contacts", {"account_id": "shop", "to": TO, "contacts": [{"name": {}}]},
     "contacts[0].name.formatted_name"),
    ("/api/send/interactive", {"account_id": "shop", "to": TO, "interactive": {"type": "button"}},
     "interactive.body"),
    ("/api/send/template", {"account_id": "shop", "to": TO, "template": {"name": "x", "language": {}}},
     "template.language.code"),
    ("/api/send/flow", {"account_id": "shop", "to": TO, "flow_id": "1", "flow_token": "t", "body_text": "b"},
     "button_text"),
    ("/api/send/reaction", {"account_id": "shop", "to": TO, "emoji": "x"}, "message_id"),
    ("/api/send/catalog", {"account_id": "shop", "to": TO}, "body_text"),
    ("/api/send/product", {"account_id": "shop", "to": TO, "catalog_id": "1", "body_text": "b"},
     "product_retailer_id"),
    ("/api/send/product-list", {"account_id": "shop", "to": TO, "catalog_id": "1", "header_text": "h",
                                "body_text": "b", "sections": [{"title": "t", "product_items": [{}]}]},
     "sections[0].product_items[0].product_retailer_id"),
    ("/api/messages/read", {"account_id": "shop"}, "message_id"),
]


async def test_bad_bodies_are_400_naming_the_field(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        for path, body, field in BAD_BODIES:
            status, text = await rig.api(path, body)
            assert status == 400, (path, body, text)
            assert f"'{field}'" in text, (path, text)
        async with rig.http.post(f"{rig.url}/api/send", data=b"{nope", headers={"x-api-key": "cloud-test-api-key"}
                                 ) as response:
            assert response.status == 400
        assert rig.graph.graph_requests("POST", MESSAGES) == []


async def test_invalid_recipient_unknown_account_and_no_credentials(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        for to in ("hello", "+12", "120363025246125486@g.us", "1555@example.com"):
            status, text = await rig.api("/api/send", {"account_id": "shop", "to": to, "text": "x"})
            assert status == 400 and "'to'" in text, (to, text)
        status, _ = await rig.api("/api/send", {"account_id": "nope", "to": TO, "text": "x"})
        assert status == 400  # the contract lists no 404 for sends
        status, _ = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "x"}, auth=False)
        assert status == 401
        status, _ = await rig.api("/api/send", {"account_id": "shop", "to": "16505551234@s.whatsapp.net",
                                                "text": "jid"})
        assert status == 200
        assert rig.graph.requests[-1].json["to"] == TO


async def test_two_way_reply_from_a_hook_is_sent_through_meta(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(body={"send": [{"type": "text", "text": "Thanks!"},
                                        {"type": "reaction", "message_id": "wamid.IN", "emoji": "\u2764"},
                                        {"type": "text"}]}))
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(fixture("message_text.json")) == (200, "ok")
        requests = await receiver.wait_for(3)
        sent = rig.graph.graph_requests("POST", MESSAGES)
    assert [r.json()["type"] for r in requests] == ["message.received", "message.sent", "message.sent"]
    assert [s.json for s in sent] == [envelope("text", {"body": "Thanks!"}),
                                      envelope("reaction", {"message_id": "wamid.IN", "emoji": "\u2764"})]


@pytest.mark.parametrize(("given", "digits"), [
    ("+1 (650) 555-1234", TO), ("16505551234", TO), ("0016505551234", TO), ("16505551234@s.whatsapp.net", TO),
    ("16505551234:12@s.whatsapp.net", TO), ("16505551234@c.us", TO), ("+44 20 7946 0958", "442079460958"),
])
def test_phone_numbers_and_jids_are_normalised(given: str, digits: str) -> None:
    assert phone_digits(given) == digits
    assert international(digits) == f"+{digits}"


@pytest.mark.parametrize("given", ["", "   ", "abc", "+1 555", "1234567890123456", "123@g.us", "x@lid.example"])
def test_invalid_recipients_are_refused(given: str) -> None:
    with pytest.raises(RequestError) as caught:
        phone_digits(given)
    assert caught.value.status == 400 and "'to'" in str(caught.value)


def status_payload(status: str, wamid: str) -> dict[str, Any]:
    payload = fixture("status_read.json")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0].update(status=status, id=wamid)
    return payload


async def test_one_message_sent_per_message_whether_the_send_or_metas_status_comes_first(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        _, answer = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "Hello"})
        wamid = answer["message_id"]
        await receiver.wait_for(1)
        for status in ("sent", "delivered", "read", "sent", "read"):
            assert await rig.webhook(status_payload(status, wamid)) == (200, "ok")
        # Meta's `sent` status may beat Graph's answer: then the send raises nothing more
        early = fixture("send_message_response.json")
        early["messages"][0]["id"] = "wamid.EARLY"
        rig.graph.answer("POST", MESSAGES, early)
        assert await rig.webhook(status_payload("sent", "wamid.EARLY")) == (200, "ok")
        _, answer = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "Quick"})
        assert answer["message_id"] == "wamid.EARLY"
        await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "marker"})  # everything before is in
        events = [r.json() for r in await receiver.wait_for(5)]
    assert [(e["type"], e["data"]["message_id"]) for e in events] == [
        ("message.sent", wamid), ("message.delivered", wamid), ("message.read", wamid),
        ("message.sent", "wamid.EARLY"), ("message.sent", events[4]["data"]["message_id"])]
    assert events[3]["data"]["status"] == "sent"  # raised by the webhook
    assert len(receiver.requests) == 5
