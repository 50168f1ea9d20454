"""Every SQL statement of the fleet, in one place.

Statements are unqualified: each connection's ``search_path`` is the fleet's schema. ``%(name)s``
placeholders are bound by psycopg (server-side parameters, never string formatting).

Sessions run with ``synchronous_commit = off``: a commit does not wait for its WAL to reach the disk.
What a database crash could then forget is harmless to forget: a lease (it runs out), an item marked
done (copied again, and found up to date), a health record (re-learnt at the next failure), a dedup
id (a duplicate let through: at-least-once holds, as with SQLite's NORMAL sync). The one write that
must not be forgotten, a journal append, turns it on for its own transaction.
"""

from __future__ import annotations

from typing import LiteralString

# -- migrations: (version, statements); append only, never edit a released one ------------------------

MIGRATIONS: tuple[tuple[int, tuple[LiteralString, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE entries (
                id BIGSERIAL PRIMARY KEY,
                key TEXT NOT NULL,
                version TEXT NOT NULL,
                sha256 TEXT,
                size BIGINT NOT NULL,
                source TEXT NOT NULL,
                op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
                created DOUBLE PRECISION NOT NULL,
                UNIQUE (key, version)
            )""",
            """CREATE TABLE pending (
                entry_id BIGINT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
                store TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt DOUBLE PRECISION NOT NULL,
                last_error TEXT,
                lease_owner TEXT,
                lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
                PRIMARY KEY (entry_id, store)
            )""",
            "CREATE INDEX pending_by_store ON pending (store, next_attempt)",
            """CREATE TABLE seen (
                id TEXT PRIMARY KEY,
                expires DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX seen_by_expiry ON seen (expires)",
            # An append in one round trip: writers of a key take turns on it (an advisory lock held to
            # the end of the transaction); a newer version journaled refuses it; older ones retire.
            """CREATE FUNCTION journal_append(
                p_key TEXT, p_version TEXT, p_sha256 TEXT, p_size BIGINT, p_source TEXT, p_op TEXT,
                p_stores TEXT[], p_now DOUBLE PRECISION
            ) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
            DECLARE
                v_entry BIGINT;
            BEGIN
                -- An append is part of a write's acknowledgement: its commit waits for the WAL on disk,
                -- though the session default (for leases, marks, health, dedup) does not.
                PERFORM set_config('synchronous_commit', 'on', true);
                PERFORM pg_advisory_xact_lock(hashtext('failover.key'), hashtext(p_key));
                IF EXISTS (SELECT 1 FROM entries WHERE key = p_key AND version > p_version) THEN
                    RETURN FALSE;
                END IF;
                DELETE FROM entries WHERE key = p_key AND version < p_version;
                IF cardinality(p_stores) = 0 THEN
                    RETURN TRUE;
                END IF;
                INSERT INTO entries (key, version, sha256, size, source, op, created)
                VALUES (p_key, p_version, p_sha256, p_size, p_source, p_op, p_now)
                ON CONFLICT (key, version) DO UPDATE SET key = excluded.key
                RETURNING id INTO v_entry;
                INSERT INTO pending (entry_id, store, next_attempt)
                SELECT v_entry, store, p_now FROM unnest(p_stores) AS store
                ON CONFLICT DO NOTHING;
                RETURN TRUE;
            END
            $$""",
            """CREATE TABLE health (
                endpoint TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                since DOUBLE PRECISION NOT NULL,
                opened INTEGER NOT NULL,
                writer TEXT NOT NULL,
                probe_owner TEXT,
                probe_until DOUBLE PRECISION NOT NULL DEFAULT 0
            )""",
        ),
    ),
    (
        2,
        (
            # The outbox (SqliteJournal's semantics): intents, dead letters. Keys, versions and stores
            # compare byte for byte (code point order, as in SQLite and Python), whatever the
            # database's locale: a version stamp's order must not depend on a collation.
            'ALTER TABLE entries ALTER COLUMN key TYPE TEXT COLLATE "C", ALTER COLUMN version TYPE TEXT COLLATE "C"',
            """ALTER TABLE pending ALTER COLUMN store TYPE TEXT COLLATE "C",
                ADD COLUMN dead BOOLEAN NOT NULL DEFAULT FALSE""",
            "CREATE INDEX entries_by_version ON entries (version)",
            """CREATE TABLE intents (
                key TEXT COLLATE "C" NOT NULL,
                version TEXT COLLATE "C" NOT NULL,
                sha256 TEXT,
                size BIGINT NOT NULL,
                op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
                stores TEXT[] NOT NULL,
                expires DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (key, version)
            )""",
            "CREATE INDEX intents_by_expiry ON intents (expires)",
            # An intent is recorded before any store is written: durable when the call returns.
            """CREATE FUNCTION journal_intend(
                p_key TEXT, p_version TEXT, p_sha256 TEXT, p_size BIGINT, p_op TEXT, p_stores TEXT[],
                p_expires DOUBLE PRECISION
            ) RETURNS VOID LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM set_config('synchronous_commit', 'on', true);
                INSERT INTO intents (key, version, sha256, size, op, stores, expires)
                VALUES (p_key, p_version, p_sha256, p_size, p_op, p_stores, p_expires)
                ON CONFLICT (key, version) DO UPDATE SET expires = excluded.expires;
            END
            $$""",
            "DROP FUNCTION journal_append(TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT, TEXT[], DOUBLE PRECISION)",
            # The commit of a write: clears its intent; waits at most p_lock_ms for the key's turn.
            """CREATE FUNCTION journal_append(
                p_key TEXT, p_version TEXT, p_sha256 TEXT, p_size BIGINT, p_source TEXT, p_op TEXT,
                p_stores TEXT[], p_now DOUBLE PRECISION, p_lock_ms INTEGER
            ) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
            DECLARE
                v_entry BIGINT;
            BEGIN
                PERFORM set_config('synchronous_commit', 'on', true);
                PERFORM set_config('lock_timeout', p_lock_ms || 'ms', true);
                PERFORM pg_advisory_xact_lock(hashtext('failover.key'), hashtext(p_key));
                DELETE FROM intents WHERE key = p_key AND version = p_version;
                IF EXISTS (SELECT 1 FROM entries WHERE key = p_key AND version > p_version) THEN
                    RETURN FALSE;
                END IF;
                DELETE FROM entries WHERE key = p_key AND version < p_version;
                IF cardinality(p_stores) = 0 THEN
                    RETURN TRUE;
                END IF;
                INSERT INTO entries (key, version, sha256, size, source, op, created)
                VALUES (p_key, p_version, p_sha256, p_size, p_source, p_op, p_now)
                ON CONFLICT (key, version) DO UPDATE SET key = excluded.key
                RETURNING id INTO v_entry;
                INSERT INTO pending (entry_id, store, next_attempt)
                SELECT v_entry, store, p_now FROM unnest(p_stores) AS store
                ON CONFLICT DO NOTHING;
                RETURN TRUE;
            END
            $$""",
        ),
    ),
    (
        3,
        (
            # Writers of one key in different processes take turns from intent to commit: an intent
            # names its process's sessions (their application_name), so a dead process's intent holds
            # nothing once its sessions are gone.
            "ALTER TABLE intents ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            "DROP FUNCTION journal_intend(TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT[], DOUBLE PRECISION)",
            # 'ok' (recorded), 'busy' (another live process's intent of the key: try again), 'newer' (a
            # newer version of the key is journaled or intended: this older one must not be written).
            # Without p_turn (a spooled intent moved in), recorded whatever else holds the key.
            """CREATE FUNCTION journal_intend(
                p_key TEXT, p_version TEXT, p_sha256 TEXT, p_size BIGINT, p_op TEXT, p_stores TEXT[],
                p_expires DOUBLE PRECISION, p_owner TEXT DEFAULT '', p_now DOUBLE PRECISION DEFAULT 0,
                p_turn BOOLEAN DEFAULT FALSE
            ) RETURNS TEXT LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM set_config('synchronous_commit', 'on', true);
                IF p_turn THEN
                    PERFORM pg_advisory_xact_lock(hashtext('failover.key'), hashtext(p_key));
                    IF EXISTS (SELECT 1 FROM entries WHERE key = p_key AND version > p_version)
                       OR EXISTS (SELECT 1 FROM intents WHERE key = p_key AND version > p_version
                                  AND owner <> p_owner AND expires > p_now) THEN
                        RETURN 'newer';
                    END IF;
                    IF EXISTS (SELECT 1 FROM intents AS i WHERE i.key = p_key AND i.owner <> p_owner
                               AND i.owner <> '' AND i.expires > p_now
                               AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = i.owner)) THEN
                        RETURN 'busy';
                    END IF;
                END IF;
                INSERT INTO intents (key, version, sha256, size, op, stores, expires, owner)
                VALUES (p_key, p_version, p_sha256, p_size, p_op, p_stores, p_expires, p_owner)
                ON CONFLICT (key, version) DO UPDATE SET expires = excluded.expires;
                RETURN 'ok';
            END
            $$""",
        ),
    ),
    (
        4,
        (
            # The dedup window's admissions: per failover_id, the copy handed on (``holder``), the end
            # of its in-flight lease (NULL once processed), and the token of the call that took it.
            """CREATE TABLE admitted (
                id TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                lease DOUBLE PRECISION,
                token TEXT NOT NULL,
                expires DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX admitted_by_expiry ON admitted (expires)",
        ),
    ),
)

# The schema's own bookkeeping, before any migration. The lock serializes processes starting at once.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('failover.migrate'), hashtext(%(schema)s))"
SCHEMA_EXISTS = "SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s"
CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())
"""
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version) VALUES (%(version)s)"

# -- journal -------------------------------------------------------------------------------------------

APPEND = """
SELECT journal_append(%(key)s, %(version)s, %(sha256)s, %(size)s, %(source)s, %(op)s, %(stores)s, %(now)s,
                      %(lock_ms)s)
"""
INTEND = """
SELECT journal_intend(%(key)s, %(version)s, %(sha256)s, %(size)s, %(op)s, %(stores)s, %(expires)s, %(owner)s,
                      %(now)s, %(turn)s)
"""
ABANDON = "DELETE FROM intents WHERE key = %(key)s AND version = %(version)s"
EXPIRED_INTENTS = """
SELECT key, version, sha256, size, op, stores, expires FROM intents WHERE expires <= %(expired_by)s
ORDER BY version LIMIT %(limit)s
"""

_ITEM_COLUMNS = """e.key, e.version, e.sha256, e.size, e.source, e.op, p.store, p.attempts, p.next_attempt, e.created,
       p.last_error"""

# Items due at ``now`` not leased by another process (or whose lease ran out at ``wall``, the time now:
# ``now`` may be infinite, a drain's), taken for ``lease`` seconds.
CLAIM_DUE = f"""
WITH due AS (
    SELECT p.entry_id, p.store FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
    WHERE NOT p.dead AND p.next_attempt <= %(now)s AND (%(store)s::text IS NULL OR p.store = %(store)s)
      AND (p.lease_owner IS NULL OR p.lease_owner = %(owner)s OR p.lease_until <= %(wall)s)
    ORDER BY e.version, p.store
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE pending AS p SET lease_owner = %(owner)s, lease_until = %(until)s
FROM due, entries AS e
WHERE p.entry_id = due.entry_id AND p.store = due.store AND e.id = p.entry_id
RETURNING {_ITEM_COLUMNS}
"""

# Still pending, and ours to apply: renews our lease, or takes one that ran out.
HOLD_ITEM = """
UPDATE pending AS p SET lease_owner = %(owner)s, lease_until = %(until)s
FROM entries AS e
WHERE e.id = p.entry_id AND e.key = %(key)s AND e.version = %(version)s AND p.store = %(store)s AND NOT p.dead
  AND (p.lease_owner IS NULL OR p.lease_owner = %(owner)s OR p.lease_until <= %(now)s)
RETURNING 1
"""
# The item, and its entry when no other store is left pending (one statement sees the rows as they
# were before it, hence the other stores only).
MARK_DONE = """
WITH done AS (
    DELETE FROM pending AS p USING entries AS e
    WHERE e.id = p.entry_id AND e.key = %(key)s AND e.version = %(version)s AND p.store = %(store)s
    RETURNING p.entry_id
)
DELETE FROM entries WHERE id IN (SELECT entry_id FROM done)
  AND NOT EXISTS (SELECT 1 FROM pending WHERE entry_id = entries.id AND store <> %(store)s)
"""
RESCHEDULE = """
UPDATE pending AS p SET attempts = attempts + 1, next_attempt = %(next_attempt)s, last_error = %(error)s,
       lease_owner = NULL, lease_until = 0
FROM entries AS e
WHERE e.id = p.entry_id AND e.key = %(key)s AND e.version = %(version)s AND p.store = %(store)s
"""
DEAD_LETTER = """
UPDATE pending AS p SET attempts = attempts + 1, dead = TRUE, last_error = COALESCE(%(error)s, p.last_error),
       lease_owner = NULL, lease_until = 0
FROM entries AS e
WHERE e.id = p.entry_id AND e.key = %(key)s AND e.version = %(version)s AND p.store = %(store)s
"""
DEAD_LETTERS = f"""
SELECT {_ITEM_COLUMNS} FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
WHERE p.dead ORDER BY e.version, p.store LIMIT %(limit)s
"""
REVIVE = """
UPDATE pending SET dead = FALSE, attempts = 0, next_attempt = %(now)s, lease_owner = NULL, lease_until = 0
WHERE dead AND (%(store)s::text IS NULL OR store = %(store)s)
"""
# Dead letters count (their store still lacks the version). Every key under the prefix sorts below
# prefix + U+10FFFF (a noncharacter, never in a key): a range the key index answers.
NEWEST_UNDER = f"""
SELECT {_ITEM_COLUMNS} FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
WHERE e.key >= %(low)s AND e.key < %(high)s
  AND e.version = (SELECT MAX(version) FROM entries WHERE key = e.key)
ORDER BY e.key, p.store
"""
NEWEST_PENDING = """
SELECT p.store FROM entries AS e JOIN pending AS p ON p.entry_id = e.id
WHERE e.key = %(key)s AND e.version = (SELECT MAX(version) FROM entries WHERE key = %(key)s)
"""
# Every key's newest version still pending, up to a limit (what a process recalls while the database is away).
ALL_NEWEST_PENDING = """
SELECT e.key, p.store FROM entries AS e JOIN pending AS p ON p.entry_id = e.id
WHERE e.version = (SELECT MAX(version) FROM entries WHERE key = e.key)
LIMIT %(limit)s
"""
ITEMS_OF_KEY = f"""
SELECT {_ITEM_COLUMNS} FROM pending AS p JOIN entries AS e ON e.id = p.entry_id
WHERE e.key = %(key)s ORDER BY e.version, p.store
"""
BACKLOG = "SELECT store, COUNT(*) FROM pending WHERE NOT dead GROUP BY store ORDER BY store"

# -- dedup window --------------------------------------------------------------------------------------

# One statement checks and records: a row inserted (or an expired one renewed) means a first sighting.
SEEN = """
INSERT INTO seen (id, expires) VALUES (%(id)s, %(expires)s)
ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE seen.expires <= %(now)s
"""
# `ReceiveDedup.admit` in one statement, so that a call whose answer was lost (and that ran anyway)
# leaves both records or neither: a known copy is a redelivery (admitted); else the id is recorded if
# new, and the copy only with it (a duplicate copy leaves no record, and is dropped again).
ADMIT = """
WITH known AS (SELECT 1 FROM seen WHERE id = %(copy)s AND expires > %(now)s),
first AS (
    INSERT INTO seen (id, expires) SELECT %(id)s, %(expires)s WHERE NOT EXISTS (SELECT 1 FROM known)
    ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE seen.expires <= %(now)s
    RETURNING 1
),
copy AS (
    INSERT INTO seen (id, expires) SELECT %(copy)s, %(expires)s WHERE EXISTS (SELECT 1 FROM first)
    ON CONFLICT (id) DO UPDATE SET expires = excluded.expires
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM known) OR EXISTS (SELECT 1 FROM first) OR EXISTS (SELECT 1 FROM copy)
"""
# `PostgresDedupWindow.admit` in one statement: the upsert locks the id's row, so racing consumers
# decide in turn, each on the row as the one before left it. A new (or expired) id, or the holder's
# copy whose lease ran out, takes the lease with this call's token; the answer says whether it did,
# and otherwise whether the copy is the holder's (held back until the lease ends) or not (dropped).
ADMIT_LEASED = """
INSERT INTO admitted AS a (id, holder, lease, token, expires)
VALUES (%(id)s, %(copy)s, %(until)s, %(token)s, %(expires)s)
ON CONFLICT (id) DO UPDATE SET
    holder = CASE WHEN a.expires <= %(now)s THEN excluded.holder ELSE a.holder END,
    token = CASE WHEN a.expires <= %(now)s OR (a.holder = excluded.holder AND a.lease <= %(now)s)
        THEN excluded.token ELSE a.token END,
    lease = CASE WHEN a.expires <= %(now)s OR (a.holder = excluded.holder AND a.lease <= %(now)s)
        THEN excluded.lease ELSE a.lease END,
    expires = CASE WHEN a.expires <= %(now)s THEN excluded.expires ELSE a.expires END
RETURNING a.token = %(token)s, a.holder = %(copy)s, a.lease
"""
SETTLE = "UPDATE admitted SET lease = NULL WHERE id = %(id)s"
FORGET = "DELETE FROM seen WHERE id = %(id)s"
FORGET_ADMITTED = "DELETE FROM admitted WHERE id = %(id)s"
PURGE_SEEN = "DELETE FROM seen WHERE expires <= %(now)s"
PURGE_ADMITTED = "DELETE FROM admitted WHERE expires <= %(now)s"
COUNT_SEEN = "SELECT (SELECT COUNT(*) FROM seen) + (SELECT COUNT(*) FROM admitted)"

# -- health ------------------------------------------------------------------------------------------------

UPSERT_HEALTH = """
INSERT INTO health (endpoint, state, reason, since, opened, writer)
VALUES (%(endpoint)s, %(state)s, %(reason)s, %(since)s, %(opened)s, %(writer)s)
ON CONFLICT (endpoint) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since,
    opened = excluded.opened, writer = excluded.writer
"""
NOTIFY = "SELECT pg_notify(%(channel)s, %(payload)s)"
ALL_HEALTH = "SELECT endpoint, state, reason, opened, writer FROM health"
# The fleet's prober of a DOWN endpoint: whoever holds the lease (taking it when free or run out).
TAKE_PROBE_LEASE = """
INSERT INTO health (endpoint, state, reason, since, opened, writer, probe_owner, probe_until)
VALUES (%(endpoint)s, 'down', '', %(now)s, 0, %(owner)s, %(owner)s, %(until)s)
ON CONFLICT (endpoint) DO UPDATE SET probe_owner = excluded.probe_owner, probe_until = excluded.probe_until
WHERE health.probe_owner IS NULL OR health.probe_owner = excluded.probe_owner OR health.probe_until <= %(now)s
RETURNING 1
"""
