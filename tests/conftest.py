from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.receiver import HookReceiver

pytest_plugins = [
    "tests.support.postgres",  # pg_cluster (session), pg_url (a fresh database per test), store (each backend)
    "tests.support.tls",  # tls_hook: an https hook with a self-signed certificate
]


@pytest.fixture
async def receiver() -> AsyncIterator[HookReceiver]:
    hook = HookReceiver()
    await hook.start()
    yield hook
    await hook.close()

