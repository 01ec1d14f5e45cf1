-- 004_merge.sql: what merging a stale action over later ones needs
-- (docs/merge.md). Every entry records what it touched, semantically; a merged entry
-- records the version its client had seen and the entries it was merged over.

ALTER TABLE action_log ADD COLUMN IF NOT EXISTS touches jsonb;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS based_on bigint;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS merged_over bigint[];

GRANT INSERT (touches, based_on, merged_over) ON action_log TO actiond_app;
