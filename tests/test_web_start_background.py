"""`whatshooked serve` listens before its WhatsApp Web backend has loaded (issue 14: /health within 1 s).

Importing neonize takes a good part of a second of CPU. The daemon binds its API first and loads the
backend in an owned task, off the event loop: meanwhile /health answers 200 and the account shows
as `connecting`, and what needs the account answers 409 naming that state, as for any account that
is not connected. A stop during the load is a clean stop. The load is held at a gate
(tests/support/import_gate: the real neonize is imported, only once the test lets it), so the tests
assert the order of events, not timings.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.cloud_daemon import sign
from tests.support.cloud_serve import serve_config
from tests.support.graph_standin import GraphStandin, fixture
from tests.support.harness import until
from tests.support.process import ROOT, ServeProcess, free_port
from tests.support.receiver import HookReceiver
from whatshooked.accounts.registry import Registry
from whatshooked.accounts.starting import StartingAdapter

KEY = "web-start-background-key-0123"
GATE_PATH = ROOT / "tests" / "support" / "import_gate"
DEAD_PROXY = "http://127.0.0.1:9"  # whatsmeow fails at the dial, fast, with no network needed


WEB_ACCOUNT = "  - id: personal\n    type: whatsmeow\n    session_path: ./sessions/personal.db\n"


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[ServeProcess, Path]]:
    """`whatshooked serve` with one WhatsApp Web account, its neonize import held at the gate."""
    port = free_port()
    text = (f"server: {{host: 127.0.0.1, port: {port}, api_key: {KEY}}}\nstorage: {{path: ./data/events.db}}\n"
            f"accounts:\n{WEB_ACCOUNT}hooks: []\n")
    async with gated_serve(tmp_path, port, text) as (serve, gate):
        yield serve, gate


@contextlib.asynccontextmanager
async def gated_serve(tmp_path: Path, port: int, text: str) -> AsyncIterator[tuple[ServeProcess, Path]]:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    gate = tmp_path / "gate"
    gate.mkdir()
    serve = ServeProcess(config, port, env={
        "PYTHONPATH": os.pathsep.join([str(GATE_PATH), str(ROOT)]), "IMPORT_GATE": str(gate),
        "HTTPS_PROXY": DEAD_PROXY})
    await serve.start()
    try:
        await until(lambda: (gate / "neonize.importing").exists() or serve.proc.returncode is not None, within=20)
        assert (gate / "neonize.importing").exists(), serve.output()
        yield serve, gate
    finally:
        (gate / "neonize.release").touch()
        await serve.stop()


async def api(serve: ServeProcess, method: str, path: str, **options: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers={"x-api-key": KEY}) as http, \
            http.request(method, serve.url + path, **options) as response:
        return response.status, await (response.json() if response.content_type == "application/json"
                                       else response.text())


def log_lines(serve: ServeProcess) -> list[str]:
    return serve.stderr.read_text(errors="replace").splitlines()


async def test_health_answers_while_the_web_backend_loads_and_the_account_shows_connecting(
        gated: tuple[ServeProcess, Path]) -> None:
    serve, gate = gated
    await serve.healthy()  # before: the event loop itself was importing neonize, so nothing answered
    assert await api(serve, "GET", "/health") == (200, {"status": "healthy"})
    assert not (gate / "neonize.release").exists()  # the backend is still loading
    status, accounts = await api(serve, "GET", "/api/accounts/status")
    assert status == 200 and [(a["id"], a["type"], a["state"]) for a in accounts] == \
        [("personal", "whatsmeow", "connecting")], accounts
    # What needs the account answers as for any account that is not connected: 409 naming its state.
    status, text = await api(serve, "POST", "/api/send", json={"account_id": "personal", "to": "15551234567",
                                                               "text": "hello"})
    assert status == 409 and "state: connecting" in text, (status, text)
    status, text = await api(serve, "POST", "/api/contacts/check", json={"account_id": "personal",
                                                                         "phones": ["15551234567"]})
    assert status == 409 and "state: connecting" in text, (status, text)
    status, page = await api(serve, "GET", "/api/qr/personal")  # its QR page waits, refreshing
    assert status == 200 and 'data-state="connecting"' in page, (status, page)
    assert (await api(serve, "GET", "/api/qr/personal.png"))[0] == 404
    assert not (serve.config.parent / "sessions" / "personal.db").exists()  # no session started yet

    (gate / "neonize.release").touch()

    async def left_connecting() -> bool:  # the real adapter took over; whatsmeow failed at the dial
        _status, found = await api(serve, "GET", "/api/accounts/status")
        return bool(found[0]["state"] != "connecting")

    await until(left_connecting, within=30)
    lines = log_lines(serve)
    listening = next(i for i, line in enumerate(lines) if "API listening on" in line)
    loaded = next(i for i, line in enumerate(lines) if "whatsmeow backend loaded" in line)
    assert listening < loaded, "\n".join(lines)
    assert (serve.config.parent / "sessions" / "personal.db").exists()  # its session started after the load

    serve.send(signal.SIGTERM)
    assert await serve.wait(10) == 0, serve.output()


async def test_sigterm_while_the_web_backend_loads_is_a_clean_stop(gated: tuple[ServeProcess, Path]) -> None:
    """The start-up task is cancelled: the load finishes in its thread, no session is started, exit 0."""
    serve, gate = gated
    await serve.healthy()
    serve.send(signal.SIGTERM)
    await until(lambda: any("stopping" in line for line in log_lines(serve)), within=10)
    (gate / "neonize.release").touch()  # the import finishes while the daemon stops
    assert await serve.wait(10) == 0, serve.output()  # DESIGN §2: within 10 s
    output = serve.output()
    assert "whatshooked stopped" in output and "never returned" not in output, output
    assert not (serve.config.parent / "sessions" / "personal.db").exists(), output  # the start was not resumed


async def test_sigterm_while_the_web_backend_never_finishes_loading_exits_anyway(
        gated: tuple[ServeProcess, Path]) -> None:
    """An import that never returns is left behind in its thread (named in a warning): the stop is still exit 0."""
    serve, _gate = gated
    await serve.healthy()
    serve.send(signal.SIGTERM)
    assert await serve.wait(10) == 0, serve.output()  # DESIGN §2: within 10 s
    output = serve.output()
    assert "whatshooked stopped" in output and "never returned" in output, output


def test_the_stand_in_shares_the_traits_of_the_backend_it_stands_for() -> None:
    """Until its backend is loaded, an account answers as the real adapter would on what the API asks first
    (QR page or not, leased in a cluster or not)."""
    registry = Registry()
    slow = [name for name in ("whatsmeow", "business-api") if registry.loads_slowly(name)]
    assert slow == ["whatsmeow"]
    real = registry.adapter_class("whatsmeow")
    assert (StartingAdapter.pairs_by_qr, StartingAdapter.exclusive) == (real.pairs_by_qr, real.exclusive)


async def test_a_cloud_api_webhook_is_received_and_delivered_while_the_web_backend_loads(
        tmp_path: Path, receiver: HookReceiver) -> None:
    """Cloud API accounts are quick to build, so they are built before the API listens, as before: their
    webhook path takes Meta's POSTs from the first request on, whatever a WhatsApp Web backend is doing."""
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    text = (serve_config(tmp_path, port, graph.url, receiver.url).replace("crash-test-api-key", KEY)
            .replace("business_api:\n", "business_api:\n      app_secret: test-app-secret\n"))
    try:
        async with gated_serve(tmp_path, port, text + WEB_ACCOUNT) as (serve, gate):
            await serve.healthy()
            body = json.dumps(fixture("message_text.json")).encode()
            status, answer = await api(serve, "POST", "/webhooks/whatsapp/shop", data=body,
                                       headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
            assert status == 200, answer
            (delivered,) = await receiver.wait_for(1)
            assert delivered.json()["type"] == "message.received"
            assert not (gate / "neonize.release").exists()  # all of it while the WhatsApp Web backend loaded
            _status, accounts = await api(serve, "GET", "/api/accounts/status")
            assert {a["id"]: a["state"] for a in accounts}["personal"] == "connecting", accounts
    finally:
        await graph.close()
