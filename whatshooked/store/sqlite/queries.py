"""The reads behind the feed, the cache's pages and the attempt history (DESIGN §8.3), as SQL.

Kept apart from the store's class so the statements can be ported to another backend as they are;
each builder returns (sql, params). Events are in `seq` order everywhere (the rowid, so a range scan).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whatshooked.store.base import CacheQuery

Query = tuple[str, list[Any]]

OWED = "d.state != 'delivered'"


def feed_page(seq: int, limit: int, event_type: str | None, account_id: str | None) -> Query:
    """Every kept event after `seq`, delivered ones included."""
    where, params = ["seq > ?"], [seq]  # type: list[str], list[Any]
    if event_type:
        where.append("type = ?")
        params.append(event_type)
    if account_id:
        where.append("account_id = ?")
        params.append(account_id)
    return f"SELECT seq, body FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", [*params, limit]


def cache_page(seq: int, limit: int, query: CacheQuery) -> Query:
    """Undelivered events after `seq`; with a hook, those that hook is still owed."""
    sql, params = feed_page(seq, limit, query.event_type, query.account_id)
    head, tail = sql.split(" ORDER BY ")
    head += " AND delivered_at IS NULL"
    if query.hook_id:
        head += f" AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.hook_id = ? AND {OWED})"
        params.insert(-1, query.hook_id)
    return f"{head} ORDER BY {tail}", params


def seq_of(event_id: str) -> Query:
    """The event's seq, or for one gone the newest kept event before it (ids are time-ordered)."""
    return (
        "SELECT COALESCE((SELECT seq FROM events WHERE id = ?), (SELECT MAX(seq) FROM events WHERE id < ?))",
        [event_id, event_id],
    )


def deliveries_for(event_ids: Sequence[str]) -> Query:
    """Each event's rows with the count of recorded attempts (the history), in event then hook order.

    Rows older than the history (schema 1) count what their retry schedule did (SQLite's two-argument
    MAX is GREATEST elsewhere)."""
    marks = ",".join("?" * len(event_ids))
    return (
        "SELECT d.event_id, d.hook_id, d.state, "
        "MAX(d.attempts, (SELECT COUNT(*) FROM attempts a WHERE a.event_id = d.event_id AND a.hook_id = d.hook_id)), "
        f"d.next_attempt_at, d.last_error FROM deliveries d WHERE d.event_id IN ({marks}) "
        "ORDER BY d.event_id, d.hook_id",
        list(event_ids),
    )


def attempts_of(event_id: str) -> Query:
    return (
        "SELECT hook_id, at, http_status, error, latency_ms FROM attempts WHERE event_id = ? ORDER BY at, hook_id",
        [event_id],
    )


def owed_by_hook() -> Query:
    """Per hook: rows still owed and the oldest one's event time (one scan of the rows)."""
    return (
        "SELECT d.hook_id, COUNT(*), MIN(e.created_at) FROM deliveries d JOIN events e ON e.id = d.event_id "
        f"WHERE {OWED} GROUP BY d.hook_id",
        [],
    )


# Expiry of delivered events kept for the feed (message_cache.keep_delivered), run with pruning.
EXPIRE_DELIVERED = "DELETE FROM events WHERE delivered_at IS NOT NULL AND delivered_at < ?"
