/*
 * auth.h: who is acting. A bearer token is hashed (SHA-256) and looked up in the
 * database; a verified hash is cached in the worker for a few seconds so that an
 * action costs no extra round trip for authentication.
 */
#ifndef ACTIOND_AUTH_H
#define ACTIOND_AUTH_H

#include "base/err.h"
#include "store/store.h"

struct auth_cache;

/* A cache trusting a verified token for `ttl_seconds` (0 disables caching). Never NULL. */
struct auth_cache *auth_cache_new(int ttl_seconds);
void auth_cache_free(struct auth_cache *c);

/*
 * The actor for `authorization` (the raw Authorization header, may be NULL).
 * On ERR_OK *actor points into the cache and stays valid until the next call.
 * ERR_UNAUTHORIZED for a missing, malformed, unknown or revoked token;
 * ERR_UNAVAILABLE when the database cannot be asked.
 */
enum err_code auth_actor(struct auth_cache *c, struct store *s, const char *authorization,
                         const char **actor, struct err *err);

#endif
