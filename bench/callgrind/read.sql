-- bench/callgrind/read.sql, for bench/callgrind/db: GET /clips/{id}'s statement
-- (src/store/store.c, ST_READ, without a version to revalidate), on a random clip.
\set cid random(:minid, :maxid)
SELECT id, type, version, CASE WHEN version = NULL::bigint THEN NULL ELSE data END, state,
       owner, created_at, updated_at,
       deleted_at IS NOT NULL, coalesce(undo_top, 0), coalesce(redo_top, 0)
  FROM resources WHERE id = :cid AND type = :ctype;
