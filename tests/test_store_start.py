"""A store file that is not a usable database at start (issue 8, item 3): exit 2, one line naming
`storage.path`, the file and what to do; never a traceback."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.process import run_cli


def write_config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"server: {{host: 127.0.0.1, port: 9, api_key: k}}\nstorage: {{path: {db}}}\n"
                      f"media: {{dir: {tmp_path / 'media'}}}\n")
    return config


def real_store(db: Path) -> None:
    """A store as whatshooked leaves it, big enough that a cut goes through its tables."""
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE filler (x BLOB)")
    conn.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(2000),) for _ in range(200)])
    conn.commit()
    conn.close()


def garbage(db: Path) -> None:
    db.write_bytes(os.urandom(64 * 1024))


def truncated(db: Path) -> None:
    real_store(db)
    with db.open("r+b") as handle:
        handle.truncate(os.path.getsize(db) // 3)


def bad_header(db: Path) -> None:
    real_store(db)
    with db.open("r+b") as handle:
        handle.seek(16)
        handle.write(b"\xff\xff\x00\x00")  # a page size no SQLite writes


@pytest.mark.parametrize("spoil", [garbage, truncated, bad_header], ids=lambda f: f.__name__)
def test_a_store_that_is_not_a_database_exits_2_naming_storage_path(tmp_path: Path, spoil: object) -> None:
    db = tmp_path / "state" / "whatshooked.db"
    db.parent.mkdir()
    spoil(db)  # type: ignore[operator]
    before = db.read_bytes()
    config = write_config(tmp_path, db)
    result = run_cli("serve", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if str(db) in line]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert "storage.path" in line and str(config) in line
    assert "move it aside" in line and "backup" in line
    assert db.read_bytes() == before  # never "repaired" or overwritten
