"""Two `whatshooked serve` on one PostgreSQL database with a WhatsApp Web account (issue 11 item 3).

Real processes, the real neonize library (offline: it fails only when dialling WhatsApp). The
account is driven by one daemon at a time: the other shows `standby` naming the first's node. After
a SIGKILL of the driver, the other takes the account once the lease runs out, and opens the same
paired session from the database. Cloud API accounts are driven by every daemon.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from tests.support.paired_session import make_paired_session_pg
from tests.support.process import ServeProcess, free_port
from tests.test_crash import config_text as crash_config
from whatshooked.config.model import StorageConfig
from whatshooked.store.open import open_store

API_KEY = "crash-test-api-key"
POLL = 0.2  # between status requests: the daemons are real processes on a small machine


def config_text(port: int, url: str, node: str, graph: str, folder: Path) -> str:
    """test_crash's daemon (a Cloud API account) on the shared database, plus a WhatsApp Web account."""
    text = crash_config(folder, port, graph, "http://127.0.0.1:9/unused")
    text = text.replace(f"storage: {{path: {folder / 'state.db'}}}",
                        f'storage: {{url: "{url}", node_id: {node}, lease: 2s}}')
    return text + f"  - id: personal\n    type: whatsmeow\n    session_path: {folder / 'sessions' / 'personal.db'}\n"


async def daemon(tmp_path: Path, url: str, node: str, graph: str) -> ServeProcess:
    port = free_port()
    (tmp_path / node).mkdir()
    path = tmp_path / node / "config.yaml"
    path.write_text(config_text(port, url, node, graph, tmp_path / node))
    started = ServeProcess(path, port, name=node)
    await started.start()
    await started.healthy(within=30)
    return started


async def status(http: aiohttp.ClientSession, serve: ServeProcess) -> dict[str, dict[str, Any]]:
    async with http.get(f"{serve.url}/api/accounts/status") as response:
        assert response.status == 200
        return {entry["id"]: entry for entry in await response.json()}


async def test_one_daemon_drives_a_whatsapp_web_account_and_another_takes_it_over_after_a_kill(
        tmp_path: Path, pg_url: str) -> None:
    setup = await open_store(StorageConfig(url=pg_url, node_id="setup"))
    assert setup.account_leases is not None
    await make_paired_session_pg(await setup.account_leases.session_database("personal"), "whatsmeow_personal")
    await setup.close()
    graph = GraphStandin("test-token")
    await graph.start()
    running: list[ServeProcess] = []
    db = await asyncpg.connect(pg_url)
    try:
        async with aiohttp.ClientSession(headers={"x-api-key": API_KEY}) as http:
            async def driven_by(serve: ServeProcess, node: str) -> bool:
                await asyncio.sleep(POLL)
                personal = (await status(http, serve))["personal"]
                return personal["node"] == node and personal["state"] != "standby"

            a = await daemon(tmp_path, pg_url, "a", graph.url)
            running.append(a)
            await until(lambda: driven_by(a, "a"), within=20)
            b = await daemon(tmp_path, pg_url, "b", graph.url)
            running.append(b)
            on_b = await status(http, b)
            assert on_b["personal"]["state"] == "standby" and on_b["personal"]["node"] == "a", on_b
            assert on_b["shop"]["node"] == "b" and on_b["shop"]["state"] != "standby", on_b  # Cloud API: everywhere
            assert (await status(http, a))["shop"]["node"] == "a"
            assert await db.fetchval("SELECT node_id FROM account_leases WHERE account_id = 'personal'") == "a"

            a.send(signal.SIGKILL)
            await a.wait(10)
            await until(lambda: driven_by(b, "b"), within=20)  # the lease is 2s: taken once it ran out

            async def dialling() -> bool:  # b opened the paired session from the database: only the network fails
                await asyncio.sleep(POLL)
                return "dial" in ((await status(http, b))["personal"]["last_error"] or "")

            await until(dialling, within=30)
        b.send(signal.SIGTERM)
        assert await b.wait(15) == 0
        assert await db.fetchval("SELECT count(*) FROM account_leases") == 0  # a clean stop frees the lease
    finally:
        await db.close()
        await asyncio.gather(*(d.stop() for d in running))
        await graph.close()
    log = b.stderr.read_text() + b.stdout.read_text()
    assert "account personal: taking it over" in log, b.output()
