"""`whatshooked completion bash|zsh`: the script completes commands, actions and flags in a real bash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.process import run_cli


def complete(script: str, words: list[str], tmp_path: Path) -> list[str]:
    """What a real bash offers for the last word of `words` (COMP_* set as readline would)."""
    line = " ".join(words)
    program = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n"
               f"COMP_LINE={line!r}\nCOMP_POINT={len(line)}\n_whatshooked\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, cwd=tmp_path,
                          timeout=30, check=True)
    return sorted(filter(None, done.stdout.splitlines()))


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> str:
    done = run_cli("completion", "bash", cwd=tmp_path_factory.mktemp("completion"))
    assert done.returncode == 0 and done.stderr == ""
    return done.stdout


def test_commands_actions_and_flags(bash_script: str, tmp_path: Path) -> None:
    assert shutil.which("bash")
    assert {"serve", "status", "accounts", "cache", "backup", "completion"} <= set(
        complete(bash_script, ["whatshooked", ""], tmp_path))
    assert complete(bash_script, ["whatshooked", "accounts", ""], tmp_path) == [
        "disable", "enable", "list", "logout", "pair", "qr"]
    assert complete(bash_script, ["whatshooked", "cache", "c"], tmp_path) == ["clear"]
    assert "--yes" in complete(bash_script, ["whatshooked", "cache", "clear", "--"], tmp_path)
    assert "--generate-secret" in complete(bash_script, ["whatshooked", "-c", "x.yaml", "hooks", "add", "--g"],
                                           tmp_path)
    assert complete(bash_script, ["whatshooked", "hooks", "add", "--method", "P"], tmp_path) == [
        "PATCH", "POST", "PUT"]
    assert complete(bash_script, ["whatshooked", "completion", ""], tmp_path) == ["bash", "zsh"]


def test_zsh_script_loads_the_same_function_through_bashcompinit(bash_script: str, tmp_path: Path) -> None:
    zsh = run_cli("completion", "zsh", cwd=tmp_path)
    assert zsh.returncode == 0
    assert zsh.stdout.splitlines()[1] == "autoload -U +X bashcompinit && bashcompinit"
    assert zsh.stdout.split("_whatshooked() {", 1)[1] == bash_script.split("_whatshooked() {", 1)[1]
    if shutil.which("zsh"):  # not installed here; checked where it is
        subprocess.run(["zsh", "-n", "-c", zsh.stdout], check=True, timeout=30)
