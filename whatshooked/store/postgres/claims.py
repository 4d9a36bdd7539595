"""The statements that keep delivery rows owned by one daemon at a time, and the store's other writes.

A pending row belongs to the daemon named in `claimed_by` until `lease_until` (the database's clock,
`wh_now()`); rows a daemon adds or reschedules are its own at once. Claiming locks the candidate rows
with `FOR UPDATE SKIP LOCKED` (as job queues such as procrastinate do), so two daemons claiming at
the same moment split the rows between them instead of both taking, or waiting on, the same ones.
"""

from __future__ import annotations

# $1 hook ids, $2 this node, $3 lease seconds, $4 this node's own rows too (at start) or only others'.
CLAIM = """
WITH c AS (
    SELECT event_id, hook_id FROM deliveries
    WHERE state = 'pending' AND hook_id = ANY($1::text[])
        AND (($4 AND claimed_by = $2) OR (claimed_by != $2 AND lease_until < wh_now()))
    FOR UPDATE SKIP LOCKED
), u AS (
    UPDATE deliveries d SET claimed_by = $2, lease_until = wh_now() + $3
    FROM c WHERE d.event_id = c.event_id AND d.hook_id = c.hook_id
    RETURNING d.event_id, d.hook_id, d.state, d.attempts, d.next_attempt_at, d.retryable
)
SELECT e.seq, e.body, u.hook_id, u.state, u.attempts, u.next_attempt_at, u.retryable
FROM u JOIN events e ON e.id = u.event_id ORDER BY e.seq
"""

RENEW = "UPDATE deliveries SET lease_until = wh_now() + $2 WHERE claimed_by = $1 AND state = 'pending'"
RELEASE = "UPDATE deliveries SET claimed_by = '', lease_until = 0 WHERE claimed_by = $1 AND state = 'pending'"

GIVEN_UP_FOR = """
SELECT e.seq, e.body, d.hook_id, d.state, d.attempts, d.next_attempt_at, d.retryable
FROM deliveries d JOIN events e ON e.id = d.event_id
WHERE d.state = 'failed' AND d.retryable AND d.hook_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3
"""

# $1 event id, $2 hook ids, $3 node, $4 lease seconds: rows for more hooks (replays), existing rows kept;
# false (nothing written) when the event is gone, checked under a lock that a deletion waits for.
ADD_ROWS = """
WITH e AS (
    SELECT id FROM events WHERE id = $1 FOR KEY SHARE
), r AS (
    INSERT INTO deliveries (event_id, hook_id, claimed_by, lease_until)
    SELECT e.id, h, $3, wh_now() + $4 FROM e, unnest($2::text[]) AS h ON CONFLICT DO NOTHING
)
SELECT count(*) > 0 FROM e
"""


def _history(event: int, first: int) -> str:
    """The attempt that led to a mark, recorded by the mark's own statement: ${first} hook id (NULL: none),
    then at, HTTP status, error, latency; ${event} the event id. An event gone (or going) takes no attempt.

    The event is locked (KEY SHARE, as a foreign key check does) before the row is updated, the order
    wh_delivered takes them in, so a mark here and another daemon's delivered mark cannot deadlock."""
    h, at, status, error, latency = (f"${first + n}" for n in range(5))
    return f"""WITH e AS (
    SELECT id FROM events WHERE id = ${event} FOR KEY SHARE
), h AS (
    INSERT INTO attempts (event_id, hook_id, at, http_status, error, latency_ms)
    SELECT e.id, {h}::text, {at}::float8, {status}::int, {error}::text, {latency}::float8
    FROM e WHERE {h}::text IS NOT NULL
    ON CONFLICT DO NOTHING
)
"""


# $1 attempts, $2 next_attempt_at, $3 error, $4 event id, $5 hook id, $6 node, $7 lease seconds; $8.. attempt.
ATTEMPT = _history(4, 8) + """
UPDATE deliveries SET state = 'pending', attempts = $1, next_attempt_at = $2, last_error = $3,
    claimed_by = $6, lease_until = wh_now() + $7
WHERE event_id = (SELECT id FROM e) AND hook_id = $5 AND state != 'delivered'
"""

# $1 error, $2 retryable, $3 event id, $4 hook id; $5.. attempt.
GIVEN_UP = _history(3, 5) + """
UPDATE deliveries SET state = 'failed', last_error = $1, retryable = $2, claimed_by = ''
WHERE event_id = (SELECT id FROM e) AND hook_id = $4 AND state != 'delivered'
"""

# $1 event id, $2 when delivered events are kept (NULL: the event goes): every row delivered, out of the cache.
FINISH = """
WITH l AS (
    SELECT id FROM events WHERE id = $1 FOR UPDATE
), gone AS (
    DELETE FROM events WHERE id = (SELECT id FROM l) AND delivered_at IS NULL AND $2::float8 IS NULL RETURNING 1
), rows AS (
    UPDATE deliveries SET state = 'delivered', last_error = '', claimed_by = ''
    WHERE event_id = (SELECT id FROM l) AND $2::float8 IS NOT NULL
), kept AS (
    UPDATE events SET delivered_at = $2 WHERE id = (SELECT id FROM l) AND delivered_at IS NULL
        AND $2::float8 IS NOT NULL RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM kept)
"""

# (deleted, of them still in the cache): a delivered event kept for the feed is not counted in the cache.
DELETE_ONE = """
WITH d AS (DELETE FROM events WHERE id = $1 RETURNING delivered_at)
SELECT ARRAY[count(*), count(*) FILTER (WHERE delivered_at IS NULL)] FROM d
"""
DELETE_ALL = "WITH d AS (DELETE FROM events WHERE delivered_at IS NULL RETURNING 1) SELECT count(*) FROM d"

# $1 cutoff (Unix seconds), $2 max events, $3 delivered events kept since: (dropped by age, dropped beyond
# max_events) of the cache; delivered events kept longer than keep_delivered and old keys go too.
PRUNE = """
WITH aged AS (
    DELETE FROM events WHERE delivered_at IS NULL AND created_at < $1 RETURNING seq
), over AS (
    DELETE FROM events WHERE delivered_at IS NULL AND created_at >= $1 AND seq <= (
        SELECT seq FROM events WHERE delivered_at IS NULL AND created_at >= $1 ORDER BY seq DESC LIMIT 1 OFFSET $2
    ) RETURNING seq
), expired AS (
    DELETE FROM events WHERE delivered_at IS NOT NULL AND delivered_at < $3
), keys AS (
    DELETE FROM dedupe WHERE seen_at < $1
)
SELECT ARRAY[(SELECT count(*) FROM aged), (SELECT count(*) FROM over)]
"""
