"""The WhatsApp Web backend against the real neonize library (its Go side included), offline.

Every dial fails here (no network; a refused proxy makes it fail at once instead of after DNS
timeouts), which is all these tests need: what they check happens before or around the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import run_to_end
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web import go_gate
from whatshooked.accounts.whatsapp_web.inbound import downloadable
from whatshooked.accounts.whatsapp_web.session import NeonizeSession, SessionCallbacks

ROOT = Path(__file__).resolve().parents[1]
REFUSED = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
"""whatsmeow dials through the proxy in the environment Go started with: refused at once."""


async def _ignore(_value: Any) -> None:
    return None


def real_session(path: Path, device_name: str = "whatshooked") -> NeonizeSession:
    return NeonizeSession(path, SessionCallbacks(_ignore, _ignore, lambda _s: None), device_name)


async def test_many_accounts_starting_and_stopping_at_once_do_not_crash_the_process(tmp_path: Path) -> None:
    """8 accounts × 100 start/stop rounds in parallel, plus account-manager restarts: Go used to abort
    the process with `fatal error: concurrent map writes` (exit 134) within a second."""
    env = {**os.environ, **REFUSED, "PYTHONPATH": str(ROOT)}
    code, out, err = await run_to_end(sys.executable, "-m", "tests.support.web_churn", str(tmp_path), "8", "100",
                                      within=120, cwd=ROOT, env=env)
    assert b"fatal error" not in err, err[-2000:]
    assert code == 0, err[-2000:]
    assert out.strip() == b"survived"


async def test_a_stop_right_after_a_start_leaves_no_client_in_go(tmp_path: Path) -> None:
    """A fresh session database takes Go a moment to create, so its Stop used to arrive before the
    client was registered: the client stayed behind (a zombie that connects on its own)."""
    sessions = [real_session(tmp_path / f"z{i}.db") for i in range(8)]
    await asyncio.gather(*(s.start() for s in sessions))
    await asyncio.gather(*(s.stop() for s in sessions))
    for session in sessions:
        registered = await asyncio.to_thread(go_gate.is_registered, session._client.uuid)
        assert not registered, f"{session.path.name} is still registered in Go"


@contextlib.asynccontextmanager
async def offline_client(path: Path) -> AsyncIterator[NeonizeSession]:
    """A real session whose run ended at the dial: Go still holds its client, so calls reach whatsmeow."""
    session = real_session(path)
    ended = await session.start()
    with pytest.raises(nz.NeonizeError):
        async with asyncio.timeout(30):
            await ended
    try:
        yield session
    finally:
        await session.stop()


async def test_a_video_note_is_downloaded_as_a_video(tmp_path: Path) -> None:
    """whatsmeow's DownloadAny has no case for ptvMessage ("didn't find any attachments in message");
    passed as the video it is, the download gets as far as the network."""
    video = nz.wa.VideoMessage(mimetype="video/mp4", URL="https://mmg.whatsapp.net/v/t62/x", directPath="/v/t62/x",
                               mediaKey=b"k" * 32, fileSHA256=b"s" * 32, fileEncSHA256=b"e" * 32, fileLength=10)
    note = nz.wa.Message(ptvMessage=video)
    async with offline_client(tmp_path / "v.db") as session:
        with pytest.raises(Exception) as raw:
            await session.download_any(note)
        assert "didn't find any attachments" in str(raw.value)  # what the adapter used to hand over
        with pytest.raises(Exception) as fixed:
            await session.download_any(downloadable(note))
    assert type(fixed.value).__name__ == "DownloadError"
    assert "media connections" in str(fixed.value) and "not connected" in str(fixed.value)


async def test_what_go_prints_reaches_the_log_not_stdout() -> None:
    """neonize's Go side `fmt.Println`s errors to fd 1; `serve` routes them into the log format."""
    code, out, err = await run_to_end(sys.executable, "-m", "tests.support.go_prints", within=60, cwd=ROOT,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert code == 0, err.decode()
    assert out.decode() == "python's own stdout still works\n"
    (line,) = [text for text in err.decode().splitlines() if "SendMessage" in text]
    assert " WARNING whatsmeow.stdout: SendMessage: Error unmarshaling JID: " in line



async def test_pairing_by_phone_fails_only_at_the_network_and_ends_cleanly(tmp_path: Path) -> None:
    """Pairing runs on the owner thread like every lifecycle call: offline it fails at once with
    whatsmeow's network error, and the stop that follows leaves no client and no Go call behind."""
    async with offline_client(tmp_path / "pair.db") as session:
        with pytest.raises(Exception) as failure:
            async with asyncio.timeout(30):
                await session.pair_phone("15551234567")
        task = session._task
    assert type(failure.value).__name__ == "PairPhoneError" and "not connected" in str(failure.value)
    assert task is None or task.done()
    assert not await asyncio.to_thread(go_gate.is_registered, session._client.uuid)
