"""Values sent through the API are text (issue 8 item 7, DESIGN §8.1): `${VAR}` in them is never expanded.

They are written back escaped (`$${VAR}`), so they stay literal when the file is read again: after a
change, a SIGHUP and a restart. `${VAR}` references typed into the file keep reading the environment.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.support.harness import config, running, until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver

SECRET = "s3cret-from-the-environment"
ENV = {"META_APP_SECRET": SECRET, "CRM_NAME": "crm-from-env"}
REF = "${META_APP_SECRET}"
API_KEY = "literal-values-api-key"


async def test_hook_and_account_values_stay_literal(tmp_path: Path, receiver: HookReceiver) -> None:
    typed = "  - {id: typed, url: 'http://127.0.0.1:9/', name: '${CRM_NAME}'}\n"
    text = config(accounts="  - id: personal\n", hooks=typed)
    async with running(tmp_path, text, env=ENV) as run:
        body = {"id": "crm", "name": REF, "url": f"{receiver.url}?k={REF}", "description": f"{REF} and $${{X}}",
                "headers": {"X-Name": REF}, "events": ["message.*"]}
        assert (await run.client.post("/api/hooks/add", json=body)).status == 201
        account = {"id": "shop", "type": "business-api", "phone_number": REF,
                   "business_api": {"phone_number_id": "1", "access_token": "t", "waba_id": REF}}
        assert (await run.client.post("/api/accounts/add", json=account)).status == 201

        async def answers() -> tuple[dict[str, Any], dict[str, Any], str]:
            hooks = {h["id"]: h for h in await (await run.client.get("/api/hooks")).json()}
            accounts = {a["id"]: a for a in await (await run.client.get("/api/accounts")).json()}
            return hooks, accounts, json.dumps([hooks, accounts])

        async def check() -> None:
            hooks, accounts, shown = await answers()
            assert SECRET not in shown
            assert hooks["crm"]["name"] == REF and hooks["crm"]["url"] == f"{receiver.url}?k={REF}"
            assert hooks["crm"]["headers"] == {"X-Name": REF}
            assert hooks["crm"]["description"] == f"{REF} and $${{X}}"
            assert hooks["typed"]["name"] == "crm-from-env"  # typed into the file: still read from the environment
            assert accounts["shop"]["phone_number"] == REF and accounts["shop"]["business_api"]["waba_id"] == REF

        await check()
        written = run.path.read_text()
        assert SECRET not in written and "$${META_APP_SECRET}" in written
        assert yaml.safe_load(written)["hooks"][1]["description"] == "$${META_APP_SECRET} and $$${X}"

        event = await run.adapter("personal").receive("hello")
        (got,) = await receiver.wait_for(1)
        assert got.json()["id"] == event.id
        assert got.query == {"k": REF} and got.headers["X-Name"] == REF
        assert SECRET.encode() not in got.body and SECRET not in json.dumps(got.headers)

        assert await run.settings.reload()  # what SIGHUP does
        await check()


async def api_hooks(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/hooks", headers={"x-api-key": API_KEY}) as r:
        return {h["id"]: h for h in await r.json()}


async def test_literal_after_sighup_and_restart_of_the_real_daemon(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(f"server: {{port: {port}, api_key: {API_KEY}}}\nstorage: {{path: ./state.db}}\nhooks: []\n")
    child = ServeProcess(path, port, env=ENV)
    try:
        await child.start()
        await child.healthy()
        async with aiohttp.ClientSession() as http:
            body = {"id": "crm", "name": REF, "url": "http://127.0.0.1:9/x"}
            async with http.post(f"{child.url}/api/hooks/add", json=body, headers={"x-api-key": API_KEY}) as r:
                assert r.status == 201
        assert (await api_hooks(child.url))["crm"]["name"] == REF

        assert path.read_text().endswith("hooks:\n  - id: crm\n    name: $${META_APP_SECRET}\n    url: http://127.0.0.1:9/x\n"
                                         "    method: POST\n    active: true\n")
        with path.open("a") as file:  # a second hook typed by hand shows when the reload is done
            file.write("  - {id: typed, url: 'http://127.0.0.1:9/', name: '${CRM_NAME}'}\n")
        child.send(signal.SIGHUP)
        async def reloaded() -> bool:
            return "typed" in await api_hooks(child.url)

        await until(reloaded, within=10)
        hooks = await api_hooks(child.url)
        assert hooks["crm"]["name"] == REF and hooks["typed"]["name"] == "crm-from-env"

        child.send(signal.SIGTERM)
        assert await child.wait(10) == 0
        child = ServeProcess(path, port, env=ENV, name="serve2")
        await child.start()
        await child.healthy()
        assert (await api_hooks(child.url))["crm"]["name"] == REF
        assert SECRET not in path.read_text()
    finally:
        await child.stop()
