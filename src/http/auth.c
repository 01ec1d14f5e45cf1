/*
 * auth.c: bearer token verification with a small per-worker cache of verified token
 * hashes. The cache never holds a token itself, only its hash and actor.
 */
#include "http/auth.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/req.h"
#include "base/digest.h"
#include "base/xalloc.h"

#define AUTH_CACHE_SLOTS 64

struct auth_slot {
    char hash[65];
    char *actor;
    time_t expires;
};

struct auth_cache {
    int ttl;
    struct auth_slot slot[AUTH_CACHE_SLOTS];
};

struct auth_cache *
auth_cache_new(int ttl_seconds)
{
    struct auth_cache *c = xcalloc(1, sizeof(*c));
    c->ttl = ttl_seconds;
    return c;
}

void
auth_cache_free(struct auth_cache *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < AUTH_CACHE_SLOTS; i++)
        free(c->slot[i].actor);
    free(c);
}

static time_t
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* The slot to hold a new entry: an empty or expired one, else the one expiring first. */
static struct auth_slot *
victim(struct auth_cache *c, time_t now)
{
    struct auth_slot *v = &c->slot[0];
    size_t i;

    for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (c->slot[i].actor == NULL || c->slot[i].expires <= now)
            return &c->slot[i];
        if (c->slot[i].expires < v->expires)
            v = &c->slot[i];
    }
    return v;
}

enum err_code
auth_actor(struct auth_cache *c, struct store *s, const char *authorization, const char **actor,
           struct err *err)
{
    char hash[65];
    char *token, *found = NULL;
    time_t now = now_seconds();
    struct auth_slot *slot;
    enum err_code rc;
    size_t i;

    token = req_bearer_token(authorization);
    if (token == NULL)
        return err_fail(err, ERR_UNAUTHORIZED, NULL,
                        authorization ? "the Authorization header is not a Bearer token"
                                      : "this request needs Authorization: Bearer <token>");
    digest_sha256_hex(token, strlen(token), hash);
    free(token);

    for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
        slot = &c->slot[i];
        if (slot->actor != NULL && slot->expires > now && strcmp(slot->hash, hash) == 0) {
            *actor = slot->actor;
            return ERR_OK;
        }
    }
    rc = store_token_actor(s, hash, &found, err);
    if (rc == ERR_UNAUTHORIZED)
        return err_fail(err, ERR_UNAUTHORIZED, NULL, "the token is unknown or revoked");
    if (rc != ERR_OK)
        return rc;
    slot = victim(c, now);
    free(slot->actor);
    memcpy(slot->hash, hash, sizeof(hash));
    slot->actor = found;
    slot->expires = now + c->ttl;
    *actor = slot->actor;
    return ERR_OK;
}
