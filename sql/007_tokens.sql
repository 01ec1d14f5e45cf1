-- 007_tokens.sql: tokens with a lifecycle. An actor may hold several tokens, each with
-- an id that `actionctl token list` shows and `actionctl token revoke --id` takes; a
-- token may expire; the workers record when each was last used; and every change that
-- can end a token's validity is announced to the workers at once (NOTIFY), so that they
-- can trust the tokens they have verified without asking the database on every request.
-- Run by `actionctl migrate` as actiond_owner inside one transaction.

-- Existing rows get ids in the order PostgreSQL reads them; new ones from the identity.
-- The hash stays the primary key: it is what a request looks a token up by.
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;
-- NULL: never expires. Set once, at creation; a token that should end sooner is revoked.
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE tokens ADD CONSTRAINT tokens_expires_after_creation
    CHECK (expires_at > created_at);
-- When a worker last accepted the token, to about a minute: each worker writes it at
-- most once a minute per token, and only when the stored value is a minute old.
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS last_used_at timestamptz;

-- `actionctl token revoke --id` and `token list` (in id order) find tokens by id.
CREATE UNIQUE INDEX IF NOT EXISTS tokens_id ON tokens (id);

-- Every change that can make a verified token invalid is announced on the channel
-- actiond_tokens, with the token's id as the payload: revocation (and its undoing), a
-- new expiry, a changed hash or actor, deletion. TRUNCATE announces an empty payload,
-- which a worker reads as "forget every token". A notification is delivered when the
-- transaction commits, and never when it rolls back. Each worker LISTENs on its
-- connection and forgets the named token before it authenticates its next request
-- (src/http/auth.c). The workers' own writes (last_used_at) announce nothing: the
-- UPDATE trigger fires only for the columns it names.
-- The channel name is also in src/store/store.c (STORE_TOKEN_CHANNEL): keep both.
CREATE OR REPLACE FUNCTION tokens_announce_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('actiond_tokens', '');
    ELSE
        PERFORM pg_notify('actiond_tokens', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER tokens_announce_update
    AFTER UPDATE OF hash, actor, expires_at, revoked_at ON tokens
    FOR EACH ROW
    WHEN (OLD.hash IS DISTINCT FROM NEW.hash OR OLD.actor IS DISTINCT FROM NEW.actor
          OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION tokens_announce_change();

CREATE OR REPLACE TRIGGER tokens_announce_delete
    AFTER DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_announce_change();

CREATE OR REPLACE TRIGGER tokens_announce_truncate
    AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_announce_change();

-- ENABLE ALWAYS: a session with session_replication_role = replica (a bulk load, a
-- restore) still announces what it changes.
ALTER TABLE tokens ENABLE ALWAYS TRIGGER tokens_announce_update;
ALTER TABLE tokens ENABLE ALWAYS TRIGGER tokens_announce_delete;
ALTER TABLE tokens ENABLE ALWAYS TRIGGER tokens_announce_truncate;

-- The workers record use and nothing else: UPDATE of last_used_at only. They still
-- cannot issue, revoke, extend or re-assign a token. (Their UPDATE's WHERE clause reads
-- id and last_used_at, which SELECT on the table from 001_core.sql covers.)
GRANT UPDATE (last_used_at) ON tokens TO actiond_app;
