"""Event bodies sealed at rest (storage.encryption_key, DESIGN §8.1): nothing of a message's text in the
database file or its WAL, old keys read and resealed, a wrong or missing key is a config error (exit 2)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

from tests.support.cloud_daemon import PHONE_NUMBER_ID, WABA_ID, cloud_daemon
from tests.support.process import run_cli
from tests.support.receiver import HookReceiver, Reply
from whatshooked.config.load import load_config
from whatshooked.errors import ConfigError
from whatshooked.events import Event, with_seq
from whatshooked.store.seal import MAGIC, Sealer, SealError, decode_key
from whatshooked.store.sqlite.store import SQLiteStore

MARKER = "the-quick-brown-marker-7Q2"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def event(n: int) -> Event:
    return Event("message.received", {"account_id": "a", "text": f"{MARKER} number {n}"})


def on_disk(path: Path) -> bytes:
    """The database file with its WAL and shared-memory file, as an attacker with the disk would read them."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


async def fill(path: Path, sealer: Sealer | None, count: int = 50) -> list[Event]:
    store = await SQLiteStore.open(path, sealer)
    events = [event(n) for n in range(count)]
    try:
        for e in events:
            assert await store.add_event(e, ["hook"])
    finally:
        await store.close()
    return events


async def test_sealed_bodies_never_reach_the_file_or_wal_in_clear(tmp_path: Path) -> None:
    plain_path, sealed_path = tmp_path / "plain.db", tmp_path / "sealed.db"
    await fill(plain_path, None)
    assert MARKER.encode() in on_disk(plain_path)  # the probe finds text when it is there

    sealer = Sealer(decode_key(new_key()))
    store = await SQLiteStore.open(sealed_path, sealer)
    events = [event(n) for n in range(50)]
    try:
        for e in events:
            assert await store.add_event(e, ["hook"])
        assert MARKER.encode() not in on_disk(sealed_path)  # the WAL too, before any checkpoint
        pending = await store.pending(["hook"])
        assert [d.event.id for d in pending] == [e.id for e in events]
        assert pending[3].body == with_seq(events[3].to_json(), 4)
        assert await store.get_body(events[7].id) == with_seq(events[7].to_json(), 8)
        page = await store.events_after(0, 10)
        assert [body for _, _, body in page] == [with_seq(e.to_json(), n) for n, e in enumerate(events[:10], 1)]
        assert [e.id for e in await store.list_undelivered()] == [e.id for e in events]
    finally:
        await store.close()
    assert MARKER.encode() not in on_disk(sealed_path)


async def test_a_plain_store_is_sealed_when_a_key_is_set_and_old_keys_are_resealed(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    delivered = await SQLiteStore.open(path)  # events delivered in clear leave their text in freed pages
    for n in range(300):
        await delivered.add_event(Event("message.received", {"text": f"{MARKER} {n} " + "x" * 2000}), [])
    await delivered.clear()
    await delivered.close()
    events = await fill(path, None, 200)
    first = Sealer(decode_key(key1 := new_key()))
    store = await SQLiteStore.open(path, first)
    await store.close()
    assert MARKER.encode() not in on_disk(path)  # the clear pages were zeroed, not just unlinked

    second_key = new_key()
    rotated = Sealer(decode_key(second_key), [decode_key(key1)])
    store = await SQLiteStore.open(path, rotated)
    try:
        assert await store.get_body(events[0].id) == with_seq(events[0].to_json(), 301)  # seqs are never reused
    finally:
        await store.close()
    # Everything now opens with the new key alone: the old one can be dropped.
    store = await SQLiteStore.open(path, Sealer(decode_key(second_key)))
    try:
        assert len(await store.list_undelivered()) == 200
    finally:
        await store.close()


async def test_a_wrong_or_missing_key_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    await fill(path, Sealer(decode_key(new_key())), 3)
    with pytest.raises(SealError, match=r"storage\.encryption_key: .*neither this one nor"):
        await SQLiteStore.open(path, Sealer(decode_key(new_key())))
    with pytest.raises(SealError, match=r"storage\.encryption_key: the store holds sealed events but no key"):
        await SQLiteStore.open(path, None)


def test_a_key_that_opens_nothing_is_refused_by_the_tag(tmp_path: Path) -> None:
    sealer = Sealer(decode_key(new_key()))
    blob = bytearray(sealer.seal(b'{"a": 1}'))
    assert bytes(blob).startswith(MAGIC)
    blob[-1] ^= 1
    with pytest.raises(SealError, match="does not open"):
        sealer.open(bytes(blob))


@pytest.mark.parametrize(("value", "why"), [
    ("not base64!!", "is not base64"),
    (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
])
def test_bad_keys_are_config_errors_naming_the_key(tmp_path: Path, value: str, why: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  encryption_key: '{value}'\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert f"{config}: storage.encryption_key: {why}" in str(raised.value)


def test_keys_in_either_base64_alphabet_are_accepted_and_kept_secret(tmp_path: Path) -> None:
    raw = os.urandom(32)
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  encryption_key: {urlsafe}\n  old_encryption_keys: ['{new_key()}']\n")
    loaded = load_config(config)
    assert decode_key(loaded.storage.encryption_key.reveal()) == raw
    assert urlsafe not in repr(loaded.storage) and urlsafe in loaded.secrets()


def test_old_keys_without_a_current_key_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  old_encryption_keys: ['{new_key()}']\n")
    with pytest.raises(ConfigError, match=r"storage\.old_encryption_keys: needs storage\.encryption_key"):
        load_config(config)


def test_serve_with_the_wrong_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    db = tmp_path / "data" / "store.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  port: 1\n  api_key: k\nstorage:\n  path: {db}\n  encryption_key: {new_key()}\n")
    asyncio.run(fill(db, Sealer(decode_key(new_key())), 2))
    result = run_cli("serve", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{db}: storage.encryption_key:" in result.stderr
    assert "Traceback" not in result.stderr


async def test_webhook_text_is_sealed_in_the_running_daemon(tmp_path: Path) -> None:
    """The whole path: a signed Cloud API text in, committed sealed, delivered in clear to the hook."""
    receiver = HookReceiver()
    receiver.default = Reply(status=503)  # the hook is down: the event stays in the store
    await receiver.start()
    payload = {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "A"}, "wa_id": "15551234567"}],
            "messages": [{"from": "15551234567", "id": "wamid.seal1", "timestamp": "1700000000", "type": "text",
                          "text": {"body": MARKER}}]}}]}]}
    try:
        async with cloud_daemon(tmp_path, receiver, storage={"encryption_key": new_key()}) as rig:
            status, _ = await rig.webhook(payload)
            assert status == 200
            received = await receiver.wait_for(1)
            assert MARKER.encode() in received[0].body
            assert rig.daemon.store is not None and rig.daemon.store.count == 1
            assert MARKER.encode() not in on_disk(tmp_path / "whatshooked.db")
    finally:
        await receiver.close()
