"""systemd/whatshooked.service: checked by systemd itself where installed, and parsed here always."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "whatshooked.service"
EXEC = "/opt/whatshooked/venv/bin/whatshooked"


def directives() -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}}; systemd allows a key more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(UNIT.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and key == key.strip() and key, f"line {number}: {raw!r}"
        current.setdefault(key, []).append(value)
    return sections


def test_directives() -> None:
    unit = directives()
    assert set(unit) == {"Unit", "Service", "Install"}
    service = {key: values[-1] for key, values in unit["Service"].items()}
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30",
        "ExecStart": f"{EXEC} serve -c /etc/whatshooked/config.yaml",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "User": "whatshooked", "Group": "whatshooked",
        "StateDirectory": "whatshooked", "ConfigurationDirectory": "whatshooked",
        "WorkingDirectory": "/var/lib/whatshooked",
        "Restart": "on-failure", "RestartSec": "5", "TimeoutStopSec": "15", "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "ReadWritePaths": "/var/lib/whatshooked /etc/whatshooked",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet": "",
        # room for server.max_connections (1024) besides the store, hooks and Meta (issue 8, item 10)
        "LimitNOFILE": "65536",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key
    # the daemon finishes a stop within 10 s (DESIGN §2); systemd must wait at least that long
    assert int(service["TimeoutStopSec"]) > 10
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart exists; everything else is checked as written
    unit = tmp_path / "whatshooked.service"
    unit.write_text(UNIT.read_text().replace(EXEC, shutil.which("true") or "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    output = (result.stdout + result.stderr).strip()
    # unknown keys are only warnings (exit 0), so any line about our unit fails the test
    # (lines about other units installed on this host are not ours to judge)
    ours = [line for line in output.splitlines() if "whatshooked" in line]
    assert result.returncode == 0 and not ours, output
