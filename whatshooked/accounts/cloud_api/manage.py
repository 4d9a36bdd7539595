"""Business API management operations, each the Graph call Meta documents; all return Meta's JSON.

`params` are the route's validated body without `account_id`. Operation names are what
`AccountAdapter.manage` receives (`templates.list`, `flows.upload`, …).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from whatshooked.accounts.cloud_api.graph_client import Upload

if TYPE_CHECKING:
    from whatshooked.accounts.cloud_api.host import CloudHost

Operation = Callable[["CloudHost", dict[str, Any]], Awaitable[Any]]

PROFILE_FIELDS = "about,address,description,email,profile_picture_url,websites,vertical"
PROFILE_KEYS = ("about", "address", "description", "email", "vertical", "websites", "profile_picture_handle")
FLOW_FIELDS = "id,name,categories,preview,status,validation_errors,json_version,data_api_version,endpoint_uri"
PRODUCT_FIELDS = "id,retailer_id,name,description,price,currency,availability,image_url,url"
LIST_PARAMS = ("fields", "limit", "after", "before")


def _query(params: dict[str, Any], names: tuple[str, ...] = LIST_PARAMS) -> dict[str, str] | None:
    """Optional Graph paging/field parameters a caller may add to a list request."""
    query = {name: str(params[name]) for name in names if params.get(name) not in (None, "")}
    return query or None


async def templates_list(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("GET", f"{a.require_waba()}/message_templates", params=_query(p))


async def templates_upload(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("POST", f"{a.require_waba()}/message_templates", json_body=p)


async def templates_delete(a: CloudHost, p: dict[str, Any]) -> Any:
    """Meta deletes by name (every language of it), or one template when its `hsm_id` is given."""
    query = {"name": p["name"]}
    if p.get("hsm_id"):
        query["hsm_id"] = str(p["hsm_id"])
    return await a.graph.call("DELETE", f"{a.require_waba()}/message_templates", params=query)


async def flows_list(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("GET", f"{a.require_waba()}/flows", params=_query(p))


async def flows_create(a: CloudHost, p: dict[str, Any]) -> Any:
    """Meta's spec takes a multipart form here, with `categories` as a JSON array in a string."""
    form: dict[str, str | Upload] = {
        key: json.dumps(value) if key == "categories" else str(value) for key, value in p.items()
    }
    return await a.graph.call("POST", f"{a.require_waba()}/flows", form=form)


async def flows_get(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("GET", p["flow_id"], params={"fields": p.get("fields") or FLOW_FIELDS})


async def flows_upload(a: CloudHost, p: dict[str, Any]) -> Any:
    """`POST /{flow_id}/assets`, multipart: name, asset_type=FLOW_JSON and the file."""
    asset = Upload(p["asset_data"].encode(), filename=p["asset_name"], content_type="application/json")
    return await a.graph.call("POST", f"{p['flow_id']}/assets", form={
        "name": p["asset_name"], "asset_type": "FLOW_JSON", "file": asset,
    })


async def flows_publish(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("POST", f"{p['flow_id']}/publish")


async def flows_deprecate(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("POST", f"{p['flow_id']}/deprecate")


async def flows_delete(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("DELETE", p["flow_id"])


async def phone_numbers_list(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("GET", f"{a.require_waba()}/phone_numbers", params=_query(p))


async def phone_numbers_request_code(a: CloudHost, p: dict[str, Any]) -> Any:
    body = {"code_method": p["code_method"], "language": p["language"]}  # a JSON body, as Meta's spec says
    return await a.graph.call("POST", f"{p['phone_number_id']}/request_code", json_body=body)


async def phone_numbers_verify_code(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("POST", f"{p['phone_number_id']}/verify_code", json_body={"code": p["code"]})


async def phone_numbers_register(a: CloudHost, p: dict[str, Any]) -> Any:
    body = {"messaging_product": "whatsapp", "pin": p["pin"]}
    return await a.graph.call("POST", f"{p['phone_number_id']}/register", json_body=body)


async def catalogs_list(a: CloudHost, p: dict[str, Any]) -> Any:
    """The catalogs connected to the WhatsApp Business Account (the ones product messages can use)."""
    return await a.graph.call("GET", f"{a.require_waba()}/product_catalogs", params=_query(p))


async def catalogs_products(a: CloudHost, p: dict[str, Any]) -> Any:
    query = _query(p) or {}
    query.setdefault("fields", PRODUCT_FIELDS)
    return await a.graph.call("GET", f"{p['catalog_id']}/products", params=query)


async def business_profile_get(a: CloudHost, p: dict[str, Any]) -> Any:
    path = f"{a.api.phone_number_id}/whatsapp_business_profile"
    return await a.graph.call("GET", path, params={"fields": p.get("fields") or PROFILE_FIELDS})


async def business_profile_update(a: CloudHost, p: dict[str, Any]) -> Any:
    body: dict[str, Any] = {"messaging_product": "whatsapp"}
    body.update({key: p[key] for key in PROFILE_KEYS if key in p})
    return await a.graph.call("POST", f"{a.api.phone_number_id}/whatsapp_business_profile", json_body=body)


async def media_upload(a: CloudHost, p: dict[str, Any]) -> Any:
    """`POST /{phone_number_id}/media` multipart; `p` has data (bytes), type and filename."""
    upload = Upload(p["data"], filename=p.get("filename") or "file", content_type=p["type"])
    return await a.graph.upload(a.api.phone_number_id, upload)


async def media_delete(a: CloudHost, p: dict[str, Any]) -> Any:
    return await a.graph.call("DELETE", p["media_id"])


OPERATIONS: dict[str, Operation] = {
    "templates.list": templates_list,
    "templates.upload": templates_upload,
    "templates.delete": templates_delete,
    "flows.list": flows_list,
    "flows.create": flows_create,
    "flows.get": flows_get,
    "flows.upload": flows_upload,
    "flows.publish": flows_publish,
    "flows.deprecate": flows_deprecate,
    "flows.delete": flows_delete,
    "phone_numbers.list": phone_numbers_list,
    "phone_numbers.request_code": phone_numbers_request_code,
    "phone_numbers.verify_code": phone_numbers_verify_code,
    "phone_numbers.register": phone_numbers_register,
    "catalogs.list": catalogs_list,
    "catalogs.products": catalogs_products,
    "business_profile.get": business_profile_get,
    "business_profile.update": business_profile_update,
    "media.upload": media_upload,
    "media.delete": media_delete,
}
