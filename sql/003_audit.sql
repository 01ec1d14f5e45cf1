-- 003_audit.sql: tamper evidence for the action log, and auditing in plain SQL
-- (docs/database.md, "The hash chain" and "Auditing in SQL").
--
-- Every log row carries prev_hash, the hash of the row before it in its resource's
-- history (version - 1), and hash, a SHA-256 over prev_hash and the row's own content.
-- A BEFORE INSERT trigger computes both, so neither the worker nor anyone inserting by
-- hand chooses them. Editing a row behind the application's back (as the owner or a
-- superuser, with the append-only trigger disabled) leaves a row whose hash no longer
-- matches its content; re-hashing that row breaks the link from the next one.
-- `actionctl verify` checks both, with the same SQL function as the trigger.
--
-- Rows that exist when this runs are chained here, in version order per resource. The
-- ALTER TABLE below locks action_log until this file commits, so no worker can append
-- a row meanwhile: the migration and the trigger never race.

ALTER TABLE action_log ADD COLUMN IF NOT EXISTS prev_hash text;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS hash text;

COMMENT ON COLUMN action_log.prev_hash IS
    'hash of version - 1 of the same resource; action_log_genesis_hash() for version 1';
COMMENT ON COLUMN action_log.hash IS
    'action_log_row_hash() over prev_hash and this row; set by the trigger action_log_hash_chain';

-- What version 1 of every resource chains to. A function rather than a literal repeated
-- in the trigger, the backfill and actionctl, so they cannot drift apart.
CREATE OR REPLACE FUNCTION action_log_genesis_hash() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT '0000000000000000000000000000000000000000000000000000000000000000'::text
$$;

-- The hash of one log row: lowercase hex SHA-256 of a canonical serialisation of the
-- arguments. The trigger, the backfill and `actionctl verify` all call this one
-- function, so what is written and what is checked cannot disagree.
--
-- The serialisation is the tag "actiond-log-1" followed by each argument in order as
-- "-" when it is NULL, else "<octet length>:<text>". Length prefixes make it
-- unambiguous (no choice of values can make two different rows serialise alike), and
-- NULL stays distinct from '' and from the JSON value null. Texts:
--   * bigint: decimal;
--   * jsonb: jsonb's own output, which orders members and spaces the same way
--     whatever text the value was written with;
--   * applied_at: UTC with microseconds, 'YYYY-MM-DDTHH:MM:SS.uuuuuuZ', from to_char,
--     so neither the session's TimeZone nor its DateStyle changes the result.
-- Everything is qualified with pg_catalog so that no function of another schema on
-- the search_path can stand in for one of these.
--
-- STABLE, not IMMUTABLE, because to_char is; that also lets the planner inline this
-- single expression into the trigger and into verify's query, which keeps its cost to
-- one SHA-256 over the row's text.
CREATE OR REPLACE FUNCTION action_log_row_hash(
    prev_hash text, resource_id bigint, version bigint, action text, target jsonb,
    data jsonb, actor text, applied_at timestamptz, idempotency_key text, forward jsonb,
    inverse jsonb, state text, reverts bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
    'actiond-log-1'
    || coalesce(pg_catalog.octet_length(prev_hash) || ':' || prev_hash, '-')
    || coalesce(pg_catalog.octet_length(resource_id::text) || ':' || resource_id::text, '-')
    || coalesce(pg_catalog.octet_length(version::text) || ':' || version::text, '-')
    || coalesce(pg_catalog.octet_length(action) || ':' || action, '-')
    || coalesce(pg_catalog.octet_length(target::text) || ':' || target::text, '-')
    || coalesce(pg_catalog.octet_length(data::text) || ':' || data::text, '-')
    || coalesce(pg_catalog.octet_length(actor) || ':' || actor, '-')
    || coalesce(pg_catalog.octet_length(pg_catalog.to_char(applied_at AT TIME ZONE 'UTC',
                                                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                || ':' || pg_catalog.to_char(applied_at AT TIME ZONE 'UTC',
                                             'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '-')
    || coalesce(pg_catalog.octet_length(idempotency_key) || ':' || idempotency_key, '-')
    || coalesce(pg_catalog.octet_length(forward::text) || ':' || forward::text, '-')
    || coalesce(pg_catalog.octet_length(inverse::text) || ':' || inverse::text, '-')
    || coalesce(pg_catalog.octet_length(state) || ':' || state, '-')
    || coalesce(pg_catalog.octet_length(reverts::text) || ':' || reverts::text, '-'),
    'UTF8')), 'hex')
$$;

-- Sets NEW.prev_hash and NEW.hash, whatever the inserter supplied. Costs one primary
-- key lookup (the previous version; none for version 1) and one hash. It runs with the
-- inserter's privileges (no SECURITY DEFINER needed): actiond_app may read action_log,
-- and the columns it may not name in an INSERT (prev_hash, hash, applied_at) are still
-- set here, because column privileges apply to the statement, not to what a trigger
-- writes. Rows of one multi-row INSERT chain too, as long as they come in version
-- order: a row-level BEFORE trigger sees the rows its statement inserted before.
-- A missing previous version is refused: the chain, like the versions, has no gaps.
CREATE OR REPLACE FUNCTION action_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev text;
BEGIN
    IF NEW.version = 1 THEN
        prev := action_log_genesis_hash();
    ELSE
        SELECT l.hash INTO prev
          FROM action_log l
         WHERE l.resource_id = NEW.resource_id AND l.version = NEW.version - 1;
        IF prev IS NULL THEN
            RAISE EXCEPTION 'action_log: resource % has no version % to chain version % to',
                NEW.resource_id, NEW.version - 1, NEW.version
                USING ERRCODE = 'integrity_constraint_violation',
                      HINT = 'Versions of a resource are appended in order, without gaps.';
        END IF;
    END IF;
    NEW.prev_hash := prev;
    NEW.hash := action_log_row_hash(prev, NEW.resource_id, NEW.version, NEW.action,
                                    NEW.target, NEW.data, NEW.actor, NEW.applied_at,
                                    NEW.idempotency_key, NEW.forward, NEW.inverse,
                                    NEW.state, NEW.reverts);
    RETURN NEW;
END
$$;

-- The only BEFORE INSERT trigger on action_log: another one firing after it (triggers
-- fire in name order) could change the row after it was hashed, and verify would
-- report every such row. ENABLE ALWAYS for the same reason as the append-only
-- triggers: session_replication_role = replica must not produce unhashed rows.
CREATE OR REPLACE TRIGGER action_log_hash_chain
    BEFORE INSERT ON action_log
    FOR EACH ROW EXECUTE FUNCTION action_log_chain();
ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_hash_chain;

-- Chain the rows already there. Filling the new columns is an UPDATE, which the
-- append-only trigger refuses even to the owner, so it is disabled around exactly this
-- block and enabled again (ALWAYS, as 001 left it) right after it. Nobody
-- else ever sees it disabled: DDL is transactional, ALTER TABLE holds an ACCESS
-- EXCLUSIVE lock on action_log until this migration commits, and a failure anywhere
-- rolls the whole file back, the disabling included.
--
-- One pass in (resource_id, version) order, one UPDATE by primary key per row: 500,000
-- rows took under a minute on the development machine, while workers wait; a VACUUM
-- afterwards reclaims the old row versions. A row that already has a hash is kept and
-- chained to as it is, so running this file again by hand recomputes nothing, and in
-- particular cannot launder an edited row into a valid chain. A gap in a resource's
-- versions stops the migration: such a log cannot be chained honestly, and says that
-- history was already lost.
ALTER TABLE action_log DISABLE TRIGGER action_log_no_update_delete;

DO $$
DECLARE
    r record;
    cur_id bigint;
    cur_version bigint := 0;
    prev text;
    h text;
BEGIN
    FOR r IN
        SELECT l.resource_id, l.version, l.action, l.target, l.data, l.actor, l.applied_at,
               l.idempotency_key, l.forward, l.inverse, l.state, l.reverts, l.hash
          FROM action_log l
         ORDER BY l.resource_id, l.version
    LOOP
        IF cur_id IS DISTINCT FROM r.resource_id THEN
            cur_id := r.resource_id;
            cur_version := 0;
            prev := action_log_genesis_hash();
        END IF;
        IF r.version <> cur_version + 1 THEN
            RAISE EXCEPTION 'cannot chain action_log: resource % has version % after version %',
                r.resource_id, r.version, cur_version
                USING HINT = 'Versions must run from 1 without gaps; find out where the '
                             'missing entries went before migrating.';
        END IF;
        IF r.hash IS NULL THEN
            h := action_log_row_hash(prev, r.resource_id, r.version, r.action, r.target,
                                     r.data, r.actor, r.applied_at, r.idempotency_key,
                                     r.forward, r.inverse, r.state, r.reverts);
            UPDATE action_log SET prev_hash = prev, hash = h
             WHERE resource_id = r.resource_id AND version = r.version;
        ELSE
            h := r.hash;
        END IF;
        prev := h;
        cur_version := r.version;
    END LOOP;
END
$$;

ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_no_update_delete;

ALTER TABLE action_log ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE action_log ALTER COLUMN hash SET NOT NULL;

-- Nothing to grant actiond_app: its INSERT grant (001, 002) names the columns it may
-- supply, and prev_hash and hash are not among them, so a worker cannot choose a hash;
-- the trigger sets them. The two functions keep PostgreSQL's default EXECUTE for
-- PUBLIC: they read nothing and reveal nothing, and auditors call the row hash to
-- check rows themselves.

-- ---------------------------------------------------------------------------------
-- Auditing in plain SQL. Views run with their owner's privileges on the tables, so
-- actiond_auditor needs SELECT on the views only; it keeps SELECT on the two tables
-- (001) for questions the views do not answer.

-- The log joined to its resource (001), now also with the state after each entry, the
-- version an undo or redo reverted, and the row's hash (an auditor may record the
-- latest hash elsewhere, which anchors the chain: see docs/database.md). New columns
-- go last: CREATE OR REPLACE VIEW can only append.
CREATE OR REPLACE VIEW audit_log AS
SELECT l.applied_at,
       l.actor,
       r.type AS resource_type,
       l.resource_id,
       l.version,
       l.action,
       l.target,
       l.data,
       l.idempotency_key,
       l.state,
       l.reverts,
       l.hash
FROM action_log l
JOIN resources r ON r.id = l.resource_id;

-- Every undo and redo with the entry it reverted and, when it was itself reverted
-- later (an undo redone, a redo undone again), the entry that did it. An undo's
-- `reverts` is the last version of the unit it undid (a batch is one unit, versions
-- reverted_first..reverts); a redo's is the undo it re-applied.
CREATE OR REPLACE VIEW audit_undo_redo AS
SELECT r.type AS resource_type,
       h.resource_id,
       h.version,
       h.action,
       h.actor,
       h.applied_at,
       h.reverts,
       coalesce(t.unit_first, t.version) AS reverted_first,
       t.action AS reverted_action,
       t.actor AS reverted_actor,
       t.applied_at AS reverted_applied_at,
       n.version AS reverted_by,
       n.action AS reverted_by_action,
       n.actor AS reverted_by_actor,
       n.applied_at AS reverted_by_applied_at
FROM action_log h
JOIN resources r ON r.id = h.resource_id
LEFT JOIN action_log t ON t.resource_id = h.resource_id AND t.version = h.reverts
LEFT JOIN LATERAL (
    SELECT x.version, x.action, x.actor, x.applied_at
      FROM action_log x
     WHERE x.resource_id = h.resource_id
       AND x.reverts = h.version
       AND x.action IN ('undo', 'redo')
     ORDER BY x.version
     LIMIT 1) n ON true
WHERE h.reverts IS NOT NULL
  AND h.action IN ('undo', 'redo');

-- State changes: each entry whose state differs from the entry before it, with both
-- states. Creation appears as a change from NULL to the initial state. Entries of
-- types without a state machine record no state and never appear. A self-join by
-- primary key rather than a window, so a filter on resource_id or version narrows
-- both sides.
CREATE OR REPLACE VIEW audit_transitions AS
SELECT r.type AS resource_type,
       l.resource_id,
       l.version,
       l.applied_at,
       l.actor,
       l.action,
       p.state AS from_state,
       l.state AS to_state
FROM action_log l
JOIN resources r ON r.id = l.resource_id
LEFT JOIN action_log p ON p.resource_id = l.resource_id AND p.version = l.version - 1
WHERE l.state IS NOT NULL
  AND p.state IS DISTINCT FROM l.state;

-- Per actor and resource type: how much, what kind, and when. For a time window,
-- filter audit_log instead: an aggregate view cannot take one.
CREATE OR REPLACE VIEW audit_actor_activity AS
SELECT l.actor,
       r.type AS resource_type,
       count(*) AS entries,
       count(DISTINCT l.resource_id) AS resources,
       count(*) FILTER (WHERE l.version = 1) AS created,
       count(*) FILTER (WHERE l.action = 'delete') AS deleted,
       count(*) FILTER (WHERE l.action = 'undo') AS undos,
       count(*) FILTER (WHERE l.action = 'redo') AS redos,
       min(l.applied_at) AS first_applied_at,
       max(l.applied_at) AS last_applied_at
FROM action_log l
JOIN resources r ON r.id = l.resource_id
GROUP BY l.actor, r.type;

COMMENT ON VIEW audit_log IS 'who did what to which resource, and when: one row per log entry';
COMMENT ON VIEW audit_undo_redo IS
    'every undo and redo, the entry it reverted, and the later entry that reverted it';
COMMENT ON VIEW audit_transitions IS 'every change of state, with the state before and after';
COMMENT ON VIEW audit_actor_activity IS 'per actor and type: counts and first/last activity';

-- Read access to the log, the documents and the views, and nothing else: no INSERT,
-- UPDATE, DELETE or TRUNCATE anywhere, no tokens, no schema_migrations.
GRANT SELECT ON action_log, resources, audit_log, audit_undo_redo, audit_transitions,
                audit_actor_activity TO actiond_auditor;
