"""A send body's unknown fields are a 400 naming them, not silently dropped."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import config, running

ACCOUNTS = "  - id: shop\n"


async def test_context_is_refused_and_points_at_reply_to(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        body = {"account_id": "shop", "to": "+15551234567", "text": "yes", "context": {"message_id": "wamid.Q"}}
        response = await run.client.post("/api/send", json=body)
        assert response.status == 400
        assert await response.text() == ("unknown field 'context' for this route "
                                         "(a quoted reply is 'reply_to': the message id)")
        assert run.adapter("shop").sent == []


async def test_known_fields_and_nulls_pass_and_other_kinds_name_theirs(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        ok = {"account_id": "shop", "to": "+15551234567", "text": "hi", "reply_to": "wamid.Q", "preview_url": None}
        assert (await run.client.post("/api/send", json=ok)).status == 200
        image = {"account_id": "shop", "to": "+15551234567", "image_data": "aGk=", "text": "caption?"}
        response = await run.client.post("/api/send/image", json=image)
        assert (response.status, await response.text()) == (400, "unknown field 'text' for this route")
        assert [request.body for request in run.adapter("shop").sent] == [{"text": "hi", "reply_to": "wamid.Q"}]
