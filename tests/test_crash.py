"""A crash loses nothing: `whatshooked serve` is SIGKILLed while Cloud API webhooks stream in.

Every webhook POST the daemon answered 200 was committed first (DESIGN §5), so after a restart each
of those events reaches the hook — maybe twice, but always under the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.cloud_serve import serve_config
from tests.support.graph_standin import GraphStandin, fixture
from tests.support.harness import until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver, Reply

ACKED_BEFORE_KILL = 40


def config_text(tmp_path: Path, port: int, graph: str, hook: str) -> str:
    return serve_config(tmp_path, port, graph, hook,
                        "delivery: {timeout: 5s, concurrency: 4, retry: [100ms, 200ms, 500ms, 1s, 1s, 1s, 1s]}\n")


def payload(number: int) -> bytes:
    body: dict[str, Any] = copy.deepcopy(fixture("message_text.json"))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = f"wamid.crash{number:05d}"
    message["text"]["body"] = f"message {number}"
    return json.dumps(body).encode()


async def stream(url: str, acked: list[str], enough: asyncio.Event, stop: asyncio.Event,
                 errors: list[str]) -> None:
    """POST webhooks, four at a time, until told to stop; `enough` once N were acked."""
    counter = iter(range(1_000_000))

    async def worker(http: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            number = next(counter)
            try:
                async with http.post(url, data=payload(number), headers={"Content-Type": "application/json"}) as r:
                    if r.status == 200:
                        acked.append(f"wamid.crash{number:05d}")
                        if len(acked) >= ACKED_BEFORE_KILL:
                            enough.set()
                    else:
                        errors.append(f"{number}: HTTP {r.status} {await r.text()}")
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors.append(f"{number}: {exc!r}")  # the daemon is gone (or going)
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        await asyncio.gather(*(worker(http) for _ in range(4)))


def assert_one_id_per_message(receiver: HookReceiver) -> None:
    """However often a message reached the hook, it came under one event id (= its webhook-id)."""
    ids_by_message: dict[str, set[str]] = defaultdict(set)
    for request in receiver.requests:
        event = request.json()
        assert request.headers["webhook-id"] == event["id"]
        ids_by_message[event["data"]["message_id"]].add(event["id"])
    assert all(len(ids) == 1 for ids in ids_by_message.values()), "a redelivery changed its webhook-id"


async def test_sigkill_mid_stream_loses_no_committed_event(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=200, delay=0.2)  # a slow hook: a backlog is in flight at the kill
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path, port, graph.url, receiver.url))
    first, second = ServeProcess(path, port, name="first"), ServeProcess(path, port, name="second")
    acked: list[str] = []
    try:
        await first.start()
        await first.healthy()
        enough, stop, errors = asyncio.Event(), asyncio.Event(), list[str]()
        streaming = asyncio.create_task(stream(f"{first.url}/webhooks/whatsapp/shop", acked, enough, stop, errors))
        try:
            async with asyncio.timeout(20):
                await enough.wait()
        except TimeoutError:
            raise AssertionError(f"only {len(acked)} acked; errors {errors[:5]}\n{first.output()}") from None
        assert not errors, errors[:5]
        first.send(signal.SIGKILL)
        await first.wait(10)
        stop.set()
        await streaming
        delivered_before_restart = {r.json()["data"]["message_id"] for r in receiver.requests}
        assert set(acked) - delivered_before_restart, "the kill came too late to test anything"

        await second.start()
        await second.healthy()
        await until(lambda: set(acked) <= {r.json()["data"]["message_id"] for r in receiver.requests}, within=30)
    finally:
        await first.stop()
        await second.stop()
        await graph.close()

    assert_one_id_per_message(receiver)


async def test_sigterm_with_deliveries_in_flight_exits_0_and_delivers_after_restart(
        tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=200, delay=8)  # a hung hook: deliveries are in flight at the stop
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path, port, graph.url, receiver.url))
    first, second = ServeProcess(path, port, name="first"), ServeProcess(path, port, name="second")
    try:
        await first.start()
        await first.healthy()
        async with aiohttp.ClientSession() as http:
            for number in range(6):
                async with http.post(f"{first.url}/webhooks/whatsapp/shop", data=payload(number)) as response:
                    assert response.status == 200
        await receiver.wait_for(4)  # concurrency 4: four hang at the hook, two wait their turn
        first.send(signal.SIGTERM)
        started = time.monotonic()
        assert await first.wait(10) == 0, first.output()
        assert time.monotonic() - started < 10

        receiver.default = Reply(status=200)
        await second.start()
        await second.healthy()
        wanted = {f"wamid.crash{number:05d}" for number in range(6)}
        await until(lambda: wanted <= {r.json()["data"]["message_id"] for r in receiver.requests[4:]}, within=20)
    finally:
        await first.stop()
        await second.stop()
        await graph.close()
    assert "Traceback" not in first.stderr.read_text()
