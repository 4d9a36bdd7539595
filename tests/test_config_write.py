"""Write-back of API changes to the YAML file, and reloads (Settings, config_write)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from whatshooked.config import Config, load_config
from whatshooked.config_write import write_atomically, write_starter
from whatshooked.errors import RequestError
from whatshooked.settings import SaveError, Settings

ORIGINAL = """\
server:
  api_key: ${API_KEY}
accounts:
  - id: shop
    type: business-api
    business_api:
      phone_number_id: "1065"
      access_token: ${META_TOKEN:-fallback}
hooks:
  - id: crm
    url: https://crm.example.com/${HOOK_PATH}
"""
ENV = {"API_KEY": "k", "META_TOKEN": "EAAx", "HOOK_PATH": "in"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(ORIGINAL)
    return Settings(load_config(path, env=ENV), env=ENV)


def add_hook(raw: dict[str, Any]) -> str:
    raw["hooks"].append({"id": "new", "url": "http://127.0.0.1:9/x"})
    return "added"


async def test_a_change_keeps_untouched_variable_references(settings: Settings) -> None:
    assert await settings.change(add_hook) == "added"
    written = yaml.safe_load(settings.path.read_text())
    assert written["server"]["api_key"] == "${API_KEY}"
    assert written["accounts"][0]["business_api"]["access_token"] == "${META_TOKEN:-fallback}"
    assert written["hooks"][0]["url"] == "https://crm.example.com/${HOOK_PATH}"
    assert [h.id for h in settings.config.hooks] == ["crm", "new"]
    assert settings.config.hooks[0].url == "https://crm.example.com/in"


async def test_the_previous_file_is_kept_as_bak_and_both_are_private(settings: Settings) -> None:
    os.chmod(settings.path, 0o644)
    await settings.change(add_hook)
    bak = settings.path.with_name("config.yaml.bak")
    assert bak.read_text() == ORIGINAL
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600
    assert not [p for p in settings.path.parent.iterdir() if p.name.endswith(".tmp")]
    await settings.change(lambda raw: raw["hooks"].pop())
    assert "id: new" in bak.read_text()
    assert stat.S_IMODE(bak.stat().st_mode) == 0o600


async def test_an_invalid_change_is_refused_and_nothing_is_written(settings: Settings) -> None:
    def bad(raw: dict[str, Any]) -> None:
        raw["hooks"].append({"id": "broken", "url": "ftp://nope"})

    with pytest.raises(RequestError) as info:
        await settings.change(bad)
    assert str(info.value) == "hooks[1].url: must start with http:// or https://, not 'ftp://nope'"
    assert settings.path.read_text() == ORIGINAL
    assert not settings.path.with_name("config.yaml.bak").exists()
    assert [h.id for h in settings.config.hooks] == ["crm"]


async def test_an_edit_that_refuses_changes_nothing(settings: Settings) -> None:
    def refuse(raw: dict[str, Any]) -> None:
        raise RequestError("no", status=404)

    with pytest.raises(RequestError):
        await settings.change(refuse)
    assert settings.path.read_text() == ORIGINAL


async def test_a_write_failure_is_a_500_and_the_config_stays(settings: Settings) -> None:
    blocker = settings.path.with_name(f".config.yaml.{os.getpid()}.tmp")
    blocker.mkdir()  # the temp file cannot be created: as good as a full disk
    with pytest.raises(SaveError) as info:
        await settings.change(add_hook)
    assert info.value.status == 500 and str(settings.path) in str(info.value)
    assert [h.id for h in settings.config.hooks] == ["crm"]
    assert settings.path.read_text() == ORIGINAL


async def test_listeners_get_every_new_config_in_order(settings: Settings) -> None:
    seen: list[tuple[str, int]] = []

    async def first(config: Config) -> None:
        seen.append(("first", len(config.hooks)))

    async def broken(config: Config) -> None:
        raise RuntimeError("listener bug")

    async def last(config: Config) -> None:
        seen.append(("last", len(config.hooks)))

    for listener in (first, broken, last):
        settings.listen(listener)
    await settings.change(add_hook)
    assert seen == [("first", 2), ("last", 2)]


async def test_reload_reads_the_file_and_keeps_the_old_config_when_it_is_broken(settings: Settings) -> None:
    settings.path.write_text(ORIGINAL.replace("id: crm", "id: crm2"))
    assert await settings.reload()
    assert settings.config.hooks[0].id == "crm2"
    settings.path.write_text("hooks: [{id: x}]\n")
    assert not await settings.reload()
    assert settings.config.hooks[0].id == "crm2"


def test_write_atomically_creates_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    write_atomically(path, "a: 1\n")
    assert path.read_text() == "a: 1\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name("new.yaml.bak").exists()


def test_starter_config_is_valid_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    key = write_starter(path)
    assert len(key) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load_config(path, strict=True)
    assert config.server.api_key.reveal() == key
    (account,) = config.accounts
    assert account.type == "whatsmeow" and account.show_qr and not account.disabled
    assert config.storage.path == tmp_path / "sub" / "data" / "whatshooked.db"
    with pytest.raises(FileExistsError):
        write_starter(path)
    assert load_config(path).server.api_key.reveal() == key


async def test_an_edit_that_changes_nothing_writes_nothing(settings: Settings) -> None:
    settings.path.write_text("# my notes\n" + ORIGINAL)
    seen: list[Config] = []

    async def listener(config: Config) -> None:
        seen.append(config)

    settings.listen(listener)
    assert await settings.change(lambda raw: raw["hooks"][0].update(id="crm")) is None
    assert settings.path.read_text().startswith("# my notes\n") and seen == []
    assert not settings.path.with_name("config.yaml.bak").exists()


async def test_a_change_to_a_file_broken_by_hand_is_a_500_naming_the_problem(settings: Settings) -> None:
    broken = ORIGINAL + "  - id: [\n"  # edited, not yet reloaded: a write-back must not replace it
    settings.path.write_text(broken)
    with pytest.raises(SaveError) as info:
        await settings.change(add_hook)
    assert info.value.status == 500
    assert str(info.value).startswith(f"failed to save config to {settings.path}: not valid YAML (line ")
    assert settings.path.read_text() == broken and not settings.path.with_name("config.yaml.bak").exists()
