-- 001_core.sql: actiond's tables, the worker's role and the append-only action log
-- (docs/database.md). Run by `actionctl migrate` as actiond_owner inside one
-- transaction; it must not contain transaction control of its own.
--
-- Two roles: actiond_owner owns every object and runs migrations; actiond_app is what
-- the workers log in as, and it gets only the privileges the worker's statements need.
-- IF NOT EXISTS guards are kept even though actionctl runs this file once, so a hand
-- run against a half-built database does not fail halfway.

-- jsonb stores strings in the database encoding: only UTF-8 holds every string a
-- client may send (RFC 8259 section 8.1). Refuse to build on anything else.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'database % is encoded in %, actiond needs UTF8',
            current_database(), pg_catalog.getdatabaseencoding()
            USING HINT = 'CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
    END IF;
END
$$;

-- The worker's role. NOINHERIT: should anyone ever grant it membership of a more
-- powerful role, it still holds only what is granted below unless it SET ROLEs.
-- No password is set here: deployments choose peer authentication on the local
-- socket, or set one with ALTER ROLE.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'actiond_app') THEN
        CREATE ROLE actiond_app LOGIN NOINHERIT;
    END IF;
    -- A group role for people who audit in plain SQL: read access, no login of its own.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'actiond_auditor') THEN
        CREATE ROLE actiond_auditor NOLOGIN;
    END IF;
END
$$;

-- Before PostgreSQL 15 every role could create objects in public; the worker must not
-- be able to shadow our tables with its own.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The documents. A resource row is updated in place on every action, so leave room
-- on each page (fillfactor 90) for the new row version to land on the same page, and
-- index only columns no action changes (id, type): together these let PostgreSQL do
-- HOT updates, which skip index maintenance entirely. Deletion is a soft delete
-- (deleted_at), so ids stay stable and the log keeps its referent.
CREATE TABLE IF NOT EXISTS resources (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type text NOT NULL CHECK (type <> ''),
    version bigint NOT NULL CHECK (version >= 1),
    -- a JSON null document is the jsonb value 'null', never SQL NULL
    data jsonb NOT NULL,
    state text,
    owner text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
) WITH (fillfactor = 90);

-- Reads always name the type as well as the id (a clip id is not an article id), and
-- listing walks one type in id order: both are served by this index.
CREATE INDEX IF NOT EXISTS resources_type_id ON resources (type, id);

-- One row per applied action, written in the same transaction as the change it
-- describes. (resource_id, version) is the key: two writers cannot both append
-- version N, whatever happens to the row lock. forward/inverse are the JSON Patches
-- (RFC 6902) of the change and its undo, so undo, redo and replay need nothing else.
CREATE TABLE IF NOT EXISTS action_log (
    resource_id bigint NOT NULL REFERENCES resources (id),
    version bigint NOT NULL CHECK (version >= 1),
    action text NOT NULL,
    target jsonb,
    data jsonb,
    actor text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    idempotency_key text,
    -- what a retry is compared against and what it gets back; only keyed rows have them
    fingerprint text CHECK (fingerprint IS NULL OR idempotency_key IS NOT NULL),
    response jsonb CHECK (response IS NULL OR idempotency_key IS NOT NULL),
    forward jsonb NOT NULL CHECK (jsonb_typeof(forward) = 'array'),
    inverse jsonb NOT NULL CHECK (jsonb_typeof(inverse) = 'array'),
    PRIMARY KEY (resource_id, version),
    -- a retry can only be recognised if its first request left a fingerprint
    CHECK (idempotency_key IS NULL OR fingerprint IS NOT NULL)
);

-- Idempotency keys are scoped to the actor (docs/api.md). Unique, so two concurrent first
-- requests with one key cannot both be applied: the second insert fails and the worker
-- answers 409. Partial, so unkeyed actions cost no index entry here.
-- store.c recognises this index by name: keep the name.
CREATE UNIQUE INDEX IF NOT EXISTS action_log_idempotency_key
    ON action_log (actor, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Audits ask "what happened between t1 and t2". Rows arrive in applied_at order, so a
-- BRIN index answers that for a few pages of index and almost no insert cost.
CREATE INDEX IF NOT EXISTS action_log_applied_at ON action_log USING brin (applied_at);

-- Bearer tokens, by SHA-256 only: a copy of this table (a backup, a replica, a
-- careless SELECT) yields no usable credential. Revocation keeps the row so audits
-- can still name the actor of old entries' tokens.
CREATE TABLE IF NOT EXISTS tokens (
    hash text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    actor text NOT NULL CHECK (actor ~ '^[A-Za-z0-9._@-]{1,100}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- `actionctl token revoke` finds all of an actor's tokens.
CREATE INDEX IF NOT EXISTS tokens_actor ON tokens (actor);

-- The append-only guarantee, second layer. The first is that actiond_app is never
-- granted UPDATE, DELETE or TRUNCATE on action_log. This trigger also stops the
-- owner and superusers from changing history by accident (a stray UPDATE in psql, a
-- TRUNCATE ... CASCADE from resources). It cannot stop a determined owner, who may
-- drop the trigger: that takes a deliberate, visible DDL statement.
-- The SQLSTATE is insufficient_privilege, the same one actiond_app gets from the
-- missing grants, so both layers look alike to tools.
CREATE OR REPLACE FUNCTION action_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'action_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Undo an action by appending its inverse, never by editing the log.';
END
$$;

CREATE OR REPLACE TRIGGER action_log_no_update_delete
    BEFORE UPDATE OR DELETE ON action_log
    FOR EACH ROW EXECUTE FUNCTION action_log_refuse_change();

CREATE OR REPLACE TRIGGER action_log_no_truncate
    BEFORE TRUNCATE ON action_log
    FOR EACH STATEMENT EXECUTE FUNCTION action_log_refuse_change();

-- ENABLE ALWAYS: the triggers fire even with session_replication_role = replica, the
-- usual way to skip triggers during bulk loads.
ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_no_update_delete;
ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_no_truncate;

-- Who did what, when, to which resource: the log joined to its resource, without the
-- machinery columns (patches, fingerprints, stored responses).
CREATE OR REPLACE VIEW audit_log AS
SELECT l.applied_at,
       l.actor,
       r.type AS resource_type,
       l.resource_id,
       l.version,
       l.action,
       l.target,
       l.data,
       l.idempotency_key
FROM action_log l
JOIN resources r ON r.id = l.resource_id;

-- The worker's privileges, exactly what src/store/store.c's statements need:
--  * resources: read; insert new rows (id and timestamps come from defaults, so the
--    worker cannot choose them); update only the columns an action changes, never
--    id, type, owner or created_at. No DELETE: deletion is soft.
--  * action_log: read and append; applied_at is left out of the insert grant so the
--    worker cannot backdate an entry. No UPDATE, DELETE or TRUNCATE.
--  * tokens: read only; tokens are issued and revoked by actionctl as the owner.
-- The identity column needs no sequence privilege: INSERT on the table is enough.
GRANT SELECT ON resources, action_log, tokens TO actiond_app;
GRANT INSERT (type, version, data, state, owner) ON resources TO actiond_app;
GRANT UPDATE (version, data, state, updated_at, deleted_at) ON resources TO actiond_app;
GRANT INSERT (resource_id, version, action, target, data, actor, idempotency_key, fingerprint,
              response, forward, inverse) ON action_log TO actiond_app;

GRANT SELECT ON audit_log, action_log, resources TO actiond_auditor;
