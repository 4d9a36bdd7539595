"""Business API management routes (templates, flows, phone numbers, catalogs, profile, media).

Each validates its body as the contract says, then calls `adapter.manage(operation, params)` and
answers with Meta's JSON; accounts that cannot (WhatsApp Web) answer 400 via `Unsupported`, and
Meta's refusals 500 with Meta's message (both through the error middleware).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from whatshooked.api.bodies import read_json
from whatshooked.api.keys import ACCOUNTS
from whatshooked.api.routes.send import Handler
from whatshooked.errors import RequestError, SendError, UnknownAccount
from whatshooked.json_fields import Fields

log = logging.getLogger(__name__)

DIGITS_4_TO_8 = re.compile(r"^\d{4,8}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
TEMPLATE_CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
CODE_METHODS = ("SMS", "VOICE")

Validator = Callable[[Fields], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    path: str
    operation: str
    validate: Validator
    status_ok: bool = False
    """The contract answers `{"status": "ok"}` (Meta's own fields are kept beside it)."""


def _strings(*required: str, optional: tuple[str, ...] = ()) -> Validator:
    def validate(f: Fields) -> dict[str, Any]:
        params = {key: f.text(key) for key in required}
        for key in optional:
            value = f.text(key, required=False)
            if value is not None:
                params[key] = value
        return params
    return validate


def _choice(f: Fields, key: str, options: tuple[str, ...]) -> str:
    value = f.text(key)
    if value not in options:
        raise f.wrong(key, f"one of {', '.join(options)}")
    return value


def _digits(f: Fields, key: str, what: str) -> str:
    value = f.text(key)
    assert value is not None
    if not DIGITS_4_TO_8.match(value):
        raise f.wrong(key, f"a {what} of 4 to 8 digits")
    return value


def _template_upload(f: Fields) -> dict[str, Any]:
    params: dict[str, Any] = {"name": f.text("name"), "language": f.text("language"),
                              "category": _choice(f, "category", TEMPLATE_CATEGORIES)}
    components = f.array("components", required=False)
    if components is not None:
        for index, component in enumerate(components):
            Fields(component, f"components[{index}].")
        params["components"] = components
    for key in ("allow_category_change", "parameter_format"):
        if key in f.body:
            params[key] = f.body[key]
    return params


def _flow_create(f: Fields) -> dict[str, Any]:
    categories = f.array("categories", min_items=1)
    assert categories is not None
    if not all(isinstance(c, str) and c for c in categories):
        raise f.wrong("categories", "an array of category names like SIGN_UP or OTHER")
    params: dict[str, Any] = {"name": f.text("name"), "categories": categories}
    for key in ("clone_flow_id", "endpoint_uri"):
        value = f.text(key, required=False)
        if value is not None:
            params[key] = value
    return params


def _flow_upload(f: Fields) -> dict[str, Any]:
    params = _strings("flow_id", "asset_name", "asset_data")(f)
    try:
        json.loads(params["asset_data"])
    except ValueError:
        raise f.wrong("asset_data", "a JSON string (the Flow JSON)") from None
    return params


def _request_code(f: Fields) -> dict[str, Any]:
    language = f.body.get("language")
    return {
        "phone_number_id": f.text("phone_number_id"),
        "code_method": _choice(f, "code_method", CODE_METHODS),
        # the contract: en_US when omitted or not a locale like pt_BR
        "language": language if isinstance(language, str) and LANGUAGE.match(language) else "en_US",
    }


def _verify_code(f: Fields) -> dict[str, Any]:
    return {"phone_number_id": f.text("phone_number_id"), "code": _digits(f, "code", "code")}


def _register(f: Fields) -> dict[str, Any]:
    return {"phone_number_id": f.text("phone_number_id"), "pin": _digits(f, "pin", "PIN")}


def _profile_update(f: Fields) -> dict[str, Any]:
    params: dict[str, Any] = _strings(optional=("about", "address", "description", "email", "vertical",
                                                "profile_picture_handle"))(f)
    websites = f.array("websites", required=False)
    if websites is not None:
        if not all(isinstance(w, str) for w in websites):
            raise f.wrong("websites", "an array of URLs")
        params["websites"] = websites
    if not params:
        raise RequestError("nothing to update: give at least one of about, address, description, email, "
                           "vertical, websites")
    return params


ROUTES = (
    Route("/api/templates", "templates.list", _strings()),
    Route("/api/templates/upload", "templates.upload", _template_upload),
    Route("/api/templates/delete", "templates.delete", _strings("name", "language", optional=("hsm_id",)), True),
    Route("/api/flows", "flows.list", _strings()),
    Route("/api/flows/create", "flows.create", _flow_create),
    Route("/api/flows/get", "flows.get", _strings("flow_id")),
    Route("/api/flows/upload", "flows.upload", _flow_upload),
    Route("/api/flows/publish", "flows.publish", _strings("flow_id"), True),
    Route("/api/flows/deprecate", "flows.deprecate", _strings("flow_id"), True),
    Route("/api/flows/delete", "flows.delete", _strings("flow_id"), True),
    Route("/api/phone-numbers", "phone_numbers.list", _strings()),
    Route("/api/phone-numbers/request-code", "phone_numbers.request_code", _request_code, True),
    Route("/api/phone-numbers/verify-code", "phone_numbers.verify_code", _verify_code, True),
    Route("/api/phone-numbers/register", "phone_numbers.register", _register, True),
    Route("/api/catalogs", "catalogs.list", _strings()),
    Route("/api/catalogs/products", "catalogs.products", _strings("catalog_id")),
    Route("/api/business-profile", "business_profile.get", _strings()),
    Route("/api/business-profile/update", "business_profile.update", _profile_update, True),
    Route("/api/media-delete", "media.delete", _strings("media_id"), True),
)


def answer(result: Any, status_ok: bool) -> web.Response:
    if not status_ok:
        return web.json_response(result if result is not None else {})
    if isinstance(result, dict) and result.get("success") is False:
        raise SendError(f"Meta answered without success: {json.dumps(result)[:300]}", details=result)
    return web.json_response({"status": "ok", **(result if isinstance(result, dict) else {})})


async def run(request: web.Request, account_id: str, operation: str, params: dict[str, Any]) -> Any:
    try:
        adapter = request.app[ACCOUNTS].get(account_id)
    except UnknownAccount as exc:  # the contract lists no 404 here: an unknown account_id is a bad request
        raise RequestError(str(exc)) from None
    return await adapter.manage(operation, params)


def route_handler(route: Route) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        fields = Fields(await read_json(request))
        account_id = fields.text("account_id")
        assert account_id is not None
        result = await run(request, account_id, route.operation, route.validate(fields))
        return answer(result, route.status_ok)

    handle.__name__ = route.operation.replace(".", "_")
    return handle


@dataclass
class FilePart:
    filename: str | None
    content_type: str
    data: bytes


async def read_form(request: web.Request) -> dict[str, str | FilePart]:
    """The parts of a multipart body, read whole in memory (the body is capped at server.max_body).

    Read part by part rather than with `request.post()`, which leaves its temporary file open when a
    body breaks off; a body aiohttp cannot read is the client's mistake (400 naming it), not ours.
    """
    form: dict[str, str | FilePart] = {}
    budget = request.client_max_size
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ValueError("a nested multipart part is not a form field")
            chunks = []
            while chunk := await part.read_chunk():
                budget -= len(chunk)
                if budget < 0:
                    raise web.HTTPRequestEntityTooLarge(request.client_max_size, request.content_length or 0)
                chunks.append(chunk)
            data = bytes(part.decode(b"".join(chunks)))
            if part.name is None:
                continue
            if part.filename is not None:
                mime = part.headers.get("Content-Type", "application/octet-stream")
                form[part.name] = FilePart(part.filename, mime, data)
            else:
                form[part.name] = data.decode(part.get_charset(default="utf-8"))
    except web.HTTPRequestEntityTooLarge:
        raise
    except (ValueError, LookupError, RuntimeError, AssertionError, zlib.error, web.HTTPBadRequest,
            BadHttpMessage) as exc:
        why = exc.text if isinstance(exc, web.HTTPException) else str(exc).strip() or type(exc).__name__
        raise RequestError(f"the body is not valid multipart/form-data ({why}); send fields account_id, "
                           "file and type") from None
    return form


async def upload_media(request: web.Request) -> web.StreamResponse:
    """multipart/form-data: account_id, file, and type (the MIME type; else the file part's own)."""
    if not request.content_type.startswith("multipart/"):
        raise RequestError("the body must be multipart/form-data with fields account_id, file and type")
    form = await read_form(request)
    account_id = form.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        raise RequestError("field 'account_id' is required")
    upload = form.get("file")
    if not isinstance(upload, FilePart):
        raise RequestError("field 'file' is required (a file part)")
    data = upload.data
    if not data:
        raise RequestError("field 'file' is empty")
    mime = form.get("type")
    if not isinstance(mime, str) or not mime:
        mime = (upload.content_type if upload.content_type != "application/octet-stream" else None) \
            or mimetypes.guess_type(upload.filename or "")[0] or "application/octet-stream"
    params = {"data": data, "type": mime, "filename": upload.filename or "file"}
    return answer(await run(request, account_id, "media.upload", params), status_ok=False)


def setup(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_post(route.path, route_handler(route))
    app.router.add_post("/api/media/upload", upload_media)
