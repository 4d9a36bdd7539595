"""The PostgreSQL schema's steps after the first (schema.py holds step 1 and the list of steps).

Each step is its own constant, so steps from branches merged at once can be renumbered freely.
Append new steps; never edit a released one. Each runs in one transaction under the migration lock.
"""

from __future__ import annotations

# Attempt history, the feed (DESIGN §8.2, §8.3) and the columns their filters need, as SQLite's step 2.
# `delivered_at` stays NULL while some hook is owed the event (it is in "the cache"); delivered events stay
# until `message_cache.keep_delivered` runs out. `seq` comes from an identity sequence, which never gives a
# value twice (no counters table needed). Old bodies in clear give their account_id; sealed ones keep NULL.
# wh_delivered gains the time to keep delivered events with (NULL: they go) and the attempts that led to the
# marks, recorded in the same call; attempts at an event gone meanwhile are dropped.
V2_FEED = r"""
ALTER TABLE events ADD COLUMN delivered_at DOUBLE PRECISION;
ALTER TABLE events ADD COLUMN account_id TEXT;
CREATE INDEX events_delivered ON events (delivered_at) WHERE delivered_at IS NOT NULL;

CREATE FUNCTION wh_account_of(body BYTEA) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'account_id';
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
UPDATE events SET account_id = wh_account_of(body) WHERE substring(body FROM 1 FOR 1) != '\xff'::bytea;
DROP FUNCTION wh_account_of(BYTEA);

CREATE TABLE attempts (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    hook_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    http_status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    latency_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (event_id, hook_id, at)
);

DROP FUNCTION wh_delivered(TEXT[], TEXT[]);
CREATE FUNCTION wh_delivered(ids TEXT[], hooks TEXT[], keep_at DOUBLE PRECISION, a_ids TEXT[], a_hooks TEXT[],
    a_at DOUBLE PRECISION[], a_status INTEGER[], a_error TEXT[], a_latency DOUBLE PRECISION[])
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE left_cache INTEGER;
BEGIN
    PERFORM 1 FROM events WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    UPDATE deliveries d SET state = 'delivered', last_error = '', claimed_by = ''
        FROM unnest(ids, hooks) AS m(event_id, hook_id)
        WHERE d.event_id = m.event_id AND d.hook_id = m.hook_id;
    IF keep_at IS NULL THEN
        DELETE FROM events e WHERE e.id = ANY(ids) AND e.delivered_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state != 'delivered');
    ELSE
        UPDATE events e SET delivered_at = keep_at WHERE e.id = ANY(ids) AND e.delivered_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state != 'delivered');
    END IF;
    GET DIAGNOSTICS left_cache = ROW_COUNT;
    INSERT INTO attempts (event_id, hook_id, at, http_status, error, latency_ms)
        SELECT a.* FROM unnest(a_ids, a_hooks, a_at, a_status, a_error, a_latency) AS a(e, h, t, s, r, l)
        WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = a.e)
        ON CONFLICT DO NOTHING;
    RETURN left_cache;
END $$;
"""

# Sends' first answers by Idempotency-Key (api/idempotency.py), shared by every daemon on the database.
V3_IDEMPOTENCY = """
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
"""
