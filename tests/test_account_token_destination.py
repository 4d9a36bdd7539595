"""A stored access token goes only where it was given for (issue 8 item 8).

Changing an account's `graph_url` through the API while sending the token back as "***" (or not at
all) would send the stored token to the new host: the change must carry the token itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cloud_daemon import TOKEN, cloud_daemon
from tests.support.graph_standin import GraphStandin


def saw_token(graph: GraphStandin) -> bool:
    return any(TOKEN in value for request in graph.requests for value in request.headers.values())


@pytest.mark.parametrize("token", ["***", None])
async def test_graph_url_change_without_the_token_is_refused(tmp_path: Path, token: str | None) -> None:
    other = GraphStandin(TOKEN)
    await other.start()
    try:
        async with cloud_daemon(tmp_path) as rig:
            before = rig.daemon.settings.path.read_text()
            business = {"graph_url": other.url, "app_secret": "***", "verify_token": "***"}
            if token is not None:
                business["access_token"] = token
            status, text = await rig.api("/api/accounts/update", {"id": "shop", "business_api": business})
            assert status == 400, text
            assert "field 'business_api.access_token'" in text and "graph_url" in text
            assert rig.daemon.settings.path.read_text() == before

            status, _ = await rig.api("/api/send", {"account_id": "shop", "to": "+15551234567", "text": "hi"})
            assert status == 200
            assert rig.graph.graph_requests("POST")  # still sent to the first Graph
            assert not saw_token(other) and other.requests == []

            # With the token itself the change is made, and the token goes where it was given for.
            business["access_token"] = TOKEN
            status, text = await rig.api("/api/accounts/update", {"id": "shop", "business_api": business})
            assert status == 200, text
            assert rig.daemon.settings.config.accounts[0].settings.graph_url == other.url
    finally:
        await other.close()


async def test_an_unchanged_graph_url_keeps_working_with_the_mask(tmp_path: Path) -> None:
    async with cloud_daemon(tmp_path) as rig:
        business = {"graph_url": rig.graph.url + "/", "access_token": "***", "api_version": "v23.0"}
        status, text = await rig.api("/api/accounts/update", {"id": "shop", "business_api": business})
        assert status == 200, text
        b = rig.daemon.settings.config.accounts[0].settings
        assert b is not None and b.access_token.reveal() == TOKEN and b.api_version == "v23.0"
