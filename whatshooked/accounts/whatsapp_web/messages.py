"""Messages, edits, deletes, polls, votes, undecryptable messages and receipts → hook events, per chat
in WhatsApp's order (chat_order), media downloads included.

Status posts (`status@broadcast`) are dropped before anything is downloaded unless the account has
`status_broadcasts: true`; then they are `status.received`, never `message.received`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.chat_order import ChatOrder, Turn
from whatshooked.accounts.whatsapp_web.inbound import (
    chat_address,
    downloadable,
    epoch_seconds,
    jid_text,
    parse_message,
    receipt_events,
    sender_address,
    unwrap,
)
from whatshooked.accounts.whatsapp_web.jid import public_address
from whatshooked.accounts.whatsapp_web.poll_votes import Poll, PollMemory, names_of, open_vote
from whatshooked.events import utc_timestamp

if TYPE_CHECKING:
    from whatshooked.accounts.whatsapp_web.host import WebHost

log = logging.getLogger(__name__)

STATUS_CHAT = "status@broadcast"
_PROTOCOL = nz.wa.ProtocolMessage


def edit_text(message: Any) -> str | None:
    """The new text of an edited message (a text, or a media caption)."""
    message = unwrap(message)
    if message.conversation:
        return str(message.conversation)
    for _descriptor, part in message.ListFields():
        for name in ("text", "caption"):
            value = getattr(part, name, None)
            if isinstance(value, str) and value:
                return value
    return None


def jids_of(jid: Any, alt: Any) -> list[str]:
    """A JID as whatsmeow writes it (no device), and its phone / linked-id twin when known."""
    return [f"{j.User}@{j.Server}" for j in (jid, alt) if j.User]


class MessageHandler:
    def __init__(self, adapter: WebHost) -> None:
        self.adapter = adapter
        self.order = ChatOrder()
        self.polls = PollMemory()

    async def message(self, ev: Any) -> None:
        chat = jid_text(ev.Info.MessageSource.Chat)
        status = chat == STATUS_CHAT
        if status and not self.adapter.web.status_broadcasts:
            return  # a contact's status post: not a message, and nothing is downloaded
        with self.order.enter(chat) as turn:
            await self._message(ev, turn, "status.received" if status else "message.received")

    async def undecryptable(self, ev: Any) -> None:
        source = ev.Info.MessageSource
        with self.order.enter(jid_text(source.Chat)) as turn:
            await turn.wait()
            await self.adapter.emit("message.undecryptable", dedupe_key=self._key("undecryptable", ev.Info.ID),
                                    message_id=ev.Info.ID, chat=chat_address(source),
                                    **{"from": sender_address(source)}, unavailable=bool(ev.IsUnavailable))

    async def receipt(self, ev: Any) -> None:
        with self.order.enter(jid_text(ev.MessageSource.Chat)) as turn:
            await turn.wait()
            for event_type, data in receipt_events(ev):
                await self.adapter.emit(event_type, **data)

    def _key(self, kind: str, message_id: str) -> str:
        return f"whatsmeow:{self.adapter.id}:{kind}:{message_id}"

    async def _message(self, ev: Any, turn: Turn, event_type: str) -> None:
        adapter = self.adapter
        message = unwrap(ev.Message)
        if message.HasField("protocolMessage") and message.protocolMessage.type in (_PROTOCOL.MESSAGE_EDIT,
                                                                                    _PROTOCOL.REVOKE):
            await turn.wait()
            await self._protocol(ev, message.protocolMessage)
            return
        if message.HasField("pollUpdateMessage"):
            data = await self._vote(ev, message.pollUpdateMessage)
            await turn.wait()
            await adapter.emit("message.poll_vote", dedupe_key=self._key("vote", ev.Info.ID), **data)
            return
        inbound = parse_message(ev)
        if inbound is None:
            return
        source = ev.Info.MessageSource
        message_id = inbound.data["message_id"]
        sender = jid_text(source.Sender) if source.IsGroup else ""
        adapter.remember(message_id, jid_text(source.Chat), sender, bool(source.IsFromMe), ev.Message)
        if inbound.data["type"] == "poll":
            self._remember_poll(ev, message, inbound.data["poll"]["options"])
        if inbound.media_kind is not None:
            inbound.data["media"] = await self._media(ev, inbound.media_info)
        await turn.wait()
        # The key is committed with the event: a message WhatsApp delivers again is raised once.
        await adapter.emit(event_type, dedupe_key=f"whatsmeow:{adapter.id}:{message_id}", **inbound.data)

    async def _protocol(self, ev: Any, protocol: Any) -> None:
        source = ev.Info.MessageSource
        key = protocol.key
        common = {"message_id": key.ID, "chat": chat_address(source), "from": sender_address(source)}
        if protocol.type == _PROTOCOL.MESSAGE_EDIT:
            when = protocol.timestampMS or ev.Info.Timestamp
            await self.adapter.emit("message.edited", dedupe_key=self._key("edit", ev.Info.ID), **common,
                                    text=edit_text(protocol.editedMessage),
                                    edited_at=utc_timestamp(epoch_seconds(when)) if when else utc_timestamp())
            return
        author = sender_address(source)
        if key.participant:
            user, _, server = key.participant.partition("@")
            author = public_address(user.split(":", 1)[0], server)
        elif not key.fromMe and not source.IsGroup:
            author = chat_address(source)
        await self.adapter.emit("message.revoked", dedupe_key=self._key("revoke", key.ID),
                                **{**common, "from": author, "by": sender_address(source)})

    def _remember_poll(self, ev: Any, message: Any, options: list[str]) -> None:
        secret = ev.Message.messageContextInfo.messageSecret or message.messageContextInfo.messageSecret
        if not secret:
            return
        source = ev.Info.MessageSource
        creators = jids_of(source.Sender, source.SenderAlt)
        self.polls.remember(ev.Info.ID, Poll(tuple(options), bytes(secret), tuple(creators)))

    def remember_sent_poll(self, message_id: str, message: Any) -> None:
        """A poll sent through the API: its creator is this device (`me`), so votes on it decrypt too."""
        me = getattr(self.adapter.session, "me", None)
        secret = message.messageContextInfo.messageSecret
        if me is not None and secret:
            options = tuple(o.optionName for o in message.pollCreationMessage.options)
            self.polls.remember(message_id, Poll(options, bytes(secret), tuple(jids_of(me.JID, me.LID))))

    async def _vote(self, ev: Any, update: Any) -> dict[str, Any]:
        source = ev.Info.MessageSource
        poll_id = update.pollCreationMessageKey.ID
        data: dict[str, Any] = {"message_id": poll_id, "chat": chat_address(source), "from": sender_address(source),
                                "selected": None, "vote_id": ev.Info.ID}
        poll = self.polls.get(poll_id)
        hashes = open_vote(poll_id, poll, jids_of(source.Sender, source.SenderAlt), update.vote) if poll else None
        if hashes is None:
            data["error"] = "the vote could not be decrypted (the poll was not seen by this daemon)"
            return data
        data["selected"] = names_of(poll.options, hashes) if poll else None
        if data["selected"] is None:
            data["selected_hashes"] = [h.hex() for h in hashes]
        return data

    async def _media(self, ev: Any, info: dict[str, Any]) -> dict[str, Any]:
        adapter = self.adapter
        extra = {"voice": info["voice"]} if "voice" in info else {}
        fields = {k: v for k, v in info.items() if k != "voice"}
        if adapter.ctx.settings.media.mode == "none":
            return {**fields, **extra}
        session = adapter.session
        try:
            if session is None or not adapter.live:
                raise RuntimeError("the session is not running")
            async with asyncio.timeout(adapter.timing.download_timeout):
                data = await session.download_any(downloadable(ev.Message))
            media = await adapter.ctx.media.save(data, fields["mime_type"], filename=fields["filename"],
                                                 sha256=fields["sha256"])
        except Exception as exc:
            log.warning("account %s: media of message %s not downloaded: %s", adapter.id, ev.Info.ID, exc,
                        extra={"account_id": adapter.id})
            return {**fields, **extra, "error": f"download failed: {exc}"}
        return {**media, **extra}

