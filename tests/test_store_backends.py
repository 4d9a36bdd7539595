"""The store behind one interface: backends picked by scheme, reads that see earlier writes, cache off."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.postgres import BACKENDS, open_backend
from whatshooked import store as store_package
from whatshooked.config.model import StorageConfig
from whatshooked.errors import StoreError
from whatshooked.events import Event
from whatshooked.store.base import Store
from whatshooked.store.memory import MemoryStore
from whatshooked.store.open import backends, open_store, scheme_of
from whatshooked.store.sqlite.store import SQLiteStore


def event(kind: str = "message.received") -> Event:
    return Event(kind, {"account_id": "shop", "text": "hi"})


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_read_sees_a_lazy_delivered_mark_without_a_flush(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = await open_backend(kind, tmp_path, request)
    try:
        events = [event() for _ in range(3)]
        for e in events:
            await store.add_event(e, ["crm"])
        for e in events:
            store.mark_delivered_soon(e.id, "crm")  # queued; its commit may wait for company
        assert not await store.has_delivery(events[0].id, "crm")
        assert await store.list_undelivered() == []
        assert await store.stats() == (0, {})
        assert await store.get_event(events[2].id) is None
    finally:
        await store.close()


async def test_a_read_with_nothing_pending_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    store = await open_store(StorageConfig(path=tmp_path / "s.db"))
    try:
        assert isinstance(store, SQLiteStore)
        kept = event()
        await store.add_event(kept, ["crm"])
        commits = store._writer.commits
        assert await store.get_event(kept.id) == kept
        assert store._writer.commits == commits  # no barrier write was needed
    finally:
        await store.close()


async def test_the_backend_follows_the_scheme(tmp_path: Path) -> None:
    assert scheme_of(str(tmp_path / "s.db")) == "sqlite"
    assert scheme_of("postgres://user@host/db") == "postgres"
    assert {"sqlite", "memory", "postgresql", "postgres"} <= set(backends())
    plain = await open_store(StorageConfig(path=tmp_path / "plain.db"))
    await plain.close()
    assert isinstance(plain, SQLiteStore) and plain.persistent and (tmp_path / "plain.db").exists()
    off = await open_store(StorageConfig(path=tmp_path / "never.db"), enabled=False)
    await off.close()
    assert isinstance(off, MemoryStore) and not off.persistent and not (tmp_path / "never.db").exists()


async def test_an_unknown_scheme_names_storage_path_and_the_known_ones() -> None:
    with pytest.raises(StoreError, match=r"storage\.path: no store backend for nosuch:// \(known: .*sqlite"):
        await open_store(StorageConfig(path=Path("nosuch://somewhere")))


async def test_a_new_backend_is_a_folder_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing outside the backend's folder names it: the registry finds it beside the others."""
    folder = tmp_path / "fakedb"
    folder.mkdir()
    (folder / "__init__.py").write_text(
        "SCHEMES = ('fakedb',)\n\n"
        "async def open(location, storage):\n"
        "    from whatshooked.store.memory import MemoryStore\n"
        "    store = MemoryStore()\n"
        "    store.location = location\n"
        "    return store\n"
    )
    monkeypatch.setattr(store_package, "__path__", [*store_package.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "whatshooked.store.fakedb", raising=False)
    try:
        opened = await open_store(StorageConfig(path=Path("fakedb://host/db")))
        assert opened.location == str(Path("fakedb://host/db"))  # as storage.path holds it
    finally:
        sys.modules.pop("whatshooked.store.fakedb", None)


async def test_cache_off_dedupes_in_memory_and_keeps_nothing() -> None:
    store: Store = MemoryStore(dedupe_keys=2)
    ran: list[str] = []
    assert await store.add_event_soon(event(), ["crm"], after=lambda _seq: ran.append("a"), dedupe_key="k1")
    assert not await store.add_event_soon(event(), ["crm"], after=lambda _seq: ran.append("b"), dedupe_key="k1")
    assert await store.add_event_soon(event(), ["crm"], dedupe_key="k2")
    assert await store.add_event_soon(event(), ["crm"], dedupe_key="k3")  # k1 forgotten: the oldest
    assert await store.add_event_soon(event(), ["crm"], dedupe_key="k1")
    assert ran == ["a"]
    assert store.count == 0 and await store.stats() == (0, {}) and await store.list_undelivered() == []
    assert store.check() is None


def test_only_the_store_names_its_backends() -> None:
    """The dispatcher, the daemon and the API type against store/base.py; none imports a backend or flushes."""
    package = Path(store_package.__file__).parent.parent
    offenders = []
    for path in package.rglob("*.py"):
        if path.is_relative_to(package / "store"):
            continue
        text = path.read_text()
        if "whatshooked.store.sqlite" in text or "whatshooked.store.memory" in text or "store.flush(" in text:
            offenders.append(str(path.relative_to(package)))
    assert offenders == []
    assert not hasattr(SQLiteStore, "flush")
