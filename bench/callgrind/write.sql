-- bench/callgrind/write.sql, for bench/callgrind/db: the worker's write of an action on a
-- kept document (src/store/store.c, ST_WRITE: the row and its log entry in one statement, in
-- the extended protocol's implicit transaction), with the parameters it sends for
-- update_crop_keyframe. The document (:doc) is a loaded clip's text, the same for every
-- row; the row's own version stands in for the kept one, so every statement applies.
\set cid random(:minid, :maxid)
WITH u AS (UPDATE resources SET version = version + 1, data = :doc::json, state = NULL,
                  updated_at = now(),
                  deleted_at = CASE WHEN false::boolean THEN coalesce(deleted_at, now()) END,
                  undo_top = version + 1, redo_top = nullif(0::bigint, 0)
            WHERE id = :cid RETURNING id, version)
INSERT INTO action_log (resource_id, version, action, target, data, actor, idempotency_key,
                        fingerprint, response, forward, inverse, state, stack_prev,
                        unit_first, reverts, touches, based_on, merged_over)
SELECT u.id, u.version, 'update_crop_keyframe', :tgt::jsonb, '{"x": 5}'::jsonb, :actor,
       NULL, NULL, NULL::json, (:fwd1::text || '5}]')::jsonb, (:fwd1::text || '4}]')::jsonb,
       NULL, nullif(u.version - 1, 0), nullif(0::bigint, 0), nullif(0::bigint, 0),
       :touches::jsonb, nullif(0::bigint, 0), NULL::bigint[]
  FROM u;
