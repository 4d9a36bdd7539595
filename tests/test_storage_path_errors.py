"""A storage.path that cannot be made is a config error naming the file, `storage.path` and the path (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.process import free_port, run_cli


@pytest.mark.parametrize(("where", "why"), [
    ("a-file/sub/store.db", "Not a directory"),  # a folder under a file
    ("a-file/store.db", "a-file is not a folder"),
    ("/proc/whatshooked-none/store.db", "No such file or directory"),  # a folder that cannot be created
])
def test_serve_names_storage_path(tmp_path: Path, where: str, why: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  host: 127.0.0.1\n  port: {free_port()}\n  api_key: k\n"
                    f"storage:\n  path: {where}\naccounts: []\n")
    done = run_cli("serve", "-c", str(path), cwd=tmp_path)
    store = tmp_path / where if not where.startswith("/") else Path(where)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{path}: storage.path: cannot create the store {store}: "), last
    assert why in last and "Traceback" not in done.stderr


@pytest.mark.parametrize(("where", "why"), [
    ("a-file/sub/store.db", "a-file is not a folder"),
    ("a-file/store.db", "a-file is not a folder"),
    ("a-folder", "it is a folder"),
])
def test_check_config_finds_it_without_creating_anything(tmp_path: Path, where: str, why: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  api_key: k\nstorage:\n  path: {where}\naccounts: []\n")
    done = run_cli("check-config", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert done.stderr == f"{path}: storage.path: cannot create the store {tmp_path / where}: " + (
        f"{tmp_path / why}\n" if why.startswith("a-file") else f"{why}\n")
    fine = tmp_path / "ok.yaml"
    fine.write_text("server:\n  api_key: k\nstorage:\n  path: new/folders/store.db\naccounts: []\n")
    assert run_cli("check-config", "-c", str(fine), cwd=tmp_path).returncode == 0
    assert not (tmp_path / "new").exists()
