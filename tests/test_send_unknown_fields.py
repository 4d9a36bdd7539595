"""Every `/api/send*` route takes exactly the contract's fields plus DESIGN §8.3's; any other field is a
400 naming it (issue 12: a send with `context` answered 200 and dropped it)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.contract_schema import CONTRACT, resolve
from tests.support.harness import config, running
from whatshooked.accounts.send_fields import SEND_FIELDS
from whatshooked.accounts.sends import SEND_ROUTES

ACCOUNT = "  - id: personal\n"
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()


def contract_fields(path: str) -> set[str]:
    schema = resolve(CONTRACT["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])
    fields: set[str] = set()
    for part in schema.get("allOf", [schema]):
        fields |= set(resolve(part).get("properties", {}))
    return fields


@pytest.mark.parametrize("path", sorted(p for p in SEND_ROUTES if p in CONTRACT["paths"]))
def test_every_contract_field_is_taken(path: str) -> None:
    assert contract_fields(path) <= SEND_FIELDS[SEND_ROUTES[path]]


@pytest.mark.parametrize(("path", "body", "unknown"), [
    ("/api/send", {"text": "hi", "context": {"message_id": "m1"}}, "context"),
    ("/api/send/image", {"image_data": PIXEL, "mime_type": "image/png", "filename": "a.png"}, "filename"),
    ("/api/messages/read", {"message_id": "m1", "reply_to": "m0"}, "reply_to"),
])
async def test_an_unknown_field_is_a_400_naming_it(tmp_path: Path, path: str, body: dict[str, object],
                                                   unknown: str) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        response = await run.client.post(path, json={"account_id": "personal", "to": "15551234567", **body})
        assert response.status == 400
        text = await response.text()  # the route's own check names it first, or the per-kind table does
        assert text.startswith((f"field '{unknown}' is not a field of a ", f"unknown field '{unknown}' for this route"))
        assert run.adapter("personal").sent == []
        known = {key: value for key, value in body.items() if key != unknown}
        ok = await run.client.post(path, json={"account_id": "personal", "to": "15551234567", **known})
        assert ok.status == 200, await ok.text()
        assert len(run.adapter("personal").sent) == 1
