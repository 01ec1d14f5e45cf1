/*
 * api_impl.h: what the HTTP layer's two files share and nothing else may use: the
 * per-request call, how a change arrived, the representation and link builders
 * (api.c), and the transaction pipeline that applies a change (apply.c).
 */
#ifndef ACTIOND_API_IMPL_H
#define ACTIOND_API_IMPL_H

#include <stdint.h>
#include <json-c/json.h>

#include "doc/action.h"
#include "http/auth.h"
#include "doc/catalog.h"
#include "doc/jsonp.h"
#include "http/req.h"
#include "http/resp.h"
#include "store/store.h"

/* How far back an undo or a merge may reach: each reads every entry since, under the
 * row lock. */
#define HISTORY_MAX_SPAN 1000

struct api {
    struct store *store;
    const struct catalog *catalog;
    struct auth_cache *auth;
    struct cache *cache; /* documents this process wrote last (cache.h); may be NULL */
    size_t max_body;
    struct jsonp_limits limits;
};

/* What one request carries through its handler; owned by api_handle's frame. */
struct call {
    struct api *api;
    struct req *req;
    struct resp *resp;
    struct err err;
    const char *actor;
    const struct catalog_type *type;
    int64_t id;
    const char *allow; /* the Allow header of a 405 */
    int accept_patch;  /* advertise the patch formats (RFC 5789 section 3.1) */
};

/* How a change arrived; it decides what the request may name and how it answers. */
enum via {
    VIA_ACTIONS,     /* POST /{type}/{id}/actions: catalog actions and transitions */
    VIA_VERB,        /* POST /{type}/{id}/{verb}: a transition, 204 */
    VIA_JSON_PATCH,  /* PATCH, application/json-patch+json */
    VIA_MERGE_PATCH, /* PATCH, application/merge-patch+json */
    VIA_DELETE,      /* DELETE, 204 */
    VIA_UNDO,        /* POST .../undo or {"action": "undo"} */
    VIA_REDO         /* POST .../redo or {"action": "redo"} */
};

/* What an undo or redo needs beyond the request, and what it found. */
struct history_step {
    int actor_scope;     /* {"scope": "actor"}: the caller's own most recent change */
    int64_t reverts;     /* the version reverted */
    int64_t target_prev; /* that entry's stack_prev: the new top if it was the top */
};

/* "<mount>/<type>/<id><suffix>", newly allocated. */
char *api_href(const struct call *c, int64_t id, const char *suffix);

/* {"href": href, "method"?: method}; takes ownership of `href` (malloc'd). */
json_object *api_link(char *href, const char *method);

/* The link that performs action `name` on resource `id`: its verb route or /actions. */
json_object *api_action_link(const struct call *c, int64_t id, const char *name);

/* {"name": link, ...} for an array of action names (borrowed). A new object. */
json_object *api_action_links(const struct call *c, int64_t id, json_object *names);

/* The representation of a resource (SPEC 3) with its _links: a new object. */
json_object *api_representation(const struct call *c, const struct store_row *row);

void api_set_etag(struct call *c, int64_t version);

/* 1 when an If-Match value is the wildcard "*". */
int api_is_wildcard(const char *if_match);

/*
 * The 404 for a name that is not an action (or, with `verbs_only`, a verb) of the
 * resource in `state`, with allowed_actions and their links. Returns ERR_NOT_FOUND.
 */
enum err_code apply_unknown_action(struct call *c, const char *name, int verbs_only,
                                   const char *state);

/*
 * A fingerprint of what a keyed request asks for (the route, and the body without its
 * `id`), so a retry can be told from another request reusing the key. Malloc'd hex.
 */
char *apply_fingerprint(const struct call *c, json_object *body);

/* The log's action name of a change that is not a catalog action, or NULL. */
const char *apply_builtin_name(enum via via);

/*
 * Applies the items of `ar` to the call's resource in one transaction (SPEC 3.1, 4):
 * lock, idempotent replay, names, preconditions or merge, apply, log, commit; any
 * failure rolls everything back. `body` is the request body (for the fingerprint),
 * `key` the idempotency key or NULL, `hs` the undo/redo request (VIA_UNDO/REDO only).
 * Fills the call's response on success; returns the failure's code otherwise.
 */
enum err_code apply_request(struct call *c, const struct action_request *ar, json_object *body,
                            enum via via, const char *key, struct history_step *hs);

#endif
