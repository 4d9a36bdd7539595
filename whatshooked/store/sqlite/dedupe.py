"""Dedupe keys claimed for a run of writes at once: one read and one multi-row insert per chunk.

One `INSERT OR IGNORE` per key was one SQLite step per event, and the sqlite3 module lets go of the
GIL around every step: with the event loop's thread busy, each step waited to get it back. Within the
writer's transaction (BEGIN IMMEDIATE: no other writer) reading which keys exist and then inserting
the rest gives the same answers as claiming them one at a time, in order.
"""

from __future__ import annotations

import sqlite3
import time

from whatshooked.store.sqlite.statements import CHUNK, padded


def claim_all(conn: sqlite3.Connection, keys: list[str | None]) -> list[bool]:
    """For each key: True when it was new (now recorded), False when recorded before (or earlier in
    `keys`). A write without a key (None) is always True."""
    wanted = list(dict.fromkeys(key for key in keys if key is not None))
    known: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        part = padded(wanted[start:start + CHUNK])  # a few statement texts, prepared once
        marks = ",".join("?" * len(part))
        known.update(row[0] for row in conn.execute(f"SELECT key FROM dedupe WHERE key IN ({marks})", part))
    fresh = [key for key in wanted if key not in known]
    now = time.time()
    for start in range(0, len(fresh), CHUNK):
        part = padded(fresh[start:start + CHUNK])  # the repeated last key is ignored
        conn.execute("INSERT OR IGNORE INTO dedupe (key, seen_at) VALUES " + ",".join(["(?, ?)"] * len(part)),
                     [value for key in part for value in (key, now)])
    claimed: list[bool] = []
    for key in keys:
        if key is None:
            claimed.append(True)
        elif key in known:
            claimed.append(False)
        else:
            claimed.append(True)
            known.add(key)  # a repeat later in the run is a duplicate of this one
    return claimed
