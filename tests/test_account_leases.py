"""Account leases (issue 11 item 3): one daemon drives each WhatsApp Web account at a time.

The leases themselves on a real PostgreSQL (take, renew, name the owner, release, expire on the
database's clock); the account manager acting on them in process, with stand-in adapters and leases
it is told about (taking an account over, handing one back, stopping its sessions when the database
stays out of reach for most of a lease).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from tests.support.harness import config, until
from tests.support.neonize_standin import FAST, Sessions
from tests.support.standin import StandInAdapter
from whatshooked.accounts.base import AccountState
from whatshooked.accounts.manager import AccountManager, Lent
from whatshooked.accounts.registry import Registry
from whatshooked.accounts.seams import Seams
from whatshooked.accounts.whatsapp_web.seams import WebSeams, WebTiming
from whatshooked.config.load import load_config
from whatshooked.config.model import StorageConfig
from whatshooked.errors import StoreError
from whatshooked.service.metrics import Metrics
from whatshooked.service.systemd_notify import status_line
from whatshooked.store.open import open_store


async def test_leases_name_one_owner_and_pass_on_release_or_expiry(pg_url: str) -> None:
    a = await open_store(StorageConfig(url=pg_url, node_id="a", lease=1.0))
    b = await open_store(StorageConfig(url=pg_url, node_id="b", lease=30.0))
    try:
        la, lb = a.account_leases, b.account_leases
        assert la is not None and lb is not None
        assert await la.hold(["x", "y"]) == {"x": "a", "y": "a"}
        assert await lb.hold(["x", "y", "z"]) == {"x": "a", "y": "a", "z": "b"}
        assert await la.hold(["x", "y", "z"]) == {"x": "a", "y": "a", "z": "b"}  # renewed; z is b's
        await lb.release(["x"])  # not b's: nothing happens
        assert await lb.hold(["x"]) == {"x": "a"}
        await la.release(["x"])  # a clean stop: b may take it at once
        assert await lb.hold(["x"]) == {"x": "b"}

        async def y_expired() -> bool:  # a stops renewing y (it died): b takes it once a's 1s lease ran out
            return await lb.hold(["y"]) == {"y": "b"}

        await until(y_expired, within=10)
        assert await la.hold(["x", "y", "z"]) == {"x": "b", "y": "b", "z": "b"}
    finally:
        await a.close()
        await b.close()


class WebStandIn(StandInAdapter):
    exclusive: ClassVar[bool] = True


class Leases:
    """What the store would say, as the test decides; `failing`: the database is out of reach."""

    node = "me"
    lease = 0.3

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        self.failing = False
        self.released: list[str] = []
        self.schema_failures = 0
        self.schemas_asked = 0

    async def hold(self, account_ids: Sequence[str]) -> dict[str, str]:
        if self.failing:
            raise StoreError("db: cannot renew the WhatsApp Web account leases: connection refused")
        return {i: self.owners.get(i, self.node) for i in account_ids}

    async def release(self, account_ids: Sequence[str]) -> None:
        self.released += account_ids

    async def session_database(self, account_id: str) -> str:
        self.schemas_asked += 1
        if self.schema_failures > 0:
            self.schema_failures -= 1
            raise StoreError("db: cannot prepare the WhatsApp Web session schema: connection refused")
        return f"postgresql://db/wh?search_path=whatsmeow_{account_id}"


async def emit(event: Any, dedupe_key: str | None = None) -> bool:
    return True


async def test_the_manager_drives_what_it_holds_and_stands_by_for_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config(accounts="  - {id: x}\n  - {id: y}\n  - id: shop\n    type: business-api\n"
                                    "    business_api: {phone_number_id: '1', access_token: t, app_secret: s}\n"))
    leases = Leases({"y": "other"})
    lent = Lent(emit=emit, http=None, media=None, metrics=Metrics(), node="me", leases=leases)  # type: ignore[arg-type]
    manager = AccountManager(lent, Registry({"whatsmeow": WebStandIn, "business-api": StandInAdapter}))
    await manager.start(load_config(path))
    x, y, shop = (manager.get(i) for i in ("x", "y", "shop"))
    task = None
    try:
        assert [(e["id"], e["state"], e["node"]) for e in manager.status()] == [
            ("x", "connected", "me"), ("y", "standby", "other"), ("shop", "connected", "me")]
        assert x.ctx.session_database == leases.session_database

        task = asyncio.get_running_loop().create_task(manager.hold_forever())
        leases.owners = {"x": "other"}  # y's owner died (its lease is ours now); another took x
        await until(lambda: x.state is AccountState.STANDBY and y.state is AccountState.CONNECTED, within=5)
        assert isinstance(x, WebStandIn) and (x.connects, x.disconnects) == (1, 1) and x.node == "other"
        assert isinstance(y, WebStandIn) and y.connects == 1 and y.node == ""

        leases.failing = True  # out of reach for most of a lease: y's session stops (another may take it)
        await until(lambda: y.state is AccountState.STANDBY, within=5)
        assert y.disconnects == 1 and shop.state is AccountState.CONNECTED
    finally:
        if task is not None:
            task.cancel()
        await manager.close()
    assert sorted(leases.released) == ["x", "y"]


async def test_a_web_account_in_a_cluster_opens_its_session_in_the_database_once_it_answers(tmp_path: Path) -> None:
    """The real WhatsApp Web adapter (sessions stood in): its session is made with the database's URL, after
    retrying with backoff while the account's schema cannot be prepared."""
    path = tmp_path / "config.yaml"
    path.write_text(config(accounts="  - {id: personal, type: whatsmeow, session_path: ./s/personal.db}\n"))
    sessions = Sessions()
    leases = Leases({})
    leases.schema_failures = 2
    seams = Seams(WebSeams(session_factory=sessions, timing=WebTiming(**FAST)))
    lent = Lent(emit=emit, http=None, media=None, metrics=Metrics(), seams=seams,  # type: ignore[arg-type]
                node="me", leases=leases)
    manager = AccountManager(lent)
    await manager.start(load_config(path))
    try:
        await until(lambda: sessions.made and sessions.last.starts >= 1, within=5)
        assert leases.schemas_asked == 3 and len(sessions.made) == 1
        assert sessions.last.options["database"] == "postgresql://db/wh?search_path=whatsmeow_personal"
        assert manager.status()[0]["node"] == "me"
    finally:
        await manager.close()
    assert leases.released == ["personal"]


def test_systemd_status_counts_standby_accounts_apart() -> None:
    """A daemon whose WhatsApp Web account another daemon drives is not missing a connection."""
    assert status_line(["connected", "standby", "disabled"], 2) == \
        "1/1 accounts connected, 1 disabled, 1 standby, 2 events cached"
