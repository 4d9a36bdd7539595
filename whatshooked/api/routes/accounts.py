"""`/api/accounts*`: list, add, update, remove, disable, enable and status of WhatsApp accounts.

Changes go to the YAML file (through Settings) and from there to the running adapters
(AccountManager.apply). Secrets are shown as "***"; an update that sends "***" keeps the stored
value, including a `${VAR}` reference.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from whatshooked.api import bodies
from whatshooked.api.keys import ACCOUNTS, SETTINGS
from whatshooked.config.model import ACCOUNT_TYPES, ID_PATTERN, AccountConfig
from whatshooked.config.values import literal
from whatshooked.errors import RequestError, UnknownAccount

MASK = "***"
SECRET_FIELDS = ("access_token", "app_secret", "verify_token")
BUSINESS_FIELDS = (
    "phone_number_id", "access_token", "app_secret", "verify_token", "waba_id",
    "business_account_id", "api_version", "webhook_path", "graph_url",
)


def account_json(account: AccountConfig) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": account.id, "type": account.type, "phone_number": account.phone_number,
        "show_qr": account.show_qr, "disabled": account.disabled,
    }
    if account.session_path is not None:
        shown["session_path"] = str(account.session_path)
    if account.proxy:
        shown["proxy"] = masked_proxy(account.proxy)
    b = account.business_api
    if b is not None:
        shown["business_api"] = {
            "phone_number_id": b.phone_number_id, "waba_id": b.waba_id,
            "business_account_id": b.business_account_id, "api_version": b.api_version,
            "webhook_path": b.webhook_path, "graph_url": b.graph_url,
            **{name: MASK for name in SECRET_FIELDS if getattr(b, name)},
        }
    return shown


def masked_proxy(url: str) -> str:
    """A proxy URL with its password shown as `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))


def account_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The account keys present in the body, type-checked (400 naming the field), escaped for the file.

    API values are text: `config_values.literal` writes a `${VAR}` in them so it reads back as itself.
    """
    fields: dict[str, Any] = {}
    if "type" in body:
        fields["type"] = bodies.choice(body, "type", ACCOUNT_TYPES, default="whatsmeow")
    for name in ("phone_number", "session_path", "proxy"):
        if name in body:
            fields[name] = bodies.text(body, name)
    for name in ("show_qr", "disabled"):
        if name in body:
            fields[name] = bodies.boolean(body, name)
    business = bodies.mapping(body, "business_api")
    if business is not None:
        fields["business_api"] = {
            name: bodies.text(business, name, prefix="business_api.") for name in BUSINESS_FIELDS if name in business
        }
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


def _merge(entry: dict[str, Any], fields: dict[str, Any]) -> None:
    """Update `entry` in place; a secret sent as "***" keeps what is stored."""
    business = fields.pop("business_api", None)
    _set(entry, fields)
    if business is not None:
        if not isinstance(entry.get("business_api"), dict):
            entry["business_api"] = {}
        _set(entry["business_api"], {k: v for k, v in business.items() if not (k in SECRET_FIELDS and v == MASK)})


def _set(target: dict[str, Any], values: dict[str, Any]) -> None:
    """Assign only what differs, so a value sent unchanged keeps its line in the file as written."""
    for name, value in values.items():
        if name not in target or target[name] != value:
            target[name] = value


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
    fields.setdefault("type", "whatsmeow")
    if fields["type"] == "business-api":
        if "business_api" not in fields:
            raise RequestError("field 'business_api' is required for a business-api account")
        for name in ("phone_number_id", "access_token"):
            if not fields["business_api"].get(name) or fields["business_api"][name] == MASK:
                raise RequestError(f"field 'business_api.{name}' is required")

    def edit(raw: dict[str, Any]) -> None:
        accounts = _accounts_of(raw)
        if any(isinstance(a, dict) and a.get("id") == account_id for a in accounts):
            raise RequestError(f"account {account_id!r} already exists")
        accounts.append({"id": account_id, **fields})

    await request.app[SETTINGS].change(edit)
    return web.json_response({"status": "ok", "account_id": account_id}, status=201)


def _token_goes_with_graph_url(stored: Any, business: dict[str, Any]) -> None:
    """A new `graph_url` must come with the token itself: "***" would send the stored one to that host.

    `stored` is the account's business_api block as written in the file (kept there even while the
    account's type is whatsmeow), so a type round trip does not get around this."""
    if "graph_url" not in business or not isinstance(stored, dict):
        return
    if business["graph_url"].rstrip("/") == str(stored.get("graph_url", "https://graph.facebook.com")).rstrip("/"):
        return
    if business.get("access_token", MASK) == MASK:
        raise RequestError("field 'business_api.access_token' is required when 'business_api.graph_url' changes: "
                           "send the token itself, not \"***\" (the stored token is not sent to a new host)")


def _keep_masked_proxy(current: AccountConfig | None, fields: dict[str, Any]) -> None:
    """A proxy sent back as listed (`user:***@host`) keeps the stored password; with another host (or
    user) "***" is refused, so the stored password is never sent to a new proxy."""
    sent = fields.get("proxy")
    if not isinstance(sent, str) or urlsplit(sent).password != MASK:
        return
    if current is not None and current.proxy and sent == literal(masked_proxy(current.proxy)):
        del fields["proxy"]
        return
    raise RequestError("field 'proxy' must carry the password itself, not \"***\", when its host or user "
                       "changes (the stored password is not sent to a new proxy)")


async def update_account(request: web.Request) -> web.Response:
    body = await bodies.read_json(request)
    account_id = bodies.text(body, "id", required=True)
    fields = account_fields(body)

    _keep_masked_proxy(request.app[SETTINGS].config.account(account_id), fields)

    def mutate(entry: dict[str, Any]) -> None:
        _token_goes_with_graph_url(entry.get("business_api"), fields.get("business_api") or {})
        _merge(entry, fields)

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

