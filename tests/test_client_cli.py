"""The CLI client against a real HTTP server on 127.0.0.1 that records what it was asked."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import socket
from pathlib import Path

import pytest

from tests.support.receiver import HookReceiver, Received, Reply
from whatshooked.cli import hooks_cmd
from whatshooked.cli.client import Api, add_client_commands, load_client_config, run_client_command
from whatshooked.config.load import parse_config
from whatshooked.config.model import Config
from whatshooked.errors import ConfigError

API_KEY = "client-test-key"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="whatshooked")
    commands = root.add_subparsers(dest="command", required=True)
    add_client_commands(commands)
    hooks_cmd.add_commands(commands)
    return root


def config_for(receiver: HookReceiver, tmp_path: Path, server: str | None = None) -> Config:
    port = receiver.url.split(":")[2].split("/")[0]
    server = server if server is not None else f"  api_key: {API_KEY}\n"
    return parse_config(f"server:\n  host: 127.0.0.1\n  port: {port}\n{server}", tmp_path / "config.yaml")


def header(request: Received, name: str) -> str | None:
    return {k.lower(): v for k, v in request.headers.items()}.get(name)


async def run(argv: list[str], config: Config) -> tuple[int, str]:
    """Parse and run in a thread (the client is blocking; the server runs on this loop)."""
    args = parser().parse_args(argv)
    out = io.StringIO()
    code = await asyncio.to_thread(run_client_command, args, config, out)
    return code, out.getvalue()


async def test_status_summarises_health_accounts_and_cache(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.reply(
        Reply(body={"status": "healthy"}),
        Reply(body=[{"id": "personal", "type": "whatsmeow", "state": "qr", "last_error": None},
                    {"id": "shop", "type": "business-api", "state": "error", "last_error": "token expired"}]),
        Reply(body={"enabled": True, "total_count": 3, "by_event_type": {"message.received": 2, "message.sent": 1}}),
    )
    code, out = await run(["status"], config_for(receiver, tmp_path))
    assert code == 3  # accounts down: scripts can tell (DESIGN §8.4)
    assert [(r.method, r.path) for r in receiver.requests] == [
        ("GET", "/health"), ("GET", "/api/accounts/status"), ("GET", "/api/cache/stats"),
    ]
    assert all(header(r, "x-api-key") == API_KEY for r in receiver.requests)
    assert "healthy" in out and "personal" in out and "qr" in out
    assert "token expired" in out
    assert "cache: 3 undelivered events (message.received: 2, message.sent: 1)" in out


@pytest.mark.parametrize(("states", "code"), [
    (["connected", "disabled"], 0), (["connected", "connecting"], 3), ([], 0), (["logged_out"], 3),
])
async def test_status_exits_3_when_an_enabled_account_is_not_connected(
    receiver: HookReceiver, tmp_path: Path, states: list[str], code: int,
) -> None:
    for argv in (["status"], ["status", "--json"]):
        receiver.reply(Reply(body={"status": "healthy"}),
                       Reply(body=[{"id": f"a{i}", "type": "whatsmeow", "state": s} for i, s in enumerate(states)]),
                       Reply(body={"enabled": True, "total_count": 0, "by_event_type": {}}))
        assert (await run(argv, config_for(receiver, tmp_path)))[0] == code, argv


async def test_send_text(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.reply(Reply(body={"status": "ok"}))
    code, out = await run(["send", "--account", "shop", "--to", "+15551234567", "--text", "hi"],
                          config_for(receiver, tmp_path))
    assert code == 0 and "sent to +15551234567" in out
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/api/send")
    assert header(request, "content-type") == "application/json"
    assert request.json() == {"account_id": "shop", "to": "+15551234567", "text": "hi"}


@pytest.mark.parametrize(("flag", "name", "mime", "extra_args", "extra_body"), [
    ("image", "cat.png", "image/png", ["--caption", "a cat"], {"caption": "a cat"}),
    ("video", "clip.mp4", "video/mp4", [], {}),
    ("document", "report.pdf", "application/pdf", ["--caption", "Q3"], {"caption": "Q3", "filename": "report.pdf"}),
    ("audio", "note.ogg", "audio/ogg", [], {}),
])
async def test_send_files_base64_with_mime_from_the_name(
    receiver: HookReceiver, tmp_path: Path, flag: str, name: str, mime: str, extra_args: list[str],
    extra_body: dict[str, str],
) -> None:
    file = tmp_path / name
    file.write_bytes(b"\x00\x01binary\xff")
    receiver.reply(Reply(body={"status": "ok", "message_id": "wamid.1"}))
    code, out = await run(["send", "--account", "a", "--to", "123", f"--{flag}", str(file), *extra_args],
                          config_for(receiver, tmp_path))
    assert code == 0 and "message id wamid.1" in out
    (request,) = receiver.requests
    assert request.path == f"/api/send/{flag}"
    encoded = base64.b64encode(file.read_bytes()).decode()
    assert request.json() == {"account_id": "a", "to": "123", f"{flag}_data": encoded, "mime_type": mime, **extra_body}


async def test_send_document_with_a_filename_and_unknown_type(receiver: HookReceiver, tmp_path: Path) -> None:
    file = tmp_path / "blob"
    file.write_bytes(b"x")
    receiver.reply(Reply(body={"status": "ok"}))
    code, _ = await run(["send", "--account", "a", "--to", "1", "--document", str(file), "--filename", "data.bin"],
                        config_for(receiver, tmp_path))
    assert code == 0
    body = receiver.requests[0].json()
    assert body["filename"] == "data.bin" and body["mime_type"] == "application/octet-stream"


async def test_hooks_list_add_remove(receiver: HookReceiver, tmp_path: Path) -> None:
    config = config_for(receiver, tmp_path)
    receiver.reply(Reply(body=[{"id": "crm", "name": "CRM", "url": "https://crm.example.com/h", "method": "POST",
                                "active": True, "events": ["message.*"]}]))
    code, out = await run(["hooks", "list"], config)
    assert code == 0 and "crm" in out and "https://crm.example.com/h" in out and "message.*" in out

    receiver.reply(Reply(status=201, body={"status": "ok", "hook_id": "erp"}))
    code, out = await run(["hooks", "add", "--id", "erp", "--url", "https://erp.example.com/in", "--method", "put",
                           "--events", "message.received, message.sent", "--secret", "whsec_AAAA"], config)
    assert code == 0 and "added hook erp" in out
    assert receiver.requests[-1].path == "/api/hooks/add"
    assert receiver.requests[-1].json() == {
        "id": "erp", "name": "erp", "url": "https://erp.example.com/in", "active": True, "method": "PUT",
        "events": ["message.received", "message.sent"], "secret": "whsec_AAAA",
    }

    receiver.reply(Reply(body={"status": "ok"}))
    code, out = await run(["hooks", "remove", "erp"], config)
    assert code == 0 and "removed hook erp" in out
    assert (receiver.requests[-1].method, receiver.requests[-1].path) == ("POST", "/api/hooks/remove")
    assert receiver.requests[-1].json() == {"id": "erp"}


async def test_accounts_list(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.reply(
        Reply(body=[{"id": "personal", "type": "whatsmeow", "phone_number": "+1555"},
                    {"id": "shop", "type": "business-api", "disabled": True}]),
        Reply(body=[{"id": "personal", "type": "whatsmeow", "state": "connected", "last_error": None}]),
    )
    code, out = await run(["accounts", "list"], config_for(receiver, tmp_path))
    assert code == 0
    assert [r.path for r in receiver.requests] == ["/api/accounts", "/api/accounts/status"]
    lines = out.splitlines()
    assert lines[0].split() == ["personal", "whatsmeow", "+1555", "connected"]
    assert lines[1].split() == ["shop", "business-api", "-", "disabled"]


async def test_cache_commands(receiver: HookReceiver, tmp_path: Path) -> None:
    config = config_for(receiver, tmp_path)
    receiver.reply(Reply(body={"enabled": False, "total_count": 0, "by_event_type": {}}))
    assert await run(["cache", "stats"], config) == (0, "cache: disabled\n")

    receiver.reply(Reply(body={"count": 1, "cached_events": [{
        "id": "evt_1", "timestamp": "2026-11-21T10:00:00Z",
        "event": {"type": "message.received", "timestamp": "2026-11-21T10:00:00Z", "data": {"account_id": "shop"}},
    }]}))
    code, out = await run(["cache", "list", "--type", "message.received"], config)
    assert code == 0 and out.split() == ["evt_1", "2026-11-21T10:00:00Z", "message.received", "shop"]
    last = receiver.requests[-1]
    assert (last.path, last.query) == ("/api/cache", {"event_type": "message.received"})

    job = {"job_id": "rpl_1", "state": "done", "total": 3, "delivered": 2, "failed": 1, "skipped": 0, "remaining": 0}
    receiver.reply(Reply(status=202, body={"job_id": "rpl_1"}), Reply(body=job))
    code, out = await run(["cache", "replay"], config)
    assert code == 0 and out == "replay rpl_1: 3/3 (2 delivered, 1 failed, 0 remaining)\n"
    assert [(r.method, r.path) for r in receiver.requests[-2:]] == [
        ("POST", "/api/cache/replay"), ("GET", "/api/replays/rpl_1")]
    assert receiver.requests[-2].json() == {"wait": False}

    receiver.reply(Reply(body={"success": True, "event_id": "evt_1", "message": "event evt_1 delivered"}))
    code, out = await run(["cache", "replay", "evt_1", "--json"], config)
    assert code == 0 and '"event_id": "evt_1"' in out
    assert receiver.requests[-1].path == "/api/cache/event/replay" and receiver.requests[-1].json() == {"id": "evt_1"}


async def test_basic_auth_when_there_is_no_api_key(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.reply(Reply(body={"enabled": True, "total_count": 1, "by_event_type": {}}))
    config = config_for(receiver, tmp_path, "  username: admin\n  password: pw\n")
    assert await run(["cache", "stats"], config) == (0, "cache: 1 undelivered event\n")
    assert header(receiver.requests[0], "authorization") == "Basic " + base64.b64encode(b"admin:pw").decode()
    assert header(receiver.requests[0], "x-api-key") is None


async def test_api_error_is_one_line(receiver: HookReceiver, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    receiver.reply(Reply(status=404, body="hook 'nope' not found\n"))
    code, out = await run(["hooks", "remove", "nope"], config_for(receiver, tmp_path))
    assert (code, out) == (2, "")  # the API refused the request as wrong: a usage error (cli/exit_codes.py)
    assert capsys.readouterr().err == "whatshooked: POST /api/hooks/remove: 404 hook 'nope' not found\n"


async def test_unreachable_daemon_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = parse_config(f"server:\n  port: {port}\n  api_key: k\n", tmp_path / "config.yaml")
    code, _ = await run(["status"], config)
    assert code == 4  # cannot reach the daemon (cli/exit_codes.py)
    assert capsys.readouterr().err == (
        f"whatshooked: cannot reach the daemon at http://127.0.0.1:{port} (is it running?)\n"
    )


async def test_unreadable_file_is_one_line(receiver: HookReceiver, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = await run(["send", "--account", "a", "--to", "1", "--image", str(tmp_path / "missing.jpg")],
                        config_for(receiver, tmp_path))
    assert code == 1 and receiver.requests == []
    missing = tmp_path / "missing.jpg"
    assert capsys.readouterr().err == f"whatshooked: cannot read {missing}: No such file or directory\n"


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["send", "--account", "a", "--text", "hi"])  # no --to
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["send", "--account", "a", "--to", "1", "--text", "x", "--image", "y.jpg"])
    assert exc.value.code == 2


def test_url_from_the_listen_address(tmp_path: Path) -> None:
    def url(host: str) -> str:
        return Api.for_server(parse_config(f"server:\n  host: '{host}'\n", tmp_path / "c.yaml").server).base_url

    assert url("0.0.0.0") == "http://127.0.0.1:8825"
    assert url("::") == "http://127.0.0.1:8825"
    assert url("::1") == "http://[::1]:8825"
    assert url("10.0.0.5") == "http://10.0.0.5:8825"


def test_client_config_reads_only_the_server_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "server:\n  port: 9000\n  api_key: ${CLIENT_TEST_KEY:-fallback}\n"
        "accounts:\n  - id: shop\n    type: business-api\n"
        "    business_api:\n      phone_number_id: '1'\n      access_token: ${UNSET_IN_THIS_SHELL_TOKEN}\n"
    )
    config = load_client_config(path)
    assert config.server.port == 9000 and config.server.api_key.reveal() == "fallback"


@pytest.mark.parametrize("text", ["server:\n  port: [1\n", "- server\n"])
def test_a_broken_config_is_one_config_problem(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_client_config(path)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith(f"{path}: ")
    assert "\n" not in info.value.problems[0]
