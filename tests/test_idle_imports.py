"""A daemon with no WhatsApp Web account, no sealing and no config change loads none of the heavy
modules it does not use (issue 14: idle RSS). neonize's Go library alone is ~40 MB. With a WhatsApp
Web account, neonize comes with what it needs but not what the daemon never uses (cryptography is for
poll votes; httpx's command-line client would bring rich, click and pygments; soupsieve is for
CSS selectors in link previews, which the daemon does not make). And `serve`, which may
re-execute itself before it does anything, imports next to nothing before it does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.process import child_env
from whatshooked.cli.main import command_of

HEAVY = ("neonize", "cryptography", "ruamel", "segno", "ctypes", "zipfile")
WEB_UNUSED = ("cryptography", "rich", "click", "pygments", "soupsieve")

PROBE = """
import json, sys
import whatshooked.cli.main, whatshooked.service.daemon, whatshooked.api.app
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""

WEB_PROBE = """
import json, sys
import whatshooked.service.daemon, whatshooked.api.app
import whatshooked.accounts.whatsapp_web.adapter  # what the registry imports for such an account
assert "neonize" in sys.modules
run = {name for name, module in sys.modules.items() if type(module).__name__ != "_LazyModule"}  # lazy: never run
print(json.dumps(sorted({m.split('.')[0] for m in run})))
"""

BEFORE_EXEC = """
import json, os, sys
def execve(path, argv, environment):  # what the process about to be replaced has imported
    print(json.dumps(sorted(sys.modules)), flush=True)
    os._exit(0)
os.execve = execve
sys.argv = ["whatshooked", "serve", "-c", sys.argv[1]]
from whatshooked.cli.main import main
main()
"""


def loaded(code: str, *args: str) -> set[str]:
    env = {k: v for k, v in child_env().items() if k != "NEONIZE_BOT_TAG"}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                            timeout=120, env=env)
    return set(json.loads(result.stdout))


def test_serving_imports_no_heavy_module_it_does_not_use() -> None:
    found = loaded(PROBE)
    assert found.isdisjoint(HEAVY), sorted(found & set(HEAVY))


def test_a_whatsapp_web_account_brings_neonize_without_what_the_daemon_never_uses() -> None:
    found = loaded(WEB_PROBE)
    assert found.isdisjoint(WEB_UNUSED), sorted(found & set(WEB_UNUSED))


def test_serve_re_executes_before_importing_the_daemon(tmp_path: Path) -> None:
    found = loaded(BEFORE_EXEC, str(tmp_path / "config.yaml"))
    assert "whatshooked.cli.main" in found
    heavy = {"aiohttp", "yaml", "asyncio", "whatshooked.config.load", "whatshooked.cli.client"}
    assert found.isdisjoint(heavy), sorted(found & heavy)


@pytest.mark.parametrize("args, command", [
    (["serve"], "serve"), (["-c", "x.yaml", "serve"], "serve"), (["--config=x.yaml", "serve"], "serve"),
    (["-cx.yaml", "serve"], "serve"), (["--config", "serve", "init"], "init"), (["status"], "status"),
    (["--version"], None), (["-h", "serve"], None), ([], None),
])
def test_the_command_word_is_found_before_the_parser_is_built(args: list[str], command: str | None) -> None:
    assert command_of(args) == command
