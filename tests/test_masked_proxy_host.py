"""A proxy sent back with a `***` password but another host is refused: the stored password stays home."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import config, running


async def test_a_masked_proxy_password_with_a_new_host_is_a_400_naming_proxy(tmp_path: Path) -> None:
    accounts = "  - id: web\n    type: whatsmeow\n    proxy: http://user:pw-SECRET@127.0.0.1:3128\n"
    async with running(tmp_path, config(accounts=accounts)) as r:
        response = await r.client.post("/api/accounts/update",
                                       json={"id": "web", "proxy": "http://user:***@evil.example:3128"})
        assert response.status == 400
        assert "'proxy'" in await response.text()
        assert "evil.example" not in r.path.read_text()
        account = r.settings.config.account("web")
        assert account is not None and account.settings.proxy == "http://user:pw-SECRET@127.0.0.1:3128"
