"""Adversarial review of issue 8: hostile input the fixes still let through (each test fails today)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.receiver import HookReceiver


def text_webhook(message_id: str, timestamp: str = "1700000000", body: str = "hi") -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "A"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": message_id, "timestamp": timestamp, "type": "text",
                      "text": {"body": body}}],
    }
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


async def test_overflowing_number_in_signed_webhook_reaches_hook_as_standard_json(tmp_path: Path) -> None:
    """A signed webhook holding `1e999` is parsed to float('inf') (json's parse_constant only sees the
    literal words NaN/Infinity), and the hook then gets `Infinity`, which is not JSON (RFC 8259).
    Expected: every body a hook receives is standard JSON (e.g. parse_float refusing non-finite values,
    or dumping events with allow_nan=False and raising business.errors for the part)."""
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.HUGE")).replace('"timestamp": "1700000000"',
                                                                 '"timestamp": "1700000000", "x": 1e999')
            status, _ = await rig.webhook(raw.encode())
            assert status == 200
            received = await receiver.wait_for(1)
            for request in received:
                json.loads(request.body, parse_constant=_refuse)
    finally:
        await receiver.close()


async def test_lone_surrogate_in_signed_webhook_is_not_a_500(tmp_path: Path) -> None:
    """A signed webhook whose text is `"\\ud800x"` (a valid JSON escape, a lone surrogate in Python)
    parses, then the event cannot be encoded to UTF-8 when stored: the webhook answers 500 with a
    traceback in the log, so Meta redelivers it for days and it never gets in.
    Expected: 200, and the message raised (the surrogate replaced, e.g. by U+FFFD) or a business.errors
    event, never a 5xx for a signed body."""
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.SURROGATE", body="\ud800x"))
            status, text = await rig.webhook(raw.encode())
            assert status == 200, text
            received = await receiver.wait_for(1)
            assert received[0].headers["X-Whatshooked-Event"] in ("message.received", "business.errors")
    finally:
        await receiver.close()
