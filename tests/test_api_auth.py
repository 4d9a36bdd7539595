"""API credentials: x-api-key, Bearer, Basic; 401 plain text; /health and webhook paths are open."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.support.harness import API_KEY, config, running

BASIC = "\n  username: admin\n  password: pa:ss\n"
SHOP = """  - id: shop
    type: business-api
    business_api: {phone_number_id: "1065", access_token: tok, webhook_path: /inbound/shop}
"""


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_each_way_of_presenting_credentials(tmp_path: Path) -> None:
    async with running(tmp_path, config(extra=BASIC.lstrip("\n")), headers={}) as run:
        get = run.client.get
        assert (await get("/api/hooks", headers={"x-api-key": API_KEY})).status == 200
        assert (await get("/api/hooks", headers={"Authorization": f"Bearer {API_KEY}"})).status == 200
        assert (await get("/api/hooks", headers={"Authorization": f"bearer {API_KEY}"})).status == 200
        assert (await get("/api/hooks", headers=basic("admin", "pa:ss"))).status == 200


async def test_wrong_or_missing_credentials_get_401_plain_text(tmp_path: Path) -> None:
    async with running(tmp_path, config(extra=BASIC.lstrip("\n")), headers={}) as run:
        for headers in (
            {}, {"x-api-key": "wrong"}, {"x-api-key": ""}, {"Authorization": "Bearer wrong"},
            {"Authorization": f"Token {API_KEY}"}, basic("admin", "nope"), basic("root", "pa:ss"),
            {"Authorization": "Basic !!!notbase64"}, {"Authorization": "Basic " + base64.b64encode(b"admin").decode()},
            {"x-api-key": API_KEY[:-1]},
        ):
            response = await run.client.get("/api/cache/stats", headers=headers)
            assert response.status == 401, headers
            assert response.content_type == "text/plain"
            assert response.headers["WWW-Authenticate"] == 'Basic realm="whatshooked"'
            assert API_KEY not in await response.text()


async def test_a_wrong_api_key_header_does_not_hide_a_good_bearer(tmp_path: Path) -> None:
    async with running(tmp_path, config(), headers={}) as run:
        headers = {"x-api-key": "stale", "Authorization": f"Bearer {API_KEY}"}
        assert (await run.client.get("/api/hooks", headers=headers)).status == 200


async def test_health_and_webhook_paths_need_no_credentials(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=SHOP), headers={}) as run:
        health = await run.client.get("/health")
        assert health.status == 200 and await health.json() == {"status": "healthy"}
        inbound = await run.client.post("/inbound/shop", json={"text": "hi"})
        assert inbound.status == 200
        assert (await run.client.post("/inbound/other", json={"text": "hi"})).status == 404
        assert (await run.client.get("/api/accounts")).status == 401


async def test_basic_takes_the_api_key_as_password_so_browsers_can_log_in(tmp_path: Path) -> None:
    async with running(tmp_path, config(), headers={}) as run:
        refused = await run.client.get("/api/hooks")
        assert refused.status == 401 and refused.headers["WWW-Authenticate"] == 'Basic realm="whatshooked"'
        assert (await run.client.get("/api/hooks", headers=basic("anyone", API_KEY))).status == 200
        assert (await run.client.get("/api/hooks", headers=basic("", API_KEY))).status == 200
        assert (await run.client.get("/api/hooks", headers=basic(API_KEY, ""))).status == 401
        assert (await run.client.get("/api/hooks", headers=basic("", ""))).status == 401


async def test_without_any_credentials_configured_the_api_stays_locked(tmp_path: Path) -> None:
    async with running(tmp_path, config(api_key='""'), headers={}) as run:
        for headers in ({}, {"x-api-key": ""}, {"Authorization": "Bearer "}, basic("", "")):
            response = await run.client.get("/api/hooks", headers=headers)
            assert response.status == 401 and "WWW-Authenticate" not in response.headers
            assert "set server.api_key" in await response.text()
        assert (await run.client.get("/health")).status == 200


async def test_credentials_that_are_not_utf8_get_401_not_500(tmp_path: Path) -> None:
    """Raw header bytes a client library would never send: refused like any wrong credential."""
    async with running(tmp_path, config(extra=BASIC.lstrip("\n")), headers={}) as run:
        for header in (b"x-api-key: \xff\xfe", b"Authorization: Bearer \xff", b"Authorization: Basic \xff",
                       b"Authorization: Basic " + base64.b64encode(b"admin:\xff")):
            reader, writer = await asyncio.open_connection("127.0.0.1", run.client.port)
            writer.write(b"GET /api/hooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n\r\n")
            status = (await reader.read()).split(b"\r\n", 1)[0]
            writer.close()
            assert status == b"HTTP/1.1 401 Unauthorized", header
