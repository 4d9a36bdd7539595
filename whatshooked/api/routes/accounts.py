"""`/api/accounts*`: list, add, update, remove, disable, enable and status of WhatsApp accounts.

Changes go to the YAML file (through Settings) and from there to the running adapters
(AccountManager.apply). Secrets are shown as "***"; an update that sends "***" keeps the stored
value, including a `${VAR}` reference.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from whatshooked.accounts.backends import backend_specs, default_type
from whatshooked.accounts.spec import assign_changed
from whatshooked.api import bodies
from whatshooked.api.keys import ACCOUNTS, SETTINGS
from whatshooked.config.model import ID_PATTERN, AccountConfig
from whatshooked.config.values import literal
from whatshooked.errors import RequestError, UnknownAccount


def account_json(account: AccountConfig) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": account.id, "type": account.type, "phone_number": account.phone_number}
    spec = backend_specs().get(account.type)
    if spec is not None and account.settings is not None:
        shown.update(spec.to_api(account.settings))
    shown["disabled"] = account.disabled
    return shown


def account_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The account keys present in the body, type-checked (400 naming the field), escaped for the file.

    Each backend reads its own keys. API values are text: `config_values.literal` writes a `${VAR}`
    in them so it reads back as itself.
    """
    specs = backend_specs()
    fields: dict[str, Any] = {}
    if "type" in body:
        fields["type"] = bodies.choice(body, "type", tuple(specs), default=default_type())
    if "phone_number" in body:
        fields["phone_number"] = bodies.text(body, "phone_number")
    if "disabled" in body:
        fields["disabled"] = bodies.boolean(body, "disabled")
    for spec in specs.values():
        fields.update(spec.api_fields(body))
    return literal(fields)


def _accounts_of(raw: dict[str, Any]) -> list[Any]:
    accounts = raw.get("accounts")
    if accounts is None:
        accounts = raw["accounts"] = []
    if not isinstance(accounts, list):
        raise RequestError("the config file's 'accounts' is not a list; fix the file first")
    return accounts


def _entry(raw: dict[str, Any], account_id: str) -> dict[str, Any]:
    for entry in _accounts_of(raw):
        if isinstance(entry, dict) and entry.get("id") == account_id:
            return entry
    raise UnknownAccount(account_id)


def _merge(entry: dict[str, Any], fields: dict[str, Any], current: AccountConfig | None) -> None:
    """Update `entry` in place: the common keys here, each backend's own keys by that backend."""
    specs = backend_specs()
    owned = {name: spec for spec in specs.values() for name in spec.keys}
    assign_changed(entry, {k: v for k, v in fields.items() if k not in owned})
    for spec in specs.values():
        own = {k: v for k, v in fields.items() if k in spec.keys}
        if own:
            settings = current.settings if current is not None and current.type == spec.type_name else None
            spec.merge_update(entry, own, settings)


async def list_accounts(request: web.Request) -> web.Response:
    return web.json_response([account_json(a) for a in request.app[SETTINGS].config.accounts])


async def account_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[ACCOUNTS].status())


async def add_account(request: web.Request) -> web.Response:
    body = await bodies.read_json(request)
    account_id = bodies.text(body, "id", required=True)
    if not ID_PATTERN.fullmatch(account_id):
        raise RequestError("field 'id' must be letters, digits, '_', '.' or '-' (at most 64)")
    fields = account_fields(body)
    fields.setdefault("type", default_type())
    backend_specs()[fields["type"]].check_new(fields)

    def edit(raw: dict[str, Any]) -> None:
        accounts = _accounts_of(raw)
        if any(isinstance(a, dict) and a.get("id") == account_id for a in accounts):
            raise RequestError(f"account {account_id!r} already exists")
        accounts.append({"id": account_id, **fields})

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok", "account_id": account_id}, status=201)


async def update_account(request: web.Request) -> web.Response:
    body = await bodies.read_json(request)
    account_id = bodies.text(body, "id", required=True)
    fields = account_fields(body)
    settings = request.app[SETTINGS]

    def mutate(entry: dict[str, Any]) -> None:
        _merge(entry, fields, settings.config.account(account_id))

    changed = await _change(request, account_id, mutate)
    if not changed:  # same config: apply() leaves it alone, but an update means "reconnect"
        await request.app[ACCOUNTS].restart(account_id)
    return web.json_response({"status": "ok", "account_id": account_id})


async def remove_account(request: web.Request) -> web.Response:
    account_id = bodies.text(await bodies.read_json(request), "id", required=True)

    def edit(raw: dict[str, Any]) -> None:
        _entry(raw, account_id)
        accounts = _accounts_of(raw)
        for index in reversed(range(len(accounts))):  # in place: the list keeps its comments
            if isinstance(accounts[index], dict) and accounts[index].get("id") == account_id:
                del accounts[index]

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok"})


async def disable_account(request: web.Request) -> web.Response:
    account_id = bodies.text(await bodies.read_json(request), "id", required=True)
    await _change(request, account_id, lambda entry: entry.__setitem__("disabled", True))
    return web.json_response({"status": "ok", "account_id": account_id})


async def enable_account(request: web.Request) -> web.Response:
    account_id = bodies.text(await bodies.read_json(request), "id", required=True)
    changed = await _change(request, account_id, lambda entry: entry.pop("disabled", None))
    if not changed:  # already enabled: enabling again restarts it (e.g. after a QR timeout)
        await request.app[ACCOUNTS].restart(account_id)
    return web.json_response({"status": "ok", "account_id": account_id})


async def _change(request: web.Request, account_id: str, mutate: Any) -> bool:
    """Apply `mutate` to the account's YAML entry; True when the entry really changed."""

    def edit(raw: dict[str, Any]) -> bool:
        entry = _entry(raw, account_id)
        before = repr(entry)
        mutate(entry)
        return repr(entry) != before

    return bool(await request.app[SETTINGS].change(edit))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/accounts", list_accounts)
    app.router.add_get("/api/accounts/status", account_status)
    app.router.add_post("/api/accounts/add", add_account)
    app.router.add_post("/api/accounts/update", update_account)
    app.router.add_post("/api/accounts/remove", remove_account)
    app.router.add_post("/api/accounts/disable", disable_account)
    app.router.add_post("/api/accounts/enable", enable_account)

