"""`POST /api/hooks/update` (any field, `***` keeps a secret, written back to the YAML), and unknown
fields refused by add and update (issue 12: `accounts` was accepted with 201 and ignored)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.harness import config, hook, running, until
from tests.support.receiver import HookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ACCOUNT = "  - id: personal\n"


def hooks_in(path: Path) -> dict[str, dict[str, object]]:
    return {h["id"]: h for h in yaml.safe_load(path.read_text())["hooks"]}


async def test_add_refuses_an_unknown_field(tmp_path: Path) -> None:
    async with running(tmp_path, config()) as run:
        response = await run.client.post("/api/hooks/add", json={"id": "crm", "url": "http://127.0.0.1:9/h",
                                                                 "colour": "blue"})
        assert response.status == 400
        assert (await response.text()).startswith("field 'colour' is not a field of a hook")
        assert "hooks" not in yaml.safe_load(run.path.read_text()) or not hooks_in(run.path)


async def test_update_changes_only_what_it_sends(tmp_path: Path, receiver: HookReceiver) -> None:
    text = config(hooks=hook("crm", "http://bob:pw@127.0.0.1:9/old", secret=SECRET, events="[message.*]",
                             headers="{Authorization: Bearer t0ken, X-Team: a}"), accounts=ACCOUNT)
    async with running(tmp_path, text) as run:
        listed = (await (await run.client.get("/api/hooks")).json())[0]
        assert listed["url"] == "http://bob:***@127.0.0.1:9/old" and listed["secret"] == "***"
        # Everything sent back as listed, but a new URL path, a new header value and a description.
        body = {**listed, "url": receiver.url, "description": "the CRM",
                "headers": {"Authorization": "***", "X-Team": "b"}}
        response = await run.client.post("/api/hooks/update", json=body)
        assert response.status == 200, await response.text()
        assert await response.json() == {"status": "ok", "hook_id": "crm"}
        stored = hooks_in(run.path)["crm"]
        assert stored["url"] == receiver.url and stored["secret"] == SECRET
        assert stored["headers"] == {"Authorization": "Bearer t0ken", "X-Team": "b"}
        assert stored["description"] == "the CRM" and stored["events"] == ["message.*"]
        live = run.settings.config.hooks[0]
        assert live.url == receiver.url and live.secret.reveal() == SECRET

        await run.adapter("personal").receive("one")
        (got,) = await receiver.wait_for(1)
        assert got.headers["Authorization"] == "Bearer t0ken" and got.headers["X-Team"] == "b"


async def test_pausing_through_update(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(hooks=hook("crm", receiver.url), accounts=ACCOUNT)) as run:
        response = await run.client.post("/api/hooks/update", json={"id": "crm", "active": False})
        assert response.status == 200
        assert hooks_in(run.path)["crm"]["active"] is False
        await run.adapter("personal").receive("one")
        status = (await (await run.client.get("/api/hooks/status")).json())[0]
        assert status["state"] == "paused"
        assert receiver.requests == []
        assert (await run.client.post("/api/hooks/update", json={"id": "crm", "active": True})).status == 200
        status = (await (await run.client.get("/api/hooks/status")).json())[0]
        assert status["state"] == "healthy"


async def test_update_refusals(tmp_path: Path) -> None:
    text = config(hooks=hook("crm", "http://127.0.0.1:9/h", secret=SECRET))
    async with running(tmp_path, text) as run:
        before = run.path.read_text()
        cases = [
            ({"id": "nope", "active": False}, 404, "hook 'nope' not found"),
            ({"id": "crm", "accounts_typo": ["shop"]}, 400, "field 'accounts_typo' is not a field of a hook"),
            ({"id": "crm", "url": "ftp://x"}, 400, "field 'url' must start with http:// or https://"),
            ({"id": "crm", "method": "DELETE"}, 400, "field 'method'"),
            ({"id": "crm", "active": "no"}, 400, "field 'active'"),
            ({"id": "crm", "headers": {"X-New": "***"}}, 400, "field 'headers.X-New' is ***"),
            ({"active": False}, 400, "field 'id'"),
        ]
        for body, status, text_start in cases:
            response = await run.client.post("/api/hooks/update", json=body)
            assert response.status == status, (body, await response.text())
            assert (await response.text()).startswith(text_start), (body, await response.text())
        assert run.path.read_text() == before


async def test_update_of_an_environment_secret_keeps_the_reference(tmp_path: Path) -> None:
    text = config(hooks=hook("crm", "http://127.0.0.1:9/h", secret="${HOOK_SECRET}"))
    path = tmp_path / "config.yaml"
    async with running(tmp_path, text, env={"HOOK_SECRET": SECRET}) as run:
        response = await run.client.post("/api/hooks/update", json={"id": "crm", "secret": "***", "name": "CRM"})
        assert response.status == 200, await response.text()
        await until(lambda: run.settings.config.hooks[0].name == "CRM")
        stored = hooks_in(path)["crm"]
        assert stored["secret"] == "${HOOK_SECRET}" and stored["name"] == "CRM"
