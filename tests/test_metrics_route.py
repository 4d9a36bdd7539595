"""`GET /metrics` on a real server: auth, Prometheus' own parser, counters and refreshed gauges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.standin import StandInAdapter
from whatshooked.accounts.manager import AccountManager, Lent
from whatshooked.accounts.registry import Registry
from whatshooked.api.auth import auth_middleware
from whatshooked.api.keys import ACCOUNTS, METRICS, SETTINGS, STORE
from whatshooked.api.routes import metrics as metrics_route
from whatshooked.config.load import parse_config
from whatshooked.config.settings import Settings
from whatshooked.events import Event
from whatshooked.service.metrics import Metrics
from whatshooked.store.memory import MemoryStore

Client = Callable[..., Awaitable[TestClient[Any, Any]]]
API_KEY = "metrics-test-key"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}, through prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def make_app(tmp_path: Path, extra: str = "", accounts: bool = False) -> tuple[web.Application, Any]:
    text = f"server:\n  api_key: {API_KEY}\n{extra}"
    if accounts:
        text += "accounts:\n  - id: a1\n    type: whatsmeow\n  - id: a2\n    type: whatsmeow\n    disabled: true\n"
    config = parse_config(text, tmp_path / "config.yaml")
    app = web.Application(middlewares=[auth_middleware])
    app[SETTINGS] = Settings(config)
    app[METRICS] = Metrics()
    app[STORE] = MemoryStore()
    manager = None
    if accounts:
        http = aiohttp.ClientSession()

        async def emit(event: Event, dedupe_key: str | None = None) -> bool:
            return True

        lent = Lent(emit=emit, http=http, media=None,  # type: ignore[arg-type]
                    metrics=app[METRICS])
        manager = AccountManager(lent, Registry({"whatsmeow": StandInAdapter}))
        await manager.start(config)
        app[ACCOUNTS] = manager

        async def close(_app: web.Application) -> None:
            await manager.close()
            await http.close()

        app.on_cleanup.append(close)
    metrics_route.setup(app)
    return app, manager


async def test_needs_credentials_like_the_api(tmp_path: Path, aiohttp_client: Client) -> None:
    app, _ = await make_app(tmp_path)
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"x-api-key": "wrong"})).status == 401
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert metrics_route.metrics_requires_auth(app[SETTINGS].config)


async def test_public_when_configured(tmp_path: Path, aiohttp_client: Client) -> None:
    app, _ = await make_app(tmp_path, "  metrics_public: true\n")
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 200
    assert not metrics_route.metrics_requires_auth(app[SETTINGS].config)


async def test_parses_and_counters_move(tmp_path: Path, aiohttp_client: Client) -> None:
    app, _ = await make_app(tmp_path, "hooks:\n  - {id: crm, url: 'http://127.0.0.1:9/hook'}\n")
    client = await aiohttp_client(app)
    metrics: Metrics = app[METRICS]

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = await client.get("/metrics", headers={"x-api-key": API_KEY})
        assert response.status == 200
        return samples(await response.text())

    metrics.events.labels("message.received").inc()
    metrics.deliveries.labels("crm", "delivered").inc()
    metrics.latency.labels("crm").observe(0.02)
    metrics.webhook_requests.labels("accepted").inc()
    before = await scrape()
    metrics.events.labels("message.received").inc(2)
    metrics.deliveries.labels("crm", "delivered").inc()
    metrics.deliveries.labels("crm", "failed").inc()
    metrics.latency.labels("crm").observe(0.2)
    metrics.webhook_requests.labels("bad_signature").inc()
    after = await scrape()

    events = ("whatshooked_events_total", (("type", "message.received"),))
    assert before[events] == 1 and after[events] == 3
    delivered = ("whatshooked_deliveries_total", (("hook", "crm"), ("outcome", "delivered")))
    assert before[delivered] == 1 and after[delivered] == 2
    assert after[("whatshooked_deliveries_total", (("hook", "crm"), ("outcome", "failed")))] == 1
    assert after[("whatshooked_delivery_latency_seconds_count", (("hook", "crm"),))] == 2
    assert after[("whatshooked_delivery_latency_seconds_bucket", (("hook", "crm"), ("le", "0.025")))] == 1
    assert after[("whatshooked_inbound_webhook_requests_total", (("outcome", "bad_signature"),))] == 1
    assert ("whatshooked_cache_events", ()) in after


async def test_account_states_are_refreshed_on_scrape(tmp_path: Path, aiohttp_client: Client) -> None:
    app, manager = await make_app(tmp_path, accounts=True)
    client = await aiohttp_client(app)
    metrics: Metrics = app[METRICS]
    metrics.set_account_state("gone", "connected", ["connected"])  # an account no longer configured
    response = await client.get("/metrics", headers={"x-api-key": API_KEY})
    found = samples(await response.text())
    assert found[("whatshooked_account_state", (("account", "a1"), ("state", "connected")))] == 1
    assert found[("whatshooked_account_state", (("account", "a1"), ("state", "qr")))] == 0
    assert found[("whatshooked_account_state", (("account", "a2"), ("state", "disabled")))] == 1
    assert not any(labels and labels[0] == ("account", "gone") for _name, labels in found)


async def test_cache_size_comes_from_the_store(tmp_path: Path, aiohttp_client: Client) -> None:
    from whatshooked.store.sqlite.store import SQLiteStore

    app, _ = await make_app(tmp_path)
    store = await SQLiteStore.open(tmp_path / "events.db")
    try:
        await store.add_event(Event(type="message.received", data={"account_id": "a1"}), [])
        await store.add_event(Event(type="message.sent", data={"account_id": "a1"}), [])
        app[STORE] = store
        client = await aiohttp_client(app)
        response = await client.get("/metrics", headers={"x-api-key": API_KEY})
        assert samples(await response.text())[("whatshooked_cache_events", ())] == 2
    finally:
        await store.close()
