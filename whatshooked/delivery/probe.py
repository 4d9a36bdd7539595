"""`POST /api/hooks/test`: one `hook.test` event to one hook, now, outside the cache and its retries.

The answer tells what the hook did with it. It leaves the hook's health alone: a test that works does
not end a failing run (the next real delivery does, and that replays what the hook is owed).
"""

from __future__ import annotations

import asyncio
from typing import Any

from whatshooked.config.model import HookConfig
from whatshooked.delivery.attempt import attempt
from whatshooked.delivery.job import Lanes
from whatshooked.delivery.signer import signer_for
from whatshooked.events import Event


async def test_hook(lanes: Lanes, hook: HookConfig) -> dict[str, Any]:
    """`{status: ok|failed, http_status, latency_ms, error}` for one `hook.test` delivery (inactive hooks too)."""
    event = Event("hook.test", {"hook_id": hook.id})
    key = signer_for(hook)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await attempt(lanes.http, hook, key, event, event.to_json(), lanes.limits(hook))
    latency_ms = round((loop.time() - started) * 1000, 1)
    return {"status": "ok" if outcome.ok else "failed", "http_status": outcome.status, "latency_ms": latency_ms,
            "error": outcome.error or None}
