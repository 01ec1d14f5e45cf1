/*
 * access.c: roles from a resource's owner and grants, and the answer to a caller
 * without the role a route needs.
 */
#include "doc/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/ptr.h"
#include "base/xalloc.h"

int
access_valid_actor(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > ACCESS_ACTOR_MAX)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n;
}

static enum access_role
grant_of(json_object *grants, const char *actor)
{
    json_object *v;

    if (grants == NULL || !json_object_object_get_ex(grants, actor, &v) ||
        !json_object_is_type(v, json_type_string))
        return ACCESS_NONE;
    return access_parse_grant(json_object_get_string(v));
}

enum access_role
access_role(const char *owner, json_object *grants, const char *actor)
{
    enum access_role own, everyone;

    if (owner != NULL && actor != NULL && strcmp(owner, actor) == 0)
        return ACCESS_OWNER;
    own = actor != NULL ? grant_of(grants, actor) : ACCESS_NONE;
    everyone = grant_of(grants, "*");
    return own > everyone ? own : everyone;
}

const char *
access_role_name(enum access_role role)
{
    switch (role) {
    case ACCESS_READER:
        return "reader";
    case ACCESS_EDITOR:
        return "editor";
    case ACCESS_OWNER:
        return "owner";
    default:
        return "none";
    }
}

enum access_role
access_parse_grant(const char *name)
{
    if (strcmp(name, "reader") == 0)
        return ACCESS_READER;
    if (strcmp(name, "editor") == 0)
        return ACCESS_EDITOR;
    return ACCESS_NONE;
}

enum err_code
access_require(enum access_role role, enum access_role needed, const char *type, int64_t id,
               struct err *err)
{
    if (role >= needed)
        return ERR_OK;
    if (role == ACCESS_NONE)
        return err_fail(err, ERR_NOT_FOUND, NULL, "%s %lld does not exist", type, (long long)id);
    err_fail(err, ERR_FORBIDDEN, NULL, "you are %s of %s %lld; this needs %s",
             role == ACCESS_EDITOR ? "an editor" : "a reader", type, (long long)id,
             needed == ACCESS_OWNER ? "its owner" : "an editor");
    err_put(err, "role", json_object_new_string(access_role_name(role)));
    return ERR_FORBIDDEN;
}

/* An actor a grant may name: an actor's name or "*", not the owner. */
static enum err_code
check_grantee(const char *name, const char *owner, const char *pointer, struct err *err)
{
    if (!access_valid_actor(name) && strcmp(name, "*") != 0)
        return err_fail(err, ERR_BAD_REQUEST, pointer,
                        "an actor's name is 1 to %d of A-Z a-z 0-9 . _ @ -, or \"*\" for everyone",
                        ACCESS_ACTOR_MAX);
    if (owner != NULL && strcmp(name, owner) == 0)
        return err_fail(err, ERR_UNPROCESSABLE, pointer,
                        "%s owns this resource: the owner's access is not a grant", name);
    return ERR_OK;
}

enum err_code
access_check_grant(json_object *grant, int with_role, const char *owner, const char *at,
                   struct err *err)
{
    static const char *const with[] = {"actor", "role", NULL};
    static const char *const without[] = {"actor", NULL};
    json_object *actor, *role;
    const char *unknown;
    char pointer[64];
    enum err_code rc;

    if (!json_object_is_type(grant, json_type_object))
        return err_fail(err, ERR_BAD_REQUEST, at, "must be an object {\"actor\"%s}",
                        with_role ? ", \"role\"" : "");
    unknown = jsonp_unknown_member(grant, with_role ? with : without);
    if (unknown != NULL) {
        char *p = ptr_join(at, unknown);
        rc = err_fail(err, ERR_BAD_REQUEST, p, "unknown member");
        free(p);
        return rc;
    }
    snprintf(pointer, sizeof(pointer), "%s/actor", at);
    if (!json_object_object_get_ex(grant, "actor", &actor) ||
        !json_object_is_type(actor, json_type_string))
        return err_fail(err, ERR_BAD_REQUEST, pointer, "actor must be a string");
    rc = check_grantee(json_object_get_string(actor), owner, pointer, err);
    if (rc != ERR_OK || !with_role)
        return rc;
    snprintf(pointer, sizeof(pointer), "%s/role", at);
    if (!json_object_object_get_ex(grant, "role", &role) ||
        !json_object_is_type(role, json_type_string) ||
        access_parse_grant(json_object_get_string(role)) == ACCESS_NONE)
        return err_fail(err, ERR_BAD_REQUEST, pointer, "role must be reader or editor");
    return ERR_OK;
}

enum err_code
access_check_grants(json_object *grants, const char *owner, const char *at, struct err *err)
{
    enum err_code rc = ERR_OK;

    if (!json_object_is_type(grants, json_type_object))
        return err_fail(err, ERR_BAD_REQUEST, at,
                        "must be an object {\"actor\": \"reader\"|\"editor\", ...}");
    if (json_object_object_length(grants) > ACCESS_GRANTS_MAX)
        return err_fail(err, ERR_UNPROCESSABLE, at, "at most %d grants", ACCESS_GRANTS_MAX);
    json_object_object_foreach(grants, name, role)
    {
        char *p = ptr_join(at, name);
        rc = check_grantee(name, owner, p, err);
        if (rc == ERR_OK && (!json_object_is_type(role, json_type_string) ||
                             access_parse_grant(json_object_get_string(role)) == ACCESS_NONE))
            rc = err_fail(err, ERR_BAD_REQUEST, p, "a grant is \"reader\" or \"editor\"");
        free(p);
        if (rc != ERR_OK)
            break;
    }
    return rc;
}
