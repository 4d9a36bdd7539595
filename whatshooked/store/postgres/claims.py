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
SELECT e.body, u.hook_id, u.state, u.attempts, u.next_attempt_at, u.retryable
FROM u JOIN events e ON e.id = u.event_id ORDER BY e.seq
"""

RENEW = "UPDATE deliveries SET lease_until = wh_now() + $2 WHERE claimed_by = $1 AND state = 'pending'"
RELEASE = "UPDATE deliveries SET claimed_by = '', lease_until = 0 WHERE claimed_by = $1 AND state = 'pending'"

GIVEN_UP_FOR = """
SELECT e.body, d.hook_id, d.state, d.attempts, d.next_attempt_at, d.retryable
FROM deliveries d JOIN events e ON e.id = d.event_id
WHERE d.state = 'failed' AND d.retryable AND d.hook_id = $1 ORDER BY e.seq
"""

# $1 event id, $2 hook ids, $3 node, $4 lease seconds: rows for more hooks (replays), existing rows kept.
ADD_ROWS = """
INSERT INTO deliveries (event_id, hook_id, claimed_by, lease_until)
SELECT $1, h, $3, wh_now() + $4 FROM unnest($2::text[]) AS h ON CONFLICT DO NOTHING
"""

# $1 attempts, $2 next_attempt_at, $3 error, $4 event id, $5 hook id, $6 node, $7 lease seconds.
ATTEMPT = """
UPDATE deliveries SET state = 'pending', attempts = $1, next_attempt_at = $2, last_error = $3,
    claimed_by = $6, lease_until = wh_now() + $7
WHERE event_id = $4 AND hook_id = $5 AND state != 'delivered'
"""

# $1 error, $2 retryable, $3 event id, $4 hook id.
GIVEN_UP = """
UPDATE deliveries SET state = 'failed', last_error = $1, retryable = $2, claimed_by = ''
WHERE event_id = $3 AND hook_id = $4 AND state != 'delivered'
"""

DELETE_ONE = "WITH d AS (DELETE FROM events WHERE id = $1 RETURNING 1) SELECT count(*) FROM d"
DELETE_ALL = "WITH d AS (DELETE FROM events RETURNING 1) SELECT count(*) FROM d"

# $1 cutoff (Unix seconds), $2 max events: (dropped by age, dropped beyond max_events), old keys too.
PRUNE = """
WITH aged AS (
    DELETE FROM events WHERE created_at < $1 RETURNING seq
), over AS (
    DELETE FROM events WHERE created_at >= $1 AND seq <= (
        SELECT seq FROM events WHERE created_at >= $1 ORDER BY seq DESC LIMIT 1 OFFSET $2
    ) RETURNING seq
), keys AS (
    DELETE FROM dedupe WHERE seen_at < $1
)
SELECT ARRAY[(SELECT count(*) FROM aged), (SELECT count(*) FROM over)]
"""
