"""`whatshooked hooks status|update|test` and `cache replay` (filters, progress) against a real daemon."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import yaml

from tests.support.harness import API_KEY, Running, config, hook, running, until
from tests.support.receiver import HookReceiver, Reply
from whatshooked.cli.client import run_client_command
from whatshooked.cli.main import build_parser
from whatshooked.config.load import parse_config

ACCOUNT = "  - id: personal\n"


async def cli(run: Running, *argv: str) -> tuple[int, str]:
    server = run.client.server
    client_config = parse_config(f"server:\n  host: 127.0.0.1\n  port: {server.port}\n  api_key: {API_KEY}\n",
                                 run.path)
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    code = await asyncio.to_thread(run_client_command, args, client_config, out)
    return code, out.getvalue()


async def test_hooks_update_test_and_status(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(hooks=hook("crm", "http://127.0.0.1:9/h"))) as run:
        assert await cli(run, "hooks", "update", "crm", "--url", receiver.url, "--pause") == (0, "updated hook crm\n")
        stored = yaml.safe_load(run.path.read_text())["hooks"][0]
        assert stored["url"] == receiver.url and stored["active"] is False
        code, out = await cli(run, "hooks", "status")
        assert code == 0 and out.split() == ["crm", "paused", "0", "owed"]

        code, out = await cli(run, "hooks", "test", "crm")
        assert code == 0 and out.startswith("hook crm: ok (HTTP 200, ")
        assert receiver.requests[-1].json()["type"] == "hook.test"
        receiver.default = Reply(status=500)
        code, out = await cli(run, "hooks", "test", "crm")
        assert code == 1 and out.startswith("hook crm: failed (HTTP 500, ")
        assert (await cli(run, "hooks", "update", "crm"))[0] == 1  # nothing to change


async def test_cache_replay_with_filters_shows_progress(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=500)
    text = config(hooks=hook("crm", receiver.url), accounts=ACCOUNT, extra="delivery:\n  retry: []\n")
    async with running(tmp_path, text) as run:
        adapter = run.adapter("personal")
        one = await adapter.receive("one")
        await adapter.emit("message.read", message_id="m1", chat="15551234567")
        await until(lambda: len(receiver.requests) == 2 and not run.daemon.dispatcher.hooks["crm"].jobs)
        receiver.default = Reply(status=200)
        code, out = await cli(run, "cache", "replay", "--type", "message.received", "--hook", "crm")
        assert code == 0, out
        assert out.splitlines()[-1].endswith(": 1/1 (1 delivered, 0 failed, 0 remaining)")
        assert receiver.requests[2].json()["id"] == one.id  # the read receipt was not picked: the 1/1 above
        # (its 2xx then started the automatic replay of what crm is owed: the read receipt)

        code, out = await cli(run, "cache", "replay", "--since", "not a time")
        assert code == 2 and out == ""  # the API refused the request (README "Exit codes")
