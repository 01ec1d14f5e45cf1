/*
 * auth.c: bearer token verification with a small per-worker cache of verified tokens.
 * The cache never holds a token itself, only its digest, id, actor and expiry.
 *
 * A verified token is trusted without another round trip until the first of:
 *  - the database announces a change to it (revoked, given another expiry, re-assigned,
 *    deleted: sql/007_tokens.sql). Before each request the worker reads what its
 *    connection has received (store_poll_revocations, no round trip) and stops trusting
 *    the tokens named; after a reconnect it stops trusting every token, since what was
 *    announced while it had no connection is lost;
 *  - its expiry, kept with the entry and checked against this machine's clock on
 *    every request;
 *  - `ttl` seconds after it was verified (--token-cache-seconds): a backstop for a
 *    change nobody announced (a trigger disabled by hand).
 * A token no longer trusted is looked up again; its entry keeps the bookkeeping of its
 * last use meanwhile.
 *
 * Last use: a request with a token this worker has not recorded for AUTH_USE_INTERVAL
 * seconds marks the entry, and auth_record_use writes every marked entry in one
 * statement once the response is out.
 */
#include "http/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/digest.h"
#include "base/xalloc.h"
#include "http/req.h"
#include "http/resp.h"

#define AUTH_CACHE_SLOTS 64

struct auth_slot {
    char hash[DIGEST_SHA256_HEX_LEN + 1];
    int64_t id; /* the token's id; 0: the slot is empty */
    char *actor;
    double expires_at;    /* wall clock, seconds since the epoch; 0: never */
    time_t trusted_until; /* monotonic: verified, and trusted before then */
    time_t used;          /* monotonic: its last request here (the eviction order) */
    time_t recorded;      /* monotonic: when this worker last wrote its last use */
    int has_recorded;
    int use_pending; /* used since, for auth_record_use to write */
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
mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static double
wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Empties a slot. */
static void
forget(struct auth_slot *slot)
{
    free(slot->actor);
    memset(slot, 0, sizeof(*slot));
}

/* Stops trusting what the database announced as changed; a slot keeps its last use. */
static void
distrust_announced(struct auth_cache *c, struct store *s)
{
    struct store_revoked rv;
    size_t i, j;

    if (!store_poll_revocations(s, &rv))
        return;
    for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (c->slot[i].id == 0)
            continue;
        for (j = 0; j < rv.n && !rv.all; j++)
            if (rv.ids[j] == c->slot[i].id)
                break;
        if (rv.all || j < rv.n)
            c->slot[i].trusted_until = 0;
    }
}

/* The slot holding digest `hash`, trusted or not; NULL when none does. */
static struct auth_slot *
find(struct auth_cache *c, const char *hash)
{
    size_t i;

    for (i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (c->slot[i].id != 0 && strcmp(c->slot[i].hash, hash) == 0)
            return &c->slot[i];
    return NULL;
}

/* The slot to hold a new entry: an empty one, else the one used least recently. */
static struct auth_slot *
victim(struct auth_cache *c)
{
    struct auth_slot *v = &c->slot[0];
    size_t i;

    for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (c->slot[i].id == 0)
            return &c->slot[i];
        if (c->slot[i].used < v->used)
            v = &c->slot[i];
    }
    return v;
}

/* A 401 for a bearer token presented and refused: RESP_SLUG_INVALID_TOKEN. */
static enum err_code
invalid_token(struct err *err, const char *why)
{
    enum err_code rc = err_fail(err, ERR_UNAUTHORIZED, NULL, "%s", why);
    err_set_slug(err, RESP_SLUG_INVALID_TOKEN);
    return rc;
}

/*
 * The 401 for a header req_bearer_token found no token in. No header, or another
 * scheme, is a request without a bearer token, whose challenge names no error (RFC
 * 6750 section 3.1); the Bearer scheme with something other than a token after it is
 * a malformed token.
 */
static enum err_code
no_token(const char *authorization, struct err *err)
{
    const char *a = authorization;

    if (a == NULL)
        return err_fail(err, ERR_UNAUTHORIZED, NULL,
                        "this request needs Authorization: Bearer <token>");
    if (strncasecmp(a, "Bearer", 6) != 0 || (a[6] != '\0' && a[6] != ' ' && a[6] != '\t'))
        return err_fail(err, ERR_UNAUTHORIZED, NULL,
                        "the Authorization header is not a Bearer token");
    return invalid_token(err, "the bearer token is malformed");
}

enum err_code
auth_actor(struct auth_cache *c, struct store *s, const char *authorization, const char **actor,
           struct err *err)
{
    char hash[DIGEST_SHA256_HEX_LEN + 1];
    struct store_token tok = {0};
    struct auth_slot *slot;
    time_t now = mono_seconds();
    enum err_code rc = ERR_OK;
    char *token;

    distrust_announced(c, s);
    token = req_bearer_token(authorization);
    if (token == NULL)
        return no_token(authorization, err);
    digest_sha256_hex(token, strlen(token), hash);
    free(token);

    slot = find(c, hash);
    if (slot == NULL || slot->trusted_until <= now) {
        rc = store_token_lookup(s, hash, &tok, err);
        if (rc == ERR_NOT_FOUND)
            rc = invalid_token(err, "the token is unknown");
        else if (rc == ERR_OK && tok.revoked)
            rc = invalid_token(err, "the token was revoked");
        else if (rc == ERR_OK && tok.expired)
            rc = invalid_token(err, "the token has expired");
        if (rc != ERR_OK) {
            if (slot != NULL && rc == ERR_UNAUTHORIZED)
                forget(slot);
            goto cleanup;
        }
        if (slot == NULL || slot->id != tok.id) {
            slot = slot != NULL ? slot : victim(c);
            forget(slot);
            memcpy(slot->hash, hash, sizeof(hash));
            slot->id = tok.id;
        }
        free(slot->actor);
        slot->actor = tok.actor;
        tok.actor = NULL;
        slot->expires_at = tok.expires_at;
        slot->trusted_until = now + c->ttl;
    }
    /* the database's clock said no when it was asked; this one says it from then on */
    if (slot->expires_at != 0 && wall_seconds() >= slot->expires_at) {
        forget(slot);
        rc = invalid_token(err, "the token has expired");
        goto cleanup;
    }
    slot->used = now;
    if (!slot->has_recorded || now - slot->recorded >= AUTH_USE_INTERVAL)
        slot->use_pending = 1;
    *actor = slot->actor;

cleanup:
    store_token_clear(&tok);
    return rc;
}

void
auth_record_use(struct auth_cache *c, struct store *s)
{
    int64_t ids[AUTH_CACHE_SLOTS];
    struct err err = {0};
    size_t i, n = 0;
    time_t now;

    for (i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (c->slot[i].id != 0 && c->slot[i].use_pending)
            ids[n++] = c->slot[i].id;
    if (n == 0)
        return;
    (void)store_token_used(s, ids, n, AUTH_USE_INTERVAL, &err);
    now = mono_seconds();
    for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
        if (c->slot[i].id == 0 || !c->slot[i].use_pending)
            continue;
        c->slot[i].use_pending = 0;
        c->slot[i].has_recorded = 1;
        c->slot[i].recorded = now;
    }
    err_clear(&err);
}
