"""A whole daemon (store, dispatcher, accounts, API) with one Cloud API account wired to a Graph stand-in.

`async with cloud_daemon(tmp_path, receiver) as rig:` gives a running API on 127.0.0.1, the Graph
stand-in (`rig.graph`), helpers to call the API and to POST Meta-signed webhooks.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.graph_standin import GraphStandin
from tests.support.process import free_port
from tests.support.receiver import HookReceiver
from whatshooked.accounts.cloud_api.adapter import CloudApiAdapter
from whatshooked.accounts.registry import Registry
from whatshooked.api.app import build_app
from whatshooked.config.load import load_config
from whatshooked.config.settings import Settings
from whatshooked.service.daemon import Daemon

API_KEY = "cloud-test-api-key"
TOKEN = "test-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
WEBHOOK_PATH = "/webhooks/whatsapp/shop"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Rig:
    daemon: Daemon
    url: str
    http: aiohttp.ClientSession
    graph: GraphStandin
    receiver: HookReceiver | None

    @property
    def adapter(self) -> CloudApiAdapter:
        adapter = self.daemon.accounts.get("shop")
        assert isinstance(adapter, CloudApiAdapter)
        return adapter

    async def api(self, path: str, body: Any = None, *, auth: bool = True) -> tuple[int, Any]:
        headers = {"x-api-key": API_KEY} if auth else {}
        async with self.http.post(f"{self.url}{path}", json=body, headers=headers) as response:
            text = await response.text()
            if response.content_type == "application/json":
                return response.status, json.loads(text)
            return response.status, text

    async def webhook(
        self, payload: Any, *, signature: str | None = "sign", path: str = WEBHOOK_PATH
    ) -> tuple[int, str]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.http.post(f"{self.url}{path}", data=body, headers=headers) as response:
            return response.status, await response.text()


def config_text(tmp_path: Path, port: int, graph_url: str, hook_url: str | None, *, business: dict[str, str],
                media: str = "url", storage: dict[str, str] | None = None, fetch_private: bool = False) -> str:
    api = {
        "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN, "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN, "waba_id": WABA_ID, "graph_url": graph_url, **business,
    }
    lines = [
        "server:", "  host: 127.0.0.1", f"  port: {port}", f"  api_key: {API_KEY}",
        "storage:", f"  path: {tmp_path / 'whatshooked.db'}", *[f"  {k}: {v}" for k, v in (storage or {}).items()],
        "media:", f"  mode: {media}", f"  dir: {tmp_path / 'media'}", "  ttl: 1h",
        f"  fetch_private: {str(fetch_private).lower()}",
        "delivery:", "  timeout: 5s", "  retry: [100ms]",
        "accounts:", "  - id: shop", "    type: business-api", '    phone_number: "+15550783881"',
        "    business_api:",
        *[f"      {key}: {json.dumps(value)}" for key, value in api.items() if value is not None],
    ]
    if hook_url:
        lines[lines.index("accounts:"):lines.index("accounts:")] = ["hooks:", "  - id: rx", f"    url: {hook_url}"]
    return "\n".join(lines) + "\n"


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(text)
    return path


@contextlib.asynccontextmanager
async def serving(path: Path, port: int, graph: GraphStandin, receiver: HookReceiver | None,
                  registry: Registry | None = None) -> AsyncIterator[Rig]:
    """The real daemon and API for the config at `path`, once its Cloud API account has been checked."""
    daemon = Daemon(Settings(load_config(path)), registry)
    await daemon.open()
    runner = web.AppRunner(build_app(daemon))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    http = aiohttp.ClientSession()
    rig = Rig(daemon, f"http://127.0.0.1:{port}", http, graph, receiver)
    try:
        await rig.adapter.until_checked()
        yield rig
    finally:
        await http.close()
        await runner.cleanup()
        await daemon.close()


@contextlib.asynccontextmanager
async def cloud_daemon(
    tmp_path: Path, receiver: HookReceiver | None = None, *, api: dict[str, Any] | None = None,
    media_mode: str = "url", graph: GraphStandin | None = None, registry: Registry | None = None,
    extra_yaml: str = "", storage: dict[str, str] | None = None, fetch_private: bool = False,
) -> AsyncIterator[Rig]:
    own_graph = graph is None
    graph = graph or GraphStandin(TOKEN)
    if own_graph:
        await graph.start()
    port = free_port()
    path = write_config(tmp_path, config_text(tmp_path, port, graph.url, receiver.url if receiver else None,
                                              business=api or {}, media=media_mode, storage=storage,
                                              fetch_private=fetch_private) + extra_yaml)
    try:
        async with serving(path, port, graph, receiver, registry) as rig:
            yield rig
    finally:
        if own_graph:
            await graph.close()
