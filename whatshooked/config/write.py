"""Writing config files: the starter config of `init` / first `serve`, and atomic replacement."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

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

    Both files are private (0600): a config usually holds the API key and tokens. A symlinked PATH
    (into a git checkout, /etc/… → /srv/…) stays a link: its target is the file replaced.
    """
    path = _target(path)
    if backup and path.exists():
        _replace(path.with_name(path.name + ".bak"), path.read_bytes())
    _replace(path, data.encode("utf-8"))
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _target(path: Path) -> Path:
    """The file a write of `path` changes: the end of its symlinks, so the temp file goes next to it."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _temp_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def remove_leftovers(path: Path) -> list[Path]:
    """At start: delete the temp copies (secrets and all) a killed write of `path` or its .bak left.

    Only the names `_temp_name` makes, and only for a PID that is not running or is this process
    (a container's daemon is PID 1 every time): a live writer's file is left alone.
    """
    path = _target(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}(?:\.bak)?\.(\d+)\.tmp")
    removed: list[Path] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or not _gone_or_me(int(match.group(1))):
            continue
        leftover = path.with_name(name)
        try:
            leftover.unlink()
        except OSError as exc:
            log.warning("could not remove %s, left by an interrupted config write: %s", leftover, exc.strerror)
            continue
        log.warning("removed %s, left by an interrupted config write", leftover)
        removed.append(leftover)
    return removed


def _gone_or_me(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs, as someone else
        return False
    return False


def _replace(path: Path, data: bytes) -> None:
    tmp = _temp_name(path, os.getpid())
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
