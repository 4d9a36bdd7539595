"""The command line exactly as DESIGN §2: serve, init, check-config, version; exit codes 0/2/1."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.support.process import ROOT, ServeProcess, free_port, run_cli
from whatshooked import __version__
from whatshooked.accounts.cloud_api.settings import BusinessApiConfig
from whatshooked.accounts.whatsapp_web.settings import WebSettings
from whatshooked.config import model as config_module
from whatshooked.config.load import load_config

EXAMPLE_ENV = {"WHATSHOOKED_API_KEY": "k", "WHATSHOOKED_USERNAME": "u", "WHATSHOOKED_PASSWORD": "p",
               "META_ACCESS_TOKEN": "t", "META_APP_SECRET": "s", "META_VERIFY_TOKEN": "v", "CRM_TOKEN": "c"}


def test_version(tmp_path: Path) -> None:
    done = run_cli("version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == f"whatshooked {__version__}\n"
    flag = run_cli("--version", cwd=tmp_path)  # DESIGN §8.4; it used to ask for a command
    assert flag.returncode == 0 and flag.stdout == f"whatshooked {__version__}\n", flag.stderr


@pytest.mark.parametrize("args", [(), ("launch",), ("serve", "--bogus")])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and "usage:" in done.stderr and "Traceback" not in done.stderr


def test_init_writes_a_starter_config_once(tmp_path: Path) -> None:
    done = run_cli("init", cwd=tmp_path)
    path = tmp_path / "config.yaml"
    assert done.returncode == 0, done.stderr
    key = load_config(path).server.api_key.reveal()
    assert done.stdout == f"wrote a starter config to {path}\nAPI key: {key}\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    before = path.read_text()
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr and path.read_text() == before


def test_config_path_from_flag_then_environment(tmp_path: Path) -> None:
    assert run_cli("init", "-c", "a/flag.yaml", cwd=tmp_path).returncode == 0
    assert (tmp_path / "a" / "flag.yaml").exists()
    assert run_cli("-c", "b.yaml", "init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "b.yaml").exists()
    env = {"WHATSHOOKED_CONFIG": str(tmp_path / "env.yaml")}
    assert run_cli("init", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "env.yaml").exists() and not (tmp_path / "config.yaml").exists()


def test_check_config_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server: {port: eighty, api_key: k}\nsurprise: 1\nhooks: [{id: h}]\n")
    done = run_cli("check-config", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{path}: surprise: unknown key (known: accounts, delivery, hooks, logging, media, message_cache, server, "
        "storage)",
        f"{path}: server.port: must be a whole number, not 'eighty'",
        f"{path}: hooks[0].url: is required",
    ]


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    done = run_cli("check-config", "-c", "nope.yaml", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == f"{tmp_path / 'nope.yaml'}: file not found\n"


def test_check_config_accepts_the_example(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    done = run_cli("check-config", cwd=tmp_path, env=EXAMPLE_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path / 'config.yaml'}: OK (2 account(s), 1 hook(s))\n" and done.stderr == ""


def test_the_example_passes_check_config_with_no_variable_set(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    done = run_cli("check-config", cwd=tmp_path)  # it used to fail on every unset ${VAR}
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path / 'config.yaml'}: OK (2 account(s), 1 hook(s))\n"


def test_the_example_shows_every_key() -> None:
    raw = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    sections = {"server": config_module.ServerConfig, "storage": config_module.StorageConfig,
                "message_cache": config_module.CacheConfig, "delivery": config_module.DeliveryConfig,
                "media": config_module.MediaConfig, "logging": config_module.LoggingConfig}
    for name, cls in sections.items():
        assert set(raw[name]) == {f.name for f in dataclasses.fields(cls)}, name
    account_keys = set().union(*(raw_account.keys() for raw_account in raw["accounts"]))
    common = {f.name for f in dataclasses.fields(config_module.AccountConfig)} - {"settings"}
    assert account_keys == common | {f.name for f in dataclasses.fields(WebSettings)} | {"business_api"}
    business = next(a for a in raw["accounts"] if "business_api" in a)["business_api"]
    assert set(business) == {f.name for f in dataclasses.fields(BusinessApiConfig)}
    assert set(raw["hooks"][0]) == {f.name for f in dataclasses.fields(config_module.HookConfig)}


def test_check_config_warns_when_the_api_would_be_locked(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("server: {port: 1}\n")
    done = run_cli("check-config", cwd=tmp_path)
    assert done.returncode == 0 and "server.api_key: not set" in done.stderr


def test_serve_on_a_bad_config_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("media: {mode: inline}\n")
    done = run_cli("serve", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("media.mode: must be one of url, base64, none, not 'inline'")
    assert "Traceback" not in done.stderr


def test_serve_on_a_busy_port_exits_1_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "config.yaml").write_text(f"server: {{port: {port}, api_key: k}}\n")
        done = run_cli("serve", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("whatshooked: error: ")


async def test_serve_warns_on_unknown_keys_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(f"server: {{port: {port}, api_key: a-long-test-key, colour: blue}}\n")
    child = ServeProcess(path, port)
    await child.start()
    try:
        await child.healthy()
        child.send(signal.SIGTERM)
        started = time.monotonic()
        assert await child.wait(10) == 0
        assert time.monotonic() - started < 10
    finally:
        await child.stop()
    assert "server.colour: unknown key" in child.stderr.read_text()


async def test_first_serve_writes_the_starter_config_and_serves(tmp_path: Path) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8825)) == 0:
            pytest.skip("port 8825 (the starter config's) is in use on this machine")
    path = tmp_path / "fresh" / "config.yaml"
    path.parent.mkdir()
    child = ServeProcess(path, 8825)
    await child.start()
    try:
        await child.healthy(within=30)
        lines = child.stdout.read_text().splitlines()
        assert lines[:2] == [f"wrote a starter config to {path}", lines[1]]
        key = lines[1].removeprefix("API key: ")
        assert key == load_config(path).server.api_key.reveal()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{child.url}/api/accounts/status", headers={"x-api-key": key}) as response:
                assert response.status == 200
                (account,) = await response.json()
                assert account["id"] == "personal" and account["type"] == "whatsmeow"
            async with http.get(f"{child.url}/api/hooks") as response:
                assert response.status == 401
        child.send(signal.SIGINT)
        assert await child.wait(10) == 0
    finally:
        await child.stop()
    assert "Traceback" not in child.stderr.read_text()


def test_what_a_first_start_writes_in_a_checkout_is_ignored_by_git() -> None:
    """`serve` in a checkout writes config.yaml, config.yaml.bak (both with the API key) and data/."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["config.yaml", "config.yaml.bak", ".config.yaml.123.tmp", "data/whatshooked.db"]
    done = subprocess.run(["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.split() == names, done.stdout
