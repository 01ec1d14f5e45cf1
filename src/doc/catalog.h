/*
 * catalog.h: the catalog of resource types (docs/catalog.md), loaded from a JSON file
 * at start. A type declares its initial document, an optional state machine, and its
 * named actions as steps of generic operations; docs/catalog.md is the format.
 * The catalog is immutable once loaded and outlives every request.
 */
#ifndef ACTIOND_CATALOG_H
#define ACTIOND_CATALOG_H

#include <json-c/json.h>

#include "base/err.h"

/* The longest type, action, verb or state name; names match ^[a-z][a-z0-9_]*$. */
#define CATALOG_NAME_MAX 64

struct catalog;
struct catalog_type;
struct catalog_action;

enum catalog_action_kind {
    CATALOG_EDIT,       /* changes the document through steps */
    CATALOG_TRANSITION, /* moves the state machine */
    CATALOG_DUPLICATE   /* copies the resource (a verb) */
};

/*
 * Reads and validates the catalog file at `path`. Returns a catalog the caller
 * releases with catalog_free, or NULL with err->detail naming the file and the JSON
 * Pointer of the first invalid member ("catalog.json: /types/clips/actions/x/steps/0/op:
 * unknown operation \"frobnicate\"") and err->code ERR_BAD_REQUEST (invalid content)
 * or ERR_INTERNAL (the file cannot be read).
 */
struct catalog *catalog_load(const char *path, struct err *err);

/* Like catalog_load, from an already parsed tree; `source` names it in messages. */
struct catalog *catalog_from_json(json_object *root, const char *source, struct err *err);

void catalog_free(struct catalog *c);

/* The type called `name`, or NULL. Borrowed from the catalog. */
const struct catalog_type *catalog_find_type(const struct catalog *c, const char *name);

const char *catalog_type_name(const struct catalog_type *t);

/* The document a new resource starts with when the client sends none (borrowed). */
json_object *catalog_type_initial(const struct catalog_type *t);

/* The initial state, or NULL when the type has no state machine. */
const char *catalog_type_initial_state(const struct catalog_type *t);

/* 1 when the type accepts any JSON value as its document (not only objects). */
int catalog_type_any_document(const struct catalog_type *t);

/*
 * The action or verb called `name` (document actions, transitions and verbs share one
 * namespace), or NULL. Borrowed.
 */
const struct catalog_action *catalog_type_action(const struct catalog_type *t, const char *name);

/*
 * The names usable on a resource in `state` (NULL for stateless types), in catalog
 * order: document actions, then transitions allowed from `state`, then verbs.
 * A new JSON array of strings; the caller releases it.
 */
json_object *catalog_type_allowed(const struct catalog_type *t, const char *state);

/* The verbs (transitions allowed from `state`, and duplicate-like verbs) as a new array. */
json_object *catalog_type_verbs(const struct catalog_type *t, const char *state);

const char *catalog_action_name(const struct catalog_action *a);
enum catalog_action_kind catalog_action_kind(const struct catalog_action *a);

/* 1 when applying the action needs expected_version or If-Match. */
int catalog_action_needs_precondition(const struct catalog_action *a);

/* 1 when a stale version merges without the client asking ("merge": "always"). */
int catalog_action_always_merges(const struct catalog_action *a);

/* For a transition: 1 when allowed from `state`; the state it leads to. */
int catalog_action_allowed_from(const struct catalog_action *a, const char *state);
const char *catalog_action_to_state(const struct catalog_action *a);

/* A transition of `t` leading from state `from` to state `to`, or NULL (undo uses it). */
const struct catalog_action *catalog_type_transition(const struct catalog_type *t, const char *from,
                                                     const char *to);

#endif
