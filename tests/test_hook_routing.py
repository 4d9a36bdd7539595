"""Per-hook routing (`accounts`, `chats`), per-hook `timeout` / `retry`, through the real dispatcher
and a real receiver on 127.0.0.1 (DESIGN §8.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.gated_receiver import gated
from tests.support.harness import until
from tests.support.receiver import HookReceiver, Reply
from tests.test_delivery import FAST, running
from whatshooked.config.load import parse_config
from whatshooked.config.model import Config
from whatshooked.delivery.routing import chat_key
from whatshooked.errors import ConfigError
from whatshooked.events import Event
from whatshooked.store.base import DeliveryRow, Store

GROUP = "120363000000000001@g.us"


def routed_config(tmp_path: Path, hooks: list[dict[str, Any]], delivery: dict[str, Any] | None = None) -> Config:
    raw = {
        "storage": {"path": str(tmp_path / "store.db")},
        "delivery": {**FAST, **(delivery or {})},
        "accounts": [{"id": "shop"}, {"id": "personal"}],
        "hooks": hooks,
    }
    return parse_config(yaml.safe_dump(raw), tmp_path / "config.yaml")


async def until_given_up(store: Store | None, event: Event, hooks: int) -> list[DeliveryRow]:
    """Wait until every one of `hooks` hooks gave the event up; its rows."""
    assert store is not None

    async def given_up() -> bool:
        rows = await store.deliveries_of(event.id)
        return len(rows) == hooks and all(row.state == "failed" for row in rows)

    await until(given_up)
    return await store.deliveries_of(event.id)


def paths(receiver: HookReceiver, name: str) -> list[str]:
    """The `text` (or type) of every event the receiver got at /<name>, in arrival order."""
    return [r.json()["data"].get("text") or r.json()["type"] for r in receiver.requests if r.path == f"/{name}"]


def at(receiver: HookReceiver, name: str) -> str:
    return receiver.url.rsplit("/", 1)[0] + f"/{name}"


async def test_accounts_keeps_other_accounts_events_out(tmp_path: Path, receiver: HookReceiver) -> None:
    hooks = [{"id": "shop-only", "url": at(receiver, "shop-only"), "accounts": ["shop"]},
             {"id": "all", "url": at(receiver, "all")}]
    async with running(routed_config(tmp_path, hooks)) as h:
        shop = Event("message.received", {"account_id": "shop", "chat": "+15551234567", "text": "shop"})
        personal = Event("message.received", {"account_id": "personal", "chat": "+15551234567", "text": "personal"})
        no_account = Event("hook.failing", {"hook_id": "x"})
        for event in (shop, personal, no_account):
            await h.dispatcher.publish(event)
        await receiver.wait_for(5)
        assert sorted(paths(receiver, "all")) == ["hook.failing", "personal", "shop"]
        assert sorted(paths(receiver, "shop-only")) == ["hook.failing", "shop"]
        assert h.store is not None
        owed = [row.hook_id for row in await h.store.deliveries_of(personal.id)]
        assert owed == ["all"]  # never owed to shop-only: nothing to replay


async def test_chat_filters_include_exclude_groups_and_from_me(tmp_path: Path, receiver: HookReceiver) -> None:
    hooks = [
        {"id": "inc", "url": at(receiver, "inc"), "chats": {"include": ["+1 (555) 123-4567"]}},
        {"id": "exc", "url": at(receiver, "exc"), "chats": {"exclude": [GROUP]}},
        {"id": "nogroups", "url": at(receiver, "nogroups"), "chats": {"groups": False}},
        {"id": "notme", "url": at(receiver, "notme"), "chats": {"from_me": False}},
        {"id": "jid", "url": at(receiver, "jid"), "chats": {"include": ["15559999999@s.whatsapp.net"]}},
    ]
    events = [
        Event("message.received", {"account_id": "shop", "chat": "+15551234567", "from": "+15551234567",
                                   "text": "direct"}),
        Event("message.received", {"account_id": "shop", "chat": "+15559999999", "from": "+15559999999",
                                   "text": "other"}),
        Event("message.received", {"account_id": "shop", "chat": GROUP, "from": "+15551234567", "is_group": True,
                                   "text": "group"}),
        Event("message.received", {"account_id": "shop", "chat": "+15559999999", "from": "+15550000000",
                                   "from_me": True, "text": "mine"}),
        Event("whatsapp.connected", {"account_id": "shop"}),
        Event("message.sent", {"account_id": "shop", "to": "15551234567@s.whatsapp.net", "text": "sent"}),
    ]
    expected = {
        "inc": ["direct", "group", "whatsapp.connected", "sent"],
        "exc": ["direct", "other", "mine", "whatsapp.connected", "sent"],
        "nogroups": ["direct", "other", "mine", "whatsapp.connected", "sent"],
        "notme": ["direct", "other", "group", "whatsapp.connected", "sent"],
        "jid": ["other", "mine", "whatsapp.connected"],
    }
    async with running(routed_config(tmp_path, hooks)) as h:
        for event in events:
            await h.dispatcher.publish(event)
        await receiver.wait_for(sum(len(names) for names in expected.values()))
        for name, wanted in expected.items():
            assert sorted(paths(receiver, name)) == sorted(wanted), name
        assert h.store is not None
        await until(lambda: h.store is not None and h.store.count == 0)  # nothing is owed to a filtered-out hook


async def test_per_hook_retry_and_timeout_override_delivery(tmp_path: Path, receiver: HookReceiver) -> None:
    receiver.default = Reply(status=503)
    hooks = [
        # Messages only: each failing hook raises hook.failing to the others, which this does not count.
        {"id": "once", "url": at(receiver, "once"), "retry": [], "events": ["message.*"]},
        {"id": "default", "url": at(receiver, "default"), "events": ["message.*"]},
        {"id": "more", "url": at(receiver, "more"), "retry": ["10ms", 0.01, 0.01, 0.01], "events": ["message.*"]},
    ]
    async with running(routed_config(tmp_path, hooks)) as h:
        event = Event("message.received", {"account_id": "shop", "chat": "+15551234567", "text": "x"})
        await h.dispatcher.publish(event)
        await until_given_up(h.store, event, 3)
        assert len(paths(receiver, "once")) == 1  # retry: [] -> no retries
        assert len(paths(receiver, "default")) == 3  # delivery.retry has two waits
        assert len(paths(receiver, "more")) == 5


async def test_per_hook_timeout_is_the_attempt_limit(tmp_path: Path) -> None:
    async with gated(lambda event, n: True) as receiver:  # the hook never answers within its own timeout
        hooks = [{"id": "quick", "url": receiver.url, "timeout": "50ms", "retry": []}]
        async with running(routed_config(tmp_path, hooks, {"timeout": "1h"})) as h:
            event = Event("message.received", {"account_id": "shop", "chat": "+15551234567", "text": "x"})
            await h.dispatcher.publish(event)
            rows = await until_given_up(h.store, event, 1)
            assert rows[0].last_error == "no answer within 0.05s"


@pytest.mark.parametrize(("hook", "key", "why"), [
    ({"accounts": ["nope"]}, "hooks[0].accounts[0]", "names no configured account: 'nope' (known: personal, shop)"),
    ({"accounts": "shop"}, "hooks[0].accounts", "must be a list of account ids"),
    ({"chats": {"include": ["hello"]}}, "hooks[0].chats.include[0]", "must be a phone number"),
    ({"chats": {"groups": "no"}}, "hooks[0].chats.groups", "must be true or false"),
    ({"chats": {"people": []}}, "hooks[0].chats.people", "unknown key"),
    ({"chats": ["+15551234567"]}, "hooks[0].chats", "must be a mapping"),
    ({"timeout": "soon"}, "hooks[0].timeout", "is not a duration"),
    ({"timeout": 0}, "hooks[0].timeout", "must be more than 0"),
    ({"retry": "1s"}, "hooks[0].retry", "must be a list of waits"),
    ({"retry": ["1s", "later"]}, "hooks[0].retry[1]", "is not a duration"),
    ({"ordered": "yes"}, "hooks[0].ordered", "must be true or false"),
])
def test_bad_routing_keys_are_config_errors_naming_file_and_key(
    tmp_path: Path, hook: dict[str, Any], key: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        routed_config(tmp_path, [{"id": "crm", "url": "http://127.0.0.1:9/h", **hook}])
    assert any(p.startswith(f"{tmp_path / 'config.yaml'}: {key}: ") and why in p for p in caught.value.problems), \
        caught.value.problems


@pytest.mark.parametrize(("written", "compared"), [
    ("+15551234567", "+15551234567"), (" +1 (555) 123-4567 ", "+15551234567"), ("0015551234567", "+15551234567"),
    ("15551234567@s.whatsapp.net", "+15551234567"), ("15551234567:7@s.whatsapp.net", "+15551234567"),
    ("15551234567@c.us", "+15551234567"), ("120363000000000001@G.US", "120363000000000001@g.us"),
    ("2000000000001@lid", "2000000000001@lid"),
    ("+\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", None),  # other scripts' digits are not a phone number
    ("hello", None), ("@g.us", None), ("+123", None),
])
def test_chat_entries_and_event_addresses_compare_in_one_form(written: str, compared: str | None) -> None:
    assert chat_key(written) == compared
