-- bench/pgbench/action_3rt.sql: bench/pgbench/action.sql with the three writes sent as
-- one pipeline (UPDATE, INSERT, COMMIT and one Sync): 3 round trips instead of 5.
-- (pgbench refuses \gset inside a pipeline, so BEGIN and the locking read stay two
-- round trips here.)
\set cid random(:minid, :maxid)
BEGIN;
SELECT id AS rid, type AS rtype, version AS v, data AS doc, state AS rstate, owner AS rowner,
       to_json(created_at) #>> '{}' AS rcreated, to_json(updated_at) #>> '{}' AS rupdated,
       deleted_at IS NOT NULL AS rdeleted, coalesce(undo_top, 0) AS ut,
       coalesce(redo_top, 0) AS rt, to_json(now()) #>> '{}' AS txn_time,
       data #>> '{crop_keyframes,7,x}' AS x7
  FROM resources WHERE id = :cid AND type = :ctype
   AND (NULL::bigint IS NULL OR version = NULL::bigint) FOR UPDATE \gset
\set nv :v + 1
\startpipeline
UPDATE resources SET version = :nv, data = :doc::jsonb, state = NULL, updated_at = now(),
       deleted_at = CASE WHEN false::boolean THEN coalesce(deleted_at, now()) END,
       undo_top = nullif(:nv::bigint, 0), redo_top = nullif(0::bigint, 0)
 WHERE id = :cid;
INSERT INTO action_log (resource_id, version, action, target, data, actor, idempotency_key,
                        fingerprint, response, forward, inverse, state, stack_prev,
                        unit_first, reverts, touches, based_on, merged_over)
VALUES (:cid, :nv, 'update_crop_keyframe', :tgt::jsonb, ('{"x": ' || :x7::text || '}')::jsonb,
        :actor, NULL, NULL, NULL::json, (:fwd1::text || :x7::text || '}]')::jsonb,
        (:fwd1::text || :x7::text || '}]')::jsonb, NULL, nullif(:ut::bigint, 0), nullif(0::bigint, 0),
        nullif(0::bigint, 0), :touches::jsonb, nullif(0::bigint, 0), NULL::bigint[]);
COMMIT;
\endpipeline
