"""A stand-in account adapter: really subclasses AccountAdapter, records what it was asked to do.

Tests register it under a real type name (`Registry({"whatsmeow": StandInAdapter, ...})`), so the
config stays the one users write. A business-api account's `webhook_path` is honoured: a POST there
with `{"text": ..., "from": ...}` raises a message.received (answered 200 once committed).
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from whatshooked.accounts.base import AccountAdapter, AccountState, AdapterContext, SendKind, SendRequest, SendResult
from whatshooked.config.model import AccountConfig
from whatshooked.errors import RequestError, SendError
from whatshooked.events import Event


class StandInAdapter(AccountAdapter):
    type_name: ClassVar[str] = "standin"
    send_kinds: ClassVar[frozenset[SendKind]] = frozenset({SendKind.TEXT, SendKind.IMAGE, SendKind.READ})
    built: ClassVar[list[StandInAdapter]] = []
    """Every instance made, in order (reset by the fixture that uses it)."""

    def __init__(self, config: AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self.sent: list[SendRequest] = []
        self.connects = 0
        self.disconnects = 0
        self.fail_with: SendError | None = None
        if config.settings is not None and getattr(config.settings, "webhook_path", None):
            self.webhook_path = config.settings.webhook_path
        StandInAdapter.built.append(self)

    async def connect(self) -> None:
        self.connects += 1
        self.set_state(AccountState.CONNECTED)

    async def disconnect(self) -> None:
        self.disconnects += 1
        self.set_state(AccountState.DISCONNECTED)

    def normalize_recipient(self, to: str) -> str:
        digits = "".join(c for c in to if c.isdigit())
        if not digits:
            raise RequestError(f"field 'to': {to!r} is not a phone number")
        return digits

    async def send(self, request: SendRequest) -> SendResult:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(request)
        return SendResult(message_id=f"standin-{len(self.sent)}", to=request.to)

    async def receive(self, text: str, sender: str = "15551234567", **extra: Any) -> Event:
        event = await self.emit("message.received", message_id=f"in-{text}", chat=sender, **{"from": sender},
                                type="text", text=text, **extra)
        assert event is not None, "no dedupe key was given, so the event cannot be a duplicate"
        return event

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        await self.receive(body["text"], body.get("from", "15551234567"))
        return web.Response(text="ok")
