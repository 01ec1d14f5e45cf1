-- 002_history.sql: what undo, redo and replay need beyond the forward/inverse patches.
--
-- Undo and redo are two stacks per resource kept as linked lists through the log, so
-- an action never rewrites history and the resource row stays small (HOT updates):
--  * resources.undo_top / redo_top: the log version on top of each stack (NULL: empty);
--  * action_log.stack_prev: the entry below this one on the stack it was pushed on;
--  * action_log.unit_first: the first version of the unit this entry closes (a batch of
--    n actions is one unit of n entries; undo reverts the whole unit);
--  * action_log.reverts: for an undo, the version whose unit it reverted; for a redo,
--    the version of the undo it reverted;
--  * action_log.state: the resource's state after the entry, so replay can check the
--    state machine without the catalog.

ALTER TABLE resources ADD COLUMN IF NOT EXISTS undo_top bigint;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS redo_top bigint;

ALTER TABLE action_log ADD COLUMN IF NOT EXISTS state text;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS stack_prev bigint;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS unit_first bigint;
ALTER TABLE action_log ADD COLUMN IF NOT EXISTS reverts bigint;

GRANT UPDATE (undo_top, redo_top) ON resources TO actiond_app;
GRANT INSERT (state, stack_prev, unit_first, reverts) ON action_log TO actiond_app;

-- Undo and redo skip entries that a later entry already reverted: this finds them.
CREATE INDEX IF NOT EXISTS action_log_reverts
    ON action_log (resource_id, reverts) WHERE reverts IS NOT NULL;

-- A replayed response must be byte for byte the first one: json keeps the text as
-- written, where jsonb would reorder its members.
ALTER TABLE action_log ALTER COLUMN response TYPE json USING response::json;
