"""HTTP bodies are read whole up to their limit, never cut at one buffered chunk (issue 8, item 1).

Multi-megabyte media from a real Graph stand-in, and large two-way replies from a real hook receiver
whose sends must reach the Graph stand-in byte for byte.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.cloud_daemon import PHONE_NUMBER_ID, TOKEN, cloud_daemon
from tests.support.graph_standin import FilePart, fixture
from tests.support.harness import until
from tests.support.receiver import HookReceiver, Reply
from whatshooked.accounts.cloud_api.graph_client import GraphClient
from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
from whatshooked.config.values import Secret
from whatshooked.errors import SendError
from whatshooked.http_body import BodyTooLarge, read_body

BIG = os.urandom(5 * 1024 * 1024 + 17)  # 5 MB and change: many socket reads, an odd tail


def first_message(payload: dict[str, object]) -> dict[str, object]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]  # type: ignore[index,no-any-return]


async def test_received_multi_megabyte_media_is_stored_and_served_whole(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    payload = fixture("message_image.json")
    media_id = str(first_message(payload)["image"]["id"])  # type: ignore[index]
    async with cloud_daemon(tmp_path, receiver) as rig:
        rig.graph.add_media(media_id, BIG, "image/jpeg")
        assert await rig.webhook(payload) == (200, "ok")
        [got] = await receiver.wait_for(1)
        media = got.json()["data"]["media"]
        assert "error" not in media
        assert media["file_size"] == len(BIG)
        assert (tmp_path / "media" / media["id"]).read_bytes() == BIG
        async with rig.http.get(media["url"]) as response:
            assert response.status == 200
            served = await response.read()
        assert len(served) == len(BIG) and hashlib.sha256(served).digest() == hashlib.sha256(BIG).digest()


async def test_received_multi_megabyte_media_in_base64_mode_is_whole(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = fixture("message_audio_voice.json")
    media_id = str(first_message(payload)["audio"]["id"])  # type: ignore[index]
    async with cloud_daemon(tmp_path, receiver, media_mode="base64") as rig:
        rig.graph.add_media(media_id, BIG, "audio/ogg")
        assert await rig.webhook(payload) == (200, "ok")
        [got] = await receiver.wait_for(1)
    media = got.json()["data"]["media"]
    assert media["file_size"] == len(BIG)
    assert base64.b64decode(media["data"]) == BIG


async def test_media_past_the_download_limit_is_refused_not_cut() -> None:
    """Whether the size is announced (Content-Length) or not (chunked), a body past the limit is refused."""

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(BIG), 300_000):
            await response.write(BIG[start:start + 300_000])
        await response.write_eof()
        return response

    async def announced(request: web.Request) -> web.Response:
        return web.Response(body=BIG, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/announced", announced)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as http:
            client = GraphClient(http, BusinessApiConfig(phone_number_id=PHONE_NUMBER_ID,
                                                         access_token=Secret(TOKEN), graph_url=base))
            for path in ("/chunked", "/announced"):
                assert await client.download(f"{base}{path}") == BIG
                with pytest.raises(SendError, match=r"larger than 1048576 bytes"):
                    await client.download(f"{base}{path}", limit=1024 * 1024)
                async with http.get(f"{base}{path}") as response:
                    assert await read_body(response, len(BIG)) == BIG
                async with http.get(f"{base}{path}") as response:
                    with pytest.raises(BodyTooLarge, match="larger than 1000 bytes"):
                        await read_body(response, 1000)
    finally:
        await runner.cleanup()


async def test_a_large_two_way_text_reply_reaches_graph_whole(tmp_path: Path, receiver: HookReceiver) -> None:
    text = "".join(chr(0x41 + i % 26) for i in range(300_000)) + " ✓ end"
    receiver.reply(Reply(200, body={"send": {"type": "text", "text": text}}))
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(fixture("message_text.json")) == (200, "ok")
        await until(lambda: rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages"), within=20)
    [sent] = rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages")
    assert sent.json["text"]["body"] == text


async def test_a_multi_megabyte_two_way_media_reply_reaches_graph_whole(
    tmp_path: Path, receiver: HookReceiver
) -> None:
    receiver.reply(Reply(200, body={"send": {"type": "document", "document_data": base64.b64encode(BIG).decode(),
                                             "mime_type": "application/pdf", "filename": "big.pdf"}}))
    async with cloud_daemon(tmp_path, receiver) as rig:
        assert await rig.webhook(fixture("message_text.json")) == (200, "ok")
        await until(lambda: rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages"), within=30)
    [upload] = rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/media")
    part = upload.form["file"]
    assert isinstance(part, FilePart)
    assert len(part.data) == len(BIG) and part.data == BIG
    [sent] = rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages")
    assert sent.json["document"]["filename"] == "big.pdf"


async def test_a_reply_past_the_limit_is_refused_with_a_warning(
    tmp_path: Path, receiver: HookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.reply(Reply(200, body={"send": {"type": "text", "text": "x" * 200_000}}))
    async with cloud_daemon(tmp_path, receiver) as rig:
        config = rig.daemon.settings.config
        rig.daemon.dispatcher.apply_config(dataclasses.replace(
            config, server=dataclasses.replace(config.server, max_body=100_000)))
        with caplog.at_level(logging.WARNING):
            assert await rig.webhook(fixture("message_text.json")) == (200, "ok")
            await receiver.wait_for(1)
            await until(lambda: "reply" in caplog.text and "larger than" in caplog.text)
    assert rig.graph.graph_requests("POST", f"{PHONE_NUMBER_ID}/messages") == []
