"""Messages and receipts from a WhatsApp Web session reach a real hook as DESIGN §4 events.

Every event is a real neonize protobuf, serialized and handed to neonize's own dispatcher the way
the Go library does (see tests/support/neonize_standin.py); delivery goes through the real
dispatcher and store to a HookReceiver on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from tests.support.harness import until
from tests.support.neonize_standin import P, message_ev, receipt_ev, web_world
from tests.support.receiver import HookReceiver
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.whatsapp_web import bindings as nz

wa = nz.wa
ALICE = "15551234567@s.whatsapp.net"
GROUP = "120363025246125888@g.us"


async def events_of(receiver: HookReceiver, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    def matching() -> list[dict[str, Any]]:
        return [r.json() for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == event_type]

    await until(lambda: len(matching()) >= count)
    return matching()


async def connected(world: Any) -> Any:
    session = world.sessions.last
    await session.afeed(nz.ConnectedEv(status=True))
    await until(lambda: world.adapter().state is AccountState.CONNECTED)
    return session


async def test_text_message_becomes_message_received(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(conversation="hello there"), message_id="3EB0A1"))
        (event,) = await events_of(receiver, "message.received")
    data = event["data"]
    assert event["type"] == "message.received"
    assert data["account_id"] == "personal"
    assert data["message_id"] == "3EB0A1"
    assert data["type"] == "text" and data["text"] == "hello there"
    assert data["from"] == "+15551234567" and data["chat"] == "+15551234567"
    assert data["from_name"] == "Alice" and data["is_group"] is False and data["from_me"] is False
    assert data["timestamp"] == "2023-11-14T22:13:20.123Z"
    assert data["raw"] == {"conversation": "hello there"}


async def test_group_reply_with_lid_sender_resolved_to_phone(tmp_path: Path, receiver: HookReceiver) -> None:
    text = wa.ExtendedTextMessage(text="agreed", contextInfo=wa.ContextInfo(
        stanzaID="3EB0PREV", participant="15557654321@s.whatsapp.net", quotedMessage=wa.Message(conversation="q")))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(extendedTextMessage=text), chat=GROUP,
                                       sender="201234567890123@lid", sender_alt="15550001111@s.whatsapp.net"))
        (event,) = await events_of(receiver, "message.received")
    data = event["data"]
    assert data["is_group"] is True and data["chat"] == GROUP
    assert data["from"] == "+15550001111"
    assert data["text"] == "agreed"
    assert data["context"] == {"message_id": "3EB0PREV", "from": "+15557654321"}


async def test_lid_sender_without_phone_stays_a_jid(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(conversation="hi"), chat="201234567890123@lid"))
        (event,) = await events_of(receiver, "message.received")
    assert event["data"]["from"] == "201234567890123@lid" and event["data"]["chat"] == "201234567890123@lid"


async def test_own_message_from_another_device(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(conversation="sent from my phone"), chat="201234567890123@lid",
                                       sender="15559990000@s.whatsapp.net", from_me=True,
                                       recipient_alt=ALICE))
        (event,) = await events_of(receiver, "message.received")
    data = event["data"]
    assert data["from_me"] is True and data["from"] == "+15559990000" and data["chat"] == "+15551234567"


async def test_image_is_downloaded_and_linked(tmp_path: Path, receiver: HookReceiver) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    sha = hashlib.sha256(png).digest()
    image = wa.ImageMessage(mimetype="image/png", caption="look", fileSHA256=sha, fileLength=len(png),
                            URL="https://mmg.whatsapp.net/x", directPath="/v/x", mediaKey=b"k" * 32)
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        session.downloads[sha.hex()] = png
        await session.afeed(message_ev(wa.Message(imageMessage=image)))
        (event,) = await events_of(receiver, "message.received")
        media = event["data"]["media"]
        stored = world.media.open(media["id"])
        assert stored is not None
    data = event["data"]
    assert data["type"] == "image" and data["caption"] == "look"
    assert media["mime_type"] == "image/png" and media["file_size"] == len(png) and media["sha256"] == sha.hex()
    assert "/api/media/" in media["url"] and "sig=" in media["url"]


async def test_voice_note_in_base64_mode(tmp_path: Path, receiver: HookReceiver) -> None:
    ogg = b"OggS" + b"\x01" * 40
    sha = hashlib.sha256(ogg).digest()
    audio = wa.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, fileSHA256=sha, fileLength=len(ogg))
    async with web_world(tmp_path, receiver.url, media_mode="base64") as world:
        session = await connected(world)
        session.downloads[sha.hex()] = ogg
        await session.afeed(message_ev(wa.Message(audioMessage=audio)))
        (event,) = await events_of(receiver, "message.received")
    media = event["data"]["media"]
    assert event["data"]["type"] == "audio"
    assert media["voice"] is True and base64.b64decode(media["data"]) == ogg


async def test_failed_download_still_raises_the_event(tmp_path: Path, receiver: HookReceiver) -> None:
    doc = wa.DocumentMessage(mimetype="application/pdf", fileName="invoice.pdf", caption="March",
                             fileSHA256=b"\x01" * 32, fileLength=10)
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wa.Message(documentMessage=doc)))
        (event,) = await events_of(receiver, "message.received")
    data = event["data"]
    assert data["type"] == "document" and data["caption"] == "March"
    assert data["media"]["filename"] == "invoice.pdf" and data["media"]["error"].startswith("download failed")


async def test_every_other_kind(tmp_path: Path, receiver: HookReceiver) -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nitem1.TEL;waid=15552223333:+1 555-222-3333\nEND:VCARD"
    messages = {
        "loc": wa.Message(locationMessage=wa.LocationMessage(degreesLatitude=52.52, degreesLongitude=13.405,
                                                             name="Berlin", address="Pariser Platz")),
        "card": wa.Message(contactMessage=wa.ContactMessage(displayName="Bob", vcard=vcard)),
        "cards": wa.Message(contactsArrayMessage=wa.ContactsArrayMessage(displayName="2", contacts=[
            wa.ContactMessage(displayName="Bob", vcard=vcard), wa.ContactMessage(displayName="Eve", vcard="")])),
        "react": wa.Message(reactionMessage=wa.ReactionMessage(
            key=nz.MessageKey(remoteJID=ALICE, fromMe=True, ID="3EB0MINE"), text="👍", senderTimestampMS=1)),
        "sticker": wa.Message(stickerMessage=wa.StickerMessage(mimetype="image/webp", fileSHA256=b"\x02" * 32)),
        "video": wa.Message(videoMessage=wa.VideoMessage(mimetype="video/mp4", caption="clip")),
        "ephemeral": wa.Message(ephemeralMessage=wa.FutureProofMessage(message=wa.Message(conversation="psst"))),
        "plumbing": wa.Message(protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.REVOKE)),
    }
    async with web_world(tmp_path, receiver.url, media_mode="none") as world:
        session = await connected(world)
        for message_id, message in messages.items():
            await session.afeed(message_ev(message, message_id=message_id))
        events = await events_of(receiver, "message.received", count=len(messages) - 1)
        await session.afeed(message_ev(messages["loc"], message_id="loc"))  # redelivered: not raised twice
        await session.afeed(message_ev(wa.Message(conversation="last"), message_id="last"))
        events = await events_of(receiver, "message.received", count=len(messages))
    by_id = {e["data"]["message_id"]: e["data"] for e in events}
    assert set(by_id) == set(messages) - {"plumbing"} | {"last"}
    assert by_id["loc"]["type"] == "location"
    assert by_id["loc"]["location"] == {"latitude": 52.52, "longitude": 13.405, "name": "Berlin",
                                        "address": "Pariser Platz", "url": None}
    assert by_id["card"]["type"] == "contacts"
    assert by_id["card"]["contacts"][0]["name"]["formatted_name"] == "Bob"
    assert by_id["card"]["contacts"][0]["phones"] == [{"phone": "+1 555-222-3333", "wa_id": "15552223333"}]
    assert [c["name"]["formatted_name"] for c in by_id["cards"]["contacts"]] == ["Bob", "Eve"]
    assert by_id["react"]["type"] == "reaction"
    assert by_id["react"]["reaction"] == {"message_id": "3EB0MINE", "emoji": "👍"}
    assert by_id["sticker"]["type"] == "sticker" and by_id["sticker"]["media"]["mime_type"] == "image/webp"
    assert by_id["video"]["type"] == "video" and by_id["video"]["caption"] == "clip"
    assert by_id["ephemeral"]["type"] == "text" and by_id["ephemeral"]["text"] == "psst"


async def test_receipts_one_event_per_message_id(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(receipt_ev(P.Receipt.DELIVERED, ["m1", "m2"]),
                            receipt_ev(P.Receipt.READ, ["m1"], chat=GROUP, sender="201234567890123@lid",
                                       sender_alt="15550001111@s.whatsapp.net"),
                            receipt_ev(P.Receipt.PLAYED, ["m3"]),
                            receipt_ev(P.Receipt.SENDER, ["m4"]))
        delivered = await events_of(receiver, "message.delivered", 2)
        (read,) = await events_of(receiver, "message.read")
        (played,) = await events_of(receiver, "message.played")
    assert sorted(e["data"]["message_id"] for e in delivered) == ["m1", "m2"]
    assert delivered[0]["data"]["by"] == "+15551234567" and delivered[0]["data"]["chat"] == "+15551234567"
    assert delivered[0]["data"]["timestamp"] == "2023-11-14T22:15:00.000Z"
    assert read["data"] == {"account_id": "personal", "message_id": "m1", "chat": GROUP, "by": "+15550001111",
                            "timestamp": "2023-11-14T22:15:00.000Z"}
    assert played["data"]["message_id"] == "m3"
    assert not [r for r in receiver.requests if "m4" in r.body.decode()]
