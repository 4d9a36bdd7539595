"""Meta's webhooks at a Cloud API account's path, through the whole daemon to a real hook receiver."""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cloud_daemon import API_KEY, PHONE_NUMBER_ID, VERIFY_TOKEN, WEBHOOK_PATH, cloud_daemon, sign
from tests.support.graph_standin import fixture
from tests.support.receiver import HookReceiver


def for_shop(payload: dict[str, Any]) -> dict[str, Any]:
    """pywa's samples carry another phone_number_id; point them at the test account."""
    payload = copy.deepcopy(payload)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            metadata = change["value"].get("metadata")
            if metadata:
                metadata["phone_number_id"] = PHONE_NUMBER_ID
    return payload


def first_message(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


async def events_after(rig: Any, receiver: HookReceiver, payload: Any, count: int = 1) -> list[dict[str, Any]]:
    status, text = await rig.webhook(payload)
    assert (status, text) == (200, "ok")
    return [r.json() for r in await receiver.wait_for(count)]


# -- the verify handshake ------------------------------------------------------------
async def test_verify_handshake_echoes_the_challenge_or_refuses(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    async with cloud_daemon(tmp_path) as rig:
        url = f"{rig.url}{WEBHOOK_PATH}"
        ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        async with rig.http.get(url, params=ok) as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            assert await response.text() == "1158201444"
        for bad in ({**ok, "hub.verify_token": "wrong"}, {**ok, "hub.mode": "unsubscribe"},
                    {"hub.challenge": "1"}):
            async with rig.http.get(url, params=bad) as response:
                assert response.status == 403
    refusals = [r.getMessage() for r in caplog.records if "verify request from" in r.getMessage()]
    # operations.md says "403 otherwise — see the log": the log must say why
    assert len(refusals) == 3 and "differs from business_api.verify_token" in refusals[0]
    assert not any("wrong" in r.getMessage() or VERIFY_TOKEN in r.getMessage() for r in caplog.records)


# -- every message type ----------------------------------------------------------------
MESSAGE_CASES = [
    ("message_text.json", "text", {"text": "Does it come in another color?"}),
    ("message_location.json", "location", {"location": {
        "latitude": 37.44221496582, "longitude": -122.16165924072, "name": "Philz Coffee",
        "address": "101 Forest Ave, Palo Alto, CA 94301", "url": "https://philzcoffee.com/"}}),
    ("message_contacts.json", "contacts", {}),
    ("message_reaction.json", "reaction", {}),
    ("message_reaction_removed.json", "reaction", {"reaction": {
        "message_id": "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=", "emoji": None}}),
    ("message_interactive_button_reply.json", "interactive", {}),
    ("message_interactive_list_reply.json", "interactive", {"interactive": {
        "type": "list_reply", "id": "priority_express", "title": "Priority Mail Express",
        "description": "Next Day to 2 Days"}, "text": "Priority Mail Express"}),
    ("message_interactive_nfm_reply.json", "interactive", {}),
    ("message_button_template_quick_reply.json", "button", {"text": "Unsubscribe", "interactive": {
        "type": "button", "id": "Unsubscribe", "title": "Unsubscribe", "payload": "Unsubscribe"}}),
    ("message_order.json", "order", {"text": "Love these!"}),
    ("message_system_user_changed_number.json", "system", {
        "text": "User Sheena Nelson changed from 16505551234 to 12195555358", "from_name": None}),
    ("message_unsupported.json", "unknown", {}),
    ("message_unknown_legacy.json", "unknown", {}),
]


@pytest.mark.parametrize(("sample", "kind", "expected"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES])
async def test_each_message_type_reaches_the_hook(
    tmp_path: Path, receiver: HookReceiver, sample: str, kind: str, expected: dict[str, Any]
) -> None:
    payload = for_shop(fixture(sample))
    message = first_message(payload)
    async with cloud_daemon(tmp_path, receiver) as rig:
        [event] = await events_after(rig, receiver, payload)
    assert event["type"] == "message.received"
    data = event["data"]
    assert data["account_id"] == "shop"
    assert data["message_id"] == message["id"]
    assert data["from"] == "+" + message["from"]
    assert data["chat"] == "+" + message["from"]
    assert data["is_group"] is False
    assert data["type"] == kind
    assert data["raw"] == message
    assert data["timestamp"].endswith("Z") and data["timestamp"].startswith("20")
    contacts = payload["entry"][0]["changes"][0]["value"].get("contacts")
    if contacts:
        assert data["from_name"] == contacts[0]["profile"]["name"]
    for key, value in expected.items():
        assert data[key] == value, key


async def test_reaction_contacts_and_flow_reply_fields(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        events = await events_after(rig, receiver, fixture("message_reaction.json"))
        reaction = events[0]["data"]
        assert reaction["reaction"] == {"message_id": first_message(fixture("message_reaction.json"))["reaction"][
            "message_id"], "emoji": "\U0001f44d"}
        assert reaction["text"] == "\U0001f44d"
        events = await events_after(rig, receiver, for_shop(fixture("message_interactive_nfm_reply.json")), 2)
        flow = events[1]["data"]["interactive"]
        assert flow["type"] == "nfm_reply" and flow["name"] == "flow" and flow["body"] == "Sent"
        assert flow["response"]["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
        assert events[1]["data"]["context"] == {"message_id": "wamid.gvwegfretge==", "from": "+972123456789"}


async def test_contacts_message_keeps_the_cards(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_contacts.json")
    async with cloud_daemon(tmp_path, receiver) as rig:
        [event] = await events_after(rig, receiver, payload)
    assert event["data"]["contacts"] == first_message(payload)["contacts"]


async def test_reply_context_and_referral(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        events = await events_after(rig, receiver, for_shop(fixture("message_text_reply_context.json")))
        assert events[0]["data"]["context"]["message_id"] == "wamid.xyzxyz=="
        assert events[0]["data"]["text"] == "replied text"
        events = await events_after(rig, receiver, fixture("message_text_referral_ctwa_ad.json"), 2)
        assert events[1]["data"]["referral"]["source_id"] == "120226305854810726"
        events = await events_after(rig, receiver, fixture("message_text_context_referred_product.json"), 3)
        context = events[2]["data"]["context"]
        assert context["referred_product"] == first_message(
            fixture("message_text_context_referred_product.json"))["context"]["referred_product"]


async def test_several_messages_in_one_post(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("webhook_batch_two_messages.json")
    async with cloud_daemon(tmp_path, receiver) as rig:
        events = await events_after(rig, receiver, payload, 2)
    ids = [change["value"]["messages"][0]["id"] for change in payload["entry"][0]["changes"]]
    assert [e["data"]["message_id"] for e in events] == ids
    assert len(set(ids)) == 2


# -- statuses ------------------------------------------------------------------------------
def status_payload(status: str, wamid: str = "wamid.OUT1") -> dict[str, Any]:
    payload = fixture("status_read.json")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0].update(status=status, id=wamid)
    return payload


async def test_statuses_become_receipts_once_each(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        for status in ("sent", "delivered", "read", "read", "played", "delivered"):
            assert await rig.webhook(status_payload(status)) == (200, "ok")
        await rig.webhook(fixture("message_text.json"))  # a marker: everything before it has been raised
        events = [r.json() for r in await receiver.wait_for(5)]
    assert [e["type"] for e in events] == [
        "message.sent", "message.delivered", "message.read", "message.played", "message.received"]
    read = events[2]["data"]
    assert read == {**read, "account_id": "shop", "message_id": "wamid.OUT1", "chat": "+16505551234",
                    "by": "+16505551234", "timestamp": "2023-01-28T13:59:16.000Z"}


async def test_sample_statuses_and_a_failure(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        for sample in ("status_sent.json", "status_delivered.json", "status_failed.json"):
            assert await rig.webhook(fixture(sample)) == (200, "ok")
        events = [r.json() for r in await receiver.wait_for(3)]
    assert [e["type"] for e in events] == ["message.sent", "message.delivered", "message.failed"]
    assert events[0]["data"]["pricing"]["pricing_model"] == "PMP"
    failed = events[2]["data"]
    assert failed["message_id"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA"
    assert failed["to"] == "+16505551234"
    assert failed["error"]["code"] == 131049
    assert failed["error"]["message"] == "This message was not delivered to maintain healthy ecosystem engagement."


# -- dedupe, signatures, bad bodies ------------------------------------------------------------
async def test_a_redelivered_message_is_raised_once(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        for _ in range(3):
            assert await rig.webhook(fixture("message_text.json")) == (200, "ok")
        await rig.webhook(fixture("message_location.json"))
        events = [r.json() for r in await receiver.wait_for(2)]
    assert [e["data"]["type"] for e in events] == ["text", "location"]


async def test_a_wrong_or_missing_signature_gets_401_and_raises_nothing(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    body = json.dumps(fixture("message_text.json")).encode()
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert (await rig.webhook(body, signature=sign(body, "not-the-secret")))[0] == 401
        assert (await rig.webhook(body, signature=None))[0] == 401
        assert (await rig.webhook(body, signature="sha256=" + "0" * 64))[0] == 401
        assert (await rig.webhook(body + b" ", signature=sign(body)))[0] == 401
        # the same message, properly signed, is still new: nothing above was recorded
        assert await rig.webhook(body) == (200, "ok")
        [first] = await receiver.wait_for(1)
        metrics = rig.daemon.metrics.render().decode()
    assert first.json()["data"]["text"] == "Does it come in another color?"
    assert 'whatshooked_inbound_webhook_requests_total{outcome="bad_signature"} 4.0' in metrics
    assert 'whatshooked_inbound_webhook_requests_total{outcome="ok"} 1.0' in metrics


async def test_a_body_that_is_not_json_is_400(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        status, _ = await rig.webhook(b"{not json")
        assert status == 400
        status, _ = await rig.webhook({"object": "whatsapp_business_account"})
        assert status == 400


async def test_without_app_secret_posts_are_accepted_unchecked(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver, api={"app_secret": None}) as rig:
        assert await rig.webhook(fixture("message_text.json"), signature=None) == (200, "ok")
        assert len(await receiver.wait_for(1)) == 1


async def test_changes_for_another_number_are_not_raised_here(tmp_path: Path, receiver: HookReceiver) -> None:
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(fixture("message_text_reply_context.json")) == (200, "ok")  # 1122334455667
        await rig.webhook(fixture("message_text.json"))
        [event] = [r.json() for r in await receiver.wait_for(1)]
    assert event["data"]["text"] == "Does it come in another color?"


# -- other fields ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", [
    "message_template_status_update_approved.json", "message_template_status_update_rejected.json",
    "account_update_account_violation.json", "account_update_partner_added.json",
    "phone_number_quality_update.json",
])
async def test_other_fields_become_business_events(tmp_path: Path, receiver: HookReceiver, sample: str) -> None:
    payload = fixture(sample)
    change = payload["entry"][0]["changes"][0]
    async with cloud_daemon(tmp_path, receiver) as rig:
        [event] = await events_after(rig, receiver, payload)
    assert event["type"] == f"business.{change['field']}"
    assert event["data"] == {"account_id": "shop", **change["value"]}


async def test_value_errors_become_business_errors(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("webhook_value_errors.json")
    async with cloud_daemon(tmp_path, receiver) as rig:
        [event] = await events_after(rig, receiver, payload)
    assert event["type"] == "business.errors"
    assert event["data"]["errors"] == payload["entry"][0]["changes"][0]["value"]["errors"]


# -- media --------------------------------------------------------------------------------------------
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


async def test_received_media_reaches_the_hook_as_a_working_link(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_image.json")
    media_id = first_message(payload)["image"]["id"]
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.add_media(media_id, IMAGE, "image/jpeg")
        [event] = await events_after(rig, receiver, payload)
        media = event["data"]["media"]
        assert event["data"]["caption"] == "Taj Mahal"
        assert media["mime_type"] == "image/jpeg" and media["file_size"] == len(IMAGE)
        assert media["url"].startswith(f"{rig.url}/api/media/{media['id']}?expires=")
        # Meta's two steps, both with the token
        lookup = rig.graph.graph_requests("GET", media_id)[0]
        assert lookup.headers["Authorization"] == "Bearer test-token"
        assert rig.graph.downloads == [{"path": f"/download/{media_id}", "authorization": "Bearer test-token"}]
        # the hook receiver fetches it without any API credentials
        async with rig.http.get(media["url"]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            assert await response.read() == IMAGE
        bare = media["url"].split("?")[0]
        async with rig.http.get(bare) as response:
            assert response.status == 401
        async with rig.http.get(media["url"][:-4] + "0000") as response:
            assert response.status == 401
        async with rig.http.get(bare, headers={"x-api-key": API_KEY}) as response:
            assert response.status == 200 and await response.read() == IMAGE


async def test_document_keeps_its_filename(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_document.json")
    media_id = first_message(payload)["document"]["id"]
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.add_media(media_id, b"%PDF-1.4 receipt", "application/pdf")
        [event] = await events_after(rig, receiver, payload)
        media = event["data"]["media"]
        assert media["filename"] == "receipt.pdf" and event["data"]["caption"] == "my receipt"
        async with rig.http.get(media["url"]) as response:
            assert 'filename="receipt.pdf"' in response.headers["Content-Disposition"]
            assert await response.read() == b"%PDF-1.4 receipt"


async def test_base64_mode_puts_the_bytes_in_the_event(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_audio_voice.json")
    media_id = first_message(payload)["audio"]["id"]
    async with cloud_daemon(tmp_path, receiver, media_mode="base64") as rig:
        rig.graph.add_media(media_id, b"OggS voice", "audio/ogg; codecs=opus")
        [event] = await events_after(rig, receiver, payload)
    assert base64.b64decode(event["data"]["media"]["data"]) == b"OggS voice"
    assert "url" not in event["data"]["media"]


async def test_a_failed_download_still_raises_the_message(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_video.json")
    media_id = first_message(payload)["video"]["id"]
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.answer("GET", media_id, fixture("error_response_100_invalid_parameter.json"), status=400)
        [event] = await events_after(rig, receiver, payload)
    media = event["data"]["media"]
    assert media["mime_type"] == first_message(payload)["video"]["mime_type"]
    assert "could not download media" in media["error"] and "url" not in media


async def test_changes_for_a_sibling_number_go_to_its_account(tmp_path: Path, receiver: HookReceiver) -> None:
    from tests.support.graph_standin import GraphStandin

    graph = GraphStandin("test-token")
    await graph.start()
    second = ("  - id: second\n    type: business-api\n    business_api:\n"
              f'      phone_number_id: "1122334455667"\n      access_token: test-token\n      graph_url: {graph.url}\n')
    try:
        async with cloud_daemon(tmp_path, receiver, graph=graph, extra_yaml=second) as rig:
            # pywa's sample is for 1122334455667, posted at shop's path (one callback URL per Meta app)
            [event] = await events_after(rig, receiver, fixture("message_text_reply_context.json"))
            assert await rig.webhook(fixture("message_text_reply_context.json")) == (200, "ok")  # deduped there
            await rig.webhook(fixture("message_text.json"))
            events = [r.json() for r in await receiver.wait_for(2)]
    finally:
        await graph.close()
    assert event["data"]["account_id"] == "second" and event["data"]["text"] == "replied text"
    assert events[1]["data"]["account_id"] == "shop"


async def test_a_commit_failure_is_500_and_metas_redelivery_raises_it(tmp_path: Path) -> None:
    """The dedupe key goes with the failed commit: the redelivery must not be dropped as a duplicate."""
    import aiohttp
    from aiohttp import web

    from tests.support.cloud_daemon import APP_SECRET, TOKEN
    from whatshooked.accounts.base import AdapterContext
    from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
    from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
    from whatshooked.config.model import AccountConfig, Config
    from whatshooked.config.values import Secret
    from whatshooked.events import Event
    from whatshooked.media.store import MediaStore

    committed: list[Event] = []
    seen: set[str] = set()
    failures = [RuntimeError("database is locked")]

    async def emit(event: Event, dedupe_key: str | None = None) -> bool:
        """Like the dispatcher: the key is recorded with the event, or not at all."""
        if failures:
            raise failures.pop()
        if dedupe_key in seen:
            return False
        seen.add(dedupe_key or event.id)
        committed.append(event)
        return True

    account = AccountConfig(id="shop", type="business-api", settings=BusinessApiConfig(
        phone_number_id=PHONE_NUMBER_ID, access_token=Secret(TOKEN), app_secret=Secret(APP_SECRET),
        graph_url="http://127.0.0.1:9"))
    config = Config(path=tmp_path / "config.yaml", accounts=(account,))
    async with aiohttp.ClientSession() as http:
        ctx = AdapterContext(emit=emit, http=http, media=MediaStore.from_config(config), settings=config)
        adapter = CloudApiAdapter(account, ctx)
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, adapter.handle_webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        body = json.dumps(fixture("message_text.json")).encode()
        statuses = []
        for _ in range(3):
            async with http.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", data=body,
                                 headers={"X-Hub-Signature-256": sign(body)}) as response:
                statuses.append(response.status)
        await runner.cleanup()
    assert statuses == [500, 200, 200]
    assert [e.data["text"] for e in committed] == ["Does it come in another color?"]


async def test_a_webhook_body_past_metas_size_is_413_not_read_to_max_body(tmp_path: Path) -> None:
    """The webhook path needs no credentials: it must not take server.max_body (64 MB) from anyone."""
    from whatshooked.accounts.cloud_api.webhook import MAX_BODY

    async with cloud_daemon(tmp_path) as rig:
        assert rig.daemon.settings.config.server.max_body > MAX_BODY + 1
        huge = io.BytesIO(b'{"entry": [], "pad": "' + b"x" * MAX_BODY + b'"}')
        async with rig.http.post(f"{rig.url}{WEBHOOK_PATH}", data=huge) as response:
            assert response.status == 413
        assert (await rig.webhook(b"{not json"))[0] == 400  # the path still answers
