"""JSON log lines about a hook, an event or an account carry `hook_id`, `event_id`, `account_id` as fields.

Read from the stderr of a real `whatshooked serve` that takes a Cloud API webhook and fails to
deliver its event to a hook that answers 500.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.cloud_serve import serve_config
from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from tests.support.process import ServeProcess, free_port
from tests.support.receiver import HookReceiver, Reply
from tests.test_crash import payload


def config_text(tmp_path: Path, port: int, graph: str, hook: str) -> str:
    extra = "logging: {level: debug, format: json}\ndelivery: {retry: [10m]}\n"  # attempt lines are debug
    return serve_config(tmp_path, port, graph, hook, extra)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_hook_event_and_account_ids_are_json_fields(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=500, body="down")
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path, port, graph.url, receiver.url))
    serve = ServeProcess(path, port)
    try:
        await serve.start()
        await serve.healthy()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{serve.url}/webhooks/whatsapp/shop", data=payload(7)) as response:
                assert response.status == 200
        await receiver.wait_for(1)
        await until(lambda: "attempt 1 failed" in serve.stderr.read_text(), within=10)
    finally:
        await serve.stop()
        await graph.close()
    lines = json_lines(serve.stderr.read_text())
    assert lines, serve.output()
    event_id = receiver.requests[0].json()["id"]
    failed = [line for line in lines if "attempt 1 failed" in line["message"]]
    assert len(failed) == 1, failed
    assert failed[0]["hook_id"] == "rx" and failed[0]["event_id"] == event_id
    assert failed[0]["message"].startswith(f"hook rx: event {event_id} attempt 1 failed")
    about_shop = [line for line in lines if line["message"].startswith("account shop:")]
    assert about_shop and all(line["account_id"] == "shop" for line in about_shop), about_shop
    for line in lines:  # a field only where the line is about one
        assert set(line) >= {"ts", "level", "logger", "message"}
        if "hook_id" in line:
            assert f"hook {line['hook_id']}" in line["message"]


def test_every_log_call_that_names_an_id_passes_it_as_a_field() -> None:
    """A guard for new code: `log.x("hook %s: …", hook_id)` without `extra={"hook_id": …}` fails here."""
    placeholder = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfix]")
    named = re.compile(r"\b(hook|account|event)\s*$")
    package = Path(__file__).resolve().parents[1] / "whatshooked"
    missing = []
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "log"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            fmt = node.args[0].value
            wanted = {f"{m.group(1)}_id" for p in placeholder.finditer(fmt) if (m := named.search(fmt[:p.start()]))}
            extra = next((k.value for k in node.keywords if k.arg == "extra"), None)
            keys = extra.keys if isinstance(extra, ast.Dict) else []
            given = {k.value for k in keys if isinstance(k, ast.Constant)}
            if wanted - given:
                missing.append(f"{source.relative_to(package.parent)}:{node.lineno} {sorted(wanted - given)}")
    assert not missing, missing
