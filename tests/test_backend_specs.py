"""A new account type is one folder under `whatshooked/accounts/`: found, parsed, masked, scrubbed.

The `telegram` backend below lives only in a temporary folder added to the accounts package's
path; nothing else in the package names it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import whatshooked.accounts
from tests.support.harness import config, running
from whatshooked.accounts import backends
from whatshooked.config.load import parse_config
from whatshooked.errors import ConfigError

TELEGRAM = '''
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whatshooked.accounts.spec import BackendSpec, settings_json
from whatshooked.config.values import Secret


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: Secret
    chat: str = ""


def parse(item: dict[str, Any], key: str, account_id: str, reader: Any) -> TelegramSettings:
    token = reader.get(item, key, "bot_token", str, "")
    if not token:
        reader.problem(f"{key}.bot_token", "is required")
    return TelegramSettings(bot_token=Secret(token), chat=reader.get(item, key, "chat", str, ""))


def api_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in ("bot_token", "chat") if name in body}


def merge_update(entry: dict[str, Any], fields: dict[str, Any], current: Any) -> None:
    entry.update({k: v for k, v in fields.items() if v != "***"})


SPEC = BackendSpec(type_name="telegram", label="telegram", adapter="tests.support.standin:StandInAdapter",
                   keys=frozenset({"bot_token", "chat"}), parse=parse, to_api=settings_json,
                   api_fields=api_fields, merge_update=merge_update)
'''

ACCOUNT = "  - id: tg\n    type: telegram\n    bot_token: tg-secret-123\n    chat: news\n"


@pytest.fixture(autouse=True)
def telegram_backend(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    folder = tmp_path_factory.mktemp("backends")
    (folder / "telegram").mkdir()
    (folder / "telegram" / "__init__.py").write_text(textwrap.dedent(TELEGRAM))
    monkeypatch.setattr(whatshooked.accounts, "__path__", [*whatshooked.accounts.__path__, str(folder)])
    backends._found.cache_clear()
    yield
    backends._found.cache_clear()


def test_a_new_type_is_found_and_parsed_by_its_own_folder(tmp_path: Path) -> None:
    assert tuple(backends.backend_specs()) == ("whatsmeow", "business-api", "telegram")
    parsed = parse_config(config(accounts=ACCOUNT), tmp_path / "c.yaml")
    (account,) = parsed.accounts
    assert account.type == "telegram" and account.settings.chat == "news"
    assert "tg-secret-123" in parsed.secrets()  # a Secret field is scrubbed without being listed anywhere


def test_its_problems_name_the_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config(accounts="  - id: tg\n    type: telegram\n"), tmp_path / "c.yaml")
    assert str(caught.value) == f"{tmp_path / 'c.yaml'}: accounts[0].bot_token: is required"


async def test_the_api_masks_its_secret_and_keeps_it_on_the_mask(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        response = await run.client.get("/api/accounts")
        assert await response.json() == [
            {"id": "tg", "type": "telegram", "phone_number": "", "bot_token": "***", "chat": "news",
             "disabled": False}]
        update = {"id": "tg", "bot_token": "***", "chat": "sport"}
        assert (await run.client.post("/api/accounts/update", json=update)).status == 200
        (entry,) = yaml.safe_load(run.path.read_text())["accounts"]
        assert entry == {"id": "tg", "type": "telegram", "bot_token": "tg-secret-123", "chat": "sport"}
