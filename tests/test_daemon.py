"""The daemon in one process: sends through the account manager, two-way replies, reloads, broken backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.harness import config, hook, running, until
from tests.support.receiver import HookReceiver, Reply
from tests.support.standin import StandInAdapter
from whatshooked.accounts.base import SendKind
from whatshooked.accounts.registry import Registry, UnavailableAdapter
from whatshooked.config.load import load_config
from whatshooked.config.settings import Settings
from whatshooked.errors import SendError
from whatshooked.service.daemon import Daemon

ACCOUNTS = "  - id: personal\n  - id: other\n"


def bodies_of(receiver: HookReceiver, event_type: str) -> list[dict[str, object]]:
    return [r.json() for r in receiver.requests if r.json()["type"] == event_type]


async def test_a_send_raises_message_sent(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("h", receiver.url))) as run:
        response = await run.client.post("/api/send", json={"account_id": "personal", "to": "+1 555 0100",
                                                            "text": "hello"})
        assert response.status == 200, await response.text()
        assert await response.json() == {"status": "ok", "message_id": "standin-1"}
        (sent,) = run.adapter("personal").sent
        assert sent.kind is SendKind.TEXT and sent.to == "15550100" and sent.body["text"] == "hello"
        (got,) = await receiver.wait_for(1)
        assert got.json()["type"] == "message.sent"
        assert got.json()["data"] == {"account_id": "personal", "message_id": "standin-1", "to": "15550100",
                                      "type": "text"}


async def test_a_refused_send_is_500_and_raises_message_failed(tmp_path: Path, receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("h", receiver.url))) as run:
        run.adapter("personal").fail_with = SendError("Recipient not on WhatsApp", code=131026)
        response = await run.client.post("/api/send", json={"account_id": "personal", "to": "15550100",
                                                            "text": "hello"})
        assert response.status == 500 and await response.text() == "Recipient not on WhatsApp"
        (got,) = await receiver.wait_for(1)
        assert got.json()["type"] == "message.failed"
        assert got.json()["data"] == {"account_id": "personal", "to": "15550100", "type": "text",
                                      "error": {"code": 131026, "message": "Recipient not on WhatsApp"}}


async def test_sends_the_account_cannot_do_or_cannot_address(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS + "    disabled: true\n")) as run:
        post = run.client.post
        location = await post("/api/send/location", json={"account_id": "personal", "to": "1555",
                                                          "latitude": 1.5, "longitude": 2.5})
        assert location.status == 400 and "does not support location" in await location.text()
        unknown = await post("/api/send", json={"account_id": "ghost", "to": "1555", "text": "x"})
        assert unknown.status == 400 and await unknown.text() == "account 'ghost' not found"
        bad_to = await post("/api/send", json={"account_id": "personal", "to": "nobody", "text": "x"})
        assert bad_to.status == 400 and "is not a phone number" in await bad_to.text()
        disabled = await post("/api/send", json={"account_id": "other", "to": "1555", "text": "x"})
        assert disabled.status == 409 and "(state: disabled)" in await disabled.text()  # DESIGN §8.3
        assert run.adapter("personal").sent == []


@pytest.mark.parametrize("reply", [
    {"send": {"type": "text", "text": "Thanks!"}},
    {"send": [{"text": "Thanks!"}, {"type": "text", "text": "From the other one", "account_id": "other",
                                    "to": "15559990000"}]},
])
async def test_a_hook_answer_with_send_is_sent(tmp_path: Path, receiver: HookReceiver, reply: dict[str, object]
                                               ) -> None:
    receiver.reply(Reply(body=reply))
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("h", receiver.url))) as run:
        await run.adapter("personal").receive("hi there", sender="15551234567")
        await until(lambda: len(bodies_of(receiver, "message.sent")) == (1 if isinstance(reply["send"], dict) else 2))
        (first,) = run.adapter("personal").sent
        assert first.kind is SendKind.TEXT and first.to == "15551234567" and first.body["text"] == "Thanks!"
        if isinstance(reply["send"], list):
            (second,) = run.adapter("other").sent
            assert second.to == "15559990000" and second.body["text"] == "From the other one"


async def test_a_bad_reply_item_is_skipped_and_the_rest_sent(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.reply(Reply(body={"send": [{"type": "telepathy"}, {"type": "text"}, {"text": "ok"}]}))
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("h", receiver.url))) as run:
        await run.adapter("personal").receive("hi")
        await until(lambda: bodies_of(receiver, "message.sent"))
        assert [s.body["text"] for s in run.adapter("personal").sent] == ["ok"]


async def test_reload_applies_hooks_and_accounts_without_losing_events(tmp_path: Path,
                                                                        receiver: HookReceiver) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("old", receiver.url + "/old"))) as run:
        personal = run.adapter("personal")
        before = await personal.receive("before")
        await receiver.wait_for(1)
        run.path.write_text(config(accounts="  - id: personal\n  - id: third\n",
                                   hooks=hook("new", receiver.url + "/new")))
        run.daemon.reload()
        await until(lambda: run.settings.config.hook("new") is not None)
        await until(lambda: [a.id for a in run.daemon.accounts.adapters()] == ["personal", "third"])
        assert run.adapter("personal") is personal  # unchanged accounts keep their session
        after = await personal.receive("after")
        got = await receiver.wait_for(2)
        assert {(r.path, r.json()["id"]) for r in got} == {("/hook/old", before.id), ("/hook/new", after.id)}


async def test_deliveries_in_flight_survive_a_reload(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(delay=0.05)
    async with running(tmp_path, config(accounts=ACCOUNTS, hooks=hook("keep", receiver.url))) as run:
        sent = [await run.adapter("personal").receive(f"m{i}") for i in range(10)]
        run.path.write_text(config(accounts=ACCOUNTS + "  - id: third\n", hooks=hook("keep", receiver.url)))
        assert await run.settings.reload()
        got = await receiver.wait_for(10)
        assert sorted(r.json()["id"] for r in got) == sorted(e.id for e in sent)


async def test_a_broken_reload_keeps_the_running_config(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        run.path.write_text("hooks: [{id: x}]\n")
        assert not await run.settings.reload()
        assert [a.id for a in run.daemon.accounts.adapters()] == ["personal", "other"]


async def test_a_backend_that_cannot_load_leaves_its_account_in_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config(accounts="  - id: web\n  - id: shop\n    type: business-api\n"
                                    "    business_api: {phone_number_id: '1', access_token: t}\n"))
    registry = Registry({"whatsmeow": "whatshooked.no_such_backend:Adapter", "business-api": StandInAdapter})
    daemon = Daemon(Settings(load_config(path)), registry)
    await daemon.open()
    try:  # a WhatsApp Web backend loads in a thread while the API listens (the account shows `connecting`)
        await until(lambda: isinstance(daemon.accounts.adapters()[0], UnavailableAdapter))
        web, shop = daemon.accounts.adapters()
        assert isinstance(web, UnavailableAdapter) and web.state == "error"
        assert "the whatsmeow backend could not be loaded" in (web.last_error or "")
        assert shop.state == "connected"
    finally:
        await daemon.close()


async def test_webhooks_of_a_disabled_account_are_not_served(tmp_path: Path) -> None:
    shop = ("  - id: shop\n    type: business-api\n    disabled: true\n"
            "    business_api: {phone_number_id: '1', access_token: t}\n")
    async with running(tmp_path, config(accounts=shop)) as run:
        assert (await run.client.post("/webhooks/whatsapp/shop", json={"text": "x"})).status == 404
        assert (await run.client.post("/api/accounts/enable", json={"id": "shop"})).status == 200
        assert (await run.client.post("/webhooks/whatsapp/shop", json={"text": "x"})).status == 200


async def test_close_disconnects_every_account(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        adapters = [run.adapter("personal"), run.adapter("other")]
    assert [a.disconnects for a in adapters] == [1, 1]
