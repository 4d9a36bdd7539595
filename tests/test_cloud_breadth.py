"""Cloud API breadth (DESIGN §8.3) through the real daemon and API: the exact Graph requests, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.graph_standin import FilePart, GraphStandin

MESSAGES = f"{PHONE_NUMBER_ID}/messages"
TO = "16505551234"
FILE = bytes(range(256)) * 1200  # 300 KB: many chunks on the wire


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """A local file server: /photo.png (no Content-Length: chunked), /go redirects there."""
    async def photo(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(FILE), 10_000):
            await response.write(FILE[start:start + 10_000])
        await response.write_eof()
        return response

    async def go(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/files/report.pdf")

    async def report(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"%PDF-1.4 tiny", content_type="application/pdf")

    app = web.Application()
    app.router.add_get("/photo.png", photo)
    app.router.add_get("/go", go)
    app.router.add_get("/files/report.pdf", report)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def sent_json(rig: Any) -> list[Any]:
    return [r.json for r in rig.graph.graph_requests("POST", MESSAGES)]


async def test_reply_to_is_metas_context(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        status, _ = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "yes", "reply_to": "wamid.Q"})
        assert status == 200
        status, _ = await rig.api("/api/send/location", {"account_id": "shop", "to": TO, "latitude": 1, "longitude": 2,
                                                         "reply_to": "wamid.Q"})
        assert status == 200
    text, location = sent_json(rig)
    assert text == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO, "type": "text",
                    "text": {"body": "yes"}, "context": {"message_id": "wamid.Q"}}
    assert location["context"] == {"message_id": "wamid.Q"}


async def test_media_by_url_is_fetched_whole(tmp_path: Path, files: str) -> None:
    async with cloud_daemon(tmp_path, fetch_private=True) as rig:
        status, answer = await rig.api("/api/send/image", {"account_id": "shop", "to": TO, "url": f"{files}/photo.png",
                                                           "caption": "cat", "reply_to": "wamid.Q"})
        assert status == 200, answer
        status, answer = await rig.api("/api/send/document", {"account_id": "shop", "to": TO, "url": f"{files}/go"})
        assert status == 200, answer
        status, answer = await rig.api("/api/send/audio", {"account_id": "shop", "to": TO, "url": f"{files}/nope"})
        assert status == 400 and "answered HTTP 404" in answer
    image_upload, image, doc_upload, doc = rig.graph.requests[-4:]
    part = image_upload.form["file"]
    assert isinstance(part, FilePart) and part.data == FILE and part.content_type == "image/png"
    assert image.json["image"] == {"id": image.json["image"]["id"], "caption": "cat"}
    assert image.json["context"] == {"message_id": "wamid.Q"}
    doc_part = doc_upload.form["file"]
    assert isinstance(doc_part, FilePart) and doc_part.data == b"%PDF-1.4 tiny"
    assert (doc_part.content_type, doc_part.filename) == ("application/pdf", "report.pdf")
    assert doc.json["document"]["filename"] == "report.pdf"


async def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, files: str) -> None:
    port = files.rsplit(":", 1)[1]
    async with cloud_daemon(tmp_path) as rig:
        answers = [await rig.api("/api/send/image", {"account_id": "shop", "to": TO, "url": url}) for url in (
            f"{files}/photo.png", f"http://localhost:{port}/photo.png", f"http://[::ffff:127.0.0.1]:{port}/x",
            "http://169.254.169.254/latest/meta-data", "ftp://example.com/x.png")]
        both = await rig.api("/api/send/image", {"account_id": "shop", "to": TO, "url": f"{files}/photo.png",
                                                 "image_data": "AAAA"})
    assert [status for status, _ in answers] == [400] * 5
    assert "127.0.0.1 is a loopback address" in answers[0][1] and "media.fetch_private" in answers[0][1]
    assert "localhost resolves to " in answers[1][1] and ", a loopback address" in answers[1][1], answers[1][1]
    assert "loopback" in answers[2][1]
    assert "169.254.169.254 is a link-local address" in answers[3][1]
    assert "http:// or https://" in answers[4][1]
    assert both[0] == 400 and "exclude each other" in both[1]
    assert not rig.graph.graph_requests("POST", MESSAGES)


async def test_web_only_kinds_and_typing(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        poll = await rig.api("/api/send/poll", {"account_id": "shop", "to": TO, "name": "Q", "options": ["a", "b"]})
        edit = await rig.api("/api/messages/edit", {"account_id": "shop", "to": TO, "message_id": "m", "text": "t"})
        revoke = await rig.api("/api/messages/revoke", {"account_id": "shop", "to": TO, "message_id": "m"})
        mention = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "hi",
                                              "mentions": ["+15550001111"]})
        groups = await rig.api("/api/contacts/check", {"account_id": "shop", "phones": ["+15550001111"]})
        typing = await rig.api("/api/chats/typing", {"account_id": "shop", "to": TO, "state": "typing",
                                                     "message_id": "wamid.IN"})
        no_id = await rig.api("/api/chats/typing", {"account_id": "shop", "to": TO, "state": "typing"})
        recording = await rig.api("/api/chats/typing", {"account_id": "shop", "to": TO, "state": "recording",
                                                        "message_id": "wamid.IN"})
        bad = await rig.api("/api/chats/typing", {"account_id": "shop", "to": TO, "state": "dancing"})
    for status, text in (poll, edit, revoke, groups):
        assert status == 400 and "does not support" in text
    assert mention[0] == 400 and "mentions" in mention[1]
    assert typing == (200, {"status": "ok"})
    assert no_id[0] == 400 and "message_id" in no_id[1]
    assert recording[0] == 400 and "only 'typing'" in recording[1]
    assert bad[0] == 400 and "'state'" in bad[1]
    assert sent_json(rig) == [{"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN",
                               "typing_indicator": {"type": "text"}}]


async def test_not_connected_answers_409_naming_the_state(tmp_path: Path) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    graph.answer("GET", PHONE_NUMBER_ID, {"error": {"message": "Invalid OAuth access token", "code": 190}}, 401)
    try:
        async with cloud_daemon(tmp_path, graph=graph) as rig:
            send = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "hi"})
            typing = await rig.api("/api/chats/typing", {"account_id": "shop", "to": TO, "state": "typing",
                                                         "message_id": "wamid.IN"})
            assert (await rig.api("/api/accounts/disable", {"id": "shop"}))[0] == 200
            disabled = await rig.api("/api/send", {"account_id": "shop", "to": TO, "text": "hi"})
    finally:
        await graph.close()
    assert send[0] == 409 and "state: error" in send[1]
    assert typing[0] == 409 and "state: error" in typing[1]
    assert disabled[0] == 409 and "state: disabled" in disabled[1]
    assert not graph.graph_requests("POST", MESSAGES)
