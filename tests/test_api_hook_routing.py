"""`POST /api/hooks/add` takes the routing, delivery and rotation keys; `GET /api/hooks` shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.harness import config, running
from tests.support.receiver import HookReceiver

ACCOUNTS = "  - id: shop\n  - id: personal\n"
OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SEED = "whsk_" + "A" * 43 + "="  # base64 of 32 zero bytes


async def test_add_takes_routing_keys_writes_them_and_lists_them(tmp_path: Path, receiver: HookReceiver) -> None:
    body = {"id": "crm", "url": receiver.url, "accounts": ["shop"], "ordered": True, "timeout": "5s",
            "retry": ["1s", 2], "chats": {"include": ["+1 555 123 4567", "120363000000000001@g.us"],
                                          "exclude": [], "groups": True, "from_me": False},
            "secret": SEED, "previous_secret": OLD, "previous_secret_until": "2026-12-31T00:00:00Z"}
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        response = await run.client.post("/api/hooks/add", json=body)
        assert response.status == 201, await response.text()
        written = yaml.safe_load(run.path.read_text())["hooks"][0]
        assert written["accounts"] == ["shop"] and written["ordered"] is True and written["timeout"] == "5s"
        assert written["chats"]["include"] == ["+1 555 123 4567", "120363000000000001@g.us"]

        listed = await (await run.client.get("/api/hooks")).json()
        shown = listed[0]
        assert {k: shown[k] for k in ("accounts", "ordered", "timeout", "retry", "chats")} == {
            "accounts": ["shop"], "ordered": True, "timeout": 5.0, "retry": [1.0, 2.0],
            "chats": {"include": ["+15551234567", "120363000000000001@g.us"], "exclude": [],
                      "groups": True, "from_me": False},
        }
        assert shown["secret"] == "***" and shown["previous_secret"] == "***"
        assert shown["previous_secret_until"] == "2026-12-31T00:00:00.000Z"
        # The public key of 32 zero bytes' Ed25519 key (RFC 8032's derivation), for receivers to verify with.
        assert shown["public_key"] == "whpk_O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="
        assert OLD not in await (await run.client.get("/api/hooks")).text()


@pytest.mark.parametrize(("extra", "message"), [
    ({"accounts": ["nope"]}, "field 'accounts[0]': names no configured account: 'nope' (known: personal, shop)"),
    ({"chats": {"include": ["hello"]}}, "field 'chats.include[0]' must be a phone number"),
    ({"timeout": "soon"}, "field 'timeout': 'soon' is not a duration"),
    ({"retry": "1s"}, "field 'retry' must be a list of waits"),
    ({"ordered": "yes"}, "field 'ordered' must be true or false"),
    ({"secret": "whsk_AAAA"}, "field 'secret' must be whsk_ followed by the base64 of exactly 32 bytes"),
    ({"secret": OLD, "previous_secret": "whsec_!"}, "field 'previous_secret' must be whsec_ followed by base64"),
    ({"secret": OLD, "previous_secret": OLD}, "field 'previous_secret_until' is required with previous_secret"),
    ({"secret": OLD, "previous_secret": OLD, "previous_secret_until": "tomorrow"},
     "field 'previous_secret_until' must be a time in ISO 8601, in UTC"),
    ({"secret": OLD, "previous_secret": OLD, "previous_secret_until": "2026-12-31T00:00:00+02:00"},
     "field 'previous_secret_until' must be a time in ISO 8601, in UTC"),
    ({"previous_secret": OLD, "previous_secret_until": "2026-12-31T00:00:00Z"},
     "field 'previous_secret': needs secret"),
    ({"routes": []}, "field 'routes' is not a field of a hook (it takes: "),
])
async def test_add_refuses_bad_routing_keys_naming_the_field(
    tmp_path: Path, extra: dict[str, Any], message: str
) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        before = run.path.read_text()
        response = await run.client.post("/api/hooks/add", json={"id": "crm", "url": "http://127.0.0.1:9/h", **extra})
        assert response.status == 400
        assert (await response.text()).startswith(message), await response.text()
        assert run.path.read_text() == before


async def test_removing_an_account_a_hook_names_is_refused_naming_the_hook_key(tmp_path: Path) -> None:
    hooks = "  - id: crm\n    url: http://127.0.0.1:9/h\n    accounts: [shop]\n"
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hooks)) as run:
        response = await run.client.post("/api/accounts/remove", json={"id": "shop"})
        assert response.status == 400
        assert "hooks[0].accounts[0]: names no configured account: 'shop'" in await response.text()
        assert [a.id for a in run.settings.config.accounts] == ["shop", "personal"]
