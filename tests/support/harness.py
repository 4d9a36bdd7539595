"""A whole daemon in the test's process: real config file, real store, real API on 127.0.0.1.

Accounts are played by StandInAdapter (registered under the real type names), so the config is the
one users write. `client` sends the API key on every request unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.support.standin import StandInAdapter
from whatshooked.accounts.registry import Registry
from whatshooked.api.app import build_app
from whatshooked.config.load import load_config
from whatshooked.config.settings import Settings
from whatshooked.service.daemon import Daemon

API_KEY = "test-api-key-0123456789"
AUTH = {"x-api-key": API_KEY}


@dataclass
class Running:
    daemon: Daemon
    client: TestClient[Any, Any]
    path: Path

    @property
    def settings(self) -> Settings:
        return self.daemon.settings

    def adapter(self, account_id: str) -> StandInAdapter:
        adapter = self.daemon.accounts.get(account_id)
        assert isinstance(adapter, StandInAdapter)
        return adapter


def standin_registry() -> Registry:
    return Registry({"whatsmeow": StandInAdapter, "business-api": StandInAdapter})


@contextlib.asynccontextmanager
async def running(tmp_path: Path, config_text: str, env: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None) -> AsyncIterator[Running]:
    """Write `config_text` (with `server.api_key` set to API_KEY unless it sets its own) and run it."""
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    settings = Settings(load_config(path, env=env or {}), env=env or {})
    daemon = Daemon(settings, standin_registry())
    await daemon.open()
    try:
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(daemon)), headers=AUTH if headers is None
                                                  else headers)
        await client.start_server()
        try:
            yield Running(daemon, client, path)
        finally:
            await client.close()
    finally:
        await daemon.close()


def config(hooks: str = "", accounts: str = "", extra: str = "", api_key: str = API_KEY) -> str:
    """A config text: `hooks` and `accounts` are YAML list items (indented by two spaces)."""
    return (f"server:\n  api_key: {api_key}\n{extra}"
            f"accounts:\n{accounts or '  []'}\nhooks:\n{hooks or '  []'}\n")


def hook(hook_id: str, url: str, **fields: Any) -> str:
    rest = "".join(f"\n    {key}: {value}" for key, value in fields.items())
    return f"  - id: {hook_id}\n    url: {url}{rest}\n"


async def until(predicate: Callable[[], Any], within: float = 5.0) -> None:
    """Poll `predicate` (sync or async) until it is true, with a deadline and no fixed sleeps."""
    async with asyncio.timeout(within):
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)
