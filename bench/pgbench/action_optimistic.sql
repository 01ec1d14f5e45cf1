-- bench/pgbench/action_optimistic.sql: what an action could cost the database with
-- two statements and no explicit transaction, for comparison with action.sql (the
-- worker's current five). Not what the worker runs today: a design to measure.
--
--   1. read the row without locking it (autocommit; no BEGIN, no FOR UPDATE);
--   2. one statement, its own transaction: update the row only if its version is still
--      the one read (the version check moves into the UPDATE's WHERE; a concurrent
--      writer makes it match no row, and the worker answers 409), and append the log
--      row only if the update happened.
--
-- The row lock is then held for one statement and its commit instead of two round
-- trips, and a request whose expected_version is already stale is answered after the
-- read, without waiting for any lock. Same variables as action.sql.
\set cid random(:minid, :maxid)
SELECT id AS rid, type AS rtype, version AS v, data AS doc, state AS rstate, owner AS rowner,
       created_at AS rcreated, updated_at AS rupdated,
       deleted_at IS NOT NULL AS rdeleted, coalesce(undo_top, 0) AS ut,
       coalesce(redo_top, 0) AS rt, access AS racc, data #>> '{crop_keyframes,7,x}' AS x7
  FROM resources WHERE id = :cid AND type = :ctype \gset
\set nv :v + 1
WITH u AS (
    UPDATE resources SET version = :nv, data = :doc::json, state = NULL, updated_at = now(),
           deleted_at = CASE WHEN false::boolean THEN coalesce(deleted_at, now()) END,
           undo_top = nullif(:nv::bigint, 0), redo_top = nullif(0::bigint, 0),
           access = NULL::jsonb
     WHERE id = :cid AND version = :v
    RETURNING id)
INSERT INTO action_log (resource_id, version, action, target, data, actor, idempotency_key,
                        fingerprint, response, forward, inverse, state, stack_prev,
                        unit_first, reverts, touches, based_on, merged_over)
SELECT u.id, :nv, 'update_crop_keyframe', :tgt::jsonb, ('{"x": ' || :x7::text || '}')::jsonb,
       :actor, NULL, NULL, NULL::json, (:fwd1::text || :x7::text || '}]')::jsonb,
       (:fwd1::text || :x7::text || '}]')::jsonb, NULL, nullif(:ut::bigint, 0), nullif(0::bigint, 0),
       nullif(0::bigint, 0), :touches::jsonb, nullif(0::bigint, 0), NULL::bigint[]
  FROM u
RETURNING applied_at;
