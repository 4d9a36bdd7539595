"""Group changes, calls, presence / typing (opt-in) and history after pairing (opt-in), DESIGN §8.2:
real neonize protobufs, serialized and handed to neonize's own event entry from another thread."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from tests.support.neonize_standin import P, complete, jid, source, web_world
from tests.support.receiver import HookReceiver
from tests.test_web_inbound import ALICE, GROUP, connected, events_of
from whatshooked.accounts.whatsapp_web import bindings as nz

# Imported after bindings, which contains neonize's import-time side effects.
history_pb = importlib.import_module("neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2")
web_pb = importlib.import_module("neonize.proto.waWeb.WAWebProtobufsWeb_pb2")

OWN = "15559990000@s.whatsapp.net"
BOB = "15557654321@s.whatsapp.net"


def data_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e["data"].items() if k != "account_id"} for e in events]


async def test_group_changes(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(P.Device(JID=jid(OWN), LID=jid("201234567890123@lid"), Platform="", BussinessName="",
                                     PushName="Me", Initialized=True))  # Go's first event: who we are
        await session.afeed(
            complete(nz.JoinedGroupEv(Reason="invite", Type="new", Sender=jid(ALICE), GroupInfo=P.GroupInfo(
                JID=jid(GROUP), GroupName=P.GroupName(Name="Team"),
                Participants=[P.GroupParticipant(JID=jid(ALICE)), P.GroupParticipant(JID=jid(OWN))]))),
            complete(nz.GroupInfoEv(JID=jid(GROUP), Sender=jid(ALICE), Join=[jid(BOB)], Promote=[jid(BOB)])),
            complete(nz.GroupInfoEv(JID=jid(GROUP), Sender=jid(ALICE), Name=P.GroupName(Name="Team 2"),
                                    Announce=P.GroupAnnounce(IsAnnounce=True))),
            complete(nz.GroupInfoEv(JID=jid(GROUP), Sender=jid(ALICE), Leave=[jid(OWN)])))
        joined = await events_of(receiver, "group.joined")
        participants = await events_of(receiver, "group.participants", 2)
        updated = await events_of(receiver, "group.updated")
        left = await events_of(receiver, "group.left")
    assert data_of(joined) == [{"chat": GROUP, "by": "+15551234567", "action": "join",
                                "participants": ["+15551234567", "+15559990000"], "changes": {"subject": "Team"}}]
    assert sorted((d["action"], tuple(d["participants"])) for d in data_of(participants)) == [
        ("add", ("+15557654321",)), ("promote", ("+15557654321",))]
    assert data_of(updated) == [{"chat": GROUP, "by": "+15551234567", "action": "update", "participants": [],
                                 "changes": {"subject": "Team 2", "announce": True}}]
    assert data_of(left) == [{"chat": GROUP, "by": "+15551234567", "action": "remove",
                              "participants": ["+15559990000"], "changes": {}}]


async def test_calls(tmp_path: Path, receiver: HookReceiver) -> None:
    meta = P.BasicCallMeta(**{"from": jid(ALICE)}, callCreator=jid(ALICE), callID="CALL1",  # `from`: a keyword
                           timestamp=1_700_000_000, callCreatorAlt=jid(""))
    offer = nz.CallOfferEv(basicCallMeta=meta, callRemoteMeta=P.CallRemoteMeta(remotePlatform="android",
                                                                               remoteVersion="2.24"),
                           data=P.Node(Tag="offer", Nodes=[P.Node(Tag="audio"), P.Node(Tag="video")]))
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(offer, complete(nz.CallTerminateEv(basicCallMeta=meta, reason="timeout")))
        (offered,) = await events_of(receiver, "call.offer")
        (ended,) = await events_of(receiver, "call.ended")
    assert data_of([offered]) == [{"call_id": "CALL1", "from": "+15551234567", "video": True}]
    assert data_of([ended]) == [{"call_id": "CALL1", "from": "+15551234567", "video": None, "reason": "timeout"}]


async def test_presence_and_typing_only_when_asked_for(tmp_path: Path, receiver: HookReceiver) -> None:
    typing = nz.ChatPresenceEv(MessageSource=source(ALICE, ALICE), State=P.ChatPresence.COMPOSING,
                               Media=P.ChatPresence.TEXT)
    recording = nz.ChatPresenceEv(MessageSource=source(ALICE, ALICE), State=P.ChatPresence.COMPOSING,
                                  Media=P.ChatPresence.AUDIO)
    online = nz.PresenceEv(From=jid(ALICE), Unavailable=False, LastSeen=0)
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(typing, online, nz.ReceiptEv(MessageSource=source(ALICE, ALICE), MessageIDs=["m"],
                                                         Timestamp=1, Type=P.Receipt.READ))
        await events_of(receiver, "message.read")  # raised after the two above, which raised nothing
    assert not [r for r in receiver.requests if r.headers.get("X-Whatshooked-Event") in ("chat.typing",
                                                                                        "presence.update")]
    accounts = "  - id: personal\n    session_path: ./s/p.db\n    presence: true\n"
    (tmp_path / "opt-in").mkdir()
    async with web_world(tmp_path / "opt-in", receiver.url, accounts=accounts) as world:
        session = await connected(world)
        await session.afeed(typing, recording, online)
        states = await events_of(receiver, "chat.typing", 2)
        (presence,) = await events_of(receiver, "presence.update")
    assert sorted(d["state"] for d in data_of(states)) == ["recording", "typing"]
    assert data_of(states)[0]["chat"] == "+15551234567" and data_of(states)[0]["from"] == "+15551234567"
    assert data_of([presence]) == [{"from": "+15551234567", "available": True, "last_seen": None}]


def history_sync() -> Any:
    def item(message_id: str, text: str, seconds: int) -> Any:
        return history_pb.HistorySyncMsg(message=web_pb.WebMessageInfo(
            key=nz.MessageKey(remoteJID=ALICE, fromMe=False, ID=message_id), messageTimestamp=seconds,
            pushName="Alice", message=nz.wa.Message(conversation=text)))

    data = history_pb.HistorySync(syncType=history_pb.HistorySync.INITIAL_BOOTSTRAP, conversations=[
        history_pb.Conversation(ID=ALICE, messages=[item("H1", "old one", 1_600_000_000),
                                                    item("H2", "old two", 1_600_000_060)])])
    return nz.HistorySyncEv(Data=data)


async def test_history_after_pairing_only_when_asked_for(tmp_path: Path, receiver: HookReceiver) -> None:
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(history_sync(), nz.ReceiptEv(MessageSource=source(ALICE, ALICE), MessageIDs=["m"],
                                                         Timestamp=1, Type=P.Receipt.READ))
        await events_of(receiver, "message.read")
    assert not [r for r in receiver.requests if r.headers.get("X-Whatshooked-Event") == "message.received"]
    accounts = "  - id: personal\n    session_path: ./s/p.db\n    history: true\n"
    (tmp_path / "opt-in").mkdir()
    async with web_world(tmp_path / "opt-in", receiver.url, accounts=accounts) as world:
        session = await connected(world)
        await session.afeed(history_sync())
        received = await events_of(receiver, "message.received", 2)
    by_id = {d["message_id"]: d for d in data_of(received)}
    assert set(by_id) == {"H1", "H2"}
    assert by_id["H1"]["history"] is True and by_id["H1"]["text"] == "old one"
    assert by_id["H1"]["from"] == "+15551234567" and by_id["H1"]["chat"] == "+15551234567"
    assert by_id["H1"]["timestamp"] == "2020-09-13T12:26:40.000Z"
