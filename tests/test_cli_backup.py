"""`whatshooked backup PATH`: a copy taken while a real serve commits webhooks holds every acked event."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from tests.support.cloud_serve import serve_config
from tests.support.graph_standin import GraphStandin
from tests.support.harness import until
from tests.support.paired_session import OWN_JID, make_paired_session
from tests.support.process import ServeProcess, child_env, free_port, run_cli
from tests.test_crash import payload
from whatshooked.store.sqlite.store import SQLiteStore

ACKED_BEFORE_BACKUP = 60


def config_text(tmp_path: Path, port: int, graph: str) -> str:
    # No hooks: every event stays in the store, so the copy must hold each one that was acked.
    return serve_config(tmp_path, port, graph, store="state/whatshooked.db")


async def stream(url: str, acked: list[str], stop: asyncio.Event) -> None:
    """POST webhooks four at a time until told to stop; a 200 means the event is committed."""
    import aiohttp

    counter = iter(range(1_000_000))

    async def worker(http: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            number = next(counter)
            async with http.post(url, data=payload(number), headers={"Content-Type": "application/json"}) as r:
                assert r.status == 200, await r.text()
                acked.append(f"wamid.crash{number:05d}")

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(4)))


async def message_ids(store_file: Path) -> set[str]:
    store = await SQLiteStore.open(store_file)
    try:
        return {str(e.data["message_id"]) for e in await store.list_undelivered()}
    finally:
        await store.close()


async def test_backup_while_serve_writes_under_load(tmp_path: Path) -> None:
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path, port, graph.url))
    serve = ServeProcess(path, port)
    acked: list[str] = []
    stop = asyncio.Event()
    try:
        await serve.start()
        await serve.healthy()
        streaming = asyncio.create_task(stream(f"{serve.url}/webhooks/whatsapp/shop", acked, stop))
        await until(lambda: len(acked) >= ACKED_BEFORE_BACKUP or streaming.done(), within=30)
        before = set(acked)  # acked before the backup started: all must be in the copy
        backup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whatshooked", "backup", "-c", str(path), str(tmp_path / "backup"),
            env=child_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(backup.communicate(), 60)
        during = len(acked) - len(before)
        stop.set()
        await streaming
    finally:
        await serve.stop()
        await graph.close()
    assert backup.returncode == 0, err.decode()
    copy, config_copy = tmp_path / "backup" / "whatshooked.db", tmp_path / "backup" / "config.yaml"
    assert out.decode().splitlines() == [f"wrote {copy}", f"wrote {config_copy}"]
    assert during > 0, "the daemon was not writing while the backup ran"
    assert config_copy.read_bytes() == path.read_bytes()
    for made in (copy, config_copy):
        assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backup").stat().st_mode) == 0o700
    assert not (tmp_path / "backup" / "whatshooked.db-wal").exists()  # one self-contained file
    held = await message_ids(copy)
    assert before <= held, sorted(before - held)[:5]
    assert held <= set(acked)


def test_backup_refuses_to_overwrite_and_names_a_missing_store(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'none.db'}\n")
    done = run_cli("backup", "-c", str(path), str(tmp_path / "b"), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"whatshooked: {path}: storage.path: no store at {tmp_path / 'none.db'} (has serve run with this config?)\n")
    (tmp_path / "none.db").write_bytes(b"")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.yaml").write_text("mine")
    done = run_cli("backup", "-c", str(path), str(tmp_path / "b"), cwd=tmp_path)
    assert done.returncode == 2 and "exists already" in done.stderr
    assert (tmp_path / "b" / "config.yaml").read_text() == "mine"


@pytest.mark.parametrize("url", ["postgresql://wh@localhost/wh", "postgres://db/wh"])
def test_backup_of_a_database_url_says_what_to_use(tmp_path: Path, url: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  path: {url}\n")
    done = run_cli("backup", "-c", str(path), str(tmp_path / "b"), cwd=tmp_path)
    assert done.returncode == 2 and "pg_dump" in done.stderr and "\n" not in done.stderr.rstrip("\n")
    assert not (tmp_path / "b").exists()
    assert os.listdir(tmp_path) == ["config.yaml"]


def test_a_store_that_is_not_a_database_leaves_no_half_backup(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("storage:\n  path: ./garbage.db\n")
    (tmp_path / "garbage.db").write_bytes(b"not a database, " * 512)
    done = run_cli("backup", "-c", str(path), str(tmp_path / "b"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"whatshooked: backup of {tmp_path / 'garbage.db'} failed: file is not a database\n"
    assert list((tmp_path / "b").iterdir()) == []


async def test_whatsapp_web_sessions_are_copied_per_account(tmp_path: Path) -> None:
    """A real whatsmeow session file (made by neonize) is copied whole; an account never paired is skipped."""
    session = tmp_path / "sessions" / "personal.db"
    session.parent.mkdir()
    await make_paired_session(session)
    path = tmp_path / "config.yaml"
    path.write_text("storage:\n  path: ./state.db\naccounts:\n"
                    "  - id: personal\n    session_path: ./sessions/personal.db\n"
                    "  - id: fresh\n    type: whatsmeow\n"
                    "  - id: shop\n    type: business-api\n    business_api:\n"
                    "      phone_number_id: '1'\n      access_token: ${UNSET_IN_THIS_TEST_TOKEN}\n")
    sqlite3.connect(tmp_path / "state.db").close()
    done = await asyncio.to_thread(run_cli, "backup", "-c", str(path), str(tmp_path / "b"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "b" / "sessions" / "personal.db"
    assert done.stdout.splitlines() == [f"wrote {tmp_path / 'b' / 'state.db'}", f"wrote {copy}",
                                        f"wrote {tmp_path / 'b' / 'config.yaml'}"]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600 and stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert db.execute("SELECT jid FROM whatsmeow_device").fetchall() == [(OWN_JID,)]
    assert sorted(p.name for p in copy.parent.iterdir()) == ["personal.db"]
