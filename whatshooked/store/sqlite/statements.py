"""The writer's mergeable statements: a batch's rows for one kind of write become a few SQL statements.

The hot ones (an event in, an event out) run as one multi-row statement per chunk rather than a step
per row: the sqlite3 module lets go of the GIL around every step, and each hand-over to and from the
event loop's thread costs more than the row itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any

# Mergeable statements, in the order a batch runs them.
INSERT_EVENT = 0  # (seq, id, type, timestamp, created_at, body, account_id); the writer puts the seq first
INSERT_DELIVERY = 1  # (event_id, hook_id)
UPDATE_ATTEMPT = 2  # (attempts, next_attempt_at, last_error, event_id, hook_id)
UPDATE_GIVEN_UP = 3  # (last_error, retryable, event_id, hook_id)
INSERT_ATTEMPT = 4  # (event_id, hook_id, at, http_status, error, latency_ms): the history, before marks delete
DELIVERED = 5  # (event_id, hook_id): the event leaves the cache once every row it has is delivered
ATTEMPT_COLUMNS = "event_id, hook_id, at, http_status, error, latency_ms"
CHUNK = 512  # rows per multi-row statement (well under SQLite's 32766 parameters), a power of two

_PER_ROW = {
    UPDATE_ATTEMPT: "UPDATE deliveries SET state = 'pending', attempts = ?, next_attempt_at = ?, last_error = ? "
    "WHERE event_id = ? AND hook_id = ? AND state != 'delivered'",
    UPDATE_GIVEN_UP: "UPDATE deliveries SET state = 'failed', last_error = ?, retryable = ? "
    "WHERE event_id = ? AND hook_id = ? AND state != 'delivered'",
}


def statements(index: int, rows: list[tuple[Any, ...]]) -> list[tuple[str, list[Any]]]:
    """The SQL and parameters that apply `rows` for one mergeable statement."""
    if index in _PER_ROW:
        return [(_PER_ROW[index], list(row)) for row in rows]  # rare (failures): one step each is fine
    out: list[tuple[str, list[Any]]] = []
    for chunk in _chunks(rows):
        part = padded(chunk)  # repeats are ignored by INSERT OR IGNORE and counted once by rowcount
        values = [value for row in part for value in row]
        if index == INSERT_EVENT:
            sql = ("INSERT OR IGNORE INTO events (seq, id, type, timestamp, created_at, body, account_id) VALUES "
                   + _marks(7, len(part)))
        elif index == INSERT_ATTEMPT:  # an attempt at an event deleted meanwhile (cleared, pruned) is not kept
            sql = (f"WITH v ({ATTEMPT_COLUMNS}) AS (VALUES {_marks(6, len(part))}) "
                   f"INSERT OR IGNORE INTO attempts ({ATTEMPT_COLUMNS}) "
                   "SELECT * FROM v WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = v.event_id)")
        else:
            sql = "INSERT OR IGNORE INTO deliveries (event_id, hook_id) VALUES " + _marks(2, len(part))
        out.append((sql, values))
    return out


def apply_delivered(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], keep_until: float | None = None) -> int:
    """Apply delivered marks; returns how many events left the cache.

    With `keep_until` (now, while `message_cache.keep_delivered` is on) the rows are marked and an event
    no hook still owes gets `delivered_at`: it stays readable through the feed until pruned.
    """
    if keep_until is not None:
        return _mark_kept(conn, rows, keep_until)
    return _delete_delivered(conn, rows)


def _mark_kept(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], now: float) -> int:
    left = 0
    for hook_id, ids in _by_hook(rows).items():
        for part in _chunks(list(dict.fromkeys(ids))):
            filled = padded(part)
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', last_error = '' "
                f"WHERE hook_id = ? AND event_id IN ({_list(len(filled))})", [hook_id, *filled],
            )
            left += max(conn.execute(
                f"UPDATE events SET delivered_at = ? WHERE id IN ({_list(len(filled))}) AND delivered_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state != 'delivered')",
                [now, *filled],
            ).rowcount, 0)
    return left


def _by_hook(rows: list[tuple[Any, ...]]) -> dict[str, list[str]]:
    by_hook: dict[str, list[str]] = {}
    for event_id, hook_id in rows:
        by_hook.setdefault(hook_id, []).append(event_id)
    return by_hook


def _delete_delivered(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Usually one statement per hook and chunk: the event is deleted (its rows with it) when no OTHER
    hook still owes it; only the marks whose event stays need their row updated. Hooks go one after
    another, so two hooks finishing the same event in one batch still see each other's marks.
    """
    left = 0
    for hook_id, ids in _by_hook(rows).items():
        for part in _chunks(list(dict.fromkeys(ids))):
            filled = padded(part)
            gone = conn.execute(
                f"DELETE FROM events WHERE id IN ({_list(len(filled))}) AND delivered_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.event_id = events.id AND d.hook_id != ? AND d.state != 'delivered')",
                [*filled, hook_id],
            ).rowcount
            left += max(gone, 0)
            if gone < len(part):  # some events stay (owed elsewhere, or already gone): mark their rows
                conn.execute(
                    "UPDATE deliveries SET state = 'delivered', last_error = '' "
                    f"WHERE hook_id = ? AND event_id IN ({_list(len(filled))})", [hook_id, *filled],
                )
    return left


def _marks(width: int, count: int) -> str:
    """`(?,?),(?,?)` for width 2, count 2: the VALUES of a multi-row insert."""
    return ",".join(["(" + ",".join("?" * width) + ")"] * count)


def _list(count: int) -> str:
    """`?,?,?` for count 3: the inside of an IN (...)."""
    return ",".join("?" * count)


def padded(items: list[Any]) -> list[Any]:
    """Repeat the last item up to a power of two, so a handful of statement texts (prepared once,
    then cached by sqlite3) serve every batch size."""
    size = 1
    while size < len(items):
        size *= 2
    return items + [items[-1]] * (size - len(items))


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]
