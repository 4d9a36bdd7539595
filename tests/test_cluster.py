"""Several `whatshooked serve` on one PostgreSQL database (DESIGN §8.1, issue 11 item 2), as real processes.

A Cloud API webhook may land on any daemon: the same POST to two of them gives one event. A daemon
killed with SIGKILL mid-load leaves its pending deliveries claimed until its lease runs out; then
another daemon delivers them, under the same event ids.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import asyncpg

from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver, Reply
from tests.test_crash import assert_one_id_per_message, payload
from tests.test_crash import config_text as crash_config


def config_text(port: int, url: str, node: str, graph: str, hook: str, folder: Path, retry: str) -> str:
    """test_crash's daemon (a Cloud API account, one hook), on the shared database as `node`."""
    text = crash_config(folder, port, graph, hook)
    shared = f'storage: {{url: "{url}", node_id: {node}, lease: 2s}}'
    text = text.replace(f"storage: {{path: {folder / 'state.db'}}}", shared)
    return text.replace("retry: [100ms, 200ms, 500ms, 1s, 1s, 1s, 1s]", f"retry: {retry}")


async def daemons(tmp_path: Path, url: str, graph: str, hook: str, retry: str = "[100ms, 200ms, 500ms, 1s]",
                  ) -> list[ServeProcess]:
    started = []
    for node in ("a", "b"):
        port = free_port()
        (tmp_path / node).mkdir()
        path = tmp_path / node / "config.yaml"
        path.write_text(config_text(port, url, node, graph, hook, tmp_path / node, retry))
        started.append(ServeProcess(path, port, name=node))
    await asyncio.gather(*(d.start() for d in started))  # at once, on an empty database
    await asyncio.gather(*(d.healthy(within=30) for d in started))
    return started


async def post(http: aiohttp.ClientSession, daemon: ServeProcess, number: int) -> int:
    async with http.post(f"{daemon.url}/webhooks/whatsapp/shop", data=payload(number),
                         headers={"Content-Type": "application/json"}) as response:
        return response.status


async def test_the_same_webhook_to_two_daemons_is_one_event(tmp_path: Path, receiver: HookReceiver,
                                                             pg_url: str) -> None:
    receiver.default = Reply(status=503)  # the events stay in the database, their first attempt recorded
    graph = GraphStandin("test-token")
    await graph.start()
    running = await daemons(tmp_path, pg_url, graph.url, receiver.url, retry="[1h]")
    a, b = running
    db = await asyncpg.connect(pg_url)
    try:
        async with aiohttp.ClientSession() as http:
            assert await post(http, a, 1) == 200
            assert await post(http, b, 1) == 200  # one after the other
            assert await asyncio.gather(post(http, a, 2), post(http, b, 2)) == [200, 200]  # at the same time
        rows = await db.fetch("SELECT convert_from(e.body, 'UTF8') LIKE '%wamid.crash00001%' AS first, d.claimed_by "
                              "FROM events e JOIN deliveries d ON d.event_id = e.id ORDER BY e.seq")
        assert len(rows) == 2 and {r["first"] for r in rows} == {True, False}

        async def attempted() -> bool:
            return await db.fetchval("SELECT count(*) FROM deliveries WHERE attempts = 1") == 2

        await until(attempted, within=20)
        assert sorted(r.json()["data"]["message_id"] for r in receiver.requests) == \
            ["wamid.crash00001", "wamid.crash00002"]
        async with aiohttp.ClientSession(headers={"x-api-key": "crash-test-api-key"}) as http:
            for daemon in running:  # the cache is the database's: either daemon shows both
                async with http.get(f"{daemon.url}/api/cache") as response:
                    assert response.status == 200
                    assert len((await response.json())["cached_events"]) == 2
    finally:
        await db.close()
        await asyncio.gather(*(d.stop() for d in running))
        await graph.close()


async def test_a_killed_daemons_deliveries_are_resumed_by_another_under_the_same_ids(
        tmp_path: Path, receiver: HookReceiver, pg_url: str) -> None:
    receiver.default = Reply(status=200, delay=0.2)  # a slow hook: a backlog waits in the killed daemon
    graph = GraphStandin("test-token")
    await graph.start()
    running = await daemons(tmp_path, pg_url, graph.url, receiver.url)
    a, b = running
    try:
        async with aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(*(post(http, a, n) for n in range(60)))
        assert statuses == [200] * 60  # all committed, claimed by a
        a.send(signal.SIGKILL)
        await a.wait(10)
        wanted = {f"wamid.crash{n:05d}" for n in range(60)}
        seen = {r.json()["data"]["message_id"] for r in receiver.requests}
        assert wanted - seen, "the kill came too late to test anything"
        await until(lambda: wanted <= {r.json()["data"]["message_id"] for r in receiver.requests}, within=30)
    finally:
        await asyncio.gather(*(d.stop() for d in running))
        await graph.close()
    assert_one_id_per_message(receiver)
    assert "took over" in b.stderr.read_text() + b.stdout.read_text(), b.output()


async def test_a_hook_added_through_one_daemon_reaches_the_other(tmp_path: Path, receiver: HookReceiver,
                                                                  pg_url: str) -> None:
    """One config file for both (what differs comes from ${VAR}s); the change is announced over the database."""
    graph = GraphStandin("test-token")
    await graph.start()
    shared = tmp_path / "config.yaml"
    text = config_text(0, pg_url, "'${WH_NODE}'", graph.url, receiver.url, tmp_path, "[1s]")
    shared.write_text(text.replace("port: 0", "port: '${WH_PORT}'"))
    running = [ServeProcess(shared, port, env={"WH_PORT": str(port), "WH_NODE": node}, name=node)
               for node, port in (("a", free_port()), ("b", free_port()))]
    a, b = running
    try:
        await asyncio.gather(*(d.start() for d in running))
        await asyncio.gather(*(d.healthy(within=30) for d in running))
        async with aiohttp.ClientSession(headers={"x-api-key": "crash-test-api-key"}) as http:
            async with http.post(f"{a.url}/api/hooks/add", json={"id": "crm", "url": "http://127.0.0.1:9/crm"}) as r:
                assert r.status == 201, await r.text()

            async def b_has_it() -> bool:
                async with http.get(f"{b.url}/api/hooks") as response:
                    return "crm" in {hook["id"] for hook in await response.json()}

            await until(b_has_it, within=20)
    finally:
        await asyncio.gather(*(d.stop() for d in running))
        await graph.close()
    assert "config changed on another daemon" in b.stderr.read_text() + b.stdout.read_text()
