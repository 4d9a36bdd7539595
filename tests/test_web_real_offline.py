"""Sends, uploads, lookups and logout through the REAL neonize library, on a paired session that is offline.

Every call must reach whatsmeow and fail there with its network / not-connected error: never a
TypeError or a protobuf error from what we built. The daemon answers such a failure with a plain
500 naming WhatsApp's reason. Our Python-built protobufs are also compared with neonize's builders.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.support.neonize_standin import message_ev, web_world
from tests.support.paired_session import OWN_JID, make_paired_session, quiet_callbacks, run_offline
from tests.support.receiver import HookReceiver
from whatshooked.accounts.base import AccountState, SendKind, SendRequest
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.compose import decorate, edit_message, poll_message, revoke_message
from whatshooked.accounts.whatsapp_web.lookups import TYPING_STATES
from whatshooked.accounts.whatsapp_web.outbound import (
    MEDIA_KINDS,
    build_message,
    media_message,
    reaction_message,
    to_jid,
)
from whatshooked.accounts.whatsapp_web.session import NeonizeSession
from whatshooked.api.errors import error_middleware
from whatshooked.api.keys import ACCOUNTS, STORE
from whatshooked.api.routes import chats, send

wa = nz.wa
ALICE = "15551234567@s.whatsapp.net"
GROUP = "120363025246125888@g.us"
UPLOADED = nz.UploadResponse(url="https://mmg.whatsapp.net/d/f/x.enc", DirectPath="/v/t62/x", MediaKey=b"k" * 32,
                             FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32, FileLength=10)
NOT_CONNECTED = ("websocket not connected", "not connected")
NeonizeError = nz.NeonizeError


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[NeonizeSession]:
    path = tmp_path / "sessions" / "paired.db"
    await make_paired_session(path)
    seen: list[Any] = []
    session = NeonizeSession(path, quiet_callbacks(seen))
    error = await run_offline(session)
    assert isinstance(error, NeonizeError) and "dial" in str(error), error  # failed at the network step
    assert not [s for s in seen if isinstance(s, tuple) and s[0] == "qr"], "a paired session must not ask for a QR"
    yield session
    await session.stop()


async def messages() -> dict[str, Any]:
    """One protobuf of every kind the adapter sends, built by our own code."""
    async def upload(data: bytes, media_type: Any) -> Any:
        return UPLOADED

    built: dict[str, Any] = {}
    data = base64.b64encode(b"0123456789").decode()
    for kind, (field, _mime, _type, _name) in MEDIA_KINDS.items():
        body: dict[str, Any] = {field: data, "reply_to": "3EB0QUOTED"}
        if kind is SendKind.AUDIO:
            body["voice"] = True
        built[kind.value] = decorate(await build_message(SendRequest(kind, ALICE, body), upload), body, ALICE, None)
    text = {"text": "hi @15550001111", "mentions": ["+15550001111"], "reply_to": "3EB0QUOTED"}
    built["text"] = decorate(await build_message(SendRequest(SendKind.TEXT, GROUP, text), upload), text, GROUP, None)
    built["location"] = await build_message(SendRequest(SendKind.LOCATION, ALICE, {"latitude": 1.0, "longitude": 2.0}),
                                            upload)
    built["contacts"] = await build_message(SendRequest(SendKind.CONTACTS, ALICE, {"contacts": [
        {"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+15550001111"}]}]}), upload)
    built["reaction"] = reaction_message(ALICE, "3EB0QUOTED", "👍", False, None)
    built["poll"] = poll_message("Lunch?", ["Pizza", "Sushi"], 1)
    built["edit"] = edit_message(ALICE, "3EB0MINE", nz.Message(conversation="fixed"))
    built["revoke"] = revoke_message(GROUP, "3EB0THEIRS", "15550002222@s.whatsapp.net")
    return built


async def test_every_call_fails_only_at_the_network(offline: NeonizeSession) -> None:
    calls: dict[str, Any] = {f"send {name}": offline.send_message(to_jid(ALICE), message)
                             for name, message in (await messages()).items()}
    calls.update({
        "upload": offline.upload(b"0123456789", nz.MediaType.MediaImage),
        "mark_read": offline.mark_read(["3EB0QUOTED"], to_jid(ALICE), to_jid(ALICE)),
        **{f"typing {state}": offline.chat_presence(to_jid(ALICE), *flags) for state, flags in TYPING_STATES.items()},
        "contacts check": offline.is_on_whatsapp(["+15551234567"]),
        "groups": offline.joined_groups(),
        "group info": offline.group_info(to_jid(GROUP)),
        "logout": offline.logout(),
    })
    failures = {}
    for name, call in calls.items():
        try:
            await call
        except NeonizeError as exc:
            failures[name] = str(exc)
        else:
            failures[name] = "SUCCEEDED offline?"
    wrong = {name: text for name, text in failures.items() if not any(m in text for m in NOT_CONNECTED)}
    assert not wrong, wrong
    assert len(failures) == len(calls) == 21  # 12 send kinds, upload, read, 3 typing states, 4 lookups


async def test_download_fails_at_the_network(offline: NeonizeSession) -> None:
    image = media_message(SendKind.IMAGE, "imageMessage", UPLOADED, "image/jpeg", {})
    with pytest.raises(NeonizeError) as caught:
        await offline.download_any(image)
    assert "websocket not connected" in str(caught.value), caught.value  # whatsmeow asks for media hosts first


async def test_our_builders_match_neonizes(offline: NeonizeSession) -> None:
    # imported here, after `bindings` tamed neonize's import-time side effects
    from neonize import builder as neonize_builder
    from neonize.utils.enum import VoteType

    from whatshooked.accounts.whatsapp_web.compose import Known

    client = offline._client
    theirs = await client.build_poll_vote_creation("Lunch?", ["Pizza", "Sushi"], VoteType.SINGLE)
    ours = poll_message("Lunch?", ["Pizza", "Sushi"], 1)
    for message in (theirs, ours):
        assert len(message.messageContextInfo.messageSecret) == 32
        message.messageContextInfo.ClearField("messageSecret")
    assert ours == theirs

    new = nz.Message(conversation="fixed")
    chat = to_jid(ALICE)
    expected = neonize_builder.build_edit(chat, "3EB0MINE", new)
    got = edit_message(ALICE, "3EB0MINE", new)
    for message in (expected, got):
        message.editedMessage.message.protocolMessage.ClearField("timestampMS")
    assert got == expected

    me = to_jid(OWN_JID.split(":")[0] + "@s.whatsapp.net")
    bob = to_jid("15550002222@s.whatsapp.net")
    assert revoke_message(GROUP, "3EB0X", "15550002222@s.whatsapp.net") == neonize_builder.build_revoke(
        to_jid(GROUP), bob, "3EB0X", me)
    assert revoke_message(ALICE, "3EB0Y", "") == neonize_builder.build_revoke(chat, me, "3EB0Y", me)

    received = message_ev(wa.Message(conversation="lunch?"), message_id="3EB0Q", chat=GROUP,
                          sender="15550002222@s.whatsapp.net")
    reply = await client.build_reply_message("yes", received)
    known = Known(GROUP, "15550002222@s.whatsapp.net", False, wa.Message(conversation="lunch?"))
    assert decorate(nz.Message(conversation="yes"), {"reply_to": "3EB0Q"}, GROUP, known) == reply


async def test_the_daemon_answers_a_library_failure_plainly(tmp_path: Path, receiver: HookReceiver,
                                                            aiohttp_client: Any) -> None:
    path = tmp_path / "sessions" / "personal.db"
    async with web_world(tmp_path, receiver.url) as world:
        adapter = world.adapter()
        await adapter.disconnect()  # the stand-in session goes; the real library takes its place
        await make_paired_session(path)
        adapter.session = NeonizeSession(path, quiet_callbacks())
        await run_offline(adapter.session)
        adapter.live = True
        adapter.set_state(AccountState.CONNECTED)  # as if the phone had been reachable a moment ago
        app = web.Application(middlewares=[error_middleware])
        app[ACCOUNTS] = world.manager
        app[STORE] = world.store
        send.setup(app)
        chats.setup(app)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        started = time.monotonic()
        answers = {}
        for route, body in (
            ("/api/send", {"text": "hi", "reply_to": "X"}),
            ("/api/send/image", {"image_data": base64.b64encode(b"img").decode()}),
            ("/api/send/poll", {"name": "Q", "options": ["a", "b"]}),
            ("/api/messages/edit", {"message_id": "X", "text": "t"}),
            ("/api/messages/revoke", {"message_id": "X"}),
            ("/api/messages/read", {"message_id": "X"}),
            ("/api/chats/typing", {"state": "typing"}),
            ("/api/contacts/check", {"phones": ["+15551234567"]}),
            ("/api/accounts/logout", {"id": "personal"}),
        ):
            response = await client.post(route, json={"account_id": "personal", "to": ALICE, **body})
            answers[route] = (response.status, await response.text())
        for route in ("/api/groups?account_id=personal", f"/api/groups/info?account_id=personal&jid={GROUP}"):
            response = await client.get(route)
            answers[route] = (response.status, await response.text())
        await adapter.session.stop()
        adapter.live = False
    for route, (status, text) in answers.items():
        assert status == 500, (route, status, text)
        assert "not connected" in text and "Traceback" not in text, (route, text)
    assert time.monotonic() - started < 60


async def test_the_proxy_reaches_whatsmeow(tmp_path: Path) -> None:
    """With `proxy` set, whatsmeow dials the proxy (refused here) instead of looking WhatsApp up itself."""
    from tests.support.process import free_port

    port = free_port()
    session = NeonizeSession(tmp_path / "proxied.db", quiet_callbacks())
    session.proxy = f"socks5://127.0.0.1:{port}"
    try:
        error = await run_offline(session)
    finally:
        await session.stop()
    assert isinstance(error, NeonizeError)
    assert f"127.0.0.1:{port}" in str(error) and "lookup web.whatsapp.com" not in str(error), error
