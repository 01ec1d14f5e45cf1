/*
 * api.h: the HTTP semantics of actiond (docs/api.md): routing, authentication,
 * preconditions, representations and links. A parsed request goes in, a response
 * comes out; the catalog, the action compiler and the store do the rest.
 */
#ifndef ACTIOND_API_H
#define ACTIOND_API_H

#include "doc/catalog.h"
#include "base/config.h"
#include "http/req.h"
#include "http/resp.h"
#include "store/store.h"

struct api;

/*
 * Creates the request handler of one worker process. Borrows `store` and `catalog`,
 * which must outlive it; copies the limits it needs from `cfg`. Never NULL.
 */
struct api *api_new(const struct config *cfg, struct store *store, const struct catalog *catalog);
void api_free(struct api *a);

/*
 * Handles one request into `out` (initialised by the caller). Never fails: every
 * error becomes a problem+json response.
 */
void api_handle(struct api *a, struct req *r, struct resp *out);

/*
 * Gives GET /catalog the text of the catalog file the process loaded (`len` bytes of
 * JSON, copied), with an entity tag made from its digest.
 */
void api_set_catalog_json(struct api *a, const char *json, size_t len);

/*
 * The work requests leave for after their responses are out: writes which tokens were
 * used (auth_record_use) and publishes the changes to the live feed (feed_flush). The
 * worker calls it once a response has gone to the web server, off every request's
 * path. Never fails.
 */
void api_after_response(struct api *a);

#endif
