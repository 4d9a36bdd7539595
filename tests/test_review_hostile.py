"""Adversarial review of issue 8: hostile input the fixes still let through (each test fails today)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.cloud_daemon import PHONE_NUMBER_ID, cloud_daemon
from tests.support.graph_standin import GraphStandin, fixture
from tests.support.harness import config, running, until
from tests.support.pipelining import said_to
from tests.support.process import ServeProcess, free_port, run_cli
from tests.support.receiver import HookReceiver, Reply
from tests.test_crash import config_text as crash_config
from tests.test_crash import payload
from whatshooked.config.load import load_config
from whatshooked.errors import ConfigError


def text_webhook(message_id: str, timestamp: str = "1700000000", body: str = "hi") -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "A"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": message_id, "timestamp": timestamp, "type": "text",
                      "text": {"body": body}}],
    }
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


async def test_overflowing_number_in_signed_webhook_reaches_hook_as_standard_json(tmp_path: Path) -> None:
    """A signed webhook holding `1e999` is parsed to float('inf') (json's parse_constant only sees the
    literal words NaN/Infinity), and the hook then gets `Infinity`, which is not JSON (RFC 8259).
    Expected: every body a hook receives is standard JSON (e.g. parse_float refusing non-finite values,
    or dumping events with allow_nan=False and raising business.errors for the part)."""
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.HUGE")).replace('"timestamp": "1700000000"',
                                                                 '"timestamp": "1700000000", "x": 1e999')
            status, _ = await rig.webhook(raw.encode())
            assert status == 200
            received = await receiver.wait_for(1)
            for request in received:
                json.loads(request.body, parse_constant=_refuse)
    finally:
        await receiver.close()


async def test_lone_surrogate_in_signed_webhook_is_not_a_500(tmp_path: Path) -> None:
    """A signed webhook whose text is `"\\ud800x"` (a valid JSON escape, a lone surrogate in Python)
    parses, then the event cannot be encoded to UTF-8 when stored: the webhook answers 500 with a
    traceback in the log, so Meta redelivers it for days and it never gets in.
    Expected: 200, and the message raised (the surrogate replaced, e.g. by U+FFFD) or a business.errors
    event, never a 5xx for a signed body."""
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            raw = json.dumps(text_webhook("wamid.SURROGATE", body="\ud800x"))
            status, text = await rig.webhook(raw.encode())
            assert status == 200, text
            received = await receiver.wait_for(1)
            assert received[0].headers["X-Whatshooked-Event"] in ("message.received", "business.errors")
    finally:
        await receiver.close()


BUSINESS = ("  - id: b1\n    type: business-api\n    business_api:\n      phone_number_id: '111'\n"
            "      access_token: tok1\n      app_secret: s1\n")


async def test_token_goes_to_new_graph_url_after_a_type_round_trip(tmp_path: Path) -> None:
    """Item 8 bypass in two requests: change the account's `type` to whatsmeow (its `business_api`
    block, token included, stays in the file), then back to business-api with a new `graph_url` and no
    token: the graph_url rule looks only at the *current* config's business_api (None for a whatsmeow
    account), so the stored token is now sent to the new host.
    Expected: 400 naming business_api.access_token, the file's graph_url unchanged; compare against
    the business_api block in the file, not the running config."""
    async with running(tmp_path, config(accounts=BUSINESS)) as r:
        first = await r.client.post("/api/accounts/update", json={"id": "b1", "type": "whatsmeow"})
        assert first.status == 200
        second = await r.client.post("/api/accounts/update", json={
            "id": "b1", "type": "business-api", "business_api": {"graph_url": "http://evil.example"}})
        assert second.status == 400, await second.text()
        assert "access_token" in await second.text()  # the contract's errors are plain text
        assert "evil.example" not in r.path.read_text()


async def test_masked_proxy_sent_back_keeps_the_stored_password(tmp_path: Path) -> None:
    """GET /api/accounts shows a proxy as `http://user:***@host`; sending that back in an update (what
    a dashboard editing another field does) writes the literal password `***`, losing the real one.
    Expected: a proxy whose password is `***` and whose host is unchanged keeps the stored password
    (and, as for graph_url, a `***` password with a new host is a 400, so it is never sent there)."""
    accounts = "  - id: web\n    type: whatsmeow\n    proxy: http://user:pw-SECRET@127.0.0.1:3128\n"
    async with running(tmp_path, config(accounts=accounts)) as r:
        listed = await (await r.client.get("/api/accounts")).json()
        shown = next(a for a in listed if a["id"] == "web")["proxy"]
        assert shown == "http://user:***@127.0.0.1:3128"
        response = await r.client.post("/api/accounts/update", json={"id": "web", "proxy": shown})
        assert response.status == 200
        account = r.settings.config.account("web")
        assert account is not None and account.settings.proxy == "http://user:pw-SECRET@127.0.0.1:3128"


def test_two_accounts_on_one_webhook_path_are_a_config_error(tmp_path: Path) -> None:
    """Two business-api accounts may share a `webhook_path`: the first one then takes every webhook on
    it, so the second account's (signed with its own app secret) are refused or raised under the
    wrong account, and Meta redelivers them for days. The API accepts it too (accounts/add, 201).
    Expected: a config error naming the second account's business_api.webhook_path (and 400 from
    the API)."""
    accounts = BUSINESS + ("  - id: b2\n    type: business-api\n    business_api:\n      phone_number_id: '222'\n"
                           "      access_token: tok2\n      webhook_path: /webhooks/whatsapp/b1\n")
    path = tmp_path / "config.yaml"
    path.write_text(config(accounts=accounts))
    with pytest.raises(ConfigError, match=r"accounts\[1\]\.business_api\.webhook_path"):
        load_config(path, env={})


async def test_acknowledged_event_survives_a_kill_after_only_the_wal_was_deleted(tmp_path: Path) -> None:
    """Item 2 variant: deleting only `storage.path`-wal (a cleanup script, `rm *.db-wal`) leaves the
    main file's inode as opened, so the guard sees nothing: webhooks still answer 200 while SQLite
    commits into the unlinked WAL; a kill before the next checkpoint loses those acknowledged events.
    Expected: a missing/replaced -wal is noticed like a missing store (503, /health 503), or the
    event is still delivered after the restart."""
    receiver = HookReceiver()
    receiver.default = Reply(status=500)  # the hook is down: the events stay owed in the store
    await receiver.start()
    graph = GraphStandin("test-token")
    await graph.start()
    port = free_port()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(crash_config(tmp_path, port, graph.url, receiver.url))
    db = tmp_path / "state.db"
    try:
        daemon = ServeProcess(config_file, port)
        await daemon.start()
        try:
            await daemon.healthy()
            async with aiohttp.ClientSession() as http:
                async with http.post(daemon.url + "/webhooks/whatsapp/shop", data=payload(1)) as response:
                    assert response.status == 200
                os.unlink(f"{db}-wal")
                async with http.post(daemon.url + "/webhooks/whatsapp/shop", data=payload(2)) as response:
                    acknowledged = response.status == 200
            daemon.send(signal.SIGKILL)
            await daemon.wait(15)
        finally:
            await daemon.stop()
        if not acknowledged:
            return  # refused, so Meta redelivers: nothing lost
        receiver.default = Reply(status=200)
        receiver.requests.clear()  # only what the restarted daemon delivers counts
        again = ServeProcess(config_file, port, name="again")
        await again.start()
        try:
            await again.healthy()
            await until(lambda: any(r.body and b"message 2" in r.body for r in receiver.requests), within=20)
        finally:
            await again.stop()
    finally:
        await graph.close()
        await receiver.close()


async def test_media_link_with_a_huge_expires_is_not_a_500(tmp_path: Path) -> None:
    """Item 11 variant: an unauthenticated `GET /api/media/{id}?expires=<5000 digits>&sig=…` makes
    `int(expires)` exceed Python's digit limit: 500 and a traceback in the log, from anyone on the
    internet. Expected: 401 like any other link this daemon did not sign (e.g. cap expires' length)."""
    async with cloud_daemon(tmp_path) as rig:
        params = {"expires": "9" * 5000, "sig": "a" * 64}
        async with rig.http.get(f"{rig.url}/api/media/{'0' * 32}", params=params) as response:
            assert response.status == 401, await response.text()


async def test_a_pipelined_request_that_stalls_in_its_headers_is_cut(tmp_path: Path) -> None:
    """Item 10 variant: a whole request and the start of a second one sent in one packet, then nothing.
    The guard disarms when the first request finishes and only re-arms on new data, which never comes,
    so the half-sent second request holds its connection far past `server.request_timeout` (the same
    with HTTP/1.0 keep-alive). Expected: cut with a 408 within request_timeout of its first byte
    (re-arm in `finished()` when the parser holds unfinished bytes, or whenever a request finishes)."""
    said = await said_to(tmp_path, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nX-Slow")
    answers = said.split(b"HTTP/1.1 ")
    assert answers[1].startswith(b"200"), said
    assert len(answers) == 3 and answers[2].startswith(b"408"), said


async def test_config_write_back_keeps_a_symlinked_config_file_a_symlink(tmp_path: Path) -> None:
    """An operator's config.yaml that is a symlink (into a git checkout, /etc/… → /srv/…) is replaced
    by a regular file on the first API change: the link is gone, the real file never gets the change,
    and later edits of the real file are silently ignored by the daemon. Expected: the write-back
    writes through the link (temp file next to the link's target, then rename onto the target)."""
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "config.yaml"
    real.write_text(config())
    (tmp_path / "config.yaml").symlink_to(real)
    async with running(tmp_path, real.read_text()) as r:
        assert r.path.is_symlink()  # running() writes through the link
        response = await r.client.post("/api/hooks/add", json={"id": "added", "url": "http://127.0.0.1:9/x"})
        assert response.status == 201
        assert r.path.is_symlink()
        assert "id: added" in real.read_text()


def _other_programs_database(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE events (foo)")  # a database of another program, at a mistyped path
    conn.commit()
    conn.close()


@pytest.mark.parametrize("spoil", [Path.mkdir, _other_programs_database], ids=["a directory", "another database"])
def test_a_store_path_that_is_no_whatshooked_store_exits_2_naming_it(tmp_path: Path, spoil: Any) -> None:
    """Item 3 variants: `storage.path` naming a directory exits 1 with "unable to open database file",
    and one naming another program's SQLite database exits 1 with "table events
    already exists": neither names the file, storage.path or what to do.
    Expected: exit 2, one line naming the path and storage.path, and the other database untouched."""
    db = tmp_path / "whatshooked.db"
    spoil(db)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"server: {{host: 127.0.0.1, port: 9, api_key: k}}\nstorage: {{path: {db}}}\n"
                           f"media: {{dir: {tmp_path / 'media'}}}\n")
    result = run_cli("serve", "-c", str(config_file), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert any(str(db) in line and "storage.path" in line for line in result.stderr.splitlines()), result.stderr


async def test_an_app_secret_whose_variable_is_unset_does_not_turn_signature_checks_off(tmp_path: Path) -> None:
    """`app_secret: ${META_APP_SECRET}` with the variable unset (a typo, a unit file missing its
    EnvironmentFile) reads as empty with only a warning, so the account checks no signature and
    anyone on the internet can raise events on its public webhook path (items 6 and 11: fail open).
    Expected: fail closed: a config error naming business_api.app_secret and the variable (as for an
    unset access_token), or at least unsigned webhooks refused for that account."""
    receiver = HookReceiver()
    await receiver.start()
    try:
        try:
            rig_context = cloud_daemon(tmp_path, receiver, api={"app_secret": "${WHATSHOOKED_REVIEW_UNSET}"})
            async with rig_context as rig:
                status, _ = await rig.webhook(text_webhook("wamid.FORGED"), signature=None)
                assert status != 200, "an unsigned webhook was accepted"
        except ConfigError as exc:
            assert "app_secret" in str(exc)
    finally:
        await receiver.close()


async def test_a_hook_url_password_is_not_shown_by_the_api(tmp_path: Path) -> None:
    """GET /api/hooks shows a hook URL's user-info password in clear (`http://bob:hunter2@…`), while
    proxy passwords, hook secrets and credential headers are masked: anyone with read access to the
    API (or a dashboard's logs) gets the receiver's credentials (DESIGN §6: secrets are never returned).
    Expected: shown as `http://bob:***@…`, as for an account's proxy."""
    async with running(tmp_path, config()) as r:
        added = await r.client.post("/api/hooks/add", json={"id": "u", "url": "http://bob:hunter2-pass@127.0.0.1:9/x"})
        assert added.status == 201
        listed = await (await r.client.get("/api/hooks")).text()
        assert "hunter2-pass" not in listed, listed


async def test_a_public_url_with_a_path_still_names_the_daemons_own_origin(tmp_path: Path) -> None:
    """Behind a reverse proxy at a sub-path (`server.public_url: https://example.com/whatshooked`, the
    media links use it as their base), `origin_key(public_url)` is None because the URL has a path, so
    the daemon's own pages (e.g. /docs "try it out") get 403 for every change, from their own origin.
    Expected: the origin of public_url is `https://example.com:443` whatever its path."""
    extra = "  public_url: https://example.com/whatshooked\n"
    async with running(tmp_path, config(extra=extra)) as r:
        response = await r.client.post("/api/hooks/add", json={"id": "own", "url": "http://127.0.0.1:9/x"},
                                       headers={"Origin": "https://example.com", "Sec-Fetch-Site": "same-origin"})
        assert response.status == 201, await response.text()


async def test_a_cut_media_download_is_not_reported_as_whole(tmp_path: Path) -> None:
    """Item 1 variant: a download that ends early without an error the client can see (a proxy or a
    close-delimited answer cut short) is stored and reported as the media, and the event carries
    Meta's `sha256` of the whole file next to the cut bytes: the receiver cannot tell. Meta gives
    `sha256` and `file_size` with every media URL. Expected: a download whose size or SHA-256 differs
    from Meta's is an error in the event (`media.error`), never stored as the media."""
    payload = fixture("message_image.json")
    media_id = str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"])
    whole = os.urandom(300_000)
    receiver = HookReceiver()
    await receiver.start()
    try:
        async with cloud_daemon(tmp_path, receiver) as rig:
            rig.graph.answer("GET", media_id, {
                "messaging_product": "whatsapp", "id": media_id, "url": f"{rig.graph.url}/download/{media_id}",
                "mime_type": "image/jpeg", "sha256": hashlib.sha256(whole).hexdigest(), "file_size": len(whole)})
            rig.graph.add_media(media_id, whole[:150_000], "image/jpeg")  # what arrived of it
            assert await rig.webhook(payload) == (200, "ok")
            [got] = await receiver.wait_for(1)
        media = got.json()["data"]["media"]
        assert "error" in media, media
    finally:
        await receiver.close()
