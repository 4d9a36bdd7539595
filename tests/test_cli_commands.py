"""The CLI's account, cache and hook-secret commands against a real daemon (or a real scripted server)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import stat
from pathlib import Path

import pytest

from tests.support.harness import Running, config, running
from tests.support.receiver import HookReceiver, Reply
from whatshooked.accounts import qr_render
from whatshooked.cli.client import run_client_command
from whatshooked.cli.main import build_parser
from whatshooked.config.load import parse_config
from whatshooked.config.model import Config
from whatshooked.delivery.signing import decode_secret

API_KEY = "cli-commands-key"
ACCOUNT = "  - id: personal\n"


def daemon_config(run: Running, tmp_path: Path) -> Config:
    port = run.client.server.port
    return parse_config(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: test-api-key-0123456789\n",
                        tmp_path / "client.yaml")


def receiver_config(receiver: HookReceiver, tmp_path: Path) -> Config:
    port = receiver.url.split(":")[2].split("/")[0]
    return parse_config(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {API_KEY}\n", tmp_path / "c.yaml")


async def cli(argv: list[str], config: Config) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    code = await asyncio.to_thread(run_client_command, args, config, out)
    return code, out.getvalue()


async def test_accounts_disable_and_enable_change_the_daemon(tmp_path: Path) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        client = daemon_config(run, tmp_path)
        assert await cli(["accounts", "disable", "personal"], client) == (0, "disabled account personal\n")
        assert run.adapter("personal").state == "disabled"
        assert "disabled: true" in run.path.read_text()
        assert await cli(["accounts", "enable", "personal"], client) == (0, "enabled account personal\n")
        assert run.adapter("personal").state == "connected"
        code, out = await cli(["accounts", "enable", "nobody", "--json"], client)
        assert (code, out) == (2, "")  # unknown account: the API's 404 is a usage error


async def test_accounts_logout_and_pair_send_the_routes_bodies(receiver: HookReceiver, tmp_path: Path) -> None:
    client = receiver_config(receiver, tmp_path)
    receiver.reply(Reply(body={"status": "ok", "account_id": "personal"}),
                   Reply(body={"status": "ok", "code": "ABCD-EFGH"}))
    assert await cli(["accounts", "logout", "personal"], client) == (0, "logged out account personal\n")
    code, out = await cli(["accounts", "pair", "personal", "--phone", "+15551234567"], client)
    assert code == 0 and out.startswith("pairing code: ABCD-EFGH\n")
    assert [(r.method, r.path, r.json()) for r in receiver.requests] == [
        ("POST", "/api/accounts/logout", {"id": "personal"}),
        ("POST", "/api/accounts/pair-phone", {"id": "personal", "phone": "+15551234567"}),
    ]


async def test_accounts_qr_draws_the_daemons_png_as_segno_would(receiver: HookReceiver, tmp_path: Path) -> None:
    code_text = "2@pairing-data-from-whatsapp,abc,def,ghi"
    png = qr_render.png_bytes(code_text)
    receiver.reply(Reply(body=png, headers={"Content-Type": "image/png"}))
    code, out = await cli(["accounts", "qr", "personal"], receiver_config(receiver, tmp_path))
    assert code == 0
    assert receiver.requests[0].path == "/api/qr/personal.png"
    assert out.startswith(qr_render.terminal_text(code_text))  # module for module what serve prints


async def test_accounts_qr_saves_the_png_0600(receiver: HookReceiver, tmp_path: Path) -> None:
    png = qr_render.png_bytes("2@x,y,z")
    receiver.reply(Reply(body=png, headers={"Content-Type": "image/png"}),
                   Reply(status=404, body="no QR code pending for account 'personal' (state: connected)"))
    target = tmp_path / "qr.png"
    client = receiver_config(receiver, tmp_path)
    assert (await cli(["accounts", "qr", "personal", "-o", str(target)], client))[0] == 0
    assert target.read_bytes() == png and stat.S_IMODE(target.stat().st_mode) == 0o600
    other = tmp_path / "none.png"
    assert (await cli(["accounts", "qr", "personal", "-o", str(other)], client))[0] == 2
    assert not other.exists()  # no error text saved as an image


async def test_cache_show_and_clear_against_the_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    async with running(tmp_path, config(accounts=ACCOUNT)) as run:
        client = daemon_config(run, tmp_path)
        event = await run.adapter("personal").receive("hello")
        code, out = await cli(["cache", "show", event.id], client)
        assert code == 0
        shown = json.loads(out)
        assert (shown["id"], shown["timestamp"]) == (event.id, event.timestamp)
        assert {k: v for k, v in shown["event"].items() if k != "seq"} == event.to_dict()
        assert (await cli(["cache", "show", "evt_nope"], client))[0] == 2

        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt, --yes is needed
        assert await cli(["cache", "clear"], client) == (2, "")
        assert "add --yes to confirm" in capsys.readouterr().err
        assert await run.daemon.store.get_event(event.id) is not None
        assert await cli(["cache", "clear", "--yes"], client) == (0, "cleared 1 cached event\n")
        assert await run.daemon.store.get_event(event.id) is None


async def test_hooks_add_generate_secret_prints_a_fresh_secret_once(receiver: HookReceiver, tmp_path: Path) -> None:
    client = receiver_config(receiver, tmp_path)
    secrets = []
    for _ in range(2):
        receiver.reply(Reply(status=201, body={"status": "ok", "hook_id": "crm"}))
        code, out = await cli(["hooks", "add", "--id", "crm", "--url", "http://127.0.0.1:9/h", "--generate-secret"],
                              client)
        sent = receiver.requests[-1].json()["secret"]
        assert code == 0 and out == f"added hook crm\nsigning secret (shown once; give it to the receiver): {sent}\n"
        assert sent.startswith("whsec_") and len(decode_secret(sent)) == 32
        secrets.append(sent)
    assert secrets[0] != secrets[1]
    with pytest.raises(SystemExit) as exc:  # one or the other
        build_parser().parse_args(["hooks", "add", "--id", "x", "--url", "u", "--secret", "whsec_AA==",
                                   "--generate-secret"])
    assert exc.value.code == 2


def test_secret_is_32_random_bytes() -> None:
    from whatshooked.cli.secrets import new_secret

    key = base64.b64decode(new_secret().removeprefix("whsec_"), validate=True)
    assert len(key) == 32
