-- 009_hash_all_columns.sql: the hash chain covers every column that gives a log entry
-- its meaning, and every function of the schema runs with a fixed search_path
-- (docs/database.md, "The hash chain").
--
-- 003's row hash was written before later columns existed and leaves out some that were
-- there: what an entry touched and what it was merged over (004), the undo and redo
-- stacks' links (002), and a keyed request's fingerprint and stored response (001).
-- Changed behind the application's back, they change what a later undo reverts, whether
-- a merge overlaps, or what a retry receives, and verify did not notice.
--
-- Rows keep the hash they were written with: rewriting them would be an UPDATE of the
-- whole log, and a hash recomputed today proves nothing about what a row said before
-- today. So each row records which function hashed it, hash_version: 1 for every row
-- already in the log (003's action_log_row_hash), 2 for every row from now on
-- (action_log_row_hash_v2, below). The chain itself does not change: a resource's first
-- row hashed as version 2 chains to the hash of its last row hashed as version 1.
--
-- Run by `actionctl migrate` as actiond_owner inside one transaction. ADD COLUMN with a
-- constant default writes no row and reads none; it holds action_log's exclusive lock
-- until this file commits, so no worker inserts meanwhile.

-- Which function hashed the row. Existing rows get the ADD COLUMN default, 1. The
-- trigger sets 2 on every row it hashes, whatever the inserter supplied; the default
-- becomes 2 only so that the table's definition says the same. actiond_app's INSERT
-- grant (001, 002, 004) names its columns and this is not one of them: a worker cannot
-- even name it.
-- No CHECK on its values: a check constraint costs every insert about 35,000
-- instructions in PostgreSQL 15 (its expression is read back from text each statement),
-- and verify already names a row whose version no function computes.
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS hash_version smallint NOT NULL DEFAULT 1;
ALTER TABLE action_log ALTER COLUMN hash_version SET DEFAULT 2;

COMMENT ON COLUMN action_log.hash_version IS
    'the function that computed hash: 1 action_log_row_hash (rows written before '
    '009_hash_all_columns.sql), 2 action_log_row_hash_v2; set by the trigger action_log_hash_chain';
COMMENT ON COLUMN action_log.hash IS
    'action_log_row_hash() (hash_version 1) or action_log_row_hash_v2() (2) over prev_hash '
    'and this row; set by the trigger action_log_hash_chain';

-- The hash of a row written from now on: lowercase hex SHA-256 of the serialisation of
-- 003 and 005, extended. The tag "actiond-log-2", then each argument in order as "-"
-- when it is NULL, else "<octet length>:<text>": length prefixes keep it unambiguous and
-- NULL distinct from '' and from the JSON value null. Texts as in version 1 (bigint in
-- decimal, jsonb as jsonb prints it, applied_at as UTC with microseconds), and for the
-- columns version 1 did not cover:
--   * response (json): the text exactly as stored, which is exactly what a retry gets
--     back (json keeps the text it was given, unlike jsonb);
--   * merged_over (bigint[]): PostgreSQL's array text, '{5,6}';
--   * fingerprint: as stored; touches (jsonb) and the bigints as above.
--
-- The arguments are every column of action_log in table order, prev_hash first, except:
--   * hash, which is the result;
--   * hash_version, which is in the tag: a row relabelled 1 is recomputed with version
--     1's function, whose tag differs, so its stored hash no longer matches either.
-- Nothing else is left out, because every other column changes what an entry means to
-- someone: to replay (forward, state, action), to undo and redo (inverse, stack_prev,
-- unit_first, reverts), to merging (touches, based_on, merged_over), to a retry
-- (idempotency_key, fingerprint, response), to access (data of share, unshare and
-- transfer) and to an audit (actor, applied_at, target). A column a later migration adds
-- is not covered until a version 3 adds it: that migration must say so.
--
-- PL/pgSQL rather than SQL: a function with a SET clause is never inlined, so an SQL
-- body would be planned again in every transaction; PL/pgSQL keeps its plans for the
-- session. STABLE because to_char is; the format used here depends on no setting.
CREATE OR REPLACE FUNCTION action_log_row_hash_v2(
    prev_hash text, resource_id bigint, version bigint, action text, target jsonb,
    data jsonb, actor text, applied_at timestamptz, idempotency_key text,
    fingerprint text, response json, forward jsonb, inverse jsonb, state text,
    stack_prev bigint, unit_first bigint, reverts bigint, touches jsonb, based_on bigint,
    merged_over bigint[])
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $$
DECLARE
    serialised text := 'actiond-log-2';
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
            prev_hash, resource_id::text, version::text, action, target::text, data::text,
            actor, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            idempotency_key, fingerprint, response::text, forward::text, inverse::text,
            state, stack_prev::text, unit_first::text, reverts::text, touches::text,
            based_on::text, merged_over::text] LOOP
        serialised := serialised || coalesce(octet_length(t) || ':' || t, '-');
    END LOOP;
    RETURN encode(sha256(convert_to(serialised, 'UTF8')), 'hex');
END
$$;

-- 003's trigger function, now hashing with version 2 and recording so. Unchanged
-- otherwise: the previous version's hash (whichever version computed it), a missing
-- previous version refused. Still SECURITY INVOKER: it runs with the inserter's
-- privileges, and column privileges bind the INSERT statement, not what a trigger
-- writes, so the columns actiond_app may not name are set here all the same.
-- The table is named with its schema: a temporary table is searched before any schema
-- on the path, and an inserter's own temporary action_log must not answer the lookup.
CREATE OR REPLACE FUNCTION action_log_chain() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
    prev text;
BEGIN
    IF NEW.version = 1 THEN
        prev := public.action_log_genesis_hash();
    ELSE
        SELECT l.hash INTO prev
          FROM public.action_log l
         WHERE l.resource_id = NEW.resource_id AND l.version = NEW.version - 1;
        IF prev IS NULL THEN
            RAISE EXCEPTION 'action_log: resource % has no version % to chain version % to',
                NEW.resource_id, NEW.version - 1, NEW.version
                USING ERRCODE = 'integrity_constraint_violation',
                      HINT = 'Versions of a resource are appended in order, without gaps.';
        END IF;
    END IF;
    NEW.prev_hash := prev;
    NEW.hash_version := 2;
    NEW.hash := public.action_log_row_hash_v2(
        prev, NEW.resource_id, NEW.version, NEW.action, NEW.target, NEW.data, NEW.actor,
        NEW.applied_at, NEW.idempotency_key, NEW.fingerprint, NEW.response, NEW.forward,
        NEW.inverse, NEW.state, NEW.stack_prev, NEW.unit_first, NEW.reverts, NEW.touches,
        NEW.based_on, NEW.merged_over);
    RETURN NEW;
END
$$;

-- Every other function of the schema gets the same fixed search_path, with its body
-- untouched: ALTER FUNCTION ... SET changes no result, so version 1 rows keep matching
-- action_log_row_hash (whose body calls action_log_serialise by its bare name: public
-- is on the path for it). Without it, the session's search_path decides what a bare
-- name in a body means, and a caller who puts a schema of their own before pg_catalog
-- could supply their own ||, to_char or action_log_serialise. None of them reads a
-- table, so a temporary table cannot stand in for anything. All stay SECURITY INVOKER:
-- none needs more than its caller has.
ALTER FUNCTION action_log_genesis_hash() SET search_path = pg_catalog, public;
ALTER FUNCTION action_log_serialise(VARIADIC text[]) SET search_path = pg_catalog, public;
ALTER FUNCTION action_log_row_hash(text, bigint, bigint, text, jsonb, jsonb, text,
                                   timestamptz, text, jsonb, jsonb, text, bigint)
    SET search_path = pg_catalog, public;
ALTER FUNCTION action_log_refuse_change() SET search_path = pg_catalog, public;
ALTER FUNCTION tokens_announce_change() SET search_path = pg_catalog, public;
