"""WhatsApp Web breadth (DESIGN §8.3) through the stand-in: the exact protobufs and Go calls asked for."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.harness import until
from tests.support.neonize_standin import P, jid, message_ev, web_world
from tests.support.receiver import HookReceiver
from whatshooked.accounts.base import AccountState, SendKind, SendRequest
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.api.errors import error_middleware
from whatshooked.api.keys import ACCOUNTS, STORE
from whatshooked.api.routes import chats
from whatshooked.api.routes import send as send_routes
from whatshooked.errors import NotConnected, RequestError, Unsupported

wa = nz.wa
ALICE = "15551234567@s.whatsapp.net"
BOB = "15550001111@s.whatsapp.net"
GROUP = "120363025246125888@g.us"


async def connected(world: Any) -> Any:
    session = world.sessions.last
    await session.afeed(nz.ConnectedEv(status=True))
    await until(lambda: world.adapter().state is AccountState.CONNECTED)
    return session


def send(world: Any, kind: SendKind, to: str, body: dict[str, Any]) -> Any:
    return world.manager.send("personal", SendRequest(kind, to, body))


async def test_reply_to_quotes_a_received_group_message(tmp_path: Path, receiver: HookReceiver) -> None:
    received = wa.Message(extendedTextMessage=wa.ExtendedTextMessage(
        text="lunch?", contextInfo=wa.ContextInfo(stanzaID="OLDER")))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(received, message_id="3EB0Q", chat=GROUP, sender=BOB))
        await until(lambda: "3EB0Q" in world.adapter().quotable)
        await send(world, SendKind.TEXT, GROUP, {"text": "yes", "reply_to": "3EB0Q"})
        await send(world, SendKind.LOCATION, GROUP, {"latitude": 1.5, "longitude": 2.5, "reply_to": "3EB0Q"})
    (_, text), (_, location) = session.sent
    quoted = wa.Message(extendedTextMessage=wa.ExtendedTextMessage(text="lunch?"))  # its own context cleared
    context = wa.ContextInfo(stanzaID="3EB0Q", participant=BOB, quotedMessage=quoted)
    assert text == wa.Message(extendedTextMessage=wa.ExtendedTextMessage(text="yes", contextInfo=context))
    assert location.locationMessage.contextInfo == context


async def test_reply_to_an_unknown_message_and_to_our_own(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await send(world, SendKind.TEXT, ALICE, {"text": "re", "reply_to": "NEVERSEEN"})
        first = await send(world, SendKind.TEXT, ALICE, {"text": "mine"})
        await send(world, SendKind.TEXT, ALICE, {"text": "again", "reply_to": first.message_id})
    unknown, _, own = (m for _, m in session.sent)
    assert unknown.extendedTextMessage.contextInfo == wa.ContextInfo(stanzaID="NEVERSEEN", participant=ALICE)
    assert own.extendedTextMessage.contextInfo == wa.ContextInfo(
        stanzaID=first.message_id, quotedMessage=wa.Message(conversation="mine"))


async def test_mentions_and_media_reply_and_voice_note(tmp_path: Path, receiver: HookReceiver) -> None:
    data = base64.b64encode(b"OggS fake opus").decode()
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await send(world, SendKind.TEXT, GROUP, {"text": "hi @15550001111", "mentions": ["+1 555 000 1111"]})
        await send(world, SendKind.AUDIO, ALICE, {"audio_data": data, "mime_type": "audio/mpeg", "voice": True,
                                                  "reply_to": "X1"})
        await send(world, SendKind.AUDIO, ALICE, {"audio_data": data, "mime_type": "audio/ogg", "voice": False})
    mention, voice, music = (m for _, m in session.sent)
    assert mention == wa.Message(extendedTextMessage=wa.ExtendedTextMessage(
        text="hi @15550001111", contextInfo=wa.ContextInfo(mentionedJID=[BOB])))
    assert voice.audioMessage.PTT is True and voice.audioMessage.contextInfo.stanzaID == "X1"
    assert music.audioMessage.PTT is False


async def test_poll_edit_revoke(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        poll = await send(world, SendKind.POLL, GROUP, {"name": "Lunch?", "options": ["Pizza", "Sushi"],
                                                        "selectable_count": 1})
        edited = await send(world, SendKind.EDIT, ALICE, {"message_id": "3EB0MINE", "text": "fixed"})
        await session.afeed(message_ev(wa.Message(conversation="spam"), message_id="3EB0SPAM", chat=GROUP,
                                       sender=BOB))
        await until(lambda: "3EB0SPAM" in world.adapter().recent)
        await send(world, SendKind.REVOKE, ALICE, {"message_id": "3EB0MINE"})
        await send(world, SendKind.REVOKE, GROUP, {"message_id": "3EB0SPAM"})
        await until(lambda: len([r for r in receiver.requests if r.headers.get("X-Whatshooked-Event")
                                 == "message.sent"]) == 1)
    (to, p), (_, e), (_, own), (_, admin) = session.sent
    assert f"{to.User}@{to.Server}" == GROUP and poll.message_id
    creation = p.pollCreationMessage
    assert (creation.name, [o.optionName for o in creation.options], creation.selectableOptionsCount) == (
        "Lunch?", ["Pizza", "Sushi"], 1)
    assert len(p.messageContextInfo.messageSecret) == 32
    protocol = e.editedMessage.message.protocolMessage
    assert protocol.type == wa.ProtocolMessage.MESSAGE_EDIT
    assert protocol.editedMessage == wa.Message(conversation="fixed")
    assert (protocol.key.ID, protocol.key.fromMe, protocol.key.remoteJID) == ("3EB0MINE", True, ALICE)
    assert edited.message_id == "3EB0MINE"
    assert own == wa.Message(protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.REVOKE, key=nz.MessageKey(
        fromMe=True, ID="3EB0MINE", remoteJID=ALICE)))
    assert admin.protocolMessage.key == nz.MessageKey(fromMe=False, ID="3EB0SPAM", remoteJID=GROUP, participant=BOB)
    sent_types = [r.json()["data"]["type"] for r in receiver.requests
                  if r.headers.get("X-Whatshooked-Event") == "message.sent"]
    assert sent_types == ["poll"]  # edits and revokes change a message; they send none


async def test_typing_contacts_groups(tmp_path: Path, receiver: HookReceiver) -> None:
    members = [P.GroupParticipant(JID=jid(BOB), PhoneNumber=jid(BOB), IsAdmin=True, DisplayName="Bob"),
               P.GroupParticipant(JID=jid("201234567890123@lid"), PhoneNumber=jid(""))]
    group = P.GroupInfo(JID=jid(GROUP), OwnerJID=jid(BOB), GroupName=P.GroupName(Name="Lunch club"),
                        GroupTopic=P.GroupTopic(Topic="Fridays"), GroupCreated=1_700_000_000, Participants=members)
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        session.on_whatsapp = {"15550001111": BOB}
        session.groups = [group]
        manager = world.manager
        for state in ("typing", "recording", "paused"):
            await manager.operate("personal", "chats.typing", lambda a, s=state: a.chat_typing(ALICE, s, None))
        checked = await manager.operate("personal", "contacts.check",
                                        lambda a: a.check_contacts(["+1 555 000 1111", "15559990000"]))
        groups = await manager.operate("personal", "groups.list", lambda a: a.list_groups())
        info = await manager.operate("personal", "groups.info", lambda a: a.group_info(GROUP))
        with pytest.raises(RequestError, match="not a group JID"):
            await manager.operate("personal", "groups.info", lambda a: a.group_info(ALICE))
    assert [(f"{c.User}@{c.Server}", composing, audio) for c, composing, audio in session.presences] == [
        (ALICE, True, False), (ALICE, True, True), (ALICE, False, False)]
    assert checked == [{"phone": "+15550001111", "on_whatsapp": True, "jid": BOB},
                       {"phone": "+15559990000", "on_whatsapp": False, "jid": None}]
    summary = {"jid": GROUP, "subject": "Lunch club", "topic": "Fridays", "owner": "+15550001111",
               "created_at": 1_700_000_000, "size": 2, "announce": False, "locked": False}
    assert groups == [summary]
    assert info == {**summary, "participants": [
        {"jid": BOB, "phone": "+15550001111", "name": "Bob", "admin": True, "super_admin": False},
        {"jid": "201234567890123@lid", "phone": None, "name": None, "admin": False, "super_admin": False}]}


async def test_logout_forgets_the_session(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        assert session.path.exists()
        await world.manager.operate("personal", "accounts.logout", lambda a: a.logout())
        assert session.logouts == 1 and not session.path.exists()
        assert world.adapter().state is AccountState.LOGGED_OUT
        with pytest.raises(NotConnected, match="logged_out"):
            await send(world, SendKind.TEXT, ALICE, {"text": "x"})


async def test_not_connected_is_409_naming_the_state(tmp_path: Path, receiver: HookReceiver) -> None:
    accounts = ("  - id: personal\n    type: whatsmeow\n    session_path: ./s/p.db\n    proxy: socks5h://10.0.0.1:1080\n"
                "  - id: spare\n    type: whatsmeow\n    session_path: ./s/o.db\n    disabled: true\n")
    async with web_world(tmp_path, receiver.url, accounts=accounts) as world:
        assert world.sessions.last.proxy == "socks5h://10.0.0.1:1080"
        manager = world.manager
        with pytest.raises(NotConnected) as caught:
            await send(world, SendKind.TEXT, ALICE, {"text": "early"})
        assert caught.value.status == 409 and "state: connecting" in str(caught.value)
        with pytest.raises(NotConnected, match="state: connecting"):
            await manager.operate("personal", "groups.list", lambda a: a.list_groups())
        with pytest.raises(NotConnected, match="state: disabled"):
            await manager.send("spare", SendRequest(SendKind.TEXT, ALICE, {"text": "x"}))
        with pytest.raises(NotConnected, match="state: disabled"):
            await manager.operate("spare", "contacts.check", lambda a: a.check_contacts(["+15550001111"]))
        with pytest.raises(Unsupported):
            await manager.send("spare", SendRequest(SendKind.TEMPLATE, ALICE, {"template": {}}))
    assert not [r for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == "message.failed"]


async def test_media_by_url_on_whatsapp_web(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = b"OggS" + bytes(range(256)) * 400

    async def voice(request: web.Request) -> web.StreamResponse:
        return web.Response(body=payload, content_type="audio/ogg")

    app = web.Application()
    app.router.add_get("/note.ogg", voice)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/note.ogg"  # type: ignore[union-attr]
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    try:
        async with web_world(tmp_path / "open", receiver.url, fetch_private=True) as world:
            session = await connected(world)
            await send(world, SendKind.AUDIO, ALICE, {"url": url, "voice": True})
        async with web_world(tmp_path / "closed", receiver.url) as world:
            await connected(world)
            with pytest.raises(RequestError, match="loopback address"):
                await send(world, SendKind.AUDIO, ALICE, {"url": url})
            assert not world.sessions.last.uploads
    finally:
        await runner.cleanup()
    assert session.uploads == [(payload, nz.MediaType.MediaAudio)]
    (_, message), = session.sent
    assert message.audioMessage.PTT is True and message.audioMessage.mimetype == "audio/ogg"


async def test_the_api_answers_409_for_every_route(tmp_path: Path, receiver: HookReceiver, aiohttp_client: Any) -> None:
    async with web_world(tmp_path, receiver.url) as world:  # the session never says it connected
        app = web.Application(middlewares=[error_middleware])
        app[ACCOUNTS] = world.manager
        app[STORE] = world.store
        send_routes.setup(app)
        chats.setup(app)
        client = await aiohttp_client(app)
        answers = []
        for route, body in (("/api/send", {"text": "x"}), ("/api/send/poll", {"name": "Q", "options": ["a", "b"]}),
                            ("/api/messages/edit", {"message_id": "m", "text": "t"}),
                            ("/api/messages/revoke", {"message_id": "m"}), ("/api/chats/typing", {"state": "paused"}),
                            ("/api/contacts/check", {"phones": ["+15551234567"]}),
                            ("/api/accounts/logout", {"id": "personal"})):
            response = await client.post(route, json={"account_id": "personal", "to": ALICE, **body})
            answers.append((response.status, await response.text()))
        for route in ("/api/groups?account_id=personal", f"/api/groups/info?account_id=personal&jid={GROUP}"):
            response = await client.get(route)
            answers.append((response.status, await response.text()))
    assert [status for status, _ in answers] == [409] * 9
    assert all("account 'personal' is not connected (state: connecting)" in text for _, text in answers)
    assert not world.sessions.last.sent and not world.sessions.last.presences
