"""Config keys of the send/lookup breadth: an account's `proxy` and `media.fetch_private`."""

from __future__ import annotations

from pathlib import Path

import pytest

from whatshooked.config.load import parse_config
from whatshooked.errors import ConfigError

BASE = "accounts:\n  - id: personal\n    type: whatsmeow\n"


def test_proxy_and_fetch_private_are_read(tmp_path: Path) -> None:
    for proxy in ("socks5://127.0.0.1:1080", "socks5h://user:pw@proxy.lan:1080", "http://p:3128", "https://p"):
        config = parse_config(f"{BASE}    proxy: {proxy}\nmedia:\n  fetch_private: true\n", tmp_path / "c.yaml")
        assert config.accounts[0].settings.proxy == proxy and config.media.fetch_private is True
    assert "pw" in parse_config(f"{BASE}    proxy: socks5h://user:pw@proxy.lan:1080\n", tmp_path / "c.yaml").secrets()
    assert parse_config(BASE, tmp_path / "c.yaml").accounts[0].settings.proxy == ""
    assert parse_config(BASE, tmp_path / "c.yaml").media.fetch_private is False


@pytest.mark.parametrize(("proxy", "why"), [
    ("ftp://p:21", "must be a socks5://"), ("socks5://", "with a host"), ("127.0.0.1:1080", "must be a socks5://"),
    ("socks5://p:99999", "port"), ("http://p:abc", "port"),
])
def test_a_bad_proxy_is_a_config_error_naming_the_key(tmp_path: Path, proxy: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"{BASE}    proxy: \"{proxy}\"\n", tmp_path / "c.yaml")
    assert "c.yaml: accounts[0].proxy: " in str(caught.value) and why in str(caught.value)


def test_proxy_is_for_whatsapp_web_accounts(tmp_path: Path) -> None:
    text = ("accounts:\n  - id: shop\n    type: business-api\n    proxy: socks5://p:1\n"
            "    business_api: {phone_number_id: '1', access_token: t}\n")
    with pytest.raises(ConfigError, match=r"accounts\[0\].proxy: is only for whatsmeow"):
        parse_config(text, tmp_path / "c.yaml")


async def test_proxy_through_the_accounts_api(tmp_path: Path) -> None:
    from tests.support.harness import config, running

    async with running(tmp_path, config(accounts="  - id: personal\n")) as run:
        bad = await run.client.post("/api/accounts/update", json={"id": "personal", "proxy": "ftp://p:21"})
        bad_text = await bad.text()
        good = await run.client.post("/api/accounts/update", json={"id": "personal",
                                                                   "proxy": "socks5://me:s3cret@proxy.lan:1080"})
        good_text = await good.text()
        listed = await (await run.client.get("/api/accounts")).json()
    assert bad.status == 400 and "accounts[0].proxy" in bad_text, bad_text
    assert good.status == 200, good_text
    assert listed[0]["proxy"] == "socks5://me:***@proxy.lan:1080"
    assert "socks5://me:s3cret@proxy.lan:1080" in (tmp_path / "config.yaml").read_text()
