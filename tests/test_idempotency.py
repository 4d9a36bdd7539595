"""`Idempotency-Key` on the send routes: a repeat returns the first answer and sends nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.harness import AUTH, config, running, until
from tests.support.postgres import BACKENDS, open_backend
from whatshooked.accounts.base import SendRequest, SendResult
from whatshooked.errors import SendError
from whatshooked.store.base import KeptAnswer, Store
from whatshooked.store.memory import MemoryStore

ACCOUNTS = "  - id: shop\n  - id: personal\n"
TEXT = {"account_id": "shop", "to": "+15551234567", "text": "hi"}


def keyed(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


async def test_a_repeat_gets_the_first_answer_and_sends_nothing(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        first = await run.client.post("/api/send", json=TEXT, headers=keyed("order-1"))
        assert first.status == 200
        first_body = await first.read()
        again = await run.client.post("/api/send", json=TEXT, headers=keyed("order-1"))
        assert (again.status, await again.read()) == (200, first_body)
        assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/json; charset=utf-8"
        assert len(run.adapter("shop").sent) == 1

        other = await run.client.post("/api/send", json=TEXT, headers=keyed("order-2"))  # another key: sent
        assert other.status == 200 and await other.read() != first_body
        plain = await run.client.post("/api/send", json=TEXT)  # no key: always sent
        assert plain.status == 200
        assert len(run.adapter("shop").sent) == 3


async def test_keys_are_per_account(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        for account in ("shop", "personal"):
            response = await run.client.post("/api/send", json={**TEXT, "account_id": account},
                                             headers=keyed("same"))
            assert response.status == 200 and "Idempotent-Replayed" not in response.headers
        assert len(run.adapter("shop").sent) == 1 and len(run.adapter("personal").sent) == 1


async def test_the_same_key_for_another_request_is_422(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        assert (await run.client.post("/api/send", json=TEXT, headers=keyed("k"))).status == 200
        response = await run.client.post("/api/send", json={**TEXT, "text": "other"}, headers=keyed("k"))
        assert response.status == 422
        assert "Idempotency-Key was used for another request" in await response.text()
        assert len(run.adapter("shop").sent) == 1


async def test_a_repeat_while_the_first_runs_is_409(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        adapter = run.adapter("shop")
        gate = asyncio.Event()
        started: list[SendRequest] = []

        async def slow_send(request: SendRequest) -> SendResult:
            started.append(request)
            await gate.wait()
            return SendResult(message_id="slow-1", to=request.to)

        adapter.send = slow_send  # type: ignore[method-assign]
        first = asyncio.ensure_future(run.client.post("/api/send", json=TEXT, headers=keyed("k")))
        await until(lambda: started)
        pending = asyncio.ensure_future(run.client.post("/api/send", json=TEXT, headers=keyed("k")))
        await until(lambda: pending.done() or len(started) > 1)  # answered at once, or sending a second time
        assert len(started) == 1
        second = await pending
        assert second.status == 409 and "still running" in await second.text()
        gate.set()
        assert (await first).status == 200
        third = await run.client.post("/api/send", json=TEXT, headers=keyed("k"))
        assert third.status == 200 and third.headers["Idempotent-Replayed"] == "true"
        assert await third.json() == {"status": "ok", "message_id": "slow-1"}
        assert len(started) == 1


async def test_a_refusal_is_kept_but_a_bad_request_is_not(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        adapter = run.adapter("shop")
        bad = await run.client.post("/api/send", json={**TEXT, "text": 5}, headers=keyed("fix-me"))
        assert bad.status == 400  # nothing tried: the key stays free for the corrected request
        fixed = await run.client.post("/api/send", json=TEXT, headers=keyed("fix-me"))
        assert fixed.status == 200 and "Idempotent-Replayed" not in fixed.headers

        adapter.fail_with = SendError("WhatsApp did not accept the message: blocked")
        refused = await run.client.post("/api/send", json=TEXT, headers=keyed("refused"))
        assert (refused.status, await refused.text()) == (500, "WhatsApp did not accept the message: blocked")
        adapter.fail_with = None
        again = await run.client.post("/api/send", json=TEXT, headers=keyed("refused"))
        assert (again.status, await again.text()) == (500, "WhatsApp did not accept the message: blocked")
        assert again.headers["Content-Type"] == refused.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert len(adapter.sent) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
async def test_a_malformed_key_is_a_400_naming_the_header(tmp_path: Path, key: str) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        response = await run.client.post("/api/send", json=TEXT, headers=keyed(key))
        assert response.status == 400
        assert (await response.text()).startswith("header 'Idempotency-Key' must be 1 to 255 visible ASCII")
        assert run.adapter("shop").sent == []


async def test_every_send_route_takes_the_key(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        body = {"account_id": "shop", "to": "+15551234567", "image_data": "aGVsbG8=", "mime_type": "image/png"}
        for _ in range(2):
            assert (await run.client.post("/api/send/image", json=body, headers=keyed("img"))).status == 200
        read = {"account_id": "shop", "message_id": "wamid.1"}
        for _ in range(2):
            assert (await run.client.post("/api/messages/read", json=read, headers=keyed("read"))).status == 200
        assert len(run.adapter("shop").sent) == 2


async def test_a_restart_keeps_the_keys(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        first = await run.client.post("/api/send", json=TEXT, headers=keyed("restart"))
        first_body = await first.read()
    async with running(tmp_path, config(accounts=ACCOUNTS)) as run:
        again = await run.client.post("/api/send", json=TEXT, headers=keyed("restart"))
        assert (again.status, await again.read()) == (200, first_body)
        assert run.adapter("shop").sent == []


@pytest.mark.parametrize("backend", ["memory", *BACKENDS])
async def test_answers_are_kept_24_hours_in_every_store(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    now = time.time()
    store: Store = MemoryStore() if backend == "memory" else await open_backend(backend, tmp_path, request)
    try:
        old = KeptAnswer("f", 200, "application/json", b"{}", now - 86_401)
        await store.keep_answer("shop", "old", old, now - 2 * 86_400)
        fresh = KeptAnswer("f", 200, "application/json", b'{"a":1}', now)
        await store.keep_answer("shop", "fresh", fresh, now - 86_400)  # also forgets "old"
        assert await store.kept_answer("shop", "fresh", now - 86_400) == fresh
        assert await store.kept_answer("other", "fresh", now - 86_400) is None
        assert await store.kept_answer("shop", "old", now - 2 * 86_400) is None
    finally:
        await store.close()
