-- bench/pgbench/action.sql: the database ceiling for one action, as pgbench runs it.
-- The statements are the worker's for update_crop_keyframe (the store's ST_LOCK, and
-- the two halves of its ST_WRITE, which the worker runs as one statement in an implicit
-- transaction), written the plain way, one round trip each: BEGIN; lock and read the
-- row; write the document and version back; append the log row (its BEFORE INSERT
-- trigger, the hash chain, fires as for the worker); COMMIT. bench/run derives the
-- 3-round-trip variant by wrapping the lines from UPDATE to COMMIT in a pipeline.
-- Column aliases exist only for \gset. Parameters the worker sends as NULL or 0 for
-- this action are literals here; the lock's expected-version test gets NULL (pgbench
-- cannot know the version before reading).
-- The log row is a real, replayable entry: it replaces keyframe 7's x by the value it
-- has (read by the locking SELECT), so the document written back unchanged is what
-- replaying the log gives and `actionctl verify` passes after a run.
-- Variables (pgbench -D): minid, maxid (the clip ids), ctype, actor, tgt (the target),
-- fwd1 (the patch up to its value) and touches. tests/integration/test_bench_sql.py
-- fails when the store's statements name other columns than these.
\set cid random(:minid, :maxid)
BEGIN;
SELECT id AS rid, type AS rtype, version AS v, data AS doc, state AS rstate, owner AS rowner,
       created_at AS rcreated, updated_at AS rupdated,
       deleted_at IS NOT NULL AS rdeleted, coalesce(undo_top, 0) AS ut,
       coalesce(redo_top, 0) AS rt, access AS racc, now() AS txn_time,
       data #>> '{crop_keyframes,7,x}' AS x7
  FROM resources WHERE id = :cid AND type = :ctype
   AND (NULL::bigint IS NULL OR version = NULL::bigint) FOR UPDATE \gset
\set nv :v + 1
UPDATE resources SET version = :nv, data = :doc::json, state = NULL, updated_at = now(),
       deleted_at = CASE WHEN false::boolean THEN coalesce(deleted_at, now()) END,
       undo_top = nullif(:nv::bigint, 0), redo_top = nullif(0::bigint, 0),
       access = NULL::jsonb
 WHERE id = :cid AND version = :v;
INSERT INTO action_log (resource_id, version, action, target, data, actor, idempotency_key,
                        fingerprint, response, forward, inverse, state, stack_prev,
                        unit_first, reverts, touches, based_on, merged_over)
VALUES (:cid, :nv, 'update_crop_keyframe', :tgt::jsonb, ('{"x": ' || :x7::text || '}')::jsonb,
        :actor, NULL, NULL, NULL::json, (:fwd1::text || :x7::text || '}]')::jsonb,
        (:fwd1::text || :x7::text || '}]')::jsonb, NULL, nullif(:ut::bigint, 0), nullif(0::bigint, 0),
        nullif(0::bigint, 0), :touches::jsonb, nullif(0::bigint, 0), NULL::bigint[]);
COMMIT;
