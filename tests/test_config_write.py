"""Write-back of API changes to the YAML file, and reloads (Settings, config_write)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.harness import running
from whatshooked.config.edit import Document
from whatshooked.config.load import load_config
from whatshooked.config.model import Config
from whatshooked.config.settings import SaveError, Settings
from whatshooked.config.write import write_atomically, write_starter
from whatshooked.errors import RequestError

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
    assert account.type == "whatsmeow" and account.settings.show_qr and not account.disabled
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


# A config edited by hand: comments everywhere, odd but valid quoting and spacing, a ${VAR}.
COMMENTED = """\
# whatshooked, edited by hand -- keep these notes
server:
  api_key:   'test-api-key-0123456789'    # odd spacing, single quotes

accounts:
  - id: personal   # my own phone
    phone_number: '+15551234567'
    show_qr: yes
  # the shop's Cloud API number
  - id: shop
    type: "business-api"
    business_api:
      phone_number_id: "1065"
      access_token: ${META_TOKEN}   # from the environment
      app_secret: 'appsecret'
hooks:
  # the CRM gets everything
  - id: crm
    url: "https://crm.example.com/${HOOK_PATH}"
    events: [message.received, 'message.sent']

  # the archive, added by hand
  - {id: archive, url: 'http://127.0.0.1:9/archive'}
# end of hooks
"""
HAND_ENV = {"META_TOKEN": "EAA-token", "HOOK_PATH": "in"}
NEW_HOOK = """\
  - id: new
    name: 'on'
    url: http://127.0.0.1:9/new
    method: POST
    active: true
    events:
      - message.*
"""


async def test_adding_a_hook_through_the_api_adds_exactly_its_lines(tmp_path: Path) -> None:
    async with running(tmp_path, COMMENTED, env=HAND_ENV) as run:
        body = {"id": "new", "name": "on", "url": "http://127.0.0.1:9/new", "events": ["message.*"]}
        assert (await run.client.post("/api/hooks/add", json=body)).status == 201
        # before the trailing comment, which belongs to what follows the list; "on" quoted for YAML 1.1
        assert run.path.read_text() == COMMENTED.replace("# end of hooks\n", NEW_HOOK + "# end of hooks\n")
        assert run.path.with_name("config.yaml.bak").read_text() == COMMENTED
        assert [(h.id, h.name) for h in run.settings.config.hooks] == [("crm", "crm"), ("archive", "archive"),
                                                                       ("new", "on")]
        assert run.settings.config.hooks[0].url == "https://crm.example.com/in"


async def test_removing_a_hook_takes_only_its_lines(tmp_path: Path) -> None:
    async with running(tmp_path, COMMENTED, env=HAND_ENV) as run:
        assert (await run.client.post("/api/hooks/remove", json={"id": "crm"})).status == 200
        crm = ('  - id: crm\n    url: "https://crm.example.com/${HOOK_PATH}"\n'
               "    events: [message.received, 'message.sent']\n")
        assert run.path.read_text() == COMMENTED.replace(crm, "")
        assert (await run.client.post("/api/hooks/remove", json={"id": "archive"})).status == 200
        # comments are never dropped with an entry; the emptied list is written `[]` below them
        assert run.path.read_text() == COMMENTED.replace(crm, "").replace(
            "  - {id: archive, url: 'http://127.0.0.1:9/archive'}\n", "    []\n")
        assert run.settings.config.hooks == ()


async def test_an_update_with_masked_secrets_changes_only_its_lines(tmp_path: Path) -> None:
    async with running(tmp_path, COMMENTED, env=HAND_ENV) as run:
        body = {"id": "shop", "type": "business-api", "phone_number": "+15559999999",
                "business_api": {"phone_number_id": "2000", "access_token": "***", "app_secret": "***",
                                 "verify_token": "fresh"}}
        assert (await run.client.post("/api/accounts/update", json=body)).status == 200
        assert run.path.read_text() == COMMENTED.replace(  # a changed value keeps the quoting it had
            '      phone_number_id: "1065"\n', '      phone_number_id: "2000"\n').replace(
            "      app_secret: 'appsecret'\n",
            "      app_secret: 'appsecret'\n      verify_token: fresh\n    phone_number: '+15559999999'\n")
        shop = run.settings.config.account("shop")
        assert shop is not None and shop.settings is not None
        assert shop.settings.access_token.reveal() == "EAA-token"
        assert (await run.client.post("/api/accounts/disable", json={"id": "personal"})).status == 200
        assert "    show_qr: yes\n    disabled: true\n  # the shop's Cloud API number\n" in run.path.read_text()


async def test_the_starter_config_keeps_its_comments_when_a_hook_is_added(tmp_path: Path) -> None:
    key = write_starter(tmp_path / "config.yaml")
    starter = (tmp_path / "config.yaml").read_text()
    async with running(tmp_path, starter, headers={"x-api-key": key}) as run:
        body = {"id": "crm", "url": "https://crm.example.com/wa"}
        assert (await run.client.post("/api/hooks/add", json=body)).status == 201
        hooks_line = next(line for line in starter.splitlines(keepends=True) if line.startswith("hooks:"))
        assert run.path.read_text() == starter.replace(hooks_line, hooks_line.replace("hooks: []", "hooks:   ") + (
            "  - id: crm\n    name: crm\n    url: https://crm.example.com/wa\n    method: POST\n    active: true\n"))
        assert [h.id for h in load_config(run.path, strict=True).hooks] == ["crm"]


def render(text: str, edit: Any) -> str | None:
    document = Document.parse(text, Path("config.yaml"))
    edit(document.data)
    return document.render()


def test_new_entries_follow_the_files_own_sequence_indentation() -> None:
    text = "---\n# notes\naccounts:\n- id: p\n  show_qr: true\nhooks: []\n"
    edited = render(text, lambda raw: raw["accounts"].append({"id": "q", "events": ["a"]}))
    assert edited == text.replace("hooks:", "- id: q\n  events:\n  - a\nhooks:")


def test_a_comment_after_the_last_entry_stays_with_what_follows_it() -> None:
    text = "hooks:\n  - id: a\n    url: http://a\n    # headers: {X: y}\n\n# accounts below\naccounts: []\n"
    edited = render(text, lambda raw: raw["hooks"].append({"id": "b", "url": "http://b"}))
    assert edited == text.replace("\n\n# accounts", "\n  - id: b\n    url: http://b\n\n# accounts")
    assert render(text, lambda raw: raw["hooks"][0].update(url="http://a")) is None
