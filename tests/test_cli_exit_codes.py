"""Every exit code the README promises (cli/exit_codes.py), from the real `main` and one real process."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from tests.support.process import run_cli
from tests.support.receiver import HookReceiver, Reply
from whatshooked.cli import exit_codes
from whatshooked.cli.main import main

KEY = "exit-code-key"


def config_file(tmp_path: Path, port: int | str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key: {KEY}\n")
    return path


def port_of(receiver: HookReceiver) -> str:
    return receiver.url.split(":")[2].split("/")[0]


async def run_main(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def test_the_codes_are_distinct_and_documented() -> None:
    codes = [exit_codes.OK, exit_codes.ERROR, exit_codes.USAGE, exit_codes.NOT_CONNECTED, exit_codes.UNREACHABLE,
             exit_codes.REFUSED]
    assert codes == [0, 1, 2, 3, 4, 5]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in codes:
        assert f"| {code} |" in section, code


@pytest.mark.parametrize(("status", "code"), [
    (500, exit_codes.ERROR), (503, exit_codes.ERROR), (400, exit_codes.USAGE), (404, exit_codes.USAGE),
    (409, exit_codes.NOT_CONNECTED), (401, exit_codes.REFUSED), (403, exit_codes.REFUSED),
])
async def test_api_answers_map_to_codes(receiver: HookReceiver, tmp_path: Path, status: int, code: int) -> None:
    receiver.reply(Reply(status=status, body="why"))
    path = config_file(tmp_path, port_of(receiver))
    assert await run_main("send", "-c", str(path), "--account", "a", "--to", "1", "--text", "hi") == code


async def test_ok_and_not_connected_from_status(receiver: HookReceiver, tmp_path: Path) -> None:
    path = config_file(tmp_path, port_of(receiver))
    for state, code in (("connected", exit_codes.OK), ("qr", exit_codes.NOT_CONNECTED)):
        receiver.reply(Reply(body={"status": "healthy"}),
                       Reply(body=[{"id": "a", "type": "whatsmeow", "state": state}]),
                       Reply(body={"enabled": True, "total_count": 0, "by_event_type": {}}))
        assert await run_main("status", "-c", str(path)) == code


async def test_unreachable_daemon_is_4(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert await run_main("hooks", "list", "-c", str(config_file(tmp_path, port))) == exit_codes.UNREACHABLE


async def test_usage_and_config_errors_are_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["send", "--account", "a", "--text", "hi"])  # no --to
    assert exc.value.code == exit_codes.USAGE
    broken = tmp_path / "broken.yaml"
    broken.write_text("server:\n  port: [1\n")
    assert await run_main("status", "-c", str(broken)) == exit_codes.USAGE
    assert await run_main("check-config", "-c", str(broken)) == exit_codes.USAGE
    assert await run_main("status", "-c", str(tmp_path / "missing.yaml")) == exit_codes.USAGE


async def test_a_runtime_error_is_1(receiver: HookReceiver, tmp_path: Path) -> None:
    path = config_file(tmp_path, port_of(receiver))
    missing = tmp_path / "missing.jpg"
    assert await run_main("send", "-c", str(path), "--account", "a", "--to", "1", "--image", str(missing)) == 1
    assert await run_main("init", "-c", str(path)) == exit_codes.ERROR  # init never overwrites


def test_the_process_exits_with_the_code(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = config_file(tmp_path, port)
    assert run_cli("--version", cwd=tmp_path).returncode == exit_codes.OK
    done = run_cli("status", "-c", str(path), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        exit_codes.UNREACHABLE, f"whatshooked: cannot reach the daemon at http://127.0.0.1:{port} (is it running?)\n")
    assert run_cli("accounts", "frobnicate", cwd=tmp_path).returncode == exit_codes.USAGE
    assert sys.executable  # the child ran this interpreter (tests/support/process.py)
