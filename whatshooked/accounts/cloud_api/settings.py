"""A Cloud API account's config section (`business_api:`), its validation and its API form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whatshooked.accounts.spec import assign_changed, secret_fields, settings_json
from whatshooked.config.reader import SectionReader
from whatshooked.config.rules import webhook_path_problem
from whatshooked.config.values import MASK, Secret
from whatshooked.errors import RequestError
from whatshooked.json_fields import Fields

SECTION = "business_api"


@dataclass(frozen=True)
class BusinessApiConfig:
    phone_number_id: str
    access_token: Secret
    app_secret: Secret = Secret("")
    verify_token: Secret = Secret("")
    waba_id: str = ""
    business_account_id: str = ""
    api_version: str = "v21.0"
    webhook_path: str = ""
    graph_url: str = "https://graph.facebook.com"


FIELDS = tuple(BusinessApiConfig.__dataclass_fields__)
SECRETS = secret_fields(BusinessApiConfig)


def parse(item: dict[str, Any], key: str, account_id: str, reader: SectionReader) -> BusinessApiConfig | None:
    raw, key = item.get(SECTION), f"{key}.{SECTION}"
    if not isinstance(raw, dict):
        reader.problem(key, "is required for a business-api account (phone_number_id, access_token, …)")
        return None
    reader.unknown_keys(key, raw, set(FIELDS))
    phone_number_id = reader.get(raw, key, "phone_number_id", str, "")
    token = reader.get(raw, key, "access_token", str, "")
    if not phone_number_id:
        reader.problem(f"{key}.phone_number_id", "is required")
    if not token:
        reader.problem(f"{key}.access_token", "is required (is its environment variable set?)")
    path = reader.get(raw, key, "webhook_path", str, "") or f"/webhooks/whatsapp/{account_id}"
    if (why := webhook_path_problem(path)) is not None:
        reader.problem(f"{key}.webhook_path", why)
    elif (first := reader.claim("cloud_api.webhook_path", path, key)) is not None:
        reader.problem(f"{key}.webhook_path", f"{path!r} is also the webhook_path of {first}; every account "
                       "needs its own (the first would take every webhook sent to it)")
    graph_url = reader.get(raw, key, "graph_url", str, "https://graph.facebook.com").rstrip("/")
    if not graph_url.startswith(("http://", "https://")):
        reader.problem(f"{key}.graph_url", f"must start with http:// or https://, not {graph_url!r}")
    return BusinessApiConfig(
        phone_number_id=phone_number_id, access_token=Secret(token),
        app_secret=Secret(reader.get(raw, key, "app_secret", str, "")),
        verify_token=Secret(reader.get(raw, key, "verify_token", str, "")),
        waba_id=reader.get(raw, key, "waba_id", str, ""),
        business_account_id=reader.get(raw, key, "business_account_id", str, ""),
        api_version=reader.get(raw, key, "api_version", str, "v21.0"),
        webhook_path=path, graph_url=graph_url,
    )


def to_api(settings: BusinessApiConfig | None) -> dict[str, Any]:
    return {SECTION: settings_json(settings)} if settings is not None else {}


def api_fields(body: dict[str, Any]) -> dict[str, Any]:
    business = Fields(body).obj(SECTION, required=False)
    if business is None:
        return {}
    return {SECTION: {name: business.value(name, (str,), "a string", False) or "" for name in FIELDS
                      if name in business.body}}


def check_new(fields: dict[str, Any]) -> None:
    if SECTION not in fields:
        raise RequestError(f"field '{SECTION}' is required for a business-api account")
    for name in ("phone_number_id", "access_token"):
        if not fields[SECTION].get(name) or fields[SECTION][name] == MASK:
            raise RequestError(f"field '{SECTION}.{name}' is required")


def merge_update(entry: dict[str, Any], fields: dict[str, Any], current: BusinessApiConfig | None) -> None:
    """A secret sent as "***" keeps what is stored; a new graph_url must come with the token itself."""
    business = fields.get(SECTION)
    if business is None:
        return
    _token_goes_with_graph_url(entry.get(SECTION), business)
    if not isinstance(entry.get(SECTION), dict):
        entry[SECTION] = {}
    assign_changed(entry[SECTION], {k: v for k, v in business.items() if not (k in SECRETS and v == MASK)})


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
