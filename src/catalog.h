/*
 * catalog.h: the catalog of resource types (SPEC section 2), loaded from a JSON file
 * at start. A type declares its initial document, an optional state machine, and its
 * named actions as steps of generic operations; docs/catalog.md is the format.
 * The catalog is immutable once loaded and outlives every request.
 */
#ifndef ACTIOND_CATALOG_H
#define ACTIOND_CATALOG_H

#include <json-c/json.h>

#include "err.h"

/* The longest type, action, verb or state name; names match ^[a-z][a-z0-9_]*$. */
#define CAT_NAME_MAX 64

struct catalog;
struct cat_type;
struct cat_action;

enum cat_action_kind {
    CAT_EDIT,       /* changes the document through steps */
    CAT_TRANSITION, /* moves the state machine */
    CAT_DUPLICATE   /* copies the resource (a verb) */
};

/*
 * Reads and validates the catalog file at `path`. Returns a catalog the caller
 * releases with catalog_free, or NULL with err->detail naming the file and the JSON
 * Pointer of the first invalid member ("catalog.json: /types/clips/actions/x/steps/0/op:
 * unknown operation \"frobnicate\"") and err->code AD_BAD_REQUEST (invalid content)
 * or AD_INTERNAL (the file cannot be read).
 */
struct catalog *catalog_load(const char *path, struct ad_error *err);

/* Like catalog_load, from an already parsed tree; `source` names it in messages. */
struct catalog *catalog_from_json(json_object *root, const char *source, struct ad_error *err);

void catalog_free(struct catalog *c);

/* The type called `name`, or NULL. Borrowed from the catalog. */
const struct cat_type *catalog_type(const struct catalog *c, const char *name);

const char *cat_type_name(const struct cat_type *t);

/* The document a new resource starts with when the client sends none (borrowed). */
json_object *cat_type_initial(const struct cat_type *t);

/* The initial state, or NULL when the type has no state machine. */
const char *cat_type_initial_state(const struct cat_type *t);

/* 1 when the type accepts any JSON value as its document (not only objects). */
int cat_type_any_document(const struct cat_type *t);

/*
 * The action or verb called `name` (document actions, transitions and verbs share one
 * namespace), or NULL. Borrowed.
 */
const struct cat_action *cat_type_action(const struct cat_type *t, const char *name);

/*
 * The names usable on a resource in `state` (NULL for stateless types), in catalog
 * order: document actions, then transitions allowed from `state`, then verbs.
 * A new JSON array of strings; the caller releases it.
 */
json_object *cat_type_allowed(const struct cat_type *t, const char *state);

/* The verbs (transitions allowed from `state`, and duplicate-like verbs) as a new array. */
json_object *cat_type_verbs(const struct cat_type *t, const char *state);

const char *cat_action_name(const struct cat_action *a);
enum cat_action_kind cat_action_kind(const struct cat_action *a);

/* 1 when applying the action needs expected_version or If-Match (SPEC 3.1). */
int cat_action_needs_precondition(const struct cat_action *a);

/* 1 when a stale version merges without the client asking ("merge": "always"). */
int cat_action_always_merges(const struct cat_action *a);

/* For a transition: 1 when allowed from `state`; the state it leads to. */
int cat_action_allowed_from(const struct cat_action *a, const char *state);
const char *cat_action_to_state(const struct cat_action *a);

/* A transition of `t` leading from state `from` to state `to`, or NULL (undo uses it). */
const struct cat_action *cat_type_transition(const struct cat_type *t, const char *from,
                                             const char *to);

#endif
