/*
 * action.h: the action envelope (docs/api.md) and the action compiler. action_parse
 * validates a request body into a struct action_request; action_apply compiles one
 * action against the current document into a JSON Patch (and its inverse) and applies
 * it. Neither knows HTTP nor SQL.
 */
#ifndef ACTIOND_ACTION_H
#define ACTIOND_ACTION_H

#include <stdint.h>
#include <stddef.h>
#include <json-c/json.h>

#include "doc/catalog.h"
#include "base/err.h"

#define ACTION_MAX_BATCH 100
#define ACTION_MAX_ID 200

struct action {
    char *name;          /* owned */
    json_object *target; /* owned; NULL when absent */
    json_object *data;   /* owned; NULL when absent */
};

struct action_request {
    struct action *items; /* owned array of n */
    size_t n;
    int batch; /* 1 for {"actions": [...]} */
    int has_expected_version;
    int64_t expected_version;
    int merge; /* "on_conflict": "merge": a stale version merges when disjoint */
    char *id;  /* the idempotency key from the body, owned; NULL when absent */
};

/*
 * Validates `body` as a single envelope
 *   {"action", "target"?, "data"?, "expected_version"?, "on_conflict"?, "id"?}
 * or a batch {"actions": [{"action","target"?,"data"?}...], "expected_version"?,
 * "on_conflict"?, "id"?}. on_conflict is "reject" (the default) or "merge".
 * Unknown members, wrong types, an empty or oversized batch, an expected_version that
 * is not an integer >= 1, an id that is not 1..ACTION_MAX_ID printable ASCII characters,
 * an action name over CATALOG_NAME_MAX bytes: ERR_BAD_REQUEST with the pointer of the member.
 * "data": null counts as no data. Does not look at the catalog. On success fills *out
 * (release with action_request_free); on failure *out is empty.
 */
enum err_code action_parse(json_object *body, struct action_request *out, struct err *err);

void action_request_free(struct action_request *r);

/* What applying one action did, owned by the struct (release with action_effect_clear). */
struct action_effect {
    json_object *forward; /* JSON Patch applied to the document (array, maybe empty) */
    json_object *inverse; /* JSON Patch restoring the previous document */
    json_object *result;  /* members for the response, e.g. {"region_id": "..."}; or NULL */
    char *new_state;      /* for transitions, the new state; NULL when unchanged */
};

void action_effect_clear(struct action_effect *e);

/*
 * Compiles `a` (an action of kind CATALOG_EDIT or CATALOG_TRANSITION of type `t`) against *doc
 * and the resource's `state`, and applies it to *doc (ownership of *doc is taken and
 * given back, as in patch_apply). All or nothing: on failure *doc is unchanged and
 * *eff is empty. `eff` is overwritten (pass it zeroed or cleared); on success it holds
 * the patches, `result` when a step assigned an id, and for a transition `new_state`
 * (forward and inverse then empty arrays; *doc is untouched). An edit whose steps
 * change nothing succeeds with empty patches.
 * `pointer_prefix` ("" or "/actions/2") prefixes pointers in errors.
 * Every 400 of target and data comes before any 422 of their values.
 * Errors (docs/catalog.md lists the slugs):
 *   ERR_NOT_FOUND      unknown action ("unknown-action"), or a verb such as duplicate,
 *                     which has its own route ("verb-not-an-action"); both pointer
 *                     "/action" and carry allowed_actions;
 *   ERR_BAD_REQUEST    target/data of the wrong shape (pointer "/data/x");
 *   ERR_UNPROCESSABLE  a member outside its declared bounds or lengths, or a number
 *                     beyond +-(2^53 - 1) for a member declared integer or number
 *                     ("out-of-range", pointer "/data/x"); a broken cross-member rule
 *                     ("invalid-range", pointer of the rule's second member); target
 *                     not found (pointer "/target/frame"), duplicate key (pointer
 *                     "/data/frame"), a missing document path, invalid value;
 *   ERR_CONFLICT       transition not allowed from `state`, with allowed_actions;
 *   ERR_INTERNAL       no randomness for a UUID.
 */
enum err_code action_apply(const struct catalog_type *t, const struct action *a, const char *state,
                           const char *pointer_prefix, json_object **doc, struct action_effect *eff,
                           struct err *err);

#endif
