"""Hostile values in hooks and accounts (issue 8 items 9 and 13): refused where they come in, or kept exactly.

Hook headers that would split or reframe a delivery, ids with a trailing newline and webhook paths
that shadow the daemon's own routes are refused, through the API (400 naming the field) and in the
file (a config error naming the key); names with Unicode line breaks survive the write-back exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.harness import config, running
from tests.support.receiver import HookReceiver
from whatshooked.config.load import parse_config
from whatshooked.errors import ConfigError

BAD_HEADERS = [
    ("Content-Length", "0"),
    ("Transfer-Encoding", "chunked"),
    ("Host", "evil.example"),
    ("host", "evil.example"),
    ("Connection", "close"),
    ("Content-Type", "text/plain"),
    ("webhook-signature", "v1,forged"),
    ("Webhook-Id", "evt_forged"),
    ("webhook-timestamp", "1"),
    ("X-Split", "a\r\nContent-Length: 0"),
    ("X-Nul", "a\x00b"),
    ("X-Line", "a\nb"),
    ("X-Nel", "a\x85b"),
    ("Bad Name", "x"),
    ("Bad:Name", "x"),
    ("X-Tëst", "x"),
    ("", "x"),
]
ACCOUNT = "  - id: personal\n"
OWN_PATHS = ["/", "/health", "/metrics", "/api", "/api/hooks", "/docs", "/docs/x"]


def config_problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/etc/wh/config.yaml"), env={})
    return caught.value.problems


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
async def test_api_refuses_a_bad_hook_header_and_the_receiver_gets_one_clean_request(
        tmp_path: Path, receiver: HookReceiver, name: str, value: str) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        before = run.path.read_text()
        bad = {"id": "bad", "url": receiver.url, "headers": {"X-Fine": "yes", name: value}}
        response = await run.client.post("/api/hooks/add", json=bad)
        assert response.status == 400, await response.text()
        assert f"field 'headers.{name}'" in await response.text()
        assert run.path.read_text() == before

        response = await run.client.post("/api/hooks/add", json={"id": "good", "url": receiver.url,
                                                                 "headers": {"X-Fine": "yes"}})
        assert response.status == 201
        assert [h.id for h in run.settings.config.hooks] == ["good"]
        event = await run.adapter("personal").receive("hello")
        (got,) = await receiver.wait_for(1)
        assert got.method == "POST" and got.path == "/hook"
        assert json.loads(got.body) == {**json.loads(event.to_json()), "seq": 1}
        assert got.headers["X-Fine"] == "yes" and got.headers["webhook-id"] == event.id
        assert got.headers["Content-Type"] == "application/json"
        assert int(got.headers["Content-Length"]) == len(got.body)


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
def test_config_refuses_a_bad_hook_header_naming_the_key(name: str, value: str) -> None:
    text = "hooks:\n  - id: h\n    url: http://x\n    headers: " + json.dumps({name: value}) + "\n"
    found = config_problems(text)
    assert any(p.startswith(f"/etc/wh/config.yaml: hooks[0].headers.{name}: ") for p in found), found


def test_a_good_header_passes() -> None:
    text = 'hooks: [{id: h, url: "http://x", headers: {Authorization: "Bearer a b", X-Team: "blue\\tgreen", X-N: 5}}]\n'
    config_hooks = parse_config(text, Path("/c.yaml"), env={}).hooks
    assert config_hooks[0].headers == {"Authorization": "Bearer a b", "X-Team": "blue\tgreen", "X-N": "5"}


async def test_ids_with_a_trailing_newline_are_refused(tmp_path: Path) -> None:
    async with running(tmp_path, config()) as run:
        for route, body in (("/api/hooks/add", {"id": "crm\n", "url": "http://127.0.0.1:9/"}),
                            ("/api/accounts/add", {"id": "personal\n"})):
            response = await run.client.post(route, json=body)
            assert response.status == 400
            assert "field 'id' must be letters, digits" in await response.text()
        assert run.settings.config.hooks == () and run.settings.config.accounts == ()
    assert any("hooks[0].id: 'crm\\n' must be letters" in p
               for p in config_problems('hooks: [{id: "crm\\n", url: "http://x"}]\n'))
    assert any("accounts[0].id: 'p\\n' must be letters" in p for p in config_problems('accounts: [{id: "p\\n"}]\n'))


@pytest.mark.parametrize("name", ["a\x85b", "a\u2028b", "a\u2029b", "end\x85", "a\nb", "tab\tand\x7fdel"])
async def test_names_round_trip_exactly_through_the_write_back(tmp_path: Path, name: str) -> None:
    async with running(tmp_path, config()) as run:
        response = await run.client.post("/api/hooks/add", json={"id": "h", "name": name, "url": "http://127.0.0.1:9/"})
        assert response.status == 201
        assert (await (await run.client.get("/api/hooks")).json())[0]["name"] == name
        assert yaml.safe_load(run.path.read_text())["hooks"][0]["name"] == name
        assert await run.settings.reload()
        assert (await (await run.client.get("/api/hooks")).json())[0]["name"] == name


@pytest.mark.parametrize("path", OWN_PATHS)
def test_config_refuses_a_webhook_path_that_shadows_a_route(path: str) -> None:
    text = ("accounts: [{id: a, type: business-api, business_api: {access_token: t, phone_number_id: '1', "
            f"webhook_path: {json.dumps(path)}}}}}]\n")
    found = config_problems(text)
    assert any(p.startswith("/etc/wh/config.yaml: accounts[0].business_api.webhook_path: must start with /")
               and repr(path) in p for p in found), found


@pytest.mark.parametrize("path", OWN_PATHS)
async def test_api_refuses_a_webhook_path_that_shadows_a_route(tmp_path: Path, path: str) -> None:
    async with running(tmp_path, config()) as run:
        before = run.path.read_text()
        body = {"id": "shop", "type": "business-api",
                "business_api": {"phone_number_id": "1", "access_token": "t", "webhook_path": path}}
        response = await run.client.post("/api/accounts/add", json=body)
        assert response.status == 400
        assert "business_api.webhook_path: must start with /" in await response.text()
        assert run.path.read_text() == before
        assert (await run.client.get("/health")).status == 200
