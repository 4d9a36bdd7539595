"""`/api/send*` and `/api/messages/read`: validate the body, then `AccountManager.send` does the rest.

The routes know no backend: the manager normalises `to`, checks the account supports the kind and
raises `message.sent` / `message.failed`; the error middleware turns a SendError into a 500 with
WhatsApp's (Meta's) text and a RequestError into its 400.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from whatshooked.accounts.base import SendKind, SendRequest
from whatshooked.accounts.send_fields import SEND_FIELDS
from whatshooked.accounts.sends import SEND_ROUTES, refuse_unknown_fields, validate_send_body
from whatshooked.api.bodies import known_only, read_json
from whatshooked.api.idempotency import IN_FLIGHT, InFlight, idempotent
from whatshooked.api.keys import ACCOUNTS, STORE
from whatshooked.errors import RequestError, UnknownAccount
from whatshooked.json_fields import Fields

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def send_handler(kind: SendKind) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        fields = Fields(body)
        account_id = fields.text("account_id")
        assert account_id is not None
        to = fields.text("to", required=kind is not SendKind.READ) or ""
        checked = validate_send_body(kind, body)
        refuse_unknown_fields(body, checked)
        known_only(body, SEND_FIELDS[kind], f"a {kind.value} send")
        send = SendRequest(kind, to, checked)
        request.app[STORE].ensure_writable()  # its message.sent could not be recorded: refuse (503) before sending
        try:
            result = await request.app[ACCOUNTS].send(account_id, send)
        except UnknownAccount as exc:  # the contract lists no 404 here: an unknown account_id is a bad request
            raise RequestError(str(exc)) from None
        return web.json_response({"status": "ok", "message_id": result.message_id})

    handle.__name__ = f"send_{kind.name.lower()}"
    return handle


def setup(app: web.Application) -> None:
    app[IN_FLIGHT] = InFlight()
    for path, kind in SEND_ROUTES.items():
        app.router.add_post(path, idempotent(send_handler(kind)))
    manager = app.get(ACCOUNTS)
    if manager is not None:
        # Two-way replies from hooks are checked exactly like these routes' bodies.
        manager.reply_validator = validate_send_body
