"""PostgreSQL as the store (storage.url, DESIGN §8.1): config, what survives a reopen, several daemons
on one database (shared dedupe, migrations at once, delivery claims), sealing at rest."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path

import asyncpg
import pytest

from tests.support.postgres import Cluster
from tests.support.process import run_cli
from whatshooked.config.load import load_config
from whatshooked.config.model import StorageConfig
from whatshooked.config.values import Secret
from whatshooked.errors import ConfigError, StoreError
from whatshooked.events import Event, with_seq
from whatshooked.store.base import Store, StoreUnavailable, StoreUnreadable
from whatshooked.store.open import open_store
from whatshooked.store.postgres.schema import LATEST, SEQ_LOCK
from whatshooked.store.postgres.store import PostgresStore
from whatshooked.store.seal import SealError

MARKER = "pg-marker-quick-brown-9Z"


def event(n: int = 0, kind: str = "message.received") -> Event:
    return Event(kind, {"account_id": "shop", "text": f"{MARKER} {n}"})


async def opened(url: str, **storage: object) -> PostgresStore:
    store = await open_store(StorageConfig(url=url, **storage))  # type: ignore[arg-type]
    assert isinstance(store, PostgresStore)
    return store


async def until(check: object, within: float = 20.0) -> None:
    """Poll an async predicate until it holds (no fixed sleeps)."""
    deadline = time.monotonic() + within
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- config ------------------------------------------------------------------
def test_url_and_path_together_are_a_config_error_naming_both(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  path: ./data/wh.db\n  url: postgresql://wh@db/wh\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert f"{config}: storage.url: and storage.path are both set" in str(raised.value)


def test_a_url_under_path_is_kept_as_written(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  path: postgresql://wh:pw@db:5432/wh?sslmode=disable\n  node_id: a1\n"
                      "  lease: 10s\n")
    storage = load_config(config).storage
    assert storage.location == "postgresql://wh:pw@db:5432/wh?sslmode=disable"
    assert (storage.key, storage.node_id, storage.lease) == ("storage.url", "a1", 10.0)


def test_the_url_password_is_a_secret_and_bad_urls_and_leases_are_named(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  url: postgresql://wh:s3cret-pw@db/wh\n")
    loaded = load_config(config)
    assert loaded.storage.location == "postgresql://wh:s3cret-pw@db/wh" and "s3cret-pw" in loaded.secrets()
    config.write_text("storage:\n  url: db.example.com\n  lease: 0s\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert f"{config}: storage.url: must be a URL like postgresql://" in str(raised.value)
    assert f"{config}: storage.lease: must be at least 1s" in str(raised.value)


async def test_an_unreachable_server_is_a_store_error_without_the_password(pg_cluster: Cluster) -> None:
    with pytest.raises(StoreError, match=r"storage\.url: cannot connect to postgresql://wh:\*\*\*@127\.0\.0\.1:1/wh"
                       ) as raised:
        await opened("postgresql://wh:hidden-pw@127.0.0.1:1/wh")
    assert "hidden-pw" not in str(raised.value)


def test_serve_without_its_database_exits_naming_storage_url(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        'server: {port: 1, api_key: k}\nstorage: {url: "postgresql://wh:hidden-pw@127.0.0.1:1/wh"}\n')
    done = run_cli("serve", cwd=tmp_path)
    assert done.returncode == 1
    assert "storage.url: cannot connect to postgresql://wh:***@127.0.0.1:1/wh" in done.stderr
    assert "hidden-pw" not in done.stderr + done.stdout and "Traceback" not in done.stderr


# -- one daemon: what a reopen keeps, what is refused --------------------------
async def test_events_and_dedupe_keys_survive_a_reopen(pg_url: str) -> None:
    store = await opened(pg_url)
    events = [event(n) for n in range(300)]
    await asyncio.gather(*(store.add_event(e, ["crm"], dedupe_key=f"k{n}") for n, e in enumerate(events)))
    await asyncio.gather(*(store.mark_delivered(e.id, "crm") for e in events[:100]))
    assert store.count == 200
    await store.close()
    store = await opened(pg_url)
    try:
        assert store.count == 200
        assert [e.id for e in await store.list_undelivered()] == [e.id for e in events[100:]]
        assert await store.add_event(event(), [], dedupe_key="k5") is False
    finally:
        await store.close()


async def test_a_newer_schema_and_another_programs_tables_are_refused(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    await (await opened(url)).close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE schema_version SET version = $1", LATEST + 5)
        with pytest.raises(StoreError, match=rf"schema version {LATEST + 5}.*newer whatshooked"):
            await opened(url)
        foreign = pg_cluster.new_database()
        other = await asyncpg.connect(foreign)
        await other.execute("CREATE TABLE events (id serial primary key, what text)")
        await other.close()
        with pytest.raises(StoreUnreadable, match=r"another program's tables \(events\)"):
            await opened(foreign)
    finally:
        await conn.close()


async def test_a_dedupe_key_is_never_recorded_without_its_event(pg_url: str) -> None:
    store = await opened(pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                           "RAISE EXCEPTION 'disk trouble'; END $$")
        await conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW "
                           "WHEN (NEW.type = 'boom') EXECUTE FUNCTION refuse()")
        with pytest.raises(asyncpg.PostgresError, match="disk trouble"):
            await store.add_event(event(kind="boom"), ["crm"], dedupe_key="wamid.lost")
        assert await store.add_event(event(), ["crm"], dedupe_key="wamid.kept") is True
        assert {r[0] for r in await conn.fetch("SELECT key FROM dedupe")} == {"wamid.kept"}
        await conn.execute("DROP TRIGGER refuse ON events")
        assert await store.add_event(event(kind="boom"), ["crm"], dedupe_key="wamid.lost") is True
    finally:
        await conn.close()
        await store.close()


# -- several daemons on one database -------------------------------------------
async def test_daemons_starting_at_once_on_an_empty_database_both_open(pg_url: str) -> None:
    stores = await asyncio.gather(*(opened(pg_url, node_id=f"n{n}") for n in range(4)))
    try:
        assert [s.count for s in stores] == [0, 0, 0, 0]
        assert await stores[0].add_event(event(), ["crm"]) and await stores[3].stats() == (1, {"message.received": 1})
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_dedupe_is_shared_one_after_the_other_and_at_once(pg_url: str) -> None:
    one, two = await opened(pg_url, node_id="one"), await opened(pg_url, node_id="two")
    try:
        assert await one.add_event(event(1), ["crm"], dedupe_key="wamid.A") is True
        assert await two.add_event(event(2), ["crm"], dedupe_key="wamid.A") is False
        for n in range(20):  # the same key handed to both daemons at the same moment
            results = await asyncio.gather(one.add_event(event(n), ["crm"], dedupe_key=f"wamid.race{n}"),
                                           two.add_event(event(n), ["crm"], dedupe_key=f"wamid.race{n}"))
            assert sorted(results) == [False, True]
        assert (await one.stats())[0] == 21
    finally:
        await one.close()
        await two.close()


async def test_batches_of_all_daemons_commit_one_after_another_in_seq_order(pg_url: str) -> None:
    """A batch waits for the one before it to commit, so the feed never sees seq n+1 before seq n."""
    store = await opened(pg_url)
    other = await asyncpg.connect(pg_url)
    try:
        holder = other.transaction()
        await holder.start()
        await other.execute("SELECT pg_advisory_xact_lock($1)", SEQ_LOCK)  # another daemon's batch, uncommitted
        adding = asyncio.ensure_future(store.add_event(event(), ["crm"]))

        async def waiting() -> bool:
            return bool(await other.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                             "AND NOT granted"))

        await until(waiting)
        assert not adding.done()
        await holder.commit()
        assert await adding is True
    finally:
        await other.close()
        await store.close()


async def test_a_delivery_is_claimed_by_one_daemon_and_taken_over_when_its_lease_runs_out(pg_url: str) -> None:
    owner, other = await opened(pg_url, node_id="owner", lease=1.0), await opened(pg_url, node_id="other")
    try:
        events = [event(n) for n in range(5)]
        for e in events:
            await owner.add_event(e, ["crm"])
        await owner.mark_attempt(events[0].id, "crm", 2, 1234.5, "HTTP 503")
        assert await other.pending(["crm"]) == []  # the owner's, while it lives
        assert [d.event.id for d in await owner.pending(["crm"])] == [e.id for e in events]
        owner._renewer.cancel()  # the owner stops renewing, as a killed daemon does
        taken: list[str] = []

        async def taken_over() -> bool:
            taken.extend(d.event.id for d in await other.pending(["crm"]))
            return bool(taken)

        await until(taken_over)
        assert taken == [e.id for e in events]  # the same events, oldest first
        assert await owner.pending(["crm"]) == []  # now the other's
        rows = await other.pending(["crm"])
        assert (rows[0].attempts, rows[0].next_attempt_at) == (2, 1234.5)
    finally:
        await owner.close()
        await other.close()


async def test_a_daemon_that_stops_frees_its_claims_at_once(pg_url: str) -> None:
    owner, other = await opened(pg_url, node_id="owner"), await opened(pg_url, node_id="other")
    try:
        kept = event()
        await owner.add_event(kept, ["crm"])
        assert await other.pending(["crm"]) == []
        await owner.close()
        assert [d.event.id for d in await other.pending(["crm"])] == [kept.id]
    finally:
        await owner.close()
        await other.close()


async def test_two_hooks_finished_by_two_daemons_at_once_remove_the_event(pg_url: str) -> None:
    one, two = await opened(pg_url, node_id="one"), await opened(pg_url, node_id="two")
    try:
        events = [event(n) for n in range(50)]
        for e in events:
            await one.add_event(e, ["crm", "log"])
        await asyncio.gather(*(one.mark_delivered(e.id, "crm") for e in events),
                             *(two.mark_delivered(e.id, "log") for e in events))
        assert await one.stats() == (0, {})
    finally:
        await one.close()
        await two.close()


# -- sealing at rest -------------------------------------------------------------
def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def on_disk(cluster: Cluster) -> bytes:
    """Every file of the cluster (tables and WAL), as someone with the disk would read them."""
    return b"".join(p.read_bytes() for p in cluster.data.rglob("*") if p.is_file())


async def test_sealed_bodies_never_reach_the_database_in_clear(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    key = new_key()
    store = await opened(url, encryption_key=Secret(key))
    marker = f"sealed-{os.urandom(8).hex()}"  # the cluster is shared: other tests' text is there in clear
    events = [Event("message.received", {"account_id": "shop", "text": f"{marker} {n}"}) for n in range(20)]
    plain = await opened(pg_cluster.new_database())  # the probe must find text where it is in clear
    await plain.add_event(Event("message.received", {"text": f"plain-{marker}"}), ["hook"])
    await plain.close()
    try:
        for e in events:
            await store.add_event(e, ["hook"])
        assert await store.get_body(events[3].id) == with_seq(events[3].to_json(), 4)
        assert [d.body for d in await store.pending(["hook"])] == [
            with_seq(e.to_json(), n) for n, e in enumerate(events, 1)]
    finally:
        await store.close()
    conn = await asyncpg.connect(url)
    try:
        bodies = [bytes(r[0]) for r in await conn.fetch("SELECT body FROM events")]
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    assert len(bodies) == 20 and not any(marker.encode() in b for b in bodies)
    assert f'"{marker} '.encode() not in on_disk(pg_cluster)  # ("plain-…" is another database's)
    assert f"plain-{marker}".encode() in on_disk(pg_cluster)


async def test_a_plain_database_is_sealed_when_a_key_is_set_and_a_wrong_key_is_refused(pg_url: str) -> None:
    store: Store = await opened(pg_url)
    kept = event()
    await store.add_event(kept, ["hook"])
    await store.close()
    key = new_key()
    store = await opened(pg_url, encryption_key=Secret(key))
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        assert MARKER.encode() not in bytes(await conn.fetchval("SELECT body FROM events"))
    finally:
        await conn.close()
    with pytest.raises(SealError, match=r"storage\.encryption_key: .*neither this one nor"):
        await opened(pg_url, encryption_key=Secret(new_key()))
    with pytest.raises(SealError, match=r"storage\.encryption_key: the store holds sealed events but no key"):
        await opened(pg_url)
    store = await opened(pg_url, encryption_key=Secret(new_key()), old_encryption_keys=(Secret(key),))
    try:
        assert await store.get_event(kept.id) == kept
    finally:
        await store.close()


async def test_a_database_that_goes_away_is_a_503_reason_until_it_is_back(pg_cluster: Cluster) -> None:
    """Writes fail as StoreUnavailable (a webhook then answers 503: Meta retries), check() says why; the
    next write after the server is back succeeds and the reason clears."""
    own = Cluster(pg_cluster.bin)  # this test stops its server: not the session's
    own.start()
    try:
        store = await opened(own.url())
        try:
            await store.add_event(event(1), ["crm"])
            own._run(str(own.bin / "pg_ctl"), "-D", str(own.data), "-m", "immediate", "-w", "stop")
            with pytest.raises(StoreUnavailable, match="cannot be reached"):
                await store.add_event(event(2), ["crm"])
            assert "cannot be reached" in (store.check() or "")
            own.start_again()
            assert await store.add_event(event(3), ["crm"]) is True
            assert store.check() is None
            assert [e.data["text"] for e in await store.list_undelivered()] == [f"{MARKER} 1", f"{MARKER} 3"]
        finally:
            await store.close()
    finally:
        own.stop()
