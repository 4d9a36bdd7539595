"""Group changes, calls, presence / typing (opt-in) and the history sent after pairing (opt-in) →
hook events (DESIGN §8.2).

Group events: `group.joined` (this account was added to a group), `group.left` (it left or was
removed), `group.participants` (others joined, left, were promoted or demoted), `group.updated`
(subject, description, settings); all with `chat, by, action, participants[], changes{}`.
History messages are raised as `message.received` with `history: true`, under the same dedupe key
as live messages (a message seen both ways is raised once); their media is described, not fetched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.inbound import jid_text, parse_message
from whatshooked.accounts.whatsapp_web.jid import public_address
from whatshooked.events import utc_timestamp

if TYPE_CHECKING:
    from whatshooked.accounts.whatsapp_web.host import WebHost

P = nz.neonize_proto
PARTICIPANT_CHANGES = (("Join", "add"), ("Leave", "remove"), ("Promote", "promote"), ("Demote", "demote"))


def address(jid: Any) -> str:
    return public_address(jid.User, jid.Server)


def own_users(session: Any) -> set[str]:
    """This account's own user ids (phone and linked id), from the device info neonize keeps."""
    me = getattr(session, "me", None)
    if me is None:
        return set()
    return {j.User for j in (me.JID, me.LID) if j.User}


def group_changes(ev: Any) -> dict[str, Any]:
    """What a group notification changed (a sub-message counts only when its own value is present)."""
    changes: dict[str, Any] = {}
    for outer, inner, name in (("Name", "Name", "subject"), ("Topic", "Topic", "description"),
                               ("Locked", "isLocked", "locked"), ("Announce", "IsAnnounce", "announce"),
                               ("Ephemeral", "IsEphemeral", "ephemeral")):
        if ev.HasField(outer) and getattr(ev, outer).HasField(inner):
            changes[name] = getattr(getattr(ev, outer), inner)
    if ev.HasField("Topic") and ev.Topic.TopicDeleted:
        changes["description"] = None
    if ev.HasField("Delete") and ev.Delete.HasField("Deleted") and ev.Delete.Deleted:
        changes["deleted"] = True
    return changes


def caller(meta: Any) -> str:
    creator = meta.callCreator if meta.callCreator.User else getattr(meta, "from")
    alt = meta.callCreatorAlt
    return public_address(creator.User, creator.Server, alt.User, alt.Server)


def is_video_call(ev: Any) -> bool:
    return any(node.Tag == "video" for node in ev.data.Nodes)


def history_events(ev: Any, me: Any = None) -> list[Any]:
    """The messages of a history sync as neonize `MessageEv`s, so they parse like live ones; ours (fromMe)
    are from `me` (this device, as Go reported it), not from the chat."""
    found = []
    for conversation in ev.Data.conversations:
        for item in conversation.messages:
            web = item.message
            chat, _, server = (web.key.remoteJID or conversation.ID).partition("@")
            participant = web.key.participant or web.participant
            sender_user, _, sender_server = participant.partition("@") if participant else (chat, "", server)
            if web.key.fromMe and me is not None and me.JID.User:
                sender_user, sender_server = me.JID.User, me.JID.Server
            source = P.MessageSource(
                Chat=P.JID(User=chat, Server=server), IsFromMe=web.key.fromMe, IsGroup=server == "g.us",
                Sender=P.JID(User=sender_user.split(":", 1)[0], Server=sender_server))
            info = P.MessageInfo(MessageSource=source, ID=web.key.ID, Pushname=web.pushName,
                                 Timestamp=web.messageTimestamp)
            found.append(nz.MessageEv(Info=info, Message=web.message))
    return found


class Notifications:
    def __init__(self, adapter: WebHost) -> None:
        self.adapter = adapter

    def handlers(self) -> dict[type, Any]:
        return {
            nz.GroupInfoEv: self.group_info, nz.JoinedGroupEv: self.joined_group,
            nz.CallOfferEv: self.call_offer, nz.CallTerminateEv: self.call_ended,
            nz.PresenceEv: self.presence, nz.ChatPresenceEv: self.chat_presence, nz.HistorySyncEv: self.history,
        }

    async def group_info(self, ev: Any) -> None:
        adapter = self.adapter
        chat, by = address(ev.JID), address(ev.Sender) if ev.Sender.User else None
        own = own_users(adapter.session)
        for field, action in PARTICIPANT_CHANGES:
            jids = list(getattr(ev, field))
            if not jids:
                continue
            mine = [j for j in jids if j.User in own]
            if mine and action == "remove":
                await adapter.emit("group.left", chat=chat, by=by, action="remove" if by else "leave",
                                   participants=[address(j) for j in mine], changes={})
            others = [address(j) for j in jids if j.User not in own]
            if others:
                await adapter.emit("group.participants", chat=chat, by=by, action=action, participants=others,
                                   changes={})
        changes = group_changes(ev)
        if changes:
            await adapter.emit("group.updated", chat=chat, by=by, action="update", participants=[], changes=changes)

    async def joined_group(self, ev: Any) -> None:
        info = ev.GroupInfo
        by = address(ev.Sender) if ev.Sender.User else None
        await self.adapter.emit("group.joined", chat=address(info.JID), by=by, action="join",
                                participants=[address(p.JID) for p in info.Participants],
                                changes={"subject": info.GroupName.Name or None})

    async def call_offer(self, ev: Any) -> None:
        meta = ev.basicCallMeta
        await self.adapter.emit("call.offer", call_id=meta.callID, **{"from": caller(meta)}, video=is_video_call(ev))

    async def call_ended(self, ev: Any) -> None:
        meta = ev.basicCallMeta
        await self.adapter.emit("call.ended", call_id=meta.callID, **{"from": caller(meta)}, video=None,
                                reason=ev.reason or None)

    async def presence(self, ev: Any) -> None:
        if not self.adapter.web.presence:
            return
        seen = utc_timestamp(float(ev.LastSeen)) if ev.LastSeen else None
        await self.adapter.emit("presence.update", **{"from": address(ev.From)}, available=not ev.Unavailable,
                                last_seen=seen)

    async def chat_presence(self, ev: Any) -> None:
        if not self.adapter.web.presence:
            return
        source = ev.MessageSource
        if ev.State == P.ChatPresence.PAUSED:
            state = "paused"
        else:
            state = "recording" if ev.Media == P.ChatPresence.AUDIO else "typing"
        await self.adapter.emit("chat.typing", chat=address(source.Chat), **{"from": address(source.Sender)},
                                state=state)

    async def history(self, ev: Any) -> None:
        adapter = self.adapter
        if not adapter.web.history:
            return
        for message in history_events(ev, getattr(adapter.session, "me", None)):
            inbound = parse_message(message)
            if inbound is None or jid_text(message.Info.MessageSource.Chat) == "status@broadcast":
                continue
            if inbound.media_kind is not None:
                inbound.data["media"] = {k: v for k, v in inbound.media_info.items() if k != "voice"}
            message_id = inbound.data["message_id"]
            await adapter.emit("message.received", dedupe_key=f"whatsmeow:{adapter.id}:{message_id}",
                               **inbound.data, history=True)
