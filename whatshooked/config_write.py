"""Writing config files: the starter config of `init` / first `serve`, and atomic replacement."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path

STARTER = """\
# whatshooked config, written by `whatshooked init`. Every key is explained in config.example.yaml.
# Values may use ${{NAME}} or ${{NAME:-default}} to read the environment.
server:
  host: 127.0.0.1
  port: 8825
  api_key: "{api_key}"   # send as `x-api-key: KEY` or `Authorization: Bearer KEY`
storage:
  path: ./data/whatshooked.db
message_cache:
  enabled: true
  max_age: 7d
  max_events: 100000
media:
  mode: url
  dir: ./data/media
  ttl: 24h
accounts:
  - id: personal
    type: whatsmeow
    session_path: ./data/sessions/personal.db
    show_qr: true          # scan the QR code printed in the terminal (or open /api/qr/personal)
hooks: []                  # add with POST /api/hooks/add, or here: - {{id: crm, url: https://…}}
"""


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def write_starter(path: Path) -> str:
    """Create a starter config at `path` (never overwriting one) and return its fresh API key.

    Raises FileExistsError when something is already there.
    """
    api_key = new_api_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(STARTER.format(api_key=api_key))
        handle.flush()
        os.fsync(handle.fileno())
    return api_key


def write_atomically(path: Path, text: str, backup: bool = True) -> None:
    """Temp file in the same folder, fsync, keep the old file as PATH.bak, rename over PATH.

    The file is private (0600, or the old file's mode without any access for others), since a
    config usually holds the API key and tokens.
    """
    folder = path.parent
    mode = 0o600
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode) & 0o770 | 0o600
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if backup and path.exists():
            bak = path.with_name(path.name + ".bak")
            if bak.exists():
                bak.unlink()
            try:
                os.link(path, bak)
            except OSError:  # no hard links here: a copy will do
                shutil.copy2(path, bak)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


