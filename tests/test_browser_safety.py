"""Another site's page cannot drive the API through the operator's browser (issue 8 item 5, DESIGN §8.3).

A real Chromium first opens a daemon page with HTTP Basic credentials (as the operator does for the
QR page), then an "attacker" page served from another origin on 127.0.0.1 that sends `no-cors`
fetches and a `text/plain` form POST to the API: the browser adds the cached credentials, and the
daemon must refuse them by their `Origin`. The rules themselves are checked with plain requests.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.support.browser import CHROMIUM, chromium
from tests.support.harness import API_KEY, config, running, standin_registry, until
from whatshooked.api.app import build_app
from whatshooked.config.load import load_config
from whatshooked.config.settings import Settings
from whatshooked.service.daemon import Daemon

BASIC = "  username: admin\n  password: hunter2-password\n"
ACCOUNT = "  - id: personal\n"
ATTACK = """<!doctype html><title>cats</title>
<form id="f" method="POST" action="{target}/api/hooks/add" enctype="text/plain">
<input name='{{"id":"byform","url":"http://127.0.0.1:9/form","pad":"' value='"}}'></form>
<script>
(async () => {{
  const post = (path, body) => fetch("{target}" + path, {{method: "POST", mode: "no-cors", credentials: "include",
                                                          body: JSON.stringify(body)}}).catch(() => null);
  await post("/api/hooks/add", {{id: "byfetch", url: "http://127.0.0.1:9/steal"}});
  await post("/api/send", {{account_id: "personal", to: "+15550001111", text: "pwned"}});
  await fetch("/fetched");
  document.getElementById("f").submit();
}})();
</script>"""


@dataclass
class Seen:
    method: str
    path: str
    authorized: bool
    origin: str | None
    status: int


@dataclass
class Served:
    daemon: Daemon
    url: str
    seen: list[Seen] = field(default_factory=list)


@contextlib.asynccontextmanager
async def serve_daemon(tmp_path: Path) -> AsyncIterator[Served]:
    path = tmp_path / "config.yaml"
    path.write_text(config(accounts=ACCOUNT, extra=BASIC))
    daemon = Daemon(Settings(load_config(path, env={}), env={}), standin_registry())
    await daemon.open()
    app = build_app(daemon)
    served = Served(daemon, "")

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        served.seen.append(Seen(request.method, request.path, "Authorization" in request.headers,
                                request.headers.get("Origin"), response.status))
        return response

    app.middlewares.insert(0, record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield served
    finally:
        await runner.cleanup()
        await daemon.close()


@contextlib.asynccontextmanager
async def attacker(target: str) -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text=ATTACK.format(target=target), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/", hits  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
async def test_a_page_of_another_origin_cannot_use_the_operators_credentials(tmp_path: Path) -> None:
    async with serve_daemon(tmp_path) as served, attacker(served.url) as (evil, hits), \
            chromium(tmp_path / "profile") as browser:
        # The operator opens a daemon page; the browser keeps the Basic credentials for that origin.
        await browser.open(served.url.replace("http://", "http://admin:hunter2-password@") + "/api/hooks")
        await until(lambda: any(s.path == "/api/hooks" and s.authorized and s.status == 200 for s in served.seen),
                    within=30)

        await browser.open(evil)
        posts = lambda: [s for s in served.seen if s.method == "POST"]  # noqa: E731
        await until(lambda: "/fetched" in hits and len(posts()) >= 3, within=30)

        assert {s.path for s in posts()} == {"/api/hooks/add", "/api/send"}
        assert all(s.origin == evil.rstrip("/") for s in posts()), posts()
        assert any(s.authorized for s in posts()), "the browser did not send the cached credentials"
        assert all(s.status == 403 for s in posts()), posts()
        assert served.daemon.settings.config.hooks == ()
        adapter = served.daemon.accounts.get("personal")
        assert adapter is not None and adapter.sent == []  # type: ignore[attr-defined]
        assert "byfetch" not in (tmp_path / "config.yaml").read_text()


AUTH = {"Authorization": "Basic " + base64.b64encode(f"x:{API_KEY}".encode()).decode()}
HOOK = json.dumps({"id": "h", "url": "http://127.0.0.1:9/"})


async def post(run: Any, headers: dict[str, str], path: str = "/api/hooks/add", body: str = HOOK) -> tuple[int, Any]:
    response = await run.client.post(path, data=body, headers={**AUTH, "Content-Type": "text/plain", **headers})
    return response.status, await response.text()


@pytest.mark.parametrize("headers", [
    {"Origin": "http://127.0.0.1:1"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "not an origin"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "SELF"},
])
async def test_state_changes_from_a_foreign_origin_get_403(tmp_path: Path, headers: dict[str, str]) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        headers = {k: v.replace("SELF", str(run.client.make_url("")).rstrip("/")) for k, v in headers.items()}
        for path, body in (("/api/hooks/add", HOOK), ("/api/hooks/remove", '{"id": "h"}'),
                           ("/api/send", '{"account_id": "personal", "to": "+1555", "text": "x"}'),
                           ("/api/accounts/disable", '{"id": "personal"}')):
            status, answer = await post(run, headers, path, body)
            assert status == 403 and "refused" in answer, (path, status, answer)
        assert run.settings.config.hooks == () and run.adapter("personal").sent == []
        assert not run.settings.config.accounts[0].disabled
        # Reading stays possible (a GET changes nothing), and so does a request with no browser headers.
        assert (await run.client.get("/api/hooks", headers=headers)).status == 200
        assert (await post(run, {}))[0] == 201


async def test_own_public_and_trusted_origins_may_change_things(tmp_path: Path) -> None:
    extra = "  public_url: https://bridge.example.com/\n  trusted_origins: [https://Dash.example.com:443]\n"
    async with running(tmp_path, config(extra=extra)) as run:
        own = str(run.client.make_url("")).rstrip("/")
        cases = [({"Origin": own, "Sec-Fetch-Site": "same-origin"}, "a"),
                 ({"Origin": "https://bridge.example.com"}, "b"),
                 ({"Origin": "https://dash.example.com", "Sec-Fetch-Site": "cross-site"}, "c")]
        for headers, hook_id in cases:
            status, _ = await post(run, headers, body=json.dumps({"id": hook_id, "url": "http://127.0.0.1:9/"}))
            assert status == 201, headers
        assert [h.id for h in run.settings.config.hooks] == ["a", "b", "c"]

        # A trusted origin gets CORS answers, so its pages can fetch with a JSON body.
        preflight = await run.client.options("/api/hooks/add", headers={
            "Origin": "https://dash.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"})
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
        listed = await run.client.get("/api/hooks", headers={"Origin": "https://dash.example.com"})
        assert listed.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
        other = await run.client.get("/api/hooks", headers={"Origin": "https://evil.example"})
        assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(("value", "why"), [
    ("https://dash.example.com/path", "server.trusted_origins[0]: must be an origin"),
    ("null", "server.trusted_origins[0]: must be an origin"),
    ("ftp://x", "server.trusted_origins[0]: must be an origin"),
])
async def test_trusted_origins_must_be_origins(tmp_path: Path, value: str, why: str) -> None:
    from whatshooked.config.load import parse_config
    from whatshooked.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(f"server: {{trusted_origins: [{json.dumps(value)}]}}\n", tmp_path / "c.yaml", env={})
    assert any(why in p for p in caught.value.problems), caught.value.problems
