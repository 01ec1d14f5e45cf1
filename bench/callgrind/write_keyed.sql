-- bench/callgrind/write_keyed.sql, for bench/callgrind/db: write.sql's statement for a
-- request sent with an idempotency key, so its first log entry also stores the key, the
-- request's fingerprint and the response a retry gets back: here the clip's document in
-- an envelope, about 2 KB, as large as the answers the worker stores for a clip. Every
-- row gets a key of its own (the key is unique per actor).
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
       'key-' || u.id || '-' || u.version, md5(u.id::text) || md5(u.version::text),
       ('{"body": {"id": ' || u.id || ', "version": ' || u.version || ', "data": '
        || :doc::text || '}}')::json,
       (:fwd1::text || '5}]')::jsonb, (:fwd1::text || '4}]')::jsonb,
       NULL, nullif(u.version - 1, 0), nullif(0::bigint, 0), nullif(0::bigint, 0),
       :touches::jsonb, nullif(0::bigint, 0), NULL::bigint[]
  FROM u;
