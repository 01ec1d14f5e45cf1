/*
 * auth.h: who is acting. A bearer token is hashed (SHA-256) and looked up in the
 * database; a verified token is kept in the worker and trusted without asking again
 * until the database announces a change to it, it expires, or its cache time ends, so
 * that a request costs no extra round trip for authentication. Each token's last use
 * is written back at most once a minute, after the response.
 */
#ifndef ACTIOND_AUTH_H
#define ACTIOND_AUTH_H

#include "base/err.h"
#include "store/store.h"

/* Seconds between two writes of one token's last_used_at by one worker. */
#define AUTH_USE_INTERVAL 60

struct auth_cache;

/*
 * A cache trusting a verified token for at most `ttl_seconds` (0: every request asks
 * the database) unless told otherwise sooner. Never NULL; auth_cache_free releases it.
 */
struct auth_cache *auth_cache_new(int ttl_seconds);
void auth_cache_free(struct auth_cache *c);

/*
 * The actor for `authorization` (the raw Authorization header, may be NULL). First
 * forgets whatever `s` reports revoked (store_poll_revocations: no round trip). On
 * ERR_OK *actor points into the cache and stays valid until the next call.
 * ERR_UNAUTHORIZED without a bearer token (no header, another scheme); ERR_UNAUTHORIZED
 * with the slug RESP_SLUG_INVALID_TOKEN for a bearer token that is malformed, unknown,
 * revoked or expired; ERR_UNAVAILABLE when the database cannot be asked.
 */
enum err_code auth_actor(struct auth_cache *c, struct store *s, const char *authorization,
                         const char **actor, struct err *err);

/*
 * Writes the last use of the tokens auth_actor accepted since the last call, where this
 * worker has not written it for AUTH_USE_INTERVAL seconds: one statement at most, none
 * most of the time. For the moment after a response is out, never on a request's path.
 * A write that fails is not retried (the store has logged why): last use is a hint.
 */
void auth_record_use(struct auth_cache *c, struct store *s);

#endif
