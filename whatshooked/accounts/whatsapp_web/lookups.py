"""WhatsApp Web lookups and chat state (DESIGN §8.3): contacts check, groups, typing, logout.

`WebLookups` gives the adapter these operations; the functions turn whatsmeow's answers into the API's.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from whatshooked.accounts.base import AccountAdapter, AccountState
from whatshooked.accounts.whatsapp_web.jid import public_address, split_jid
from whatshooked.accounts.whatsapp_web.outbound import to_jid
from whatshooked.accounts.whatsapp_web.session import WebSession
from whatshooked.errors import RequestError, SendError
from whatshooked.phone import phone_digits

log = logging.getLogger(__name__)

TYPING_STATES = {"typing": (True, False), "recording": (True, True), "paused": (False, False)}
"""API state -> (composing, audio) as whatsmeow's SendChatPresence takes them."""


def _jid(jid: Any) -> str:
    return f"{jid.User}@{jid.Server}" if jid is not None and jid.User else ""


def _address(jid: Any) -> str | None:
    return public_address(jid.User, jid.Server) if jid is not None and jid.User else None


async def send_typing(session: WebSession, to: str, state: str) -> None:
    composing, audio = TYPING_STATES[state]
    await session.chat_presence(to_jid(to), composing, audio)


async def contacts_on_whatsapp(session: WebSession, phones: list[str]) -> list[dict[str, Any]]:
    digits = [phone_digits(phone, f"phones[{index}]") for index, phone in enumerate(phones)]
    answers = await session.is_on_whatsapp([f"+{d}" for d in dict.fromkeys(digits)])
    found = {"".join(ch for ch in str(a.Query) if ch.isdigit()): a for a in answers}
    result = []
    for number in digits:
        answer = found.get(number)
        on = bool(answer is not None and answer.IsIn)
        result.append({"phone": f"+{number}", "on_whatsapp": on, "jid": _jid(answer.JID) if on and answer else None})
    return result


def group_summary(info: Any) -> dict[str, Any]:
    return {
        "jid": _jid(info.JID), "subject": info.GroupName.Name, "topic": info.GroupTopic.Topic or None,
        "owner": _address(info.OwnerPN) or _address(info.OwnerJID),
        "created_at": int(info.GroupCreated) or None, "size": len(info.Participants),
        "announce": bool(info.GroupAnnounce.IsAnnounce), "locked": bool(info.GroupLocked.isLocked),
    }


def group_detail(info: Any) -> dict[str, Any]:
    participants = [{
        "jid": _jid(p.JID), "phone": _address(p.PhoneNumber) or (_address(p.JID) if p.JID.Server != "lid" else None),
        "name": p.DisplayName or None, "admin": bool(p.IsAdmin or p.IsSuperAdmin), "super_admin": bool(p.IsSuperAdmin),
    } for p in info.Participants]
    return {**group_summary(info), "participants": participants}


def group_jid(jid: str) -> str:
    user, server = split_jid(jid.strip())
    if server != "g.us" or not user:
        raise RequestError(f"'jid' {jid!r} is not a group JID (like 120363025246125888@g.us)")
    return f"{user}@g.us"


def forget_session(path: Path) -> None:
    """Delete the session database (and SQLite's side files): the next start pairs with a new QR code."""
    for name in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)
    log.info("session %s deleted", path)


class WebLookups(AccountAdapter):
    """The lookup and chat-state operations of a WhatsApp Web account (its adapter derives from this)."""

    session_path: Path | str

    def live_session(self) -> WebSession:
        """The running session; NotConnected (409) when the account is not connected."""
        raise NotImplementedError

    # -- chat state and lookups (DESIGN §8.3) --------------------------------------------
    async def _call(self, what: str, work: Any) -> Any:
        try:
            return await work
        except RequestError:
            raise
        except Exception as exc:
            raise SendError(f"WhatsApp did not answer the {what}: {exc}", code=type(exc).__name__) from exc

    async def chat_typing(self, to: str, state: str, message_id: str | None) -> None:
        await self._call("typing state", send_typing(self.live_session(), self.normalize_recipient(to), state))

    async def check_contacts(self, phones: list[str]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call(
            "contact check", contacts_on_whatsapp(self.live_session(), phones))
        return result

    async def list_groups(self) -> list[dict[str, Any]]:
        groups = await self._call("group list", self.live_session().joined_groups())
        return [group_summary(g) for g in groups]

    async def group_info(self, jid: str) -> dict[str, Any]:
        group = group_jid(jid)
        return group_detail(await self._call("group info", self.live_session().group_info(to_jid(group))))

    async def logout(self) -> None:
        """Unlink this device from the phone, stop, and delete the session: the next start shows a QR code."""
        await self._call("logout", self.live_session().logout())
        await self.disconnect()
        forget_session(Path(self.session_path))
        self.set_state(AccountState.LOGGED_OUT, "logged out through the API; the next start shows a QR code")
