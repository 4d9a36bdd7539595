"""Webhook paths are routed, not caught after a 404: aiohttp builds no `HTTPNotFound` for a webhook.

Before: a middleware served them after the router had failed to match, so every webhook cost a
404 response object that was thrown away (issue 14's profile); other paths must still get 404/405."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web_urldispatcher

from tests.support.cloud_daemon import API_KEY, VERIFY_TOKEN, WEBHOOK_PATH, cloud_daemon
from tests.support.receiver import HookReceiver
from tests.test_review_hostile import text_webhook


async def test_a_webhook_is_served_without_a_404_being_made(tmp_path: Path, receiver: HookReceiver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []

    class CountedNotFound(web_urldispatcher.HTTPNotFound):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(web_urldispatcher, "HTTPNotFound", CountedNotFound)
    async with cloud_daemon(tmp_path, receiver) as rig:
        status, _ = await rig.webhook(text_webhook("wamid.ROUTED"))
        assert status == 200
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        async with rig.http.get(rig.url + WEBHOOK_PATH, params=query) as response:
            assert response.status == 200 and await response.text() == "42"
        assert made == []
        async with rig.http.post(rig.url + "/webhooks/whatsapp/nobody", json={}) as response:
            assert response.status == 404
        assert len(made) == 1  # the router's own 404 for a path no account listens on
        async with rig.http.get(rig.url + "/api/hooks/add", headers={"x-api-key": API_KEY}) as response:
            assert response.status == 405
        status, _ = await rig.api("/api/accounts/disable", {"id": "shop"})
        assert status == 200
        status, _ = await rig.webhook(text_webhook("wamid.AFTER"))
        assert status == 404  # a disabled account's path is no longer served
