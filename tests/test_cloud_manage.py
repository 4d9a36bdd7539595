"""Business API management routes and the adapter's connect: the Graph calls Meta documents."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.cloud_daemon import API_KEY, PHONE_NUMBER_ID, WABA_ID, cloud_daemon
from tests.support.graph_standin import FilePart, fixture
from tests.support.standin import StandInAdapter
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
from whatshooked.accounts.registry import Registry

FLOW_JSON = json.dumps({"version": "6.0", "screens": [{"id": "START", "layout": {"type": "SingleColumnLayout",
                                                                                 "children": []}}]})

# route, body (without account_id), Graph method, path, query, JSON body, whether the answer is {"status":"ok"}
CASES: list[tuple[str, dict[str, Any], str, str, dict[str, str], Any, bool]] = [
    ("/api/templates", {}, "GET", f"{WABA_ID}/message_templates", {}, None, False),
    ("/api/templates/upload",
     {"name": "order_confirmation", "language": "en_US", "category": "UTILITY",
      "components": [{"type": "BODY", "text": "Your order {{1}} is confirmed"}]},
     "POST", f"{WABA_ID}/message_templates", {},
     {"name": "order_confirmation", "language": "en_US", "category": "UTILITY",
      "components": [{"type": "BODY", "text": "Your order {{1}} is confirmed"}]}, False),
    ("/api/templates/delete", {"name": "order_confirmation", "language": "en_US"},
     "DELETE", f"{WABA_ID}/message_templates", {"name": "order_confirmation"}, None, True),
    ("/api/flows", {}, "GET", f"{WABA_ID}/flows", {}, None, False),
    ("/api/flows/create", {"name": "booking", "categories": ["APPOINTMENT_BOOKING"]},
     "POST", f"{WABA_ID}/flows", {}, None, False),  # a multipart form: test_graph_spec
    ("/api/flows/get", {"flow_id": "555"}, "GET", "555", {
        "fields": "id,name,categories,preview,status,validation_errors,json_version,data_api_version,endpoint_uri"},
     None, False),
    ("/api/flows/publish", {"flow_id": "555"}, "POST", "555/publish", {}, None, True),
    ("/api/flows/deprecate", {"flow_id": "555"}, "POST", "555/deprecate", {}, None, True),
    ("/api/flows/delete", {"flow_id": "555"}, "DELETE", "555", {}, None, True),
    ("/api/phone-numbers", {}, "GET", f"{WABA_ID}/phone_numbers", {}, None, False),
    ("/api/phone-numbers/request-code", {"phone_number_id": "777", "code_method": "SMS", "language": "pt_BR"},
     "POST", "777/request_code", {}, {"code_method": "SMS", "language": "pt_BR"}, True),
    ("/api/phone-numbers/request-code", {"phone_number_id": "777", "code_method": "VOICE", "language": "nope"},
     "POST", "777/request_code", {}, {"code_method": "VOICE", "language": "en_US"}, True),
    ("/api/phone-numbers/verify-code", {"phone_number_id": "777", "code": "123456"},
     "POST", "777/verify_code", {}, {"code": "123456"}, True),
    ("/api/phone-numbers/register", {"phone_number_id": "777", "pin": "212834"},
     "POST", "777/register", {}, {"messaging_product": "whatsapp", "pin": "212834"}, True),
    ("/api/catalogs", {}, "GET", f"{WABA_ID}/product_catalogs", {}, None, False),
    ("/api/catalogs/products", {"catalog_id": "194836987003835"}, "GET", "194836987003835/products",
     {"fields": "id,retailer_id,name,description,price,currency,availability,image_url,url"}, None, False),
    ("/api/business-profile", {}, "GET", f"{PHONE_NUMBER_ID}/whatsapp_business_profile",
     {"fields": "about,address,description,email,profile_picture_url,websites,vertical"}, None, False),
    ("/api/business-profile/update", {"about": "Succulent specialists!", "websites": ["https://luckyshrub.com"]},
     "POST", f"{PHONE_NUMBER_ID}/whatsapp_business_profile", {},
     {"messaging_product": "whatsapp", "about": "Succulent specialists!", "websites": ["https://luckyshrub.com"]},
     True),
    ("/api/media-delete", {"media_id": "1037543291543636"}, "DELETE", "1037543291543636", {}, None, True),
]


@pytest.mark.parametrize(("route", "body", "method", "path", "query", "graph_json", "status_ok"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
async def test_each_operation_makes_the_documented_graph_call(
    tmp_path: Path, route: str, body: dict[str, Any], method: str, path: str, query: dict[str, str],
    graph_json: Any, status_ok: bool,
) -> None:
    meta_answer = {"data": [{"id": "1"}], "paging": {"cursors": {"after": "x"}}} if not status_ok else {
        "success": True}
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer(method, path, meta_answer)
        status, answer = await rig.api(route, {"account_id": "shop", **body})
        request = rig.graph.requests[-1]
    assert status == 200, answer
    assert (request.method, request.path, request.query) == (method, path, query)
    assert request.headers["Authorization"] == "Bearer test-token"
    assert request.json == graph_json
    assert answer == ({"status": "ok", **meta_answer} if status_ok else meta_answer)


async def test_template_list_passes_metas_json_back(tmp_path: Path) -> None:
    templates = fixture("message_templates_list_full.json")
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("GET", f"{WABA_ID}/message_templates", templates)
        assert await rig.api("/api/templates", {"account_id": "shop"}) == (200, templates)


async def test_flow_asset_upload_is_multipart(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("POST", "555/assets", {"success": True, "validation_errors": []})
        status, answer = await rig.api("/api/flows/upload", {"account_id": "shop", "flow_id": "555",
                                                              "asset_name": "flow.json", "asset_data": FLOW_JSON})
        upload = rig.graph.requests[-1]
    assert (status, answer) == (200, {"success": True, "validation_errors": []})
    assert (upload.method, upload.path) == ("POST", "555/assets")
    assert upload.form["name"] == "flow.json" and upload.form["asset_type"] == "FLOW_JSON"
    part = upload.form["file"]
    assert isinstance(part, FilePart) and part.data == FLOW_JSON.encode()
    assert part.content_type == "application/json" and part.filename == "flow.json"


async def test_media_upload_is_multipart_both_ways(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("POST", f"{PHONE_NUMBER_ID}/media", {"id": "1037543291543636"})
        form = aiohttp.FormData()
        form.add_field("account_id", "shop")
        form.add_field("type", "video/mp4")
        form.add_field("file", b"\x00\x00\x00\x18ftypmp42", filename="black_friday.mp4",
                       content_type="video/mp4")
        async with rig.http.post(f"{rig.url}/api/media/upload", data=form, headers={"x-api-key": API_KEY}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"id": "1037543291543636"}
        upload = rig.graph.requests[-1]
        status, text = await rig.api("/api/media/upload", {"account_id": "shop"})
        assert status == 400 and "multipart" in text
    assert (upload.method, upload.path) == ("POST", f"{PHONE_NUMBER_ID}/media")
    assert upload.form["messaging_product"] == "whatsapp" and upload.form["type"] == "video/mp4"
    part = upload.form["file"]
    assert isinstance(part, FilePart) and part.data == b"\x00\x00\x00\x18ftypmp42"
    assert part.filename == "black_friday.mp4"


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/api/phone-numbers/verify-code", {"phone_number_id": "1", "code": "12a456"}, "code"),
    ("/api/phone-numbers/verify-code", {"phone_number_id": "1", "code": "123"}, "code"),
    ("/api/phone-numbers/register", {"phone_number_id": "1", "pin": "123456789"}, "pin"),
    ("/api/phone-numbers/request-code", {"phone_number_id": "1", "code_method": "EMAIL"}, "code_method"),
    ("/api/templates/upload", {"name": "n", "language": "en_US", "category": "SPAM"}, "category"),
    ("/api/templates/delete", {"name": "n"}, "language"),
    ("/api/flows/create", {"name": "n"}, "categories"),
    ("/api/flows/upload", {"flow_id": "1", "asset_name": "flow.json", "asset_data": "{not json"}, "asset_data"),
    ("/api/catalogs/products", {}, "catalog_id"),
    ("/api/media-delete", {}, "media_id"),
    ("/api/templates", {"account_id": 5}, "account_id"),
])
async def test_invalid_bodies_are_400_naming_the_field(
    tmp_path: Path, route: str, body: dict[str, Any], field: str
) -> None:
    async with cloud_daemon(tmp_path) as rig:
        status, text = await rig.api(route, {"account_id": "shop", **body})
        assert status == 400 and f"'{field}'" in text, text
        assert rig.graph.requests[-1].method == "GET"  # only connect's check reached Meta


async def test_meta_errors_are_500_with_metas_message(tmp_path: Path) -> None:
    error = fixture("error_response_100_invalid_parameter.json")
    async with cloud_daemon(tmp_path) as rig:
        rig.graph.answer("POST", "777/register", error, status=400)
        status, text = await rig.api("/api/phone-numbers/register", {"account_id": "shop", "phone_number_id": "777",
                                                                      "pin": "123456"})
    assert status == 500 and error["error"]["message"] in text


async def test_accounts_that_are_not_business_api_get_400(tmp_path: Path) -> None:
    extra = "  - id: web\n    type: whatsmeow\n"
    registry = Registry({"whatsmeow": StandInAdapter, "business-api": CloudApiAdapter})
    async with cloud_daemon(tmp_path, registry=registry, extra_yaml=extra) as rig:
        status, text = await rig.api("/api/templates", {"account_id": "web"})
        assert status == 400 and "does not support" in text
        status, _ = await rig.api("/api/templates", {"account_id": "ghost"})
        assert status == 400  # the contract lists no 404 here


# -- connect ------------------------------------------------------------------------------------------
async def test_connect_checks_the_number(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        check = rig.graph.requests[0]
        assert (check.method, check.path) == ("GET", PHONE_NUMBER_ID)
        assert check.headers["Authorization"] == "Bearer test-token"
        assert rig.adapter.state is AccountState.CONNECTED
        assert rig.adapter.display_phone_number == "15550783881"


async def test_a_refused_number_puts_the_account_in_error_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    from tests.support.graph_standin import GraphStandin

    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", PHONE_NUMBER_ID, {"error": {"message": "Unsupported get request. Object with ID "
                                                   "'106540352242922' does not exist", "code": 100}}, status=400)
    try:
        async with cloud_daemon(tmp_path, graph=graph) as rig:
            assert rig.adapter.state is AccountState.ERROR
            assert "does not exist" in (rig.adapter.last_error or "")
            async with rig.http.get(f"{rig.url}/health") as response:
                assert response.status == 200
    finally:
        await graph.close()


async def test_an_unreachable_graph_api_is_not_reported_as_meta_refusing(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}"
    async with cloud_daemon(tmp_path, api={"graph_url": nobody}) as rig:
        assert rig.adapter.state is AccountState.ERROR
        assert (rig.adapter.last_error or "").startswith(
            f"checking phone_number_id {PHONE_NUMBER_ID} failed: cannot reach Meta's Graph API")


async def test_waba_is_resolved_from_the_business_account(tmp_path: Path) -> None:
    from tests.support.graph_standin import GraphStandin

    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", "1234567890/owned_whatsapp_business_accounts",
                 {"data": [{"id": "111", "name": "Other"}, {"id": WABA_ID, "name": "Lucky Shrub"}]})
    graph.answer("GET", "111/phone_numbers", {"data": [{"id": "999"}]})
    graph.answer("GET", f"{WABA_ID}/phone_numbers", {"data": [{"id": PHONE_NUMBER_ID}]})
    try:
        async with cloud_daemon(tmp_path, graph=graph, api={"waba_id": "", "business_account_id": "1234567890"}) as rig:
            assert rig.adapter.state is AccountState.CONNECTED, rig.adapter.last_error
            assert rig.adapter.waba_id == WABA_ID
            status, _ = await rig.api("/api/templates", {"account_id": "shop"})
            assert status == 200
            assert rig.graph.requests[-1].path == f"{WABA_ID}/message_templates"
    finally:
        await graph.close()


async def test_without_any_waba_management_says_what_to_set(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path, api={"waba_id": ""}) as rig:
        status, text = await rig.api("/api/templates", {"account_id": "shop"})
        assert status == 400 and "waba_id" in text
        # a webhook's entry id is the WABA id: learnt from the first one
        await rig.webhook(fixture("message_template_status_update_approved.json"))
        status, _ = await rig.api("/api/flows", {"account_id": "shop"})
        assert status == 200 and rig.graph.requests[-1].path == f"{WABA_ID}/flows"
