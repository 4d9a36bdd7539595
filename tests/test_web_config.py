"""WhatsApp Web account keys (DESIGN §8.1): session paths that would open another file or be shared
are config errors naming the key; device_name reaches the real neonize client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import until
from tests.support.neonize_standin import Sessions, web_world
from tests.support.receiver import HookReceiver
from whatshooked.accounts.whatsapp_web import bindings as nz
from whatshooked.accounts.whatsapp_web.session import NeonizeSession, SessionCallbacks
from whatshooked.config.load import load_config
from whatshooked.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, accounts: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  api_key: k\naccounts:\n{accounts}hooks: []\n")
    return path


@pytest.mark.parametrize("name", ["a#b.db", "50%.db", "s.db?mode=memory"])
def test_session_path_with_uri_characters_is_a_config_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"  - id: ok\n  - id: bad\n    session_path: ./sessions/{name}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: accounts[1].session_path: ") and name in problem
    result = subprocess.run([sys.executable, "-m", "whatshooked", "check-config", "-c", str(path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "accounts[1].session_path" in result.stderr


def test_two_accounts_sharing_a_session_path_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "  - id: one\n    session_path: ./s/x.db\n"
                           "  - id: two\n    session_path: s/../s/x.db\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}: accounts[1].session_path: ") and "accounts[0]" in problem


def test_the_default_session_paths_do_not_clash(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "  - id: one\n  - id: two\n    device_name: Shop\n"), env={})
    one, two = config.accounts
    assert one.settings.session_path != two.settings.session_path
    assert one.settings.device_name == "whatshooked" and two.settings.device_name == "Shop"
    assert (one.settings.status_broadcasts, one.settings.presence, one.settings.history) == (False, False, False)


async def test_device_name_reaches_the_real_client(tmp_path: Path, receiver: HookReceiver) -> None:
    """The phone lists the linked device by DeviceProps.os, which neonize sets to "Neonize" by default."""
    async def ignore(_value: object) -> None:
        return None

    session = NeonizeSession(tmp_path / "d.db", SessionCallbacks(ignore, ignore, lambda _s: None), "Front desk")
    sent = nz.DeviceProps.FromString(session._client.device_props.SerializeToString())
    assert sent.os == "Front desk"
    accounts = "  - id: personal\n    session_path: ./s/p.db\n  - id: shop\n    session_path: ./s/s.db\n" \
               "    device_name: Shop bridge\n"
    sessions = Sessions()
    async with web_world(tmp_path, receiver.url, accounts=accounts, sessions=sessions):
        await until(lambda: len(sessions.made) == 2)
        names = {s.path.name: s.options["device_name"] for s in sessions.made}
    assert names == {"p.db": "whatshooked", "s.db": "Shop bridge"}
