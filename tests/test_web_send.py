"""Sending from a WhatsApp Web account: the exact protobuf the Go client is asked to send."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import until
from tests.support.neonize_standin import message_ev, web_world
from tests.support.receiver import HookReceiver, Reply
from whatshooked.accounts.base import AccountState, SendKind, SendRequest
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.jid import normalize_recipient
from whatshooked.errors import NotConnected, RequestError, SendError, Unsupported

wa = nz.wa
ALICE = "15551234567@s.whatsapp.net"
GROUP = "120363025246125888@g.us"


def jid_text(jid: Any) -> str:
    return f"{jid.User}@{jid.Server}"


async def connected(world: Any) -> Any:
    session = world.sessions.last
    await session.afeed(nz.ConnectedEv(status=True))
    await until(lambda: world.adapter().state is AccountState.CONNECTED)
    return session


def events(receiver: HookReceiver, event_type: str) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == event_type]


async def test_text_to_a_phone_number(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        result = await world.manager.send("personal", SendRequest(SendKind.TEXT, "+1 (555) 123-4567",
                                                                  {"text": "hello"}))
        await until(lambda: events(receiver, "message.sent"))
    (to, message), = session.sent
    assert jid_text(to) == ALICE
    assert message == wa.Message(conversation="hello")
    assert result.message_id == "3EB00000000000000001" and result.to == "+15551234567"
    (sent,) = events(receiver, "message.sent")
    assert sent["data"] == {"account_id": "personal", "message_id": result.message_id, "to": "+15551234567",
                            "type": "text"}


async def test_media_kinds_are_uploaded_and_described(tmp_path: Path, receiver: HookReceiver) -> None:
    payload = b"\xff\xd8\xff\xe0 not really a jpeg"
    data = base64.b64encode(payload).decode()
    sends = [
        (SendKind.IMAGE, {"image_data": data, "caption": "cat", "mime_type": "image/png"}, nz.MediaType.MediaImage),
        (SendKind.VIDEO, {"video_data": data}, nz.MediaType.MediaVideo),
        (SendKind.DOCUMENT, {"document_data": data, "filename": "a.pdf", "mime_type": "application/pdf"},
         nz.MediaType.MediaDocument),
        (SendKind.AUDIO, {"audio_data": data, "mime_type": "audio/ogg; codecs=opus"}, nz.MediaType.MediaAudio),
        (SendKind.STICKER, {"sticker_data": data}, nz.MediaType.MediaImage),
    ]
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        for kind, body, _ in sends:
            await world.manager.send("personal", SendRequest(kind, GROUP, body))
    assert [(d, t) for d, t in session.uploads] == [(payload, t) for _, _, t in sends]
    assert all(jid_text(to) == GROUP for to, _ in session.sent)
    image, video, document, audio, sticker = (m for _, m in session.sent)
    common = dict(directPath="/v/t62/1", mediaKey=b"k" * 32, fileEncSHA256=b"e" * 32, fileSHA256=b"s" * 32,
                  fileLength=len(payload), URL="https://mmg.whatsapp.net/upload/1")
    expected = wa.ImageMessage(caption="cat", mimetype="image/png", **common)
    expected.mediaKeyTimestamp = image.imageMessage.mediaKeyTimestamp
    assert image.imageMessage == expected
    assert video.videoMessage.mimetype == "video/mp4" and not video.videoMessage.HasField("caption")
    assert document.documentMessage.fileName == "a.pdf" and document.documentMessage.mimetype == "application/pdf"
    assert audio.audioMessage.PTT is True
    assert sticker.stickerMessage.mimetype == "image/webp" and sticker.stickerMessage.URL.endswith("/5")


async def test_media_is_decoded_as_the_send_validation_reads_it(tmp_path: Path, receiver: HookReceiver) -> None:
    """A data: URI with line breaks passes validation, so this backend must read it the same way."""
    payload = b"\x89PNG not really a png, long enough to wrap"
    encoded = base64.b64encode(payload).decode()
    body = {"image_data": f"data:image/png;base64,{encoded[:20]}\n{encoded[20:]}"}
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await world.manager.send("personal", SendRequest(SendKind.IMAGE, ALICE, body))
    assert session.uploads == [(payload, nz.MediaType.MediaImage)]


async def test_location_and_contacts(tmp_path: Path, receiver: HookReceiver) -> None:
    contacts = [{"name": {"formatted_name": "Bob Smith", "first_name": "Bob", "last_name": "Smith"},
                 "phones": [{"phone": "+1 555 222 3333", "type": "WORK"}]},
                {"name": {"formatted_name": "Eve"}}]
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await world.manager.send("personal", SendRequest(SendKind.LOCATION, ALICE, {
            "latitude": 52.52, "longitude": 13.405, "name": "Berlin", "address": "Pariser Platz"}))
        await world.manager.send("personal", SendRequest(SendKind.CONTACTS, ALICE, {"contacts": contacts[:1]}))
        await world.manager.send("personal", SendRequest(SendKind.CONTACTS, ALICE, {"contacts": contacts}))
    location, one, two = (m for _, m in session.sent)
    assert location == wa.Message(locationMessage=wa.LocationMessage(
        degreesLatitude=52.52, degreesLongitude=13.405, name="Berlin", address="Pariser Platz"))
    assert one == wa.Message(contactMessage=wa.ContactMessage(displayName="Bob Smith", vcard=(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Smith\nN:Smith;Bob;;;\n"
        "TEL;type=WORK;waid=15552223333:+1 555 222 3333\nEND:VCARD")))
    assert two.contactsArrayMessage.displayName == "2 contacts"
    assert [c.displayName for c in two.contactsArrayMessage.contacts] == ["Bob Smith", "Eve"]


async def test_reaction_and_read_address_a_received_group_message(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(conversation="hi all"), message_id="3EB0GRP", chat=GROUP,
                                       sender="15550001111@s.whatsapp.net"))
        await until(lambda: "3EB0GRP" in world.adapter().recent)
        await world.manager.send("personal", SendRequest(SendKind.REACTION, GROUP,
                                                         {"message_id": "3EB0GRP", "emoji": "🎉"}))
        result = await world.manager.send("personal", SendRequest(SendKind.READ, "", {"message_id": "3EB0GRP"}))
        with pytest.raises(RequestError, match="pass 'to'"):
            await world.manager.send("personal", SendRequest(SendKind.READ, "", {"message_id": "nope"}))
        await world.manager.send("personal", SendRequest(SendKind.READ, "+15551234567", {"message_id": "nope"}))
    (to, reaction), = session.sent
    assert jid_text(to) == GROUP
    key = reaction.reactionMessage.key
    assert (key.remoteJID, key.fromMe, key.ID, key.participant) == (GROUP, False, "3EB0GRP",
                                                                   "15550001111@s.whatsapp.net")
    assert reaction.reactionMessage.text == "🎉" and reaction.reactionMessage.senderTimestampMS > 0
    (ids, chat, sender), (ids2, chat2, sender2) = session.read_marks
    assert ids == ["3EB0GRP"] and jid_text(chat) == GROUP and jid_text(sender) == "15550001111@s.whatsapp.net"
    assert ids2 == ["nope"] and jid_text(chat2) == ALICE == jid_text(sender2)
    assert result.message_id == "3EB0GRP" and result.to == GROUP
    assert not events(receiver, "message.sent") or all(e["data"]["type"] != "read"
                                                        for e in events(receiver, "message.sent"))


async def test_refusals(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        with pytest.raises(NotConnected, match="not connected"):  # 409, nothing attempted: no message.failed
            await world.manager.send("personal", SendRequest(SendKind.TEXT, ALICE, {"text": "too early"}))
        session = await connected(world)
        with pytest.raises(Unsupported):
            await world.manager.send("personal", SendRequest(SendKind.TEMPLATE, ALICE, {"template": {}}))
        with pytest.raises(RequestError):
            await world.manager.send("personal", SendRequest(SendKind.TEXT, "not-a-number", {"text": "x"}))
        session.send_error = nz.NeonizeError("server returned error 463")
        with pytest.raises(SendError, match="server returned error 463"):
            await world.manager.send("personal", SendRequest(SendKind.TEXT, ALICE, {"text": "x"}))
        await until(lambda: len(events(receiver, "message.failed")) == 1)
    failed = events(receiver, "message.failed")
    assert failed[0]["data"]["error"] == {"code": "NeonizeError",
                                          "message": "WhatsApp did not accept the message: server returned error 463"}


def test_recipients() -> None:
    assert normalize_recipient("+1 555 123 4567") == ALICE
    assert normalize_recipient("15551234567@c.us") == ALICE
    assert normalize_recipient("15551234567:12@s.whatsapp.net") == ALICE
    assert normalize_recipient(GROUP) == GROUP
    assert normalize_recipient("201234567890123@lid") == "201234567890123@lid"
    for bad in ("", "hello", "123@example.com", "x@g.us"):
        with pytest.raises(RequestError):
            normalize_recipient(bad)


async def test_two_way_reply_from_a_hook(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(body={"send": {"type": "text", "text": "Thanks!"}})
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(conversation="order 42?")))
        await until(lambda: session.sent)
    (to, message), = session.sent
    assert jid_text(to) == ALICE and message == wa.Message(conversation="Thanks!")
