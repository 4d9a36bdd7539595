"""Writing config files: the starter config of `init` / first `serve`, and atomic replacement."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE = 0o600

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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(STARTER.format(api_key=api_key))
        handle.flush()
        os.fsync(handle.fileno())
    return api_key


def write_atomically(path: Path, data: str, backup: bool = True) -> None:
    """Keep the old file as PATH.bak, then replace PATH: temp file in the same folder, fsync, rename.

    Both files are private (0600): a config usually holds the API key and tokens.
    """
    if backup and path.exists():
        _replace(path.with_name(path.name + ".bak"), path.read_bytes())
    _replace(path, data.encode("utf-8"))
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, PRIVATE)  # O_CREAT's mode does not apply to a leftover file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
