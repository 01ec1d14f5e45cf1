/*
 * access.h: who may do what to a resource. The creator owns it; the owner grants other
 * actors (or "*", every authenticated actor) the role of reader or editor. A caller
 * with no role gets the same answer as for a resource that does not exist. Pure: the
 * owner and the grants come from the resource's row.
 */
#ifndef ACTIOND_ACCESS_H
#define ACTIOND_ACCESS_H

#include <stdint.h>
#include <json-c/json.h>

#include "base/err.h"

/* Ordered: each role may do everything the ones before it may. */
enum access_role {
    ACCESS_NONE,
    ACCESS_READER, /* read the resource, its log and its feed; duplicate it */
    ACCESS_EDITOR, /* and change it: actions, verbs, PATCH, undo, redo */
    ACCESS_OWNER   /* and delete it, share it and unshare it */
};

/* An actor's name: 1 to 100 of A-Z a-z 0-9 . _ @ - (the CHECK on tokens.actor). */
#define ACCESS_ACTOR_MAX 100
int access_valid_actor(const char *name);

/* The grant the object's "*" member or the actor's own gives, whichever is higher. */
enum access_role access_role(const char *owner, json_object *grants, const char *actor);

/* "reader", "editor" or "owner"; "none" for ACCESS_NONE. */
const char *access_role_name(enum access_role role);

/* The role a grant names: ACCESS_READER or ACCESS_EDITOR for "reader" or "editor",
 * else ACCESS_NONE. */
enum access_role access_parse_grant(const char *name);

/* At most this many grants per resource: they travel with every read of its row. */
#define ACCESS_GRANTS_MAX 100

/*
 * Checks one grant, {"actor": A, "role": R} (`with_role`) or {"actor": A}, for a
 * resource owned by `owner`: A is an actor's name or "*", not the owner; R is reader or
 * editor. Pointers are under `at` ("/data"). Errors: ERR_BAD_REQUEST for the shape,
 * ERR_UNPROCESSABLE for naming the owner.
 */
enum err_code access_check_grant(json_object *grant, int with_role, const char *owner,
                                 const char *at, struct err *err);

/*
 * Checks a whole set of grants {"actor": "reader"|"editor", ...} as a create takes it
 * (pointers under `at`, "/access"): the same rules, at most ACCESS_GRANTS_MAX.
 */
enum err_code access_check_grants(json_object *grants, const char *owner, const char *at,
                                  struct err *err);

/*
 * ERR_OK when `role` is at least `needed`. Otherwise ERR_NOT_FOUND for no role at all,
 * worded as for an id that does not exist ("clips 12 does not exist"), or
 * ERR_FORBIDDEN naming the role the caller has (problem member "role").
 */
enum err_code access_require(enum access_role role, enum access_role needed, const char *type,
                             int64_t id, struct err *err);

#endif
