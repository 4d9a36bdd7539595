"""The PostgreSQL schema, its numbered migrations, and the statements the hot path runs.

Migrations run under a session advisory lock, so daemons started at once on an empty database take
turns: the first migrates, the others find the schema current. A database that has our tables but no
`schema_version` (or a newer version) is refused, never migrated into. Leases use the database's
clock (`_now()`), so daemons on machines whose clocks differ still agree on when one has expired.
"""

from __future__ import annotations

from whatshooked.store.postgres.migrations import V2_FEED, V3_IDEMPOTENCY

MIGRATE_LOCK = 0x7768_6B31  # "whk1": pg_advisory_lock key of the migrations
SEQ_LOCK = 0x7768_6B32  # "whk2": held by each batch of events until it commits (see ADD_EVENTS)

_V1 = """
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    body BYTEA NOT NULL
);
CREATE TABLE deliveries (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    hook_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    retryable BOOLEAN NOT NULL DEFAULT TRUE,
    claimed_by TEXT NOT NULL DEFAULT '',
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, hook_id)
);
CREATE INDEX deliveries_pending ON deliveries (lease_until) WHERE state = 'pending';
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE state = 'pending';
CREATE TABLE dedupe (
    key TEXT PRIMARY KEY,
    seen_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX dedupe_seen ON dedupe (seen_at);
CREATE INDEX events_created ON events (created_at);

CREATE FUNCTION wh_now() RETURNS DOUBLE PRECISION LANGUAGE sql VOLATILE AS
$$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;

-- Delivered marks, many at once: an event goes (its rows with it) when no other hook still owes it.
-- The events are locked first, so two daemons finishing the two hooks of one event at the same time
-- see each other's mark (each statement of a plpgsql function takes a fresh snapshot).
CREATE FUNCTION wh_delivered(ids TEXT[], hooks TEXT[]) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE gone INTEGER;
BEGIN
    PERFORM 1 FROM events WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    UPDATE deliveries d SET state = 'delivered', last_error = '', claimed_by = ''
        FROM unnest(ids, hooks) AS m(event_id, hook_id)
        WHERE d.event_id = m.event_id AND d.hook_id = m.hook_id;
    DELETE FROM events e WHERE e.id = ANY(ids) AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state != 'delivered');
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END $$;
"""

# Which daemon drives each WhatsApp Web account (account_leases.py).
_V4_LEASES = """
CREATE TABLE account_leases (
    account_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL
);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, V2_FEED), (3, V3_IDEMPOTENCY), (4, _V4_LEASES))
LATEST = MIGRATIONS[-1][0]
OUR_TABLES = ("events", "deliveries", "dedupe")

# Events in, many at once, in the order given (seq follows it): $1..$6 arrays of id, type, timestamp,
# created_at, body, dedupe key (NULL: none); $7, $8 arrays of (event id, hook id) rows; $9 node; $10 lease
# seconds; $11 account ids. One statement, so one round trip and one transaction. A key already stored (by
# any daemon) stores nothing; one being stored by another transaction right now makes this one wait, then
# find it; a key repeated in the batch goes with its first event. Returns the ids stored and their seqs.
# Batches take SEQ_LOCK (a transaction advisory lock, held until the commit), so batches of all daemons
# commit one after another in `seq` order: a reader of the feed (`seq > n`) never sees a later seq
# before an earlier one commits, and never skips it. It also makes racing batches wait instead of deadlock.
ADD_EVENTS = """
WITH input AS (
    SELECT t.* FROM (SELECT pg_advisory_xact_lock(SEQ_LOCK)) AS l,
        unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::bytea[], $6::text[], $11::text[])
        WITH ORDINALITY AS t(id, type, timestamp, created_at, body, key, account_id, n)
), firsts AS (
    SELECT DISTINCT ON (key) key, n, created_at FROM input WHERE key IS NOT NULL ORDER BY key, n
), k AS (
    INSERT INTO dedupe (key, seen_at) SELECT key, created_at FROM firsts ORDER BY key
    ON CONFLICT DO NOTHING RETURNING key
), e AS (
    INSERT INTO events (id, type, timestamp, created_at, body, account_id)
    SELECT i.id, i.type, i.timestamp, i.created_at, i.body, i.account_id FROM input i
    WHERE i.key IS NULL OR EXISTS (SELECT 1 FROM k JOIN firsts f ON f.key = k.key WHERE f.n = i.n)
    ORDER BY i.n
    ON CONFLICT (id) DO NOTHING RETURNING id, seq
), d AS (
    INSERT INTO deliveries (event_id, hook_id, claimed_by, lease_until)
    SELECT r.event_id, r.hook_id, $9, wh_now() + $10
    FROM unnest($7::text[], $8::text[]) AS r(event_id, hook_id) JOIN e ON e.id = r.event_id
    ON CONFLICT DO NOTHING
)
SELECT COALESCE(array_agg(id), '{}'), COALESCE(array_agg(seq), '{}') FROM e
""".replace("SEQ_LOCK", str(SEQ_LOCK))

# $1, $2 the marks' (event id, hook id); $3 when delivered events are kept (NULL: they go); $4..$9 the
# attempts' event ids, hook ids, times, HTTP statuses, errors, latencies.
DELIVERED = ("SELECT wh_delivered($1::text[], $2::text[], $3::float8, $4::text[], $5::text[], $6::float8[], "
             "$7::int[], $8::text[], $9::float8[])")
