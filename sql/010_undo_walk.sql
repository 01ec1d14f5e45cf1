-- 010_undo_walk.sql: finding what an undo or redo reverts costs the same on a long
-- history as on a short one. The worker walks the resource's undo (or redo) stack from
-- its top to the first entry not already reverted, and asks of each entry it passes
-- whether an undo or redo reverted it; without an index that question read the
-- resource's whole log, once per entry, and the walk went to the bottom of the stack.
-- Partial: only undo and redo entries have `reverts`, so other inserts pay nothing.
CREATE INDEX IF NOT EXISTS action_log_reverts ON action_log (resource_id, reverts)
    WHERE reverts IS NOT NULL;
