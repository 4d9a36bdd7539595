"""Conformance to the OpenAPI contract, driven by the packaged contract file itself.

Every operation in whatshooked/api/openapi_contract.json is checked mechanically, so a route added to
the contract is tested without writing a test for it:

1. auth: no credentials → 401 text/plain (not for `security: []`, e.g. /health); each of the three
   schemes (x-api-key, Bearer, Basic username/password) → not 401;
2. a request built from the operation's own schema (required fields, types, enums, patterns, examples)
   gets a status the operation lists, 2xx unless NOT_2XX says why not, and a 2xx JSON answer validates
   against the documented schema; every non-2xx answer is a non-empty text/plain message;
3. a required JSON body that is not JSON → 400; missing each required field (at any depth of the
   generated body) → 400 naming it (`contacts[0].name.formatted_name`); a required string given a
   number, or a value its enum, pattern or format rules out → 400 naming it; a missing required query
   parameter → 400 naming it;
4. with the message cache disabled every /api/cache* operation answers 503, except stats
   (200 `{"enabled": false, ...}`).
5. the other listed codes: 404 for an unknown hook/account/event where listed, 500 with Meta's message
   when Meta refuses (the Graph stand-in stops accepting the token), 500 when a replay fails, and an
   unknown `account_id` on operations that list no 404 → 400 (a bad request, as for a disabled one).

Values the contract cannot know are fixtures (FIXED): which account exists ("shop", a business-api
account backed by the Graph stand-in), a recipient, a hook URL (our receiver), and `asset_data`, which
the contract describes only in prose ("JSON string of the flow asset"). Operations that act on an
existing object (remove a hook, update an account, get a cached event) are given one made just before
(PREPARE); everything else comes from the contract.

Where the contract is ambiguous we test what a user would expect:
- `Hook` and `WhatsAppAccount` serve both as the answer and as the add/update body. Their `required`
  lists describe what the server always returns; in a body, a required field with a `default`
  (WhatsAppAccount.type → whatsmeow) may be omitted, and /api/hooks/add fills `id` (generated),
  `name` (= id) and `active` (true) — see LENIENT. /api/accounts/update is a partial update: an
  omitted `type` keeps the stored one.
- The contract marks some sends "Business API only"; WhatsApp Web accounts can also do several of them
  (audio, sticker, location, contacts, reaction, read). Doing more than promised is not tested here.
- `interactive.type` lists button, list, flow; Meta knows more (cta_url, product, …), which are passed
  on, so that enum is treated as open (OPEN_ENUMS).
- /api/business-profile/update requires only `account_id`; a body with nothing to update is a 400
  (NOT_2XX). `template.language.code` and a product item's `product_retailer_id` are not marked
  required, but Meta cannot do without them: the product refuses their absence with a 400 naming
  them, so generated bodies carry them (ALSO_REQUIRED).
- /api/cache/event/replay takes `id` in the query or in an optional JSON body, so it has no
  "required body" checks; a missing id in both is 400.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.cloud_daemon import API_KEY, Rig, config_text, free_port, serving, write_config
from tests.support.contract_schema import (
    CONTRACT,
    OPERATIONS,
    Generator,
    Operation,
    field_paths,
    invalid_values,
    validate,
    without,
)
from tests.support.graph_standin import GraphStandin
from tests.support.harness import config as harness_config
from tests.support.harness import running
from tests.support.receiver import HookReceiver, Reply
from tests.support.standin import StandInAdapter
from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
from whatshooked.accounts.registry import Registry
from whatshooked.events import Event

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the tests share the module's daemons

USER, PASSWORD = "admin", "contract-pass"
NUMBER = 12345

FIXED: dict[str, Any] = {
    "account_id": "shop",
    "to": "+15551234567",
    "asset_data": json.dumps({"version": "6.0", "screens": []}),
}
# (path, field) a body may omit although the schema lists it as required (see the module docstring)
LENIENT = {("/api/hooks/add", "id"), ("/api/hooks/add", "name"), ("/api/hooks/add", "active")}
# fields the contract's schema leaves optional but WhatsApp cannot do without: the product answers 400
# naming them (better than Meta's refusal as a 500), so bodies include them and omitting them is tested.
ALSO_REQUIRED = {
    "template.language.code": "a template is sent in one language; Meta needs its code",
    "sections[0].product_items[0].product_retailer_id": "a product item is its retailer id",
}
# enums that are examples, not limits: Meta knows more interactive types (cta_url, product, …), passed on
OPEN_ENUMS = {"interactive.type"}
# operations whose minimal contract body is rightly refused: path → why
NOT_2XX = {
    "/api/business-profile/update": "only account_id is required, and an update of nothing is a 400",
}


JSON_BODY_OPS = [op for op in OPERATIONS if op.body_required and op.body and op.body[0] == "application/json"]
CACHE_OPS = [op for op in OPERATIONS if op.path.startswith("/api/cache")]


def ids(ops: list[Operation]) -> list[str]:
    return [op.id for op in ops]


def test_the_validator_catches_what_it_should() -> None:
    hook = {"$ref": "#/components/schemas/Hook"}
    assert validate({"id": "a", "name": "a", "url": "http://x", "active": True, "method": "POST"}, hook) == []
    assert validate({"id": "a", "name": "a", "url": "http://x", "active": "yes"}, hook) == [
        "$.active: 'yes' is not of type boolean"]
    assert validate({"id": "a", "name": "a", "url": "u", "active": True, "method": "GET!"}, hook)
    assert validate({"id": "a", "url": "u", "active": True}, hook) == ["$: 'name' is required"]
    assert validate({"by_event_type": {"a": "1"}}, CONTRACT["paths"]["/api/cache/stats"]["get"]["responses"]["200"]
                    ["content"]["application/json"]["schema"]) == ["$.by_event_type.a: '1' is not of type integer"]
    assert validate([1], {"type": "array", "items": {"type": "string"}}) == ["$[0]: 1 is not of type string"]


def required_query(op: Operation, generator: Generator) -> dict[str, str]:
    query = {}
    for param in op.spec.get("parameters", []):
        if param.get("in") == "query" and param.get("required"):
            value = generator.value(param["schema"], param["name"])
            query[param["name"]] = str(value).lower() if isinstance(value, bool) else str(value)
    return query


# -- the daemon ----------------------------------------------------------------------------------------
@dataclass
class Contract:
    rig: Rig
    receiver: HookReceiver
    generator: Generator

    async def call(self, op: Operation, *, body: Any = None, raw: bytes | None = None,
                   query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                   ) -> tuple[int, str, str]:
        """(status, content type, text)."""
        kwargs: dict[str, Any] = {"params": query or {}}
        if raw is not None:
            kwargs["data"] = raw
            kwargs["headers"] = {"Content-Type": "application/json", **(headers or {})}
        else:
            kwargs["headers"] = headers or {}
            if isinstance(body, aiohttp.FormData):
                kwargs["data"] = body
            elif body is not None:
                kwargs["json"] = body
        async with self.rig.http.request(op.method.upper(), f"{self.rig.url}{op.path}", **kwargs) as response:
            return response.status, response.content_type, await response.text()

    def request(self, op: Operation) -> tuple[Any, dict[str, str]]:
        """The body and query the contract alone describes for `op`."""
        query = required_query(op, self.generator)
        body = None
        if op.body and op.body_required:
            media_type, schema = op.body
            body = self.generator.value(schema)
            if media_type == "multipart/form-data":
                form = aiohttp.FormData()
                for key, value in body.items():
                    if isinstance(value, bytes):
                        form.add_field(key, value, filename="contract.bin")
                    else:
                        form.add_field(key, str(value))
                body = form
        return body, query

    async def seed_event(self) -> str:
        """An undelivered event in the cache (for the cache operations that need one)."""
        event = Event("message.received", {"account_id": "shop", "text": "contract"})
        store = self.rig.daemon.store
        assert store is not None
        await store.add_event(event, ["rx"])
        return event.id

    async def new_hook(self) -> str:
        hook_id = f"doomed-{next(self.generator.serial)}"
        status, _ = await self.rig.api("/api/hooks/add", {"id": hook_id, "url": self.receiver.url})
        assert status == 201
        return hook_id

    async def new_account(self) -> str:
        account_id = f"spare-{next(self.generator.serial)}"
        status, _ = await self.rig.api("/api/accounts/add", {"id": account_id, "type": "whatsmeow"})
        assert status == 201
        return account_id


Prepare = Callable[[Contract], Awaitable[str]]
# path → what makes the object the operation acts on; its id goes into `id` (query or body)
PREPARE: dict[str, Prepare] = {
    "/api/hooks/remove": Contract.new_hook,
    **{f"/api/accounts/{verb}": Contract.new_account for verb in ("update", "remove", "disable", "enable")},
    "/api/cache/event": Contract.seed_event,
    "/api/cache/event/replay": Contract.seed_event,
}


async def prepared(contract: Contract, op: Operation) -> tuple[Any, dict[str, str]]:
    body, query = contract.request(op)
    prepare = PREPARE.get(op.path)
    if prepare is not None:
        object_id = await prepare(contract)
        if isinstance(body, dict) and "id" in body:
            body["id"] = object_id
        else:
            query["id"] = object_id
    return body, query


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def contract(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Contract]:
    """One daemon for the module: a business-api account on the Graph stand-in, a whatsmeow registry
    for accounts made by the tests, the cache on, Basic credentials, one hook to our receiver."""
    tmp_path = tmp_path_factory.mktemp("contract")
    graph, receiver = GraphStandin(), HookReceiver()
    await graph.start()
    await receiver.start()
    port = free_port()
    text = config_text(tmp_path, port, graph.url, receiver.url, business={}).replace(
        f"  api_key: {API_KEY}\n", f"  api_key: {API_KEY}\n  username: {USER}\n  password: {PASSWORD}\n")
    registry = Registry({"whatsmeow": StandInAdapter, "business-api": CloudApiAdapter})
    try:
        async with serving(write_config(tmp_path, text), port, graph, receiver, registry) as rig:
            yield Contract(rig, receiver, Generator(receiver.url, FIXED, ALSO_REQUIRED))
    finally:
        await receiver.close()
        await graph.close()


def credentials() -> dict[str, dict[str, str]]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {"apiKey": {"x-api-key": API_KEY}, "bearerAuth": {"Authorization": f"Bearer {API_KEY}"},
            "basicAuth": {"Authorization": f"Basic {basic}"}}


AUTH = credentials()


# -- 1. auth -------------------------------------------------------------------------------------------
def test_the_contract_offers_the_three_schemes_we_test() -> None:
    assert set(CONTRACT["components"]["securitySchemes"]) == set(AUTH)
    assert len(OPERATIONS) >= 50


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", OPERATIONS, ids=ids(OPERATIONS))
async def test_auth(contract: Contract, op: Operation) -> None:
    body, query = contract.request(op)
    status, content_type, text = await contract.call(op, body=body, query=query)
    if op.public:
        assert status != 401, text
    else:
        assert (status, content_type) == (401, "text/plain"), text
        assert text
    schemes = [s for requirement in op.spec.get("security", CONTRACT["security"]) for s in requirement]
    for scheme in schemes:
        body, query = contract.request(op)
        status, _, text = await contract.call(op, body=body, query=query, headers=AUTH[scheme])
        assert status != 401, (scheme, text)


# -- 2. a request built from the contract -------------------------------------------------------------
@IN_MODULE_LOOP
@pytest.mark.parametrize("op", OPERATIONS, ids=ids(OPERATIONS))
async def test_a_request_from_the_schema_gets_a_documented_answer(contract: Contract, op: Operation) -> None:
    body, query = await prepared(contract, op)
    status, content_type, text = await contract.call(op, body=body, query=query, headers=AUTH["apiKey"])
    assert status in op.statuses, f"{status} is not among {sorted(op.statuses)}: {text}"
    if op.path in NOT_2XX:
        assert status == 400, text
    else:
        assert 200 <= status < 300, text
    if status >= 300:
        assert content_type == "text/plain" and text.strip()
        return
    schema = op.response_schema(status)
    assert schema is not None, f"the contract documents no JSON for {status}"
    assert content_type == "application/json"
    assert validate(json.loads(text), schema) == []


# -- 3. bad bodies -------------------------------------------------------------------------------------
@IN_MODULE_LOOP
@pytest.mark.parametrize("op", JSON_BODY_OPS, ids=ids(JSON_BODY_OPS))
async def test_bad_json_bodies_get_400_naming_the_field(contract: Contract, op: Operation) -> None:
    async def refused(body: Any = None, raw: bytes | None = None) -> str:
        status, content_type, text = await contract.call(op, body=body, raw=raw, headers=AUTH["apiKey"])
        assert (status, content_type) == (400, "text/plain"), (body, raw, status, text)
        return text

    assert "JSON" in await refused(raw=b"{not json")
    assert "JSON" in await refused(raw=b"[]")
    good, _ = await prepared(contract, op)
    assert op.body is not None
    for path, name, schema in list(field_paths(good, op.body[1], ALSO_REQUIRED)):
        if not ((op.path, name) in LENIENT or (len(path) == 1 and "default" in schema)):
            assert name in await refused(without(good, path)), f"missing {name}"
        if schema.get("type") == "string":
            assert name in await refused(without(good, path, NUMBER)), f"{name} given a number"
        for bad in invalid_values(schema, name, OPEN_ENUMS):
            assert name in await refused(without(good, path, bad)), f"{name} given {bad!r}"


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", [op for op in OPERATIONS if any(
    p.get("in") == "query" and p.get("required") for p in op.spec.get("parameters", []))],
    ids=lambda op: op.id)
async def test_a_missing_required_query_parameter_gets_400_naming_it(contract: Contract, op: Operation) -> None:
    _, query = await prepared(contract, op)
    for name in list(query):
        rest = {key: value for key, value in query.items() if key != name}
        status, content_type, text = await contract.call(op, query=rest, headers=AUTH["apiKey"])
        assert (status, content_type) == (400, "text/plain") and name in text, text


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", [op for op in OPERATIONS if 404 in op.statuses], ids=lambda op: op.id)
async def test_an_unknown_object_gets_404(contract: Contract, op: Operation) -> None:
    assert op.path in PREPARE, "an operation that can answer 404 needs a PREPARE entry for its 2xx case"
    body, query = contract.request(op)  # generated ids name nothing that exists
    status, content_type, text = await contract.call(op, body=body, query=query, headers=AUTH["apiKey"])
    assert (status, content_type) == (404, "text/plain") and text, text


META_OPS = [op for op in OPERATIONS if 500 in op.statuses and op.body and "account_id" in op.body[1].get(
    "properties", {}) and op.path not in NOT_2XX]


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", META_OPS, ids=ids(META_OPS))
async def test_meta_refusing_gets_500_with_metas_message(contract: Contract, op: Operation) -> None:
    body, query = await prepared(contract, op)
    graph = contract.rig.graph
    token, graph.token = graph.token, "a-token-meta-no-longer-accepts"
    try:
        status, content_type, text = await contract.call(op, body=body, query=query, headers=AUTH["apiKey"])
    finally:
        graph.token = token
    assert (status, content_type) == (500, "text/plain"), text
    assert "Invalid OAuth access token" in text


ACCOUNT_OPS = [op for op in OPERATIONS if op.body and "account_id" in op.body[1].get("required", [])]


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", ACCOUNT_OPS, ids=ids(ACCOUNT_OPS))
async def test_an_unknown_account_gets_a_status_the_operation_lists(contract: Contract, op: Operation) -> None:
    body, query = await prepared(contract, op)
    if isinstance(body, aiohttp.FormData):
        body = aiohttp.FormData()
        body.add_field("account_id", "ghost")
        body.add_field("file", b"bytes", filename="a.bin")
    else:
        body["account_id"] = "ghost"
    status, content_type, text = await contract.call(op, body=body, query=query, headers=AUTH["apiKey"])
    assert status in op.statuses and (status, content_type) == (400, "text/plain"), text
    assert "'ghost'" in text or op.path in NOT_2XX  # that body is refused before the account is looked up


@IN_MODULE_LOOP
async def test_replay_of_one_event_takes_the_id_from_the_body_and_fails_with_500(contract: Contract) -> None:
    op = next(op for op in OPERATIONS if op.path == "/api/cache/event/replay")
    status, _, text = await contract.call(op, body={"id": await contract.seed_event()}, headers=AUTH["apiKey"])
    assert status == 200, text
    status, _, text = await contract.call(op, body={}, headers=AUTH["apiKey"])
    assert status == 400 and "'id'" in text
    contract.receiver.default = Reply(status=500)
    try:
        status, content_type, text = await contract.call(op, query={"id": await contract.seed_event()},
                                                         headers=AUTH["apiKey"])
    finally:
        contract.receiver.default = Reply()
    assert (status, content_type) == (500, "text/plain") and text, text


@IN_MODULE_LOOP
async def test_lenient_fields_may_really_be_left_out(contract: Contract) -> None:
    status, answer = await contract.rig.api("/api/hooks/add", {"url": contract.receiver.url})
    assert status == 201 and answer["hook_id"], answer
    status, text = await contract.rig.api("/api/accounts/add", {"id": f"lenient-{next(contract.generator.serial)}"})
    assert status == 201, text


@IN_MODULE_LOOP
async def test_multipart_upload_names_each_missing_field(contract: Contract) -> None:
    op = next(op for op in OPERATIONS if op.body and op.body[0] == "multipart/form-data")
    status, _, text = await contract.call(op, body={"account_id": "shop"}, headers=AUTH["apiKey"])
    assert status == 400 and "multipart" in text
    assert op.body is not None
    for name in op.body[1]["required"]:
        form = aiohttp.FormData()
        if name != "account_id":
            form.add_field("account_id", "shop")
        if name != "file":
            form.add_field("file", b"bytes", filename="a.bin")
        status, _, text = await contract.call(op, body=form, headers=AUTH["apiKey"])
        assert status == 400 and name in text, text


# -- 4. cache disabled ---------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def no_cache(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    tmp_path: Path = tmp_path_factory.mktemp("no-cache")
    async with running(tmp_path, harness_config(extra="message_cache:\n  enabled: false\n")) as run:
        yield run


@IN_MODULE_LOOP
@pytest.mark.parametrize("op", CACHE_OPS, ids=ids(CACHE_OPS))
async def test_cache_disabled(no_cache: Any, op: Operation) -> None:
    query = required_query(op, Generator("", FIXED, ALSO_REQUIRED))
    query = {**query, "id": "evt_x"} if op.path.startswith("/api/cache/event") else query
    response = await no_cache.client.request(op.method.upper(), op.path, params=query)
    text = await response.text()
    if op.path == "/api/cache/stats":
        assert response.status == 200
        answer = json.loads(text)
        assert answer["enabled"] is False
        schema = op.response_schema(200)
        assert schema is not None and validate(answer, schema) == []
    else:
        assert 503 in op.statuses
        assert (response.status, response.content_type) == (503, "text/plain"), text
