"""Whether the store can take writes, so nothing is acknowledged that is not on disk at storage.path.

Two ways it cannot (DESIGN §8.3: `/health` answers 503 naming the reason):
- the file at storage.path, or its `-wal`, is no longer the one we opened (deleted, or replaced by
  another file): SQLite would go on committing into the unlinked file, and a restart would find none
  of it (a `rm *.db-wal` loses every commit since the last checkpoint). The writer compares
  (st_dev, st_ino) of both after each batch's commit, two stats per batch. This one sticks
  until a restart: the events still owed are in the file we hold, not in the one at the path.
- a write fails for a reason of the disk (full, read-only, I/O error, permissions, locked): this one
  clears by itself with the next commit that works (`/health` tries a small write while it lasts).
The reason is logged once, as an ERROR naming storage.path and what to do.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from whatshooked.store.base import StoreUnavailable, StoreUnreadable

__all__ = ["StoreGuard", "StoreUnavailable", "StoreUnreadable", "disk_fault", "probe", "unreadable"]

log = logging.getLogger(__name__)

# SQLite's primary result codes that say the disk, not the write, is at fault: PERM, BUSY (locked by
# another program), READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
_DISK_CODES = frozenset({3, 5, 8, 10, 11, 13, 14, 26})


def unreadable(exc: BaseException) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB: the file is not (or no longer) a database."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in (11, 26)


def disk_fault(exc: BaseException) -> bool:
    """True for a failed write that says nothing about the write itself (every other would fail too)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _DISK_CODES


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class StoreGuard:
    """Owned by the writer; `/health` and the send routes ask it through `Store.check()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity = _identity(path)
        self._wal = Path(f"{path}-wal")
        self._wal_identity: tuple[int, int] | None = None
        """Taken at the first check that finds the WAL: SQLite keeps it while any connection is open."""
        self.fault: str | None = None
        self.gone = False
        self._lock = threading.Lock()  # the writer's thread and the event loop's both check

    def check_file(self) -> None:
        """Raise StoreUnavailable when the file at the path is not the one opened (or was not, before)."""
        if not self.gone:
            try:
                now, wal = _identity(self.path), _identity(self._wal)
            except OSError as exc:  # e.g. its folder lost its permissions: cannot tell, so cannot acknowledge
                raise self.write_failed(exc) from None
            if self._wal_identity is None:
                self._wal_identity = wal
            if now == self._identity and wal == self._wal_identity:
                return
        with self._lock:
            if not self.gone:
                self.gone = True
                self._fail(
                    f"the store file {self.path} (storage.path) or its -wal was deleted or replaced while whatshooked "
                    "was running: nothing more is acknowledged (webhooks answer 503 so Meta redelivers, sends are "
                    "refused). Put the file back if it was removed by mistake, then restart whatshooked"
                )
        raise StoreUnavailable(self.fault)

    def write_failed(self, exc: BaseException) -> StoreUnavailable:
        """A disk fault: mark it (logged once) and return the error every write of the batch gets."""
        if not self.gone:
            name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
            self._fail(
                f"the store file {self.path} (storage.path) cannot be written ({exc}; {name}): nothing is "
                "acknowledged until it can (webhooks answer 503 so Meta redelivers, sends are refused). "
                "Free disk space or fix the permissions of the file and its folder; whatshooked notices by itself"
            )
        return StoreUnavailable(self.fault)

    def committed(self) -> None:
        if self.fault is not None and not self.gone:
            log.warning("the store file %s (storage.path) can be written again", self.path)
            self.fault = None

    def _fail(self, reason: str) -> None:
        if self.fault is None or self.gone:
            log.error("%s", reason)
        self.fault = reason


def probe(conn: sqlite3.Connection) -> tuple[Any, int]:
    """A write that changes nothing but still reaches the disk: does a disk fault last? (a writer Custom)"""
    conn.execute("INSERT OR REPLACE INTO dedupe (key, seen_at) VALUES ('whatshooked-probe', ?)", (time.time(),))
    conn.execute("DELETE FROM dedupe WHERE key = 'whatshooked-probe'")
    return None, 0
