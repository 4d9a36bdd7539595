"""WhatsApp Web sends beyond one plain message: quoted replies, mentions, polls, edits and revokes.

Built as whatsmeow builds them (`BuildPollCreation`, `BuildEdit`, `BuildRevoke`, and neonize's
`build_reply_message` for the quote), in Python, so no Go call is needed before the send itself;
the real-library tests compare these protobufs with neonize's own builders.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from whatshooked.accounts.base import SendKind, SendRequest
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.jid import USER_SERVER, normalize_recipient
from whatshooked.errors import RequestError

COMPOSED_KINDS = frozenset({SendKind.POLL, SendKind.EDIT, SendKind.REVOKE})

CONTEXT_FIELDS = (
    # message fields that carry a contextInfo (a plain `conversation` becomes an extendedTextMessage)
    "extendedTextMessage", "imageMessage", "videoMessage", "documentMessage", "audioMessage", "stickerMessage",
    "locationMessage", "contactMessage", "contactsArrayMessage", "pollCreationMessage",
)


@dataclass(frozen=True, slots=True)
class Known:
    """What the adapter remembers of a message: where it was, who sent it and (if quotable) its content."""

    chat: str
    sender: str
    from_me: bool
    message: Any = None


def special_message(request: SendRequest, known: Known | None) -> Any:
    """The protobuf for POLL, EDIT and REVOKE sends."""
    body = request.body
    if request.kind is SendKind.POLL:
        return poll_message(str(body["name"]), [str(o) for o in body["options"]], int(body.get("selectable_count", 1)))
    message_id = str(body["message_id"])
    if known is not None and not known.from_me and (request.kind is SendKind.EDIT or "@g.us" not in known.chat):
        # WhatsApp edits only one's own messages, and deletes another's only in a group where we may be admin
        raise RequestError(f"'message_id' {message_id!r} was sent by someone else: it can only be "
                           + ("edited by them" if request.kind is SendKind.EDIT else "deleted for everyone in a group"))
    if request.kind is SendKind.EDIT:
        return edit_message(request.to, message_id, nz.Message(conversation=str(body["text"])))
    sender = known.sender if known is not None and not known.from_me else ""
    return revoke_message(request.to, message_id, sender)


def poll_message(name: str, options: list[str], selectable_count: int) -> Any:
    """whatsmeow's BuildPollCreation: 0 lets voters pick any number of options; a fresh message secret."""
    return nz.Message(
        pollCreationMessage=nz.wa.PollCreationMessage(
            name=name, options=[nz.wa.PollCreationMessage.Option(optionName=o) for o in options],
            selectableOptionsCount=selectable_count),
        messageContextInfo=nz.wa.MessageContextInfo(messageSecret=os.urandom(32)))


def edit_message(chat: str, message_id: str, new_content: Any) -> Any:
    """whatsmeow's BuildEdit: only one's own messages can be edited."""
    protocol = nz.wa.ProtocolMessage(
        key=nz.MessageKey(fromMe=True, ID=message_id, remoteJID=chat), type=nz.wa.ProtocolMessage.MESSAGE_EDIT,
        editedMessage=new_content, timestampMS=int(time.time() * 1000))
    return nz.Message(editedMessage=nz.wa.FutureProofMessage(message=nz.Message(protocolMessage=protocol)))


def revoke_message(chat: str, message_id: str, other_sender: str) -> Any:
    """whatsmeow's BuildRevoke: one's own message, or (a group admin) someone else's."""
    key = nz.MessageKey(fromMe=not other_sender, ID=message_id, remoteJID=chat)
    if other_sender and not chat.endswith(f"@{USER_SERVER}"):
        key.participant = other_sender
    return nz.Message(protocolMessage=nz.wa.ProtocolMessage(type=nz.wa.ProtocolMessage.REVOKE, key=key))


def decorate(message: Any, body: dict[str, Any], chat: str, known: Known | None) -> Any:
    """Add `mentions` and the `reply_to` quote to a built message (as neonize's build_reply_message does)."""
    mentions = [normalize_recipient(p, f"mentions[{i}]") for i, p in enumerate(body.get("mentions") or [])]
    reply_to = body.get("reply_to")
    if not mentions and not reply_to:
        return message
    if message.HasField("conversation"):
        message = nz.Message(extendedTextMessage=nz.wa.ExtendedTextMessage(text=message.conversation))
    field = next((name for name in CONTEXT_FIELDS if message.HasField(name)), None)
    if field is None:
        raise RequestError("'reply_to' and 'mentions' cannot be used with this kind of message")
    context = getattr(message, field).contextInfo
    if mentions:
        context.mentionedJID.extend(mentions)
    if reply_to:
        context.MergeFrom(quote_context(str(reply_to), chat, known))
    return message


def quote_context(message_id: str, chat: str, known: Known | None) -> Any:
    """stanzaID, the quoted message's sender and its content (with its own context cleared)."""
    context = nz.wa.ContextInfo(stanzaID=message_id)
    if known is None:
        if chat.endswith(f"@{USER_SERVER}"):
            context.participant = chat  # a 1:1 message we never saw: it came from the chat's other side
        return context
    participant = known.sender or ("" if known.from_me else known.chat)
    if participant:
        context.participant = participant
    if known.message is not None:
        quoted = nz.Message()
        quoted.CopyFrom(known.message)
        for name in CONTEXT_FIELDS:
            if quoted.HasField(name):
                getattr(quoted, name).ClearField("contextInfo")
        context.quotedMessage.CopyFrom(quoted)
    return context
