"""`whatshooked cache list` pages through GET /api/cache and says what each hook still owes."""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path
from typing import Any

from tests.support.receiver import HookReceiver, Reply
from whatshooked.cli.client import add_client_commands, run_client_command
from whatshooked.config.load import parse_config

API_KEY = "cache-list-key"


def entry(event_id: str, deliveries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": event_id, "timestamp": "2026-11-21T10:00:00.000Z", "seq": 1,
            "event": {"type": "message.received", "data": {"account_id": "shop"}}, "deliveries": deliveries or []}


async def run(receiver: HookReceiver, tmp_path: Path, *argv: str) -> tuple[int, str]:
    port = receiver.url.split(":")[2].split("/")[0]
    config = parse_config(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {API_KEY}\n",
                          tmp_path / "config.yaml")
    root = argparse.ArgumentParser(prog="whatshooked")
    add_client_commands(root.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    code = await asyncio.to_thread(run_client_command, root.parse_args(["cache", "list", *argv]), config, out)
    return code, out.getvalue()


async def test_one_page_then_how_to_get_the_next(receiver: HookReceiver, tmp_path: Path) -> None:
    owed = [{"hook_id": "crm", "state": "failed", "attempts": 6, "last_error": "HTTP 503", "next_attempt_at": None},
            {"hook_id": "log", "state": "delivered", "attempts": 1, "last_error": None, "next_attempt_at": None}]
    receiver.reply(Reply(body={"cached_events": [entry("evt_1", owed), entry("evt_2")], "count": 2, "limit": 2,
                               "next_after": "evt_2"}))
    code, out = await run(receiver, tmp_path, "--limit", "2", "--hook", "crm", "--account", "shop")
    assert code == 0
    first, second, more = out.splitlines()
    assert first.split() == ["evt_1", "2026-11-21T10:00:00.000Z", "message.received", "shop", "crm(failed:", "HTTP",
                             "503)"]
    assert second.split() == ["evt_2", "2026-11-21T10:00:00.000Z", "message.received", "shop"]
    assert more == "more: whatshooked cache list --after evt_2"
    assert receiver.requests[-1].query == {"limit": "2", "hook_id": "crm", "account_id": "shop"}


async def test_all_walks_every_page(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.reply(Reply(body={"cached_events": [entry("evt_1")], "count": 1, "limit": 1, "next_after": "evt_1"}),
                   Reply(body={"cached_events": [entry("evt_2")], "count": 1, "limit": 1, "next_after": None}))
    code, out = await run(receiver, tmp_path, "--all", "--limit", "1", "--type", "message.received")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["evt_1", "evt_2"]
    assert [r.query for r in receiver.requests] == [
        {"limit": "1", "event_type": "message.received"},
        {"limit": "1", "event_type": "message.received", "after": "evt_1"},
    ]
