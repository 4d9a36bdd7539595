"""`allow_insecure`: a hook with a self-signed certificate is refused unless that hook allows it."""

from __future__ import annotations

from pathlib import Path

from tests.test_delivery import eventually, make_config, message, metric, running
from whatshooked.events import with_seq


async def test_allow_insecure_skips_verification_for_that_hook_only(
    tmp_path: Path, tls_hook: tuple[str, list[bytes]]
) -> None:
    url, bodies = tls_hook
    # Only messages: strict's failure raises hook.failing to lax, which is not what this test counts.
    hooks = [{"id": "strict", "url": url, "events": ["message.*"]},
             {"id": "lax", "url": url, "allow_insecure": True, "events": ["message.*"]}]
    async with running(make_config(tmp_path, hooks, {"retry": []})) as h:
        event = message()
        await h.dispatcher.publish(event)
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="lax", outcome="delivered"))
        await eventually(lambda: metric(h.metrics, "whatshooked_deliveries_total", hook="strict", outcome="failed"))
        assert bodies == [with_seq(event.to_json(), 1)]
        assert h.store is not None
        rows = {row.hook_id: row for row in await h.store.deliveries_of(event.id)}
        assert rows["lax"].state == "delivered"
        assert rows["strict"].state == "failed" and "certificate" in rows["strict"].last_error.lower()
