"""Chat state and lookups (DESIGN §8.3): typing, contacts check, groups, and logging an account out.

The manager answers 400 when the account's type cannot do it and 409 naming the state when the
account is not connected; the adapter does the rest.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from whatshooked.api.bodies import read_json
from whatshooked.api.keys import ACCOUNTS
from whatshooked.errors import RequestError
from whatshooked.json_fields import Fields

TYPING_STATES = ("typing", "recording", "paused")
MAX_PHONES = 500


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value:
        raise RequestError(f"query parameter '{name}' is required")
    return value


async def typing(request: web.Request) -> web.StreamResponse:
    fields = Fields(await read_json(request))
    account_id, to, state = fields.text("account_id"), fields.text("to"), fields.text("state")
    message_id = fields.text("message_id", required=False)
    assert account_id is not None and to is not None and state is not None
    if state not in TYPING_STATES:
        raise fields.wrong("state", f"one of {', '.join(TYPING_STATES)}")
    await request.app[ACCOUNTS].operate(account_id, "chats.typing", lambda a: a.chat_typing(to, state, message_id))
    return web.json_response({"status": "ok"})


async def check_contacts(request: web.Request) -> web.StreamResponse:
    fields = Fields(await read_json(request))
    account_id = fields.text("account_id")
    assert account_id is not None
    phones = fields.strings("phones", min_items=1)
    if len(phones) > MAX_PHONES:
        raise fields.wrong("phones", f"a list of at most {MAX_PHONES} phone numbers")
    result: Any = await request.app[ACCOUNTS].operate(account_id, "contacts.check", lambda a: a.check_contacts(phones))
    return web.json_response(result)


async def list_groups(request: web.Request) -> web.StreamResponse:
    account_id = _query(request, "account_id")
    result: Any = await request.app[ACCOUNTS].operate(account_id, "groups.list", lambda a: a.list_groups())
    return web.json_response(result)


async def group_info(request: web.Request) -> web.StreamResponse:
    account_id, jid = _query(request, "account_id"), _query(request, "jid")
    result: Any = await request.app[ACCOUNTS].operate(account_id, "groups.info", lambda a: a.group_info(jid))
    return web.json_response(result)


async def logout(request: web.Request) -> web.StreamResponse:
    fields = Fields(await read_json(request))
    account_id = fields.text("id")
    assert account_id is not None
    await request.app[ACCOUNTS].operate(account_id, "accounts.logout", lambda a: a.logout())
    return web.json_response({"status": "ok", "account_id": account_id})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/chats/typing", typing)
    app.router.add_post("/api/contacts/check", check_contacts)
    app.router.add_get("/api/groups", list_groups)
    app.router.add_get("/api/groups/info", group_info)
    app.router.add_post("/api/accounts/logout", logout)
