"""The Go calls behind chat state and lookups, mixed into `NeonizeSession` (kept apart to stay small).

Each is one neonize call; a failure (offline: "websocket not connected") propagates as neonize's
own exception and the adapter turns it into a SendError with that text.
"""

from __future__ import annotations

from typing import Any

from whatshooked.accounts.whatsapp_web import bindings as nz


class SessionCalls:
    _client: Any

    async def chat_presence(self, chat: nz.JID, composing: bool, audio: bool) -> None:
        state = nz.ChatPresence.CHAT_PRESENCE_COMPOSING if composing else nz.ChatPresence.CHAT_PRESENCE_PAUSED
        media = nz.ChatPresenceMedia
        kind = media.CHAT_PRESENCE_MEDIA_AUDIO if audio else media.CHAT_PRESENCE_MEDIA_TEXT
        await self._client.send_chat_presence(chat, state, kind)

    async def is_on_whatsapp(self, phones: list[str]) -> list[Any]:
        return list(await self._client.is_on_whatsapp(*phones))

    async def joined_groups(self) -> list[Any]:
        return list(await self._client.get_joined_groups())

    async def group_info(self, jid: nz.JID) -> Any:
        return await self._client.get_group_info(jid)

    async def logout(self) -> None:
        await self._client.logout()
