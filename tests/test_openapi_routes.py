"""The served OpenAPI document, and the app's routes held to it in both directions."""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import whatshooked.api.routes
from tests.support.openapi_routes import documented_routes, normalized
from tests.support.standin import StandInAdapter
from whatshooked.accounts.registry import Registry
from whatshooked.api import openapi
from whatshooked.api.auth import auth_middleware
from whatshooked.api.keys import SETTINGS
from whatshooked.config.load import parse_config
from whatshooked.config.settings import Settings

Client = Callable[..., Awaitable[TestClient[Any, Any]]]
SHARED_CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract" / "whatshooked-openapi.json"
EXTRA_ROUTES = {
    ("GET", "/api/accounts/status"),
    ("POST", "/api/accounts/pair-phone"),
    ("GET", "/api/qr/{account_id}"),
    ("GET", "/api/qr/{account_id}.png"),
    ("GET", "/api/media/{id}"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/webhooks/whatsapp/{account_id}"),
    ("POST", "/webhooks/whatsapp/{account_id}"),
    ("POST", "/api/send/poll"),
    ("POST", "/api/messages/edit"),
    ("POST", "/api/messages/revoke"),
    ("POST", "/api/chats/typing"),
    ("POST", "/api/contacts/check"),
    ("GET", "/api/groups"),
    ("GET", "/api/groups/info"),
    ("POST", "/api/accounts/logout"),
    ("GET", "/docs"),
    ("GET", "/docs/{name}"),
    ("GET", "/"),
    ("GET", "/dashboard/{name}"),
    ("GET", "/api/events"),
    ("GET", "/api/hooks/status"),
    ("POST", "/api/hooks/test"),
    ("POST", "/api/hooks/update"),
    ("GET", "/api/replays/{job_id}"),
}
CONFIG = """
server:
  api_key: openapi-test-key
accounts:
  - id: shop
    type: business-api
    business_api: {phone_number_id: "1065", access_token: t0ken, app_secret: s3cret, verify_token: v3rify}
"""


def mismatch(app_routes: set[tuple[str, str]], doc_routes: set[tuple[str, str]]) -> str:
    undocumented = sorted(normalized(app_routes) - normalized(doc_routes))
    unserved = sorted(normalized(doc_routes) - normalized(app_routes))
    return f"registered but not in the spec: {undocumented}; in the spec but not registered: {unserved}"


def test_document_is_the_contract_plus_the_extra_routes() -> None:
    contract = openapi.load(openapi.CONTRACT)
    doc = openapi.build_document()
    for path, item in contract["paths"].items():  # kept whole; an operation may only gain parameters and a description
        for method, operation in item.items():
            served = doc["paths"][path][method]
            if not isinstance(operation, dict):
                assert served == operation
                continue
            assert {k: v for k, v in served.items() if k not in ("parameters", "description")} == \
                {k: v for k, v in operation.items() if k not in ("parameters", "description")}
            own = operation.get("parameters", [])
            assert served.get("parameters", [])[:len(own)] == own
            assert served.get("description", "") == operation.get("description", served.get("description", ""))
    cache_parameters = [p["name"] for p in doc["paths"]["/api/cache"]["get"]["parameters"]]
    assert cache_parameters == ["event_type", "limit", "after", "account_id", "hook_id"]
    assert documented_routes(doc) == documented_routes(contract) | EXTRA_ROUTES
    assert doc["components"]["securitySchemes"] == contract["components"]["securitySchemes"]
    assert "AccountStatus" in doc["components"]["schemas"]
    refs = json.dumps(doc).split('"$ref": "#/components/schemas/')[1:]
    for ref in refs:
        assert ref.split('"')[0] in doc["components"]["schemas"]


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="the shared contract is not beside this checkout")
def test_packaged_contract_is_a_verbatim_copy() -> None:
    assert openapi.load(openapi.CONTRACT) == json.loads(SHARED_CONTRACT.read_text("utf-8"))


async def test_served_with_api_credentials(tmp_path: Path, aiohttp_client: Client) -> None:
    app = web.Application(middlewares=[auth_middleware])
    app[SETTINGS] = Settings(parse_config(CONFIG, tmp_path / "config.yaml"))
    openapi.setup(app)
    client = await aiohttp_client(app)
    assert (await client.get("/api/openapi.json")).status == 401
    response = await client.get("/api/openapi.json", headers={"x-api-key": "openapi-test-key"})
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == openapi.build_document()
    assert openapi.registered_routes(app) == {("GET", "/api/openapi.json")}


def test_every_route_module_registers_only_documented_routes() -> None:
    """Each `whatshooked.api.routes.*` module present today, on a bare app: nothing undocumented."""
    app = web.Application()
    for module in pkgutil.iter_modules(whatshooked.api.routes.__path__):
        importlib.import_module(f"whatshooked.api.routes.{module.name}").setup(app)
    openapi.setup(app)
    registered = openapi.registered_routes(app)
    documented = documented_routes(openapi.build_document())
    undocumented = normalized(registered) - normalized(documented)
    assert not undocumented, mismatch(registered, documented)


async def test_the_real_app_serves_exactly_the_documented_routes(tmp_path: Path) -> None:
    from whatshooked.api.app import build_app
    from whatshooked.service.daemon import Daemon

    config = parse_config(CONFIG, tmp_path / "config.yaml")
    daemon = Daemon(Settings(config), Registry({"whatsmeow": StandInAdapter, "business-api": StandInAdapter}))
    await daemon.open()
    try:
        app = build_app(daemon)
        registered = openapi.registered_routes(app)  # the webhook resource counts as its documented paths
    finally:
        await daemon.close()
    documented = documented_routes(openapi.build_document())
    assert normalized(registered) == normalized(documented), mismatch(registered, documented)
