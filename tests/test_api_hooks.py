"""`/api/hooks*`: list, add, remove; write-back to the YAML file; bad bodies named by field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.harness import config, hook, running
from tests.support.receiver import HookReceiver
from whatshooked.delivery.signing import decode_secret, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ACCOUNT = "  - id: personal\n"


async def test_list_masks_the_secret_and_credential_headers(tmp_path: Path) -> None:
    hooks = hook("crm", "https://crm.example.com/wa", secret=SECRET, method="put",
                 headers='{Authorization: "Bearer abc", X-Team: blue}', events="[message.received]")
    async with running(tmp_path, config(hooks=hooks)) as run:
        response = await run.client.get("/api/hooks")
        assert response.status == 200
        assert await response.json() == [{
            "id": "crm", "name": "crm", "url": "https://crm.example.com/wa", "method": "PUT",
            "headers": {"Authorization": "***", "X-Team": "blue"}, "active": True,
            "events": ["message.received"], "description": "", "allow_insecure": False, "secret": "***",
            "accounts": [], "chats": None, "timeout": None, "retry": None, "ordered": False,
            "previous_secret_until": None,
        }]
        assert SECRET not in await response.text()


async def test_add_persists_and_the_new_hook_gets_events(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        body = {"id": "crm", "name": "CRM", "url": receiver.url, "active": True, "secret": SECRET,
                "events": ["message.*"], "headers": {"X-Team": "blue"}}
        response = await run.client.post("/api/hooks/add", json=body)
        assert response.status == 201
        assert await response.json() == {"status": "ok", "hook_id": "crm"}

        written = yaml.safe_load(run.path.read_text())
        assert written["hooks"] == [{"id": "crm", "name": "CRM", "url": receiver.url, "method": "POST",
                                     "active": True, "headers": {"X-Team": "blue"}, "events": ["message.*"],
                                     "secret": SECRET}]
        assert written["server"]["api_key"] == run.settings.config.server.api_key.reveal()

        event = await run.adapter("personal").receive("hello")
        (got,) = await receiver.wait_for(1)
        assert got.json()["id"] == event.id and got.headers["X-Team"] == "blue"
        timestamp = int(got.headers["webhook-timestamp"])
        assert verify(decode_secret(SECRET), event.id, timestamp, got.body, got.headers["webhook-signature"])


async def test_add_without_id_generates_one(tmp_path: Path) -> None:
    async with running(tmp_path, config()) as run:
        response = await run.client.post("/api/hooks/add", json={"url": "http://127.0.0.1:9/x", "name": "n"})
        assert response.status == 201
        hook_id = (await response.json())["hook_id"]
        assert [h.id for h in run.settings.config.hooks] == [hook_id]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
    (b"", "request body is empty"),
    (b'{"id": "x"}', "field 'url' is required"),
    (b'{"id": "x", "url": 5}', "field 'url' must be a string"),
    (b'{"id": "x", "url": "ftp://x"}', "field 'url' must start with http:// or https://"),
    (b'{"id": "x", "url": "http://x:99999/in"}', "field 'url' is not a valid URL: Port out of range 0-65535"),
    (b'{"id": "x", "url": "http://x", "active": "yes"}', "field 'active' must be true or false"),
    (b'{"id": "x", "url": "http://x", "method": "DELETE"}', "field 'method' must be one of GET, POST, PUT, PATCH"),
    (b'{"id": "x", "url": "http://x", "events": "message.*"}', "field 'events' must be a JSON array"),
    (b'{"id": "x", "url": "http://x", "events": [1]}', "field 'events[0]' must be a string"),
    (b'{"id": "x", "url": "http://x", "headers": {"A": 1}}', "field 'headers.A' must be a string"),
    (b'{"id": "x", "url": "http://x", "secret": "whsec_***"}', "field 'secret' must be whsec_ followed by base64"),
    (b'{"id": "a b", "url": "http://x"}', "field 'id' must be letters, digits"),
    (b'{"id": "dup", "url": "http://x"}', "hook 'dup' already exists"),
])
async def test_add_refuses_bad_bodies_naming_the_field(tmp_path: Path, body: bytes, message: str) -> None:
    async with running(tmp_path, config(hooks=hook("dup", "http://127.0.0.1:9/"))) as run:
        before = run.path.read_text()
        response = await run.client.post("/api/hooks/add", data=body, headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert response.content_type == "text/plain"
        assert message in await response.text()
        assert run.path.read_text() == before


async def test_remove(tmp_path: Path, receiver: HookReceiver) -> None:
    hooks = hook("a", receiver.url) + hook("b", "http://127.0.0.1:9/b")
    async with running(tmp_path, config(hooks=hooks, accounts=ACCOUNT)) as run:
        response = await run.client.post("/api/hooks/remove", json={"id": "a"})
        assert response.status == 200 and await response.json() == {"status": "ok"}
        assert [h["id"] for h in yaml.safe_load(run.path.read_text())["hooks"]] == ["b"]
        assert [h["id"] for h in await (await run.client.get("/api/hooks")).json()] == ["b"]
        assert (run.path.parent / "config.yaml.bak").exists()

        missing = await run.client.post("/api/hooks/remove", json={"id": "a"})
        assert missing.status == 404 and "hook 'a' not found" in await missing.text()
        no_id = await run.client.post("/api/hooks/remove", json={})
        assert no_id.status == 400 and "field 'id' is required" in await no_id.text()
    assert receiver.requests == []


async def test_a_body_past_max_body_is_413(tmp_path: Path) -> None:
    async with running(tmp_path, config(extra="  max_body: 1KB\n")) as run:
        response = await run.client.post("/api/hooks/add", json={"url": "http://x/" + "a" * 2000})
        assert response.status == 413
        assert await response.text()
