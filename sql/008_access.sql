-- 008_access.sql: who may reach a resource. The creator is its owner
-- (resources.owner); the owner shares it with other actors as readers or editors, or
-- with every authenticated actor ("*"). The grants live on the resource's own row, so
-- the locking read every change starts with returns them under the same lock that a
-- share or unshare takes: access is decided where it cannot be raced, at no extra
-- round trip. Every grant, revocation and ownership transfer is an entry of the
-- resource's log (actions share, unshare, transfer), hashed into its chain like any
-- other, which `actionctl verify` replays.

-- {"bob": "reader", "*": "editor"}; NULL when the owner shared it with nobody
ALTER TABLE resources ADD COLUMN IF NOT EXISTS access jsonb;

DO $$
BEGIN
    ALTER TABLE resources ADD CONSTRAINT resources_access_shape
        CHECK (access IS NULL OR jsonb_typeof(access) = 'object');
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;

COMMENT ON COLUMN resources.access IS
    'grants of actors other than the owner: {"actor": "reader"|"editor"}; "*" is everyone';

-- Listing what an actor may read: its own resources, and the ones shared with it or
-- with everyone. Neither column changes on an ordinary action, so updates stay HOT.
CREATE INDEX IF NOT EXISTS resources_owner ON resources (type, owner, id)
    WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS resources_access ON resources USING gin (access)
    WHERE access IS NOT NULL;

-- The workers write grants (at creation, share, unshare); ownership moves only by
-- actionctl, which runs as the owner of the tables.
GRANT INSERT (access), UPDATE (access) ON resources TO actiond_app;

-- Every grant, revocation and transfer, from the log: who changed whose access to
-- what, and when.
CREATE OR REPLACE VIEW audit_grants AS
SELECT l.applied_at,
       l.actor,
       r.type AS resource_type,
       l.resource_id,
       l.version,
       l.action,
       l.data ->> 'actor' AS grantee,
       l.data ->> 'role' AS role,
       l.data ->> 'owner' AS new_owner
FROM action_log l
JOIN resources r ON r.id = l.resource_id
WHERE l.action IN ('share', 'unshare', 'transfer');

COMMENT ON VIEW audit_grants IS
    'every share, unshare and ownership transfer: who granted which role to whom, and when';

GRANT SELECT ON audit_grants TO actiond_auditor;
