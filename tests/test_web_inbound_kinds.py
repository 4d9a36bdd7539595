"""WhatsApp Web inbound beyond plain messages (DESIGN §8.2): per-chat order, status posts, edits,
deletes for everyone, polls and votes, undecryptable messages — real neonize protobufs through
neonize's own event entry from another thread (tests/support/neonize_standin.py)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from tests.support.neonize_standin import P, message_ev, web_world
from tests.support.poll_votes import seal_vote
from tests.support.receiver import HookReceiver
from tests.test_web_inbound import ALICE, GROUP, connected, events_of
from whatshooked.accounts.whatsapp_web import bindings as nz

wa = nz.wa
BOB = "15557654321@s.whatsapp.net"


def record_raised(adapter: Any) -> list[str]:
    """The message ids of message.received events in the order the adapter raised them (committed)."""
    raised: list[str] = []
    emit = adapter.ctx.emit

    async def recording(event: Any, dedupe_key: str | None = None) -> bool:
        committed = bool(await emit(event, dedupe_key))
        if event.type == "message.received":
            raised.append(event.data["message_id"])
        return committed

    adapter.ctx.emit = recording
    return raised


def image(png: bytes) -> Any:
    return wa.Message(imageMessage=wa.ImageMessage(mimetype="image/png", fileSHA256=hashlib.sha256(png).digest(),
                                                    fileLength=len(png), mediaKey=b"k" * 32))


async def test_a_photo_then_a_text_reach_hooks_in_that_order(tmp_path: Path, receiver: HookReceiver) -> None:
    png = b"\x89PNG" + b"\x00" * 32
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        raised = record_raised(world.adapter())
        session.downloads[hashlib.sha256(png).hexdigest()] = png
        session.download_gate = asyncio.Event()  # the photo's download takes a while
        await session.afeed(message_ev(image(png), message_id="photo"),
                            message_ev(wa.Message(conversation="see above"), message_id="text"),
                            message_ev(wa.Message(conversation="elsewhere"), message_id="other", chat=BOB))
        (other,) = await events_of(receiver, "message.received")  # another chat is not held up
        assert other["data"]["message_id"] == "other"
        session.download_gate.set()
        await events_of(receiver, "message.received", 3)
    assert raised == ["other", "photo", "text"]


async def test_status_posts_are_dropped_unless_asked_for(tmp_path: Path, receiver: HookReceiver) -> None:
    png = b"\x89PNG" + b"\x01" * 32
    post = message_ev(image(png), message_id="status1", chat="status@broadcast", sender=ALICE)
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        session.downloads[hashlib.sha256(png).hexdigest()] = png
        session.download_gate = asyncio.Event()  # a download attempt would hang: none is made
        await session.afeed(post, message_ev(wa.Message(conversation="after"), message_id="after"))
        (after,) = await events_of(receiver, "message.received")
    assert after["data"]["message_id"] == "after" and len(receiver.requests) == 2  # + whatsapp.connected
    accounts = "  - id: personal\n    session_path: ./s/p.db\n    status_broadcasts: true\n"
    (tmp_path / "opt-in").mkdir()
    async with web_world(tmp_path / "opt-in", receiver.url, accounts=accounts) as world:
        session = await connected(world)
        session.downloads[hashlib.sha256(png).hexdigest()] = png
        await session.afeed(post)
        (status,) = await events_of(receiver, "status.received")
    assert status["data"]["message_id"] == "status1" and status["data"]["from"] == "+15551234567"
    assert status["data"]["media"]["sha256"] == hashlib.sha256(png).hexdigest()
    assert not [r for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == "message.received"
                and "status1" in r.body.decode()]


async def test_edit_and_delete_for_everyone(tmp_path: Path, receiver: HookReceiver) -> None:
    edit = wa.Message(protocolMessage=wa.ProtocolMessage(
        type=wa.ProtocolMessage.MESSAGE_EDIT, key=nz.MessageKey(remoteJID=ALICE, fromMe=False, ID="3EB0ORIG"),
        editedMessage=wa.Message(conversation="fixed typo"), timestampMS=1_700_000_500_000))
    wrapped = wa.Message(editedMessage=wa.FutureProofMessage(message=edit))  # how whatsmeow may hand it over
    revoke = wa.Message(protocolMessage=wa.ProtocolMessage(
        type=wa.ProtocolMessage.REVOKE, key=nz.MessageKey(remoteJID=GROUP, fromMe=False, ID="3EB0GONE",
                                                          participant="15550001111@s.whatsapp.net")))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(wrapped, message_id="3EB0EDIT"),
                            message_ev(revoke, message_id="3EB0REV", chat=GROUP, sender=BOB))
        (edited,) = await events_of(receiver, "message.edited")
        (revoked,) = await events_of(receiver, "message.revoked")
    assert {k: edited["data"][k] for k in ("message_id", "chat", "from", "text", "edited_at")} == {
        "message_id": "3EB0ORIG", "chat": "+15551234567", "from": "+15551234567", "text": "fixed typo",
        "edited_at": "2023-11-14T22:21:40.000Z"}
    assert {k: revoked["data"][k] for k in ("message_id", "chat", "from", "by")} == {
        "message_id": "3EB0GONE", "chat": GROUP, "from": "+15550001111", "by": "+15557654321"}
    assert not [r for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == "message.received"]


async def test_a_poll_and_a_vote_on_it(tmp_path: Path, receiver: HookReceiver) -> None:
    secret = bytes(range(32))
    poll = wa.Message(pollCreationMessage=wa.PollCreationMessage(
        name="Lunch?", selectableOptionsCount=1,
        options=[wa.PollCreationMessage.Option(optionName=n) for n in ("Pizza", "Sushi", "Salad")]),
        messageContextInfo=wa.MessageContextInfo(messageSecret=secret))
    vote = wa.Message(pollUpdateMessage=wa.PollUpdateMessage(
        pollCreationMessageKey=nz.MessageKey(remoteJID=GROUP, fromMe=False, ID="3EB0POLL", participant=ALICE),
        vote=seal_vote("3EB0POLL", ALICE, BOB, secret, ["Sushi"], iv=b"\x07" * 12), senderTimestampMS=1))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(poll, message_id="3EB0POLL", chat=GROUP, sender=ALICE),
                            message_ev(vote, message_id="3EB0VOTE", chat=GROUP, sender=BOB))
        (created,) = await events_of(receiver, "message.received")
        (voted,) = await events_of(receiver, "message.poll_vote")
    assert created["data"]["type"] == "poll"
    assert created["data"]["poll"] == {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"], "selectable_count": 1}
    assert {k: voted["data"][k] for k in ("message_id", "chat", "from", "selected")} == {
        "message_id": "3EB0POLL", "chat": GROUP, "from": "+15557654321", "selected": ["Sushi"]}


async def test_undecryptable_message_is_not_lost(tmp_path: Path, receiver: HookReceiver) -> None:
    info = message_ev(wa.Message(), message_id="3EB0LOST").Info
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(nz.UndecryptableMessageEv(Info=info, IsUnavailable=False,
                                                      DecryptFailMode=P.UndecryptableMessage.DECRYPT_FAIL_SHOW))
        (event,) = await events_of(receiver, "message.undecryptable")
    assert {k: event["data"][k] for k in ("message_id", "chat", "from")} == {
        "message_id": "3EB0LOST", "chat": "+15551234567", "from": "+15551234567"}


async def test_a_vote_on_a_poll_never_seen_says_so(tmp_path: Path, receiver: HookReceiver) -> None:
    vote = wa.Message(pollUpdateMessage=wa.PollUpdateMessage(
        pollCreationMessageKey=nz.MessageKey(remoteJID=ALICE, fromMe=True, ID="3EB0OLD"),
        vote=seal_vote("3EB0OLD", ALICE, BOB, b"\x09" * 32, ["Yes"], iv=b"\x01" * 12), senderTimestampMS=1))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(vote, message_id="3EB0VOTE2"))
        (voted,) = await events_of(receiver, "message.poll_vote")
    assert voted["data"]["message_id"] == "3EB0OLD" and voted["data"]["selected"] is None
    assert "could not be decrypted" in voted["data"]["error"]
