/*
 * apply.h: the transaction that applies one change to one resource. The caller
 * describes the change (who, what, on which resource, under which precondition and
 * idempotency key); apply locks the row, replays a keyed retry, checks names and
 * preconditions (or merges over what the client missed), compiles and applies the
 * change, threads the undo/redo stacks, writes the row and its log entries, and
 * commits, or changes nothing. It returns an outcome: what happened, as facts. It
 * knows nothing of HTTP; http/api.c turns outcomes into responses.
 */
#ifndef ACTIOND_APPLY_H
#define ACTIOND_APPLY_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "base/err.h"
#include "doc/action.h"
#include "doc/catalog.h"
#include "doc/jsonp.h"
#include "store/store.h"
#include "txn/cache.h"

/* How far back an undo or a merge may reach: each reads every entry since, under the
 * row lock. */
#define APPLY_HISTORY_MAX_SPAN 1000

/* At most this many entity tags of an If-Match list are kept. */
#define APPLY_TAGS_MAX 8

/* What a change is; it decides what the request may name and what is logged. */
enum apply_kind {
    APPLY_ACTIONS,     /* catalog actions and transitions, one or a batch */
    APPLY_VERB,        /* one transition named by its verb */
    APPLY_JSON_PATCH,  /* RFC 6902 JSON Patch (plus create) */
    APPLY_MERGE_PATCH, /* RFC 7396 merge patch */
    APPLY_DELETE,      /* marks the resource deleted */
    APPLY_UNDO,        /* reverts the top of the undo stack */
    APPLY_REDO,        /* re-applies the top of the redo stack */
    APPLY_SHARE,       /* grants an actor a role: data {"actor", "role"} */
    APPLY_UNSHARE,     /* takes an actor's grant back: data {"actor"} */
    APPLY_CREATE,      /* a new resource with the change's data */
    APPLY_DUPLICATE    /* a new resource copying the change's resource */
};

/* What one change may cost; each is refused with nothing changed (docs/api.md,
 * "Limits"). */
struct apply_limits {
    size_t max_document;       /* bytes of the document a change leaves: 413 */
    size_t max_document_depth; /* its nesting: 422 */
    size_t max_patch_ops;      /* operations in one JSON Patch: 422 */
    size_t max_log_bytes;      /* what one request adds to the log: 413 */
};

/* The resources and settings one worker process's transactions share. Borrowed. */
struct apply_ctx {
    struct store *store;
    struct cache *cache;               /* documents this process wrote last; may be NULL */
    const struct jsonp_limits *limits; /* for reading back a kept document */
    struct apply_limits bounds;
};

/* An If-Match precondition as the client sent it (RFC 9110 section 13.1.1). */
struct apply_if_match {
    int sent;   /* the header was present */
    int any;    /* it was "*": asserts existence only */
    int single; /* it was exactly one strong tag, tags[0] */
    size_t n;   /* strong tags that name a version */
    int64_t tags[APPLY_TAGS_MAX];
};

/* One change, described by the caller. Everything is borrowed. */
struct apply_change {
    enum apply_kind kind;
    const struct catalog_type *type;
    int64_t id; /* the resource; 0 for APPLY_CREATE */
    const char *actor;
    const struct action_request *ar; /* the items; NULL for APPLY_CREATE and DUPLICATE */
    struct apply_if_match if_match;
    const char *key;         /* the idempotency key, or NULL */
    const char *fingerprint; /* apply_fingerprint of the keyed request */
    int undo_own;            /* APPLY_UNDO: only the actor's own latest change */
    json_object *data;       /* APPLY_CREATE: the initial document */
    json_object *grants;     /* APPLY_CREATE: the initial grants (checked), or NULL */
    const char *source;      /* APPLY_DUPLICATE: how the log names the source */
};

/*
 * What happened. On success: the change applied (or, with `replayed`, the first answer
 * to the same keyed request). On failure the error says why, and `missed_since`, when
 * not 0, is the version from which the log holds what the client had not seen.
 * Owned; release with apply_outcome_clear.
 */
struct apply_outcome {
    int replayed;
    int64_t id;           /* the resource changed or created */
    int64_t version;      /* its version after the change */
    json_object *answer;  /* the answer's members; NULL when the change has no body */
    char *doc_text;       /* the document after the change, JSON text; NULL: in answer */
    struct store_row row; /* APPLY_CREATE and DUPLICATE: the resource as created */
    int64_t missed_since;
};

void apply_outcome_clear(struct apply_outcome *o);

/*
 * Applies `ch` in one transaction: fills *out and returns ERR_OK, or returns the
 * failure's code with `err` filled (and out->missed_since where it applies); nothing
 * has changed then. Access is decided on the row the transaction read (locked, or the
 * kept version its write is conditional on): an actor without a role gets
 * ERR_NOT_FOUND as for a missing resource, one without the role the kind needs
 * ERR_FORBIDDEN (access.h). A keyed request whose key was used for a different
 * request is ERR_UNPROCESSABLE ("idempotency-key-reused").
 */
enum err_code apply_change(const struct apply_ctx *ctx, const struct apply_change *ch,
                           struct apply_outcome *out, struct err *err);

/*
 * A fingerprint of what a keyed request asks for, so that a retry can be told from a
 * different request reusing its key: `what` (the caller's name for the operation, such
 * as its method and path) and `body` without its `id` member. Malloc'd hex.
 */
char *apply_fingerprint(const char *what, json_object *body);

/* The log's action name of a change that is not a catalog action, or NULL. */
const char *apply_builtin_name(enum apply_kind kind);

#endif
