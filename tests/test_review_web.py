"""Adversarial review of the WhatsApp Web work (issue 9): each test shows one defect still there.

They drive the real neonize library (offline) or real subprocesses; each fails until its defect is fixed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import until
from tests.support.neonize_standin import P, message_ev, receipt_ev, web_world
from tests.support.process import ServeProcess, free_port, run_to_end
from tests.support.receiver import HookReceiver
from tests.test_web_group_call_events import history_pb, web_pb
from tests.test_web_inbound import ALICE, connected, events_of
from whatshooked.accounts.base import SendKind, SendRequest
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.poll_votes import seal_vote
from whatshooked.config.load import load_config
from whatshooked.errors import ConfigError, RequestError

ROOT = Path(__file__).resolve().parents[1]
REFUSED = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


async def test_a_send_while_other_accounts_start_and_stop_does_not_crash_the_process(tmp_path: Path) -> None:
    """Go's unlocked client map also aborts the process when one thread *reads* it while another writes:
    `fatal error: concurrent map read and map write` in `main.SendChatPresence` (exit 134; 2 crashes in
    2 runs of 8 accounts × 300 start/stop rounds while one account sends typing states). go_gate only
    serialises the writers (Neonize/Stop/...); sends, uploads, downloads, mark-read, lookups run ungated.
    Expected: the process survives; every Go call that looks a client up runs under the same exclusion
    as the calls that add or remove clients (e.g. a readers/writer lock: readers shared, writers alone)."""
    env = {**os.environ, **REFUSED, "PYTHONPATH": str(ROOT)}
    code, out, err = await run_to_end(sys.executable, "-m", "tests.support.web_read_churn", str(tmp_path), "8",
                                      "300", within=240, cwd=ROOT, env=env)
    assert b"fatal error" not in err, err[:1500]
    assert code == 0, err[-2000:]
    assert out.strip() == b"survived"


def test_a_hash_in_the_config_folder_is_a_config_error_not_another_session_file(tmp_path: Path) -> None:
    """The '#', '%', '?' check looks only at the session_path text, but a relative session_path is joined
    to the config file's folder: a config in `/home/me/C#/` (or `100%/`) with `session_path: ./s.db`
    passes, and whatsmeow's SQLite URI then opens `/home/me/C` (mode 0644, outside the private
    folder; reproduced with the real library). Expected: the check runs on the resolved path
    (config folder, `~` and symlinks included), a config error naming `accounts[0].session_path`."""
    folder = tmp_path / "my#dir"
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("server:\n  api_key: k\naccounts:\n  - id: a\n    session_path: ./s.db\nhooks: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert "accounts[0].session_path" in str(info.value)



async def test_what_go_prints_just_before_the_process_exits_is_not_lost() -> None:
    """Go's stdout goes into a pipe read by a *daemon* thread; when the process exits, lines still in
    the pipe are dropped: 1 line printed then exit → 0 logged; 200 → 98; 2000 → 1225 (and before
    the pipe they at least reached stdout). The last words before an exit (a failed stop, an error
    just before a crash or a shutdown) are the ones an operator needs. Expected: every line Go wrote
    reaches the log — e.g. at exit restore fd 1 (closing the pipe's last writer) and join the pump."""
    count = 200
    code, out, err = await run_to_end(sys.executable, "-m", "tests.support.go_prints_at_exit", str(count),
                                      within=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert code == 0, err.decode()[-2000:]
    logged = [line for line in err.decode().splitlines() if "whatsmeow.stdout: SendMessage: Error" in line]
    assert out == b""
    assert len(logged) == count


async def test_status_traffic_stays_out_of_hooks_when_status_broadcasts_is_off(tmp_path: Path,
                                                                              receiver: HookReceiver) -> None:
    """Status posts are dropped by default, but only in the message handler: a status post whatsmeow
    could not decrypt (common for status@broadcast: the sender key is often missing) becomes
    `message.undecryptable` with chat `status@broadcast`, and every contact viewing the operator's own
    status raises a `message.read` in chat `status@broadcast`. Expected: with `status_broadcasts` off
    nothing from status@broadcast reaches hooks (undecryptable, receipts, …), as for the posts."""
    lost = message_ev(nz.wa.Message(), message_id="3EB0STATUS", chat="status@broadcast", sender=ALICE).Info
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(
            nz.UndecryptableMessageEv(Info=lost, IsUnavailable=False,
                                      DecryptFailMode=P.UndecryptableMessage.DECRYPT_FAIL_SHOW),
            receipt_ev(nz.neonize_proto.Receipt.READ, ["3EB0MYSTATUS"], chat="status@broadcast", sender=ALICE),
            message_ev(nz.wa.Message(conversation="after"), message_id="after"))
        await events_of(receiver, "message.received")
    leaked = [r.headers.get("X-Whatshooked-Event") for r in receiver.requests if b"status@broadcast" in r.body]
    assert leaked == []


async def test_editing_or_deleting_someone_elses_message_is_refused_not_sent(tmp_path: Path,
                                                                            receiver: HookReceiver) -> None:
    """WhatsApp lets one edit only one's own messages, and delete for everyone someone else's only as a
    group admin. The adapter knows who sent a message it received, yet an edit of Alice's 1:1 message
    is sent as if it were ours (key fromMe=true: WhatsApp ignores it) and a revoke of it goes out with
    fromMe=false in a 1:1 chat (ignored as well); both answer 200 with a message_id, so the caller
    believes it worked. Expected: a 400 naming `message_id` (it is another person's message in a 1:1
    chat), nothing sent."""
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        await session.afeed(message_ev(nz.wa.Message(conversation="hers"), message_id="3EB0HERS"))
        await until(lambda: "3EB0HERS" in world.adapter().recent)
        sent_before = len(session.sent)
        for kind, body in ((SendKind.EDIT, {"message_id": "3EB0HERS", "text": "mine now"}),
                           (SendKind.REVOKE, {"message_id": "3EB0HERS"})):
            with pytest.raises(RequestError) as refused:
                await world.manager.send("personal", SendRequest(kind, ALICE, body))
            assert "message_id" in str(refused.value)
        assert len(session.sent) == sent_before


async def test_votes_on_a_poll_sent_through_the_api_are_decrypted(tmp_path: Path, receiver: HookReceiver) -> None:
    """The point of sending a poll is to learn the votes, but only polls *received* are remembered for
    decrypting votes (messages.py `_remember_poll`); a poll sent through POST /api/send/poll keeps its
    message secret nowhere, so every vote on it is raised with `selected: null` and "the vote could not
    be decrypted (the poll was not seen by this daemon)". Expected: a sent poll's options and secret
    are remembered (creator = this device's own JID, as `me` reports it; or whatsmeow's own
    DecryptPollVote, which keeps sent secrets in the session store), so the vote says ["Sushi"]."""
    own = P.JID(User="15550009999", Server="s.whatsapp.net", RawAgent=0, Device=7, Integrator=0, IsEmpty=False)
    bob = "15557654321@s.whatsapp.net"
    group = "120363025246125888@g.us"
    async with web_world(tmp_path, receiver.url) as world:
        session = await connected(world)
        device = nz.aio_events.INT_TO_EVENT[0]  # what Go reports as `me`
        await session.afeed(device(JID=own, Platform="", BussinessName="", PushName="me", Initialized=True))
        sent = await world.manager.send("personal", SendRequest(SendKind.POLL, group, {
            "name": "Lunch?", "options": ["Pizza", "Sushi"], "selectable_count": 1}))
        (_, poll), = session.sent
        secret = bytes(poll.messageContextInfo.messageSecret)
        vote = nz.wa.Message(pollUpdateMessage=nz.wa.PollUpdateMessage(
            pollCreationMessageKey=nz.MessageKey(remoteJID=group, fromMe=True, ID=sent.message_id),
            vote=seal_vote(sent.message_id, "15550009999@s.whatsapp.net", bob, secret, ["Sushi"], iv=b"\x07" * 12),
            senderTimestampMS=1))
        await session.afeed(message_ev(vote, message_id="3EB0VOTE", chat=group, sender=bob))
        (voted,) = await events_of(receiver, "message.poll_vote")
    assert voted["data"]["message_id"] == sent.message_id
    assert voted["data"]["selected"] == ["Sushi"], voted["data"]


async def test_history_messages_sent_by_this_account_are_not_from_the_other_side(tmp_path: Path,
                                                                               receiver: HookReceiver) -> None:
    """History after pairing builds each message's sender from `key.participant`, falling back to the
    *chat*: a message the operator sent in a 1:1 chat is raised with `from` = the contact ("+1555…1234567",
    `from_me: true`), and one they sent in a group with `from` = the group's JID. Live messages from
    this account carry its own number. Expected: `from` is this account's own number (from `me`) for
    `fromMe` history messages, never the contact or the group."""
    own = P.JID(User="15550009999", Server="s.whatsapp.net", RawAgent=0, Device=7, Integrator=0, IsEmpty=False)
    group = "120363025246125888@g.us"

    def mine(chat: str, message_id: str) -> Any:
        return history_pb.Conversation(ID=chat, messages=[history_pb.HistorySyncMsg(message=web_pb.WebMessageInfo(
            key=nz.MessageKey(remoteJID=chat, fromMe=True, ID=message_id), messageTimestamp=1_600_000_000,
            message=nz.wa.Message(conversation="sent by me")))])

    sync = nz.HistorySyncEv(Data=history_pb.HistorySync(syncType=history_pb.HistorySync.INITIAL_BOOTSTRAP,
                                                         conversations=[mine(ALICE, "H1"), mine(group, "H2")]))
    accounts = "  - id: personal\n    session_path: ./s/p.db\n    history: true\n"
    async with web_world(tmp_path, receiver.url, accounts=accounts) as world:
        session = await connected(world)
        device = nz.aio_events.INT_TO_EVENT[0]
        await session.afeed(device(JID=own, Platform="", BussinessName="", PushName="me", Initialized=True))
        await session.afeed(sync)
        received = await events_of(receiver, "message.received", 2)
    senders = {e["data"]["message_id"]: (e["data"]["from_me"], e["data"]["from"]) for e in received}
    assert senders == {"H1": (True, "+15550009999"), "H2": (True, "+15550009999")}


async def test_sigterm_while_whatsmeow_dials_a_silent_network_stops_within_10_seconds(tmp_path: Path) -> None:
    """A network that swallows packets (a firewall dropping them, a proxy that never answers) is what a
    daemon meets on a bad day. With one WhatsApp Web account dialling through a proxy that accepts and
    never answers, SIGTERM logs "whatshooked stopped" within 3 s but the process does not exit for
    more than 20 s (it waits, at interpreter exit, for the thread blocked in Go's dial); systemd then
    kills it after TimeoutStopSec. Expected (DESIGN §2): exit 0 within 10 s of SIGTERM — the thread
    running a Go call that cannot be interrupted must not be joined at exit (a daemon thread, or
    os._exit after the orderly shutdown)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, never answered

    proxy = await asyncio.start_server(silent, "127.0.0.1", 0)
    proxy_port = proxy.sockets[0].getsockname()[1]
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {'k' * 24}\n"
                      "storage:\n  path: ./data/e.db\naccounts:\n  - id: a\n    type: whatsmeow\n"
                      f"    session_path: ./s/a.db\n    proxy: http://127.0.0.1:{proxy_port}\nhooks: []\n")
    serve = ServeProcess(config, port)
    try:
        await serve.start()
        await serve.healthy(within=30)
        await until(lambda: bool(held), within=30)  # whatsmeow is dialling through the silent proxy
        serve.send(signal.SIGTERM)
        try:
            code = await serve.wait(within=10)
        except TimeoutError:
            code = None
        assert code == 0, serve.output()[-1500:]
    finally:
        await serve.stop()
        for writer in held:
            writer.close()
        proxy.close()


async def test_serve_starts_when_its_stdout_is_closed(tmp_path: Path) -> None:
    """A daemon is often started with fd 1 closed (`whatshooked serve >&-`, some supervisors); Python
    then has `sys.stdout = None`. The bot-tag re-exec / Go-output capture call `sys.stdout.flush()`
    and `os.dup(1)` unguarded, so `serve` exits 1 at once with "whatshooked: error: 'NoneType'
    object has no attribute 'flush'" (before issue 9's changes it ran; its log is on stderr).
    Expected: it starts and answers /health (Go's prints then go nowhere, or into the log)."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {'k' * 24}\n"
                      "storage:\n  path: ./data/e.db\naccounts: []\nhooks: []\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NEONIZE_BOT_TAG", None)
    with (tmp_path / "serve.err").open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "whatshooked", "serve", "-c", str(config), cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stderr=err, preexec_fn=lambda: os.close(1))
    serve = ServeProcess(config, port)
    serve.proc = process
    serve.stderr = tmp_path / "serve.err"
    try:
        await serve.healthy(within=30)
        serve.send(signal.SIGTERM)
        assert await serve.wait(within=10) == 0
    finally:
        await serve.stop()
