"""Metrics to alert on (issue 12 item 8), scraped from a real `whatshooked serve` with real hooks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.graph_standin import GraphStandin, fixture
from tests.support.harness import config, hook, running, until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver, Reply
from whatshooked import __version__

API_KEY = "metrics-alerts-key"
AUTH = {"x-api-key": API_KEY}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def config_text(tmp_path: Path, port: int, graph: str, up: str, down: str) -> str:
    return f"""
server: {{host: 127.0.0.1, port: {port}, api_key: {API_KEY}}}
storage: {{path: {tmp_path / "state.db"}}}
media: {{dir: {tmp_path / "media"}}}
delivery: {{timeout: 5s, retry: []}}
hooks:
  - {{id: up, url: "{up}", events: ["message.*"]}}  # not hook.failing from down: counted below
  - {{id: down, url: "{down}", events: ["message.*"]}}
accounts:
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "106540352242922"
      access_token: test-token
      waba_id: "102290129340398"
      graph_url: {graph}
"""


def webhook(number: int) -> bytes:
    body: dict[str, Any] = copy.deepcopy(fixture("message_text.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.alerts{number:03d}"
    return json.dumps(body).encode()


async def scrape(http: aiohttp.ClientSession, url: str) -> tuple[str, Samples]:
    async with http.get(f"{url}/metrics", headers=AUTH) as response:
        assert response.status == 200
        text = await response.text()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, found


def with_hook(samples: Samples, hook_id: str) -> list[str]:
    return sorted({name for name, labels in samples if ("hook", hook_id) in labels})


async def test_metrics_of_a_real_serve(tmp_path: Path, receiver: HookReceiver) -> None:
    down = HookReceiver()
    down.default = Reply(503)
    graph = GraphStandin("test-token")
    await graph.start()
    await down.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path, port, graph.url, receiver.url, down.url))
    serve = ServeProcess(path, port)
    try:
        await serve.start()
        await serve.healthy()
        async with aiohttp.ClientSession() as http:
            for number in range(3):
                async with http.post(f"{serve.url}/webhooks/whatsapp/shop", data=webhook(number)) as response:
                    assert response.status == 200
            async with http.post(f"{serve.url}/api/send", headers=AUTH,
                                 json={"account_id": "shop", "to": "+15551234567", "text": "hi"}) as response:
                assert response.status == 200, await response.text()
            await down.wait_for(4)  # three messages and the message.sent, each refused once (no retries)
            await receiver.wait_for(4)

            async def settled() -> bool:
                _, found = await scrape(http, serve.url)
                return found.get(("whatshooked_hook_pending", (("hook", "down"),))) == 4
            await until(settled, within=10)
            text, found = await scrape(http, serve.url)

            assert "_created" not in text
            build = found[("whatshooked_build_info", (("python", _python(found)), ("version", __version__)))]
            assert build == 1
            assert found[("whatshooked_messages_sent_total", (("account", "shop"), ("type", "text")))] == 1
            assert found[("whatshooked_hook_pending", (("hook", "up"),))] == 0
            assert found[("whatshooked_hook_oldest_pending_age_seconds", (("hook", "up"),))] == 0
            assert found[("whatshooked_hook_oldest_pending_age_seconds", (("hook", "down"),))] > 0
            assert found[("whatshooked_hook_state", (("hook", "down"), ("state", "failing")))] == 1
            assert found[("whatshooked_hook_state", (("hook", "up"), ("state", "healthy")))] == 1
            assert found[("whatshooked_hook_state", (("hook", "up"), ("state", "failing")))] == 0
            attempts = {labels: value for (name, labels), value in found.items()
                        if name == "whatshooked_deliveries_total" and value}
            assert attempts == {(("hook", "down"), ("outcome", "failed")): 4,
                                (("hook", "up"), ("outcome", "delivered")): 4}
            assert "whatshooked_delivery_retries_total" not in text  # one name for attempts by result
            assert found[("whatshooked_delivery_latency_seconds_bucket", (("hook", "up"), ("le", "86400.0")))] == 4

            async with http.post(f"{serve.url}/api/hooks/remove", headers=AUTH, json={"id": "down"}) as response:
                assert response.status == 200, await response.text()
            _, after = await scrape(http, serve.url)
            assert with_hook(after, "down") == []
            assert with_hook(after, "up")  # the other hook's series stay
    finally:
        await serve.stop()
        await down.close()
        await graph.close()


def _python(found: Samples) -> str:
    [labels] = [dict(labels) for name, labels in found if name == "whatshooked_build_info"]
    return labels["python"]


async def test_the_latency_histogram_counts_replays_from_the_event_time(tmp_path: Path, receiver: HookReceiver) -> None:
    """A delivery that took a replay (or a restart, or hours of retries) is measured too, from the event's
    own time: before, only deliveries committed in this run were, so a recovering hook looked fast."""
    receiver.reply(Reply(503))
    text = config(accounts="  - id: personal\n", hooks=hook("crm", receiver.url), extra="delivery:\n  retry: []\n")
    async with running(tmp_path, text) as run:
        adapter = run.adapter("personal")
        await adapter.receive("refused, given up")
        await until(lambda: run.daemon.store.given_up_for("crm"))  # recorded as given up
        await adapter.receive("taken")  # the hook answers again: the first is replayed to it
        await receiver.wait_for(3)
        latency = run.daemon.metrics.latency.labels("crm")
        await until(lambda: run.daemon.metrics.deliveries.labels("crm", "delivered")._value.get() == 2)
        count = {s.name: s.value for family in latency.collect() for s in family.samples}  # type: ignore[attr-defined]
        assert count["whatshooked_delivery_latency_seconds_count"] == 2
