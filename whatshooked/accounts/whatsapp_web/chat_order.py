"""Events of one chat are raised in the order WhatsApp gave them, other chats never wait.

neonize hands every Go event to the loop as a task of its own, in Go's order; a photo's handler then
downloads for a while and a text that came after it would be raised first. Each handler takes a
turn in its chat synchronously, before its first await, so turns follow arrival order; it may
prepare (download) at once, and raises its events only when the turn before it is over.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Turn:
    def __init__(self, order: ChatOrder, chat: str, before: asyncio.Future[None] | None) -> None:
        self._order, self._chat, self._before = order, chat, before
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Until every earlier event of this chat has been raised (or given up)."""
        if self._before is not None and not self._before.done():
            await asyncio.wait([self._before])

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self._order.release(self._chat, self.done)

    def __enter__(self) -> Turn:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.finish()


class ChatOrder:
    def __init__(self) -> None:
        self._last: dict[str, asyncio.Future[None]] = {}

    def enter(self, chat: str) -> Turn:
        """Take the next turn in `chat`: call it before the handler's first await."""
        turn = Turn(self, chat, self._last.get(chat))
        self._last[chat] = turn.done
        return turn

    def release(self, chat: str, done: asyncio.Future[None]) -> None:
        if self._last.get(chat) is done:
            del self._last[chat]
