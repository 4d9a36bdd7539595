"""`/api/accounts*`: list, add, update, remove, disable, enable, status; secrets masked; write-back."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import yaml

from tests.support.harness import config, running
from tests.support.standin import StandInAdapter

ACCOUNTS = """  - id: personal
    phone_number: "+15551234567"
    show_qr: true
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "1065"
      access_token: ${META_TOKEN}
      app_secret: appsecret
"""
ENV = {"META_TOKEN": "EAA-token-from-env"}


@pytest.fixture(autouse=True)
def fresh_standins() -> None:
    StandInAdapter.built.clear()


def entry(path: Path, account_id: str) -> dict[str, object] | None:
    accounts = yaml.safe_load(path.read_text())["accounts"]
    return next((a for a in accounts if a["id"] == account_id), None)


async def test_list_masks_secrets(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        response = await run.client.get("/api/accounts")
        text = await response.text()
        assert "EAA-token" not in text and "appsecret" not in text
        personal, shop = await response.json()
        assert personal == {"id": "personal", "type": "whatsmeow", "phone_number": "+15551234567", "show_qr": True,
                            "disabled": False, "session_path": str(tmp_path / "data" / "sessions" / "personal.db")}
        assert shop["business_api"] == {
            "phone_number_id": "1065", "waba_id": "", "business_account_id": "", "api_version": "v21.0",
            "webhook_path": "/webhooks/whatsapp/shop", "graph_url": "https://graph.facebook.com",
            "access_token": "***", "app_secret": "***",
        }


async def test_status(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS + "    disabled: true\n"), env=ENV) as run:
        node = f"{socket.gethostname()}:{os.getpid()}"  # no storage.node_id: host:pid, as in a cluster
        assert await (await run.client.get("/api/accounts/status")).json() == [
            {"id": "personal", "type": "whatsmeow", "phone_number": "+15551234567", "state": "connected",
             "last_error": None, "node": node},
            {"id": "shop", "type": "business-api", "phone_number": "", "state": "disabled", "last_error": None,
             "node": node},
        ]


async def test_add_connects_and_writes_back(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        body = {"id": "second", "type": "business-api", "phone_number": "+15550000000",
                "business_api": {"phone_number_id": "777", "access_token": "new-token", "verify_token": "vt"}}
        response = await run.client.post("/api/accounts/add", json=body)
        assert response.status == 201
        assert await response.json() == {"status": "ok", "account_id": "second"}
        assert entry(run.path, "second") == body
        assert entry(run.path, "shop")["business_api"]["access_token"] == "${META_TOKEN}"  # type: ignore[index]
        assert run.adapter("second").state == "connected" and run.adapter("second").connects == 1
        assert run.adapter("personal").connects == 1  # others untouched

        minimal = await run.client.post("/api/accounts/add", json={"id": "third"})
        assert minimal.status == 201 and run.adapter("third").config.type == "whatsmeow"


@pytest.mark.parametrize(("body", "status", "message"), [
    ({}, 400, "field 'id' is required"),
    ({"id": 5}, 400, "field 'id' must be a string"),
    ({"id": "a b"}, 400, "field 'id' must be letters"),
    ({"id": "personal"}, 400, "account 'personal' already exists"),
    ({"id": "x", "type": "telegram"}, 400, "field 'type' must be one of whatsmeow, business-api"),
    ({"id": "x", "show_qr": "yes"}, 400, "field 'show_qr' must be true or false"),
    ({"id": "x", "type": "business-api"}, 400, "field 'business_api' is required"),
    ({"id": "x", "type": "business-api", "business_api": {"phone_number_id": "1"}}, 400,
     "field 'business_api.access_token' is required"),
    ({"id": "x", "type": "business-api", "business_api": {"phone_number_id": 1, "access_token": "t"}}, 400,
     "field 'business_api.phone_number_id' must be a string"),
    ({"id": "x", "type": "business-api", "business_api": {"phone_number_id": "1", "access_token": "t",
                                                          "webhook_path": "/api/x"}}, 400,
     "business_api.webhook_path: must start with / and not with /api/"),
])
async def test_add_refuses_bad_bodies(tmp_path: Path, body: dict[str, object], status: int, message: str) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        before = run.path.read_text()
        response = await run.client.post("/api/accounts/add", json=body)
        assert response.status == status
        assert message in await response.text()
        assert run.path.read_text() == before


async def test_update_reconnects_and_keeps_masked_secrets(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        old = run.adapter("shop")
        body = {"id": "shop", "type": "business-api", "phone_number": "+15559999999",
                "business_api": {"phone_number_id": "2000", "access_token": "***", "app_secret": "***",
                                 "verify_token": "fresh"}}
        response = await run.client.post("/api/accounts/update", json=body)
        assert response.status == 200 and await response.json() == {"status": "ok", "account_id": "shop"}
        written = entry(run.path, "shop")
        assert written == {"id": "shop", "type": "business-api", "phone_number": "+15559999999", "business_api": {
            "phone_number_id": "2000", "access_token": "${META_TOKEN}", "app_secret": "appsecret",
            "verify_token": "fresh"}}
        new = run.adapter("shop")
        assert new is not old and old.disconnects == 1 and new.connects == 1
        assert new.config.settings is not None
        assert new.config.settings.access_token.reveal() == "EAA-token-from-env"


async def test_an_update_that_changes_nothing_still_reconnects(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        old = run.adapter("personal")
        response = await run.client.post("/api/accounts/update", json={"id": "personal", "show_qr": True})
        assert response.status == 200
        assert old.disconnects == 1 and run.adapter("personal").connects == 1 and run.adapter("personal") is not old


async def test_update_errors(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        unknown = await run.client.post("/api/accounts/update", json={"id": "ghost", "type": "whatsmeow"})
        assert unknown.status == 404 and await unknown.text() == "account 'ghost' not found"
        assert (await run.client.post("/api/accounts/update", json={"type": "whatsmeow"})).status == 400
        bad = await run.client.post("/api/accounts/update", json={"id": "shop", "business_api": {"access_token": ""}})
        assert bad.status == 400 and "access_token" in await bad.text()


async def test_remove(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        shop = run.adapter("shop")
        response = await run.client.post("/api/accounts/remove", json={"id": "shop"})
        assert response.status == 200 and await response.json() == {"status": "ok"}
        assert entry(run.path, "shop") is None and shop.disconnects == 1
        assert [a["id"] for a in await (await run.client.get("/api/accounts/status")).json()] == ["personal"]
        assert (await run.client.post("/api/accounts/remove", json={"id": "shop"})).status == 404
        assert (await run.client.post("/api/accounts/remove", json={"id": ""})).status == 400


async def test_disable_and_enable(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS), env=ENV) as run:
        old = run.adapter("personal")
        response = await run.client.post("/api/accounts/disable", json={"id": "personal"})
        assert response.status == 200 and await response.json() == {"status": "ok", "account_id": "personal"}
        assert entry(run.path, "personal")["disabled"] is True  # type: ignore[index]
        assert old.disconnects == 1 and run.adapter("personal").state == "disabled"
        assert run.adapter("personal").connects == 0

        response = await run.client.post("/api/accounts/enable", json={"id": "personal"})
        assert response.status == 200 and await response.json() == {"status": "ok", "account_id": "personal"}
        assert "disabled" not in entry(run.path, "personal")  # type: ignore[operator]
        assert run.adapter("personal").state == "connected"

        again = run.adapter("personal")
        assert (await run.client.post("/api/accounts/enable", json={"id": "personal"})).status == 200
        assert again.disconnects == 1 and run.adapter("personal").connects == 1  # enabling again restarts

        for path in ("/api/accounts/disable", "/api/accounts/enable"):
            assert (await run.client.post(path, json={"id": "ghost"})).status == 404
            assert (await run.client.post(path, json={})).status == 400
