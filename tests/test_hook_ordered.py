"""`ordered: true`: one chat's events reach the hook one at a time, in order; other chats flow meanwhile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from tests.support.gated_receiver import gated
from tests.support.harness import until
from tests.test_delivery import running
from whatshooked.config.load import parse_config
from whatshooked.config.model import Config
from whatshooked.events import Event

CHAT_A = "+15551110000"
CHAT_B = "+15552220000"


def ordered_config(tmp_path: Path, url: str, ordered: bool, retry: list[float] | None = None) -> Config:
    raw = {
        "storage": {"path": str(tmp_path / "store.db")},
        "delivery": {"timeout": 30, "retry": [0.01, 0.01], "concurrency": 4},
        "hooks": [{"id": "crm", "url": url, "ordered": ordered, **({"retry": retry} if retry else {})}],
    }
    return parse_config(yaml.safe_dump(raw), tmp_path / "config.yaml")


def message(chat: str, text: str) -> Event:
    return Event("message.received", {"account_id": "shop", "chat": chat, "from": chat, "text": text})


async def test_ordered_hook_waits_for_each_answer_per_chat(tmp_path: Path) -> None:
    async with gated(lambda event, n: n == 0) as receiver:  # the first answer is held until we open the gate
        async with running(ordered_config(tmp_path, receiver.url, ordered=True)) as h:
            for index in range(1, 6):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await h.dispatcher.publish(message(CHAT_B, "b1"))
            await h.dispatcher.publish(Event("whatsapp.connected", {"account_id": "shop"}))
            # Another chat, and an event of no chat, are not held up by chat A's first answer...
            await receiver.wait_for(3)
            assert receiver.texts()[0] == "a1" and set(receiver.texts()[1:]) == {"b1", None}
            # ...while a2 (published before them, with free workers) still waits for a1.
            receiver.gate.set()
            await receiver.wait_for(7)
            assert [t for t in receiver.texts() if t and t.startswith("a")] == ["a1", "a2", "a3", "a4", "a5"]
            await until(lambda: h.store is not None and h.store.count == 0)


async def test_ordered_hook_holds_the_chat_through_retries(tmp_path: Path) -> None:
    async with gated(lambda event, n: False) as receiver:
        receiver.statuses = [503, 503]  # a1 fails twice, then is delivered
        async with running(ordered_config(tmp_path, receiver.url, ordered=True, retry=[0.01, 0.01, 0.01])) as h:
            for index in range(1, 4):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await receiver.wait_for(5)
            assert receiver.texts() == ["a1", "a1", "a1", "a2", "a3"]


async def test_ordered_hook_moves_on_when_an_event_is_given_up(tmp_path: Path) -> None:
    async with gated(lambda event, n: False) as receiver:
        receiver.statuses = [400]  # a1 is refused (not retried): a2 goes next
        async with running(ordered_config(tmp_path, receiver.url, ordered=True)) as h:
            for index in range(1, 3):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await receiver.wait_for(2)
            assert receiver.texts() == ["a1", "a2"]


async def test_without_ordered_the_same_chat_is_sent_side_by_side(tmp_path: Path) -> None:
    """The control: the same held first answer does not hold the others back on a hook that is not ordered."""
    async with gated(lambda event, n: n == 0) as receiver:
        async with running(ordered_config(tmp_path, receiver.url, ordered=False)) as h:
            for index in range(1, 4):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await receiver.wait_for(3)  # a2 and a3 arrive while a1's answer is held
            assert receiver.texts()[0] == "a1" and sorted(receiver.texts()[1:]) == ["a2", "a3"]
            receiver.gate.set()
            await until(lambda: h.store is not None and h.store.count == 0)


async def test_turning_ordered_off_releases_the_waiting_events(tmp_path: Path) -> None:
    async with gated(lambda event, n: n == 0) as receiver:
        cfg = ordered_config(tmp_path, receiver.url, ordered=True)
        async with running(cfg) as h:
            for index in range(1, 4):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await receiver.wait_for(1)
            assert len(h.dispatcher.hooks["crm"].jobs) == 3  # a2 and a3 wait behind a1
            h.dispatcher.set_hooks((dataclasses.replace(cfg.hooks[0], ordered=False),))
            await receiver.wait_for(3)  # they go while a1's answer is still held
            assert receiver.texts()[0] == "a1" and sorted(receiver.texts()[1:]) == ["a2", "a3"]
            receiver.gate.set()
            await until(lambda: h.store is not None and h.store.count == 0)


async def test_a_restart_keeps_each_chats_order(tmp_path: Path) -> None:
    async with gated(lambda event, n: False) as receiver:
        receiver.statuses = [503]  # a1 fails; its next attempt is an hour away when the daemon stops
        cfg = ordered_config(tmp_path, receiver.url, ordered=True, retry=[3600.0])
        async with running(cfg) as h:
            for index in range(1, 4):
                await h.dispatcher.publish(message(CHAT_A, f"a{index}"))
            await receiver.wait_for(1)
            await until(lambda: h.dispatcher.hooks["crm"].waiting())
        async with running(cfg) as h:
            runner = h.dispatcher.hooks["crm"]
            await until(lambda: len(runner.jobs) == 3)  # resumed: a1 waits for its time, a2 and a3 behind it
            (waiting,) = runner.waiting()
            runner.hurry(waiting)
            await receiver.wait_for(4)
            assert receiver.texts() == ["a1", "a1", "a2", "a3"]
