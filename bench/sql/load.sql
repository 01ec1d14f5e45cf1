-- bench/sql/load.sql: the benchmark's data set, written directly as actiond_owner.
--
-- :clips clips (psql variable), each a document of 20 crop keyframes (frames 0, 30,
-- ..., 570), a trim range and 0 to 4 annotations: 1.4 to 1.85 KB of JSON text, 2.3 to
-- 2.9 KB as jsonb, so PostgreSQL compresses the column as it would for any such clip.
-- Every clip gets the version-1 "create" log entry the worker writes for POST /clips
-- with that document (an "add" of the whole document at "" and its inverse, and what
-- it touched: everything), so replay, merging and the history routes see the same rows
-- as for a clip created over HTTP. Triggers on action_log (the hash chain) fire as
-- for the worker's own inserts.
--
-- Run with: psql -v clips=10000 -v actor=bench -f load.sql
\set ON_ERROR_STOP 1

BEGIN;

CREATE TEMP TABLE bench_docs ON COMMIT DROP AS
SELECT n,
       jsonb_build_object(
           'crop_keyframes',
           (SELECT jsonb_agg(jsonb_build_object(
                        'frame', k * 30,
                        'x', (random() * 1280)::int,
                        'y', (random() * 720)::int,
                        'width', 640,
                        'height', 360) ORDER BY k)
              FROM generate_series(0, 19) AS k),
           'trim_range', jsonb_build_object('start', 0.0, 'end', 20 + n % 40),
           'regions', '[]'::jsonb,
           'effect_type', NULL,
           'annotations',
           coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'annotation_id', a,
                                'start_time', a * 10,
                                'end_time', a * 10 + 5,
                                'name', 'Play ' || a,
                                'rating', 1 + (n + a) % 5,
                                'tags', jsonb_build_array('goal')) ORDER BY a)
                       FROM generate_series(1, n % 5) AS a), '[]'::jsonb)
       ) AS doc
FROM generate_series(1, :clips) AS n;

WITH r AS (
    INSERT INTO resources (type, version, data, state, owner)
    SELECT 'clips', 1, doc, NULL, :'actor' FROM bench_docs ORDER BY n
    RETURNING id, data
)
INSERT INTO action_log (resource_id, version, action, target, data, actor, forward, inverse,
                        state, touches)
SELECT id, 1, 'create', NULL, NULL, :'actor',
       jsonb_build_array(jsonb_build_object('op', 'add', 'path', '', 'value', data)),
       '[{"op": "replace", "path": "", "value": null}]'::jsonb,
       NULL, '[{"op": "w", "path": []}, {"op": "w", "state": true}]'::jsonb
FROM r;

COMMIT;

VACUUM ANALYZE resources;
VACUUM ANALYZE action_log;
