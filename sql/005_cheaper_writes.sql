-- 005_cheaper_writes.sql: the same hashes and the same documents, for less database CPU
-- per action (docs/performance.md, "Settings the measurements chose").
--
-- 1. action_log_row_hash (003) keeps its serialisation byte for byte, but each value's
--    text is now computed once and the length prefixes come from one loop. The old body
--    inlined into the trigger as an expression of about ninety function calls, which
--    PostgreSQL sets up afresh in every transaction (an action is one transaction);
--    this one has about twenty. The trigger itself does not change.
-- 2. Documents and patches are compressed with lz4 instead of pglz when PostgreSQL has
--    it: pglz was a sixth of the database's instructions for an action's write of a
--    2 KB clip. Values already stored keep their compression until they are next
--    written; every action writes its resource's document anew.

-- The text action_log_row_hash feeds to SHA-256: the tag, then each value as "-" when
-- it is NULL, else "<octet length>:<text>" (003 gives the reasons). IMMUTABLE: the
-- result depends on the arguments only; the caller turns its values into text.
CREATE OR REPLACE FUNCTION action_log_serialise(VARIADIC texts text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    serialised text := 'actiond-log-1';
    t text;
BEGIN
    FOREACH t IN ARRAY texts LOOP
        serialised := serialised || coalesce(pg_catalog.octet_length(t) || ':' || t, '-');
    END LOOP;
    RETURN serialised;
END
$$;

-- The rows to check the new body against: a bounded sample of what is there (in heap
-- order, so no sort over a long log), with what 003's body makes of each.
CREATE TEMP TABLE hash_sample ON COMMIT DROP AS
SELECT l.resource_id, l.version,
       action_log_row_hash(l.prev_hash, l.resource_id, l.version, l.action, l.target,
                           l.data, l.actor, l.applied_at, l.idempotency_key, l.forward,
                           l.inverse, l.state, l.reverts) AS old_hash
  FROM action_log l
 LIMIT 2000;

-- Same signature, same volatility, same result as 003's: the trigger, `actionctl verify`
-- and hand-written checks call it unchanged. Still a single SELECT expression, so the
-- planner inlines it.
CREATE OR REPLACE FUNCTION action_log_row_hash(
    prev_hash text, resource_id bigint, version bigint, action text, target jsonb,
    data jsonb, actor text, applied_at timestamptz, idempotency_key text, forward jsonb,
    inverse jsonb, state text, reverts bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(action_log_serialise(
    prev_hash, resource_id::text, version::text, action, target::text, data::text, actor,
    pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    idempotency_key, forward::text, inverse::text, state, reverts::text), 'UTF8')), 'hex')
$$;

-- Every sampled row must get from this body what it got from 003's; if not, every
-- chain already written would read as tampered, so nothing of this file is kept.
DO $$
DECLARE
    bad record;
BEGIN
    SELECT s.resource_id, s.version INTO bad
      FROM hash_sample s JOIN action_log l USING (resource_id, version)
     WHERE s.old_hash <> action_log_row_hash(l.prev_hash, l.resource_id, l.version,
                                             l.action, l.target, l.data, l.actor,
                                             l.applied_at, l.idempotency_key, l.forward,
                                             l.inverse, l.state, l.reverts)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'action_log_row_hash changed the hash of resource % version %',
            bad.resource_id, bad.version;
    END IF;
END
$$;

-- lz4 where the server has it; without it, the columns keep pglz and the migration
-- still applies (the rest of this file does not depend on it).
DO $$
BEGIN
    ALTER TABLE resources ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE action_log
        ALTER COLUMN target SET COMPRESSION lz4,
        ALTER COLUMN data SET COMPRESSION lz4,
        ALTER COLUMN response SET COMPRESSION lz4,
        ALTER COLUMN forward SET COMPRESSION lz4,
        ALTER COLUMN inverse SET COMPRESSION lz4,
        ALTER COLUMN touches SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL was built without lz4: documents stay compressed with pglz';
END
$$;
