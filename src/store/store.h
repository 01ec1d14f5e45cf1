/*
 * store.h: everything actiond keeps in PostgreSQL, behind one libpq connection per
 * process with prepared statements. It knows resources, log entries, tokens and
 * transactions; it knows nothing of HTTP. sql/ holds the schema it expects.
 *
 * Every function returns ERR_OK or an error code with `err` filled; a lost connection
 * gives ERR_UNAVAILABLE (the next call reconnects). After a failure inside a
 * transaction the transaction has been rolled back.
 */
#ifndef ACTIOND_STORE_H
#define ACTIOND_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "base/err.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

struct store;

/* A resource row. Strings and `data` are owned; release with store_row_clear. */
struct store_row {
    int64_t id;
    char *type;
    int64_t version;
    json_object *data; /* NULL for a JSON null document, and after store_read */
    char *data_text;   /* store_read: the document's JSON text, or NULL when not sent */
    char *state;       /* NULL for types without a state machine */
    char *owner;
    char *created_at; /* RFC 3339, UTC */
    char *updated_at;
    int deleted;
    int64_t undo_top;    /* the log version on top of the undo stack; 0 when empty */
    int64_t redo_top;    /* likewise for the redo stack */
    json_object *access; /* the owner's grants {"actor": "reader"|"editor"}; NULL: none */
};

void store_row_clear(struct store_row *r);

/* One log entry to append. Everything is borrowed from the caller. */
struct store_entry {
    const char *action;
    json_object *target;        /* as sent, or NULL */
    json_object *data;          /* as sent, or NULL */
    json_object *forward;       /* JSON Patch applied (array) */
    json_object *inverse;       /* JSON Patch that undoes it (array) */
    const char *state;          /* the resource's state after the entry, or NULL */
    int64_t stack_prev;         /* the entry below this one on its undo/redo stack; 0: none */
    int64_t unit_first;         /* the first version of the unit this entry closes; 0: itself */
    int64_t reverts;            /* for undo/redo: the version reverted; 0: none */
    json_object *touches;       /* what the entry touched (touch.h), or NULL */
    int64_t based_on;           /* a merged entry: the version its client had seen; 0: none */
    const int64_t *merged_over; /* a merged entry: the versions it was merged over */
    size_t n_merged_over;
};

/* A log entry as undo and redo read it back. Owned; release with store_logent_free. */
struct store_logent {
    int64_t version;
    char *action;
    char *actor;
    json_object *forward;
    json_object *inverse;
    char *state;
    int64_t stack_prev;
    int64_t unit_first; /* equals version for an entry that is a unit by itself */
    int64_t reverts;
    char *applied_at;
    json_object *touches; /* NULL when the entry recorded none */
    int has_touches;
    json_object *data; /* the entry's data (a creation's grants, a share's); NULL: none */
};

void store_logent_free(struct store_logent *list, size_t n);

/*
 * What a keyed request leaves for its retries: the key, a canonical fingerprint of the
 * request, and the answer to give back as JSON text ({"status", "body"?, "location"?}).
 * Borrowed; NULL key means none.
 */
struct store_idem {
    const char *key;
    const char *fingerprint;
    const char *response;
};

/* A stored first response found for an idempotency key. Owned; store_replay_clear. */
struct store_replay {
    int64_t resource_id;
    int64_t version;
    char *fingerprint;
    json_object *response;
};

void store_replay_clear(struct store_replay *r);

/*
 * Creates the handle; the connection is made by the first call that needs it (any
 * function below connects, and reconnects after a loss, by itself). Never NULL.
 * `conninfo` is a libpq connection string or URI (copied). Every session bounds one
 * statement to `statement_timeout_ms` and a wait for a row lock to `lock_timeout_ms`;
 * running into either is ERR_UNAVAILABLE with the transaction rolled back.
 */
struct store *store_open(const char *conninfo, int statement_timeout_ms, int lock_timeout_ms);

/* Closes the connection and frees the handle. Accepts NULL. */
void store_close(struct store *s);

/*
 * Makes sure the connection is usable: reconnects and prepares the statements again
 * when it was lost. ERR_UNAVAILABLE when the database cannot be reached.
 */
enum err_code store_ready(struct store *s, struct err *err);

/* One round trip to the server: ERR_OK when it answers, ERR_UNAVAILABLE when not. */
enum err_code store_ping(struct store *s, struct err *err);

/* A bearer token as the database knows it. `actor` is owned; store_token_clear. */
struct store_token {
    int64_t id;
    char *actor;
    double expires_at; /* seconds since the Unix epoch; 0 when it never expires */
    int expired;       /* the database's clock has reached expires_at */
    int revoked;
};

void store_token_clear(struct store_token *t);

/*
 * The token whose SHA-256 is `hash_hex` (64 lowercase hex digits) into *out, revoked
 * and expired ones too: the caller decides what it accepts. ERR_NOT_FOUND when no token
 * has that digest. One round trip.
 */
enum err_code store_token_lookup(struct store *s, const char *hash_hex, struct store_token *out,
                                 struct err *err);

/* The token ids store_poll_revocations names at most; beyond them it reports `all`. */
#define STORE_REVOKED_MAX 32

/*
 * Tokens that may no longer be what a caller verified earlier: the ids of tokens
 * revoked, given another expiry, re-assigned or deleted, as sql/007_tokens.sql's
 * triggers announce them; or `all`, when any token may have changed unannounced.
 */
struct store_revoked {
    int all;
    size_t n;
    int64_t ids[STORE_REVOKED_MAX];
};

/*
 * What the database has announced about tokens since the last call, into *out, without
 * a round trip: it reads only what the server has already sent on the connection, which
 * LISTENs from the moment it is made. Returns 1 when there is anything to forget, else
 * 0. `all` is set after a new connection (announcements made while there was none are
 * lost), without a connection, for a TRUNCATE, and when more has arrived than one call
 * reads or out->ids holds. Call it after store_ready, before trusting a token verified
 * earlier: a change committed before the call is reported once the server has sent it,
 * which it does within milliseconds of the commit (docs/access.md).
 */
int store_poll_revocations(struct store *s, struct store_revoked *out);

/*
 * Records that tokens ids[0..n) were used: sets their last_used_at to now, except where
 * it was set less than `interval_seconds` ago. One statement, its own transaction, on
 * the connection as it is: without one (or inside a transaction) it connects to
 * nothing and answers ERR_UNAVAILABLE, so a caller between requests never waits for a
 * database that is gone.
 */
enum err_code store_token_used(struct store *s, const int64_t *ids, size_t n, int interval_seconds,
                               struct err *err);

/*
 * Inserts a resource of `type` at version 1 owned by `actor` with `data`, `state` and
 * the grants `access` (NULL: none),
 * and its creation log entry (version 1, carrying `idem` when it is not NULL) in one
 * transaction. Fills *out. ERR_CONFLICT when the key
 * was taken concurrently.
 */
enum err_code store_create(struct store *s, const char *type, json_object *data, const char *state,
                           json_object *access, const char *actor, const struct store_entry *entry,
                           const struct store_idem *idem, struct store_row *out, struct err *err);

/* Reads a resource. ERR_NOT_FOUND when no resource of `type` has `id`; a deleted one is
 * returned with deleted = 1. */
enum err_code store_get(struct store *s, const char *type, int64_t id, struct store_row *out,
                        struct err *err);

/*
 * Reads a resource for a GET: like store_get, but the document stays the JSON text the
 * database renders (out->data_text; out->data stays NULL), so it is neither parsed nor
 * serialised again; and at version `unless_version` (> 0; 0 for none) the document is
 * not sent at all (out->data_text NULL): the caller answers 304 Not Modified.
 */
enum err_code store_read(struct store *s, const char *type, int64_t id, int64_t unless_version,
                         struct store_row *out, struct err *err);

/* Reads what decides who may see a resource's log, without its document or a lock:
 * out->id, version, deleted, owner and access. */
enum err_code store_meta(struct store *s, const char *type, int64_t id, struct store_row *out,
                         struct err *err);

/*
 * Lists live resources of `type` that `actor` may read (its own, and those shared with
 * it or with everyone) with id > `after`, ascending, at most `limit`.
 * *rows is a malloc'd array of *n rows; release each with store_row_clear, then free.
 */
enum err_code store_list(struct store *s, const char *type, const char *actor, int64_t after,
                         int limit, struct store_row **rows, size_t *n, struct err *err);

/*
 * The log of resource `id` with version > `since`, oldest first, at most `limit`
 * entries, appended to `out` as the text of one JSON array of objects, one member per
 * column: {version, action, target, data, actor, applied_at, idempotency_key, forward,
 * inverse, state, reverts, touches, based_on, merged_over}. The JSON columns are copied
 * as PostgreSQL renders them, never parsed: handing rows up for the HTTP layer to write
 * would parse and write again every patch, target and touch set of a page, measured at
 * 2.5-5.5 ms for a page of 1,000 entries against 35-45 us for the copy. *n gets the
 * number of entries, *last the last one's version.
 */
enum err_code store_log(struct store *s, int64_t id, int64_t since, int limit, struct sbuf *out,
                        size_t *n, int64_t *last, struct err *err);

/*
 * The log entries after version `after`, at most `limit`, with only version, touches
 * and has_touches filled: what a merging request checks for overlap. The
 * caller sets `after` and `limit`; `ents` is owned (store_touches_clear).
 */
struct store_touches {
    int64_t after;
    int limit;
    struct store_logent *ents;
    size_t n;
};

void store_touches_clear(struct store_touches *t);

/*
 * Begins a transaction and locks the resource row (SELECT ... FOR UPDATE), filling *out
 * and *txn_time (the transaction's timestamp, RFC 3339, malloc'd: every entry the
 * transaction appends has it as applied_at). ERR_NOT_FOUND (transaction ended) when
 * there is no such resource of `type`. The caller ends the transaction with
 * store_commit or store_rollback.
 * With `only_version` > 0, a resource at another version is neither locked nor waited
 * for: ERR_CONFLICT (transaction ended) with *out filled from an
 * unlocked read, so the caller can tell the client what the version is now.
 * With `touches` (else NULL), the same round trip reads them too, under the lock: a
 * merging request that names its base version gets what it missed without another
 * round trip while holding the lock.
 */
enum err_code store_lock(struct store *s, const char *type, int64_t id, int64_t only_version,
                         struct store_touches *touches, struct store_row *out, char **txn_time,
                         struct err *err);

/*
 * The stored first response for (actor, key), if any: inside store_lock's transaction
 * (which stays open), or on its own.
 * ERR_OK with *found = 1 and *out filled, or *found = 0.
 */
enum err_code store_find_key(struct store *s, const char *actor, const char *key, int *found,
                             struct store_replay *out, struct err *err);

/*
 * Writes the locked resource's new state (row->version, row->data, row->state,
 * row->deleted), appends `n` log entries with versions row->version - n + 1 ..
 * row->version by `actor` (the first one carrying `idem` when given), and commits.
 * `data_text` is row->data's JSON text (jsonp_str), which the caller needs for its
 * response too, so the document is serialised once.
 * ERR_CONFLICT when the key was taken concurrently.
 */
enum err_code store_commit(struct store *s, const struct store_row *row, const char *data_text,
                           const struct store_entry *entries, size_t n, const char *actor,
                           const struct store_idem *idem, struct err *err);

/*
 * Without store_lock: writes the resource's new state (as store_commit) and the one
 * log entry `entry` in a single statement that is its own transaction, one round trip,
 * provided the stored row is still at version row->version - 1, the version the caller
 * compiled the entry against from a document it kept (cache.h). *applied_at gets the
 * entry's time (malloc'd, or NULL on failure). ERR_CONFLICT when
 * the row is at another version or gone: nothing was written, and the caller starts
 * over with store_lock.
 */
enum err_code store_write_at(struct store *s, const struct store_row *row, const char *data_text,
                             const struct store_entry *entry, const char *actor, char **applied_at,
                             struct err *err);

/*
 * The log entries of resource `id` with versions from..to (inside store_lock's
 * transaction, which stays open, or on their own),
 * in order, as a malloc'd array of *n (release with store_logent_free).
 */
enum err_code store_entries(struct store *s, int64_t id, int64_t from, int64_t to,
                            struct store_logent **out, size_t *n, struct err *err);

/*
 * Inside the transaction: walks the stack whose top is version `top` and stores in
 * *version the first entry not yet reverted by an entry whose action is `reverted_by`
 * ("undo" for the undo stack, "redo" for the redo stack), restricted to `actor` unless
 * NULL. *version is 0 when there is none.
 */
enum err_code store_stack_top(struct store *s, int64_t id, int64_t top, const char *actor,
                              const char *reverted_by, int64_t *version, struct err *err);

/* Rolls back the open transaction, if any. */
void store_rollback(struct store *s);

#endif
