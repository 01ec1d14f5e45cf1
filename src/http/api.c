/*
 * api.c: routing and the HTTP rules of docs/api.md: who may act, what each route reads
 * from the request, and the shape of every representation, link and answer. A change
 * is described to txn/apply.c, whose outcome is rendered here; every failure is a
 * struct err that api_handle hands to resp_problem, the one place problem+json is made.
 */
#include "http/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/digest.h"
#include "base/xalloc.h"
#include "doc/access.h"
#include "doc/action.h"
#include "doc/jsonp.h"
#include "doc/ptr.h"
#include "http/auth.h"
#include "http/feed.h"
#include "txn/apply.h"
#include "txn/cache.h"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define LOG_DEFAULT_LIMIT 100
#define LOG_MAX_LIMIT 1000
#define ACCEPT_PATCH "application/json-patch+json, application/merge-patch+json"

struct api {
    struct store *store;
    const struct catalog *catalog;
    struct auth_cache *auth;
    struct cache *cache; /* documents this process wrote last (cache.h); may be NULL */
    struct feed *feed;   /* the live feed (feed.h) */
    char *catalog_json;  /* GET /catalog: the catalog file the process loaded; NULL: none */
    size_t catalog_len;
    char catalog_tag[24]; /* its entity tag's opaque text */
    size_t max_body;
    struct jsonp_limits limits;
    struct apply_ctx txn;
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
    const char *allow;    /* the Allow header of a 405 */
    int accept_patch;     /* advertise the patch formats (RFC 5789 section 3.1) */
    int64_t missed_since; /* a stale change: link the log the client missed from here */
};

struct api *
api_new(const struct config *cfg, struct store *store, const struct catalog *catalog)
{
    struct api *a = xcalloc(1, sizeof(*a));

    a->store = store;
    a->catalog = catalog;
    a->auth = auth_cache_new(cfg->token_cache_seconds);
    a->cache = cache_new(cfg->doc_cache_bytes);
    a->feed = feed_new(cfg->feed_socket);
    a->max_body = cfg->max_body;
    a->limits.max_depth = cfg->max_depth;
    a->limits.max_string = cfg->max_string;
    a->txn.store = store;
    a->txn.cache = a->cache;
    a->txn.limits = &a->limits;
    a->txn.bounds.max_document = cfg->max_document;
    a->txn.bounds.max_document_depth = cfg->max_document_depth;
    a->txn.bounds.max_patch_ops = cfg->max_patch_ops;
    a->txn.bounds.max_log_bytes = cfg->max_log_bytes;
    return a;
}

void
api_free(struct api *a)
{
    if (a == NULL)
        return;
    auth_cache_free(a->auth);
    cache_free(a->cache);
    feed_free(a->feed);
    free(a->catalog_json);
    free(a);
}

void
api_set_catalog_json(struct api *a, const char *json, size_t len)
{
    char hex[DIGEST_SHA256_HEX_LEN + 1];

    free(a->catalog_json);
    a->catalog_json = xstrndup(json, len);
    a->catalog_len = len;
    digest_sha256_hex(json, len, hex);
    snprintf(a->catalog_tag, sizeof(a->catalog_tag), "c%.16s", hex);
}

void
api_after_response(struct api *a)
{
    auth_record_use(a->auth, a->store);
    feed_flush(a->feed, a->store);
}

/* "<mount>/<type>/<id><suffix>", newly allocated. */
static char *
api_href(const struct call *c, int64_t id, const char *suffix)
{
    struct sbuf b;

    sbuf_init(&b);
    sbuf_adds(&b, c->req->mount);
    sbuf_add(&b, "/", 1);
    sbuf_adds(&b, catalog_type_name(c->type));
    sbuf_add(&b, "/", 1);
    sbuf_add_int64(&b, id);
    sbuf_adds(&b, suffix);
    return b.data;
}

/* {"href": href, "method"?: method}; takes ownership of `href` (malloc'd). */
static json_object *
api_link(char *href, const char *method)
{
    json_object *l = json_object_new_object();

    json_object_object_add(l, "href", json_object_new_string(href));
    if (method != NULL)
        json_object_object_add(l, "method", json_object_new_string(method));
    free(href);
    return l;
}

/* The link that performs action `name` on resource `id`: a verb route or /actions. */
static json_object *
api_action_link(const struct call *c, int64_t id, const char *name)
{
    const struct catalog_action *act = catalog_type_action(c->type, name);
    char suffix[256];

    if (act != NULL && catalog_action_kind(act) != CATALOG_EDIT)
        snprintf(suffix, sizeof(suffix), "/%s", name);
    else
        snprintf(suffix, sizeof(suffix), "/actions");
    return api_link(api_href(c, id, suffix), "POST");
}

/* {"name": {"href", "method"}, ...} for an array of action names (borrowed). */
static json_object *
api_action_links(const struct call *c, int64_t id, json_object *names)
{
    json_object *links = json_object_new_object();
    size_t i, n = json_object_array_length(names);

    for (i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(names, i));
        json_object_object_add(links, name, api_action_link(c, id, name));
    }
    return links;
}

/*
 * The representation of a resource (docs/api.md): a new object the caller releases. The
 * document is its last member, "data"; a row holding it as text (store_read) leaves
 * it out for send_representation to write as it is.
 */
static json_object *
api_representation(const struct call *c, const struct store_row *row)
{
    enum access_role role = access_role(row->owner, row->access, c->actor);
    json_object *o = json_object_new_object();
    json_object *links = json_object_new_object();
    json_object *verbs;
    size_t i, n;

    json_object_object_add(o, "id", json_object_new_int64(row->id));
    json_object_object_add(o, "type", json_object_new_string(row->type));
    json_object_object_add(o, "version", json_object_new_int64(row->version));
    if (catalog_type_initial_state(c->type) != NULL)
        json_object_object_add(o, "state", row->state ? json_object_new_string(row->state) : NULL);
    json_object_object_add(o, "owner", json_object_new_string(row->owner));
    /* only the owner sees who else has access */
    if (role == ACCESS_OWNER)
        json_object_object_add(o, "access",
                               row->access ? jsonp_copy(row->access) : json_object_new_object());
    json_object_object_add(o, "created_at", json_object_new_string(row->created_at));
    json_object_object_add(o, "updated_at", json_object_new_string(row->updated_at));

    /* the links are what the caller may do: a reader reads and duplicates */
    json_object_object_add(links, "self", api_link(api_href(c, row->id, ""), NULL));
    if (role >= ACCESS_EDITOR)
        json_object_object_add(links, "actions",
                               api_link(api_href(c, row->id, "/actions"), "POST"));
    json_object_object_add(links, "history",
                           api_link(api_href(c, row->id, "/actions?since=0"), NULL));
    verbs = catalog_type_verbs(c->type, row->state);
    n = json_object_array_length(verbs);
    for (i = 0; i < n; i++) {
        const char *verb = json_object_get_string(json_object_array_get_idx(verbs, i));
        const struct catalog_action *act = catalog_type_action(c->type, verb);
        if (role >= ACCESS_EDITOR || (act != NULL && catalog_action_kind(act) == CATALOG_DUPLICATE))
            json_object_object_add(links, verb, api_action_link(c, row->id, verb));
    }
    json_object_put(verbs);
    if (row->undo_top != 0 && role >= ACCESS_EDITOR)
        json_object_object_add(links, "undo", api_link(api_href(c, row->id, "/undo"), "POST"));
    if (row->redo_top != 0 && role >= ACCESS_EDITOR)
        json_object_object_add(links, "redo", api_link(api_href(c, row->id, "/redo"), "POST"));
    json_object_object_add(o, "_links", links);
    if (row->data_text == NULL)
        json_object_object_add(o, "data", json_object_get(row->data));
    return o;
}

/* Answers `status` with the representation of `row`. */
static void
send_representation(struct call *c, int status, const struct store_row *row)
{
    json_object *rep = api_representation(c, row);

    if (row->data_text != NULL)
        resp_json_with(c->resp, status, rep, "data", row->data_text);
    else
        resp_json(c->resp, status, rep);
    json_object_put(rep);
}

static void
api_set_etag(struct call *c, int64_t version)
{
    resp_header(c->resp, "ETag", "\"%lld\"", (long long)version);
}

/* Whether the caller has at least `needed` on `row` (access.h): 404 with no role, as
 * for a resource that does not exist; 403 naming the role it has. */
static enum err_code
require_role(struct call *c, const struct store_row *row, enum access_role needed)
{
    return access_require(access_role(row->owner, row->access, c->actor), needed,
                          catalog_type_name(c->type), c->id, &c->err);
}

/*
 * Reads the body as JSON. Checks, in order: size (413), media type (415), syntax and
 * limits (400). An empty body gives *out = NULL and *present = 0.
 */
static enum err_code
read_body_as(struct call *c, const char *media_type, json_object **out, int *present)
{
    enum err_code rc;

    *out = NULL;
    *present = 0;
    rc = req_body(c->req, c->api->max_body, &c->err);
    if (rc != ERR_OK)
        return rc;
    if (c->req->body_len == 0)
        return ERR_OK;
    if (!req_content_type_is(c->req, media_type))
        return err_fail(&c->err, ERR_UNSUPPORTED_MEDIA, NULL, "the body must be %s%s", media_type,
                        c->req->content_type ? "" : " (no Content-Type was sent)");
    rc = jsonp_parse(c->req->body, c->req->body_len, &c->api->limits, out, &c->err);
    if (rc == ERR_OK)
        *present = 1;
    return rc;
}

static enum err_code
read_json_body(struct call *c, json_object **out, int *present)
{
    return read_body_as(c, "application/json", out, present);
}

static enum err_code
handle_health(struct call *c)
{
    json_object *body;
    enum err_code rc = store_ping(c->api->store, &c->err);

    if (rc != ERR_OK)
        return rc;
    body = json_object_new_object();
    json_object_object_add(body, "status", json_object_new_string("ok"));
    resp_json(c->resp, 200, body);
    resp_header(c->resp, "Cache-Control", "no-store");
    json_object_put(body);
    return ERR_OK;
}

/* The If-Match header as apply.h takes it (RFC 9110 section 13.1.1). */
static void
parse_if_match(const char *header, struct apply_if_match *im)
{
    memset(im, 0, sizeof(*im));
    if (header == NULL)
        return;
    im->sent = 1;
    if (req_etag_is_any(header)) {
        im->any = 1;
        return;
    }
    im->n = req_etag_versions(header, im->tags, APPLY_TAGS_MAX);
    im->single = req_etag_version(header, 0) > 0;
}

/*
 * The idempotency key of a request: the envelope's `id` or the Idempotency-Key header.
 * When both are present they must agree. *key is malloc'd or NULL.
 */
static enum err_code
request_key(struct call *c, const struct action_request *ar, char **key)
{
    enum err_code rc = req_idempotency_key(c->req, ACTION_MAX_ID, key, &c->err);

    if (rc != ERR_OK || ar == NULL || ar->id == NULL)
        return rc;
    if (*key != NULL && strcmp(*key, ar->id) != 0) {
        free(*key);
        *key = NULL;
        return err_fail(&c->err, ERR_BAD_REQUEST, "/id",
                        "the body's id and the Idempotency-Key header differ");
    }
    free(*key);
    *key = xstrdup(ar->id);
    return ERR_OK;
}

/* Answers an applied (or replayed) change: its status, headers and body. */
static void
render(struct call *c, enum apply_kind kind, const struct apply_outcome *o)
{
    char *href;

    if (kind == APPLY_CREATE || kind == APPLY_DUPLICATE) {
        send_representation(c, 201, &o->row);
        resp_header(c->resp, "Location", "%s/%s/%lld", c->req->mount, catalog_type_name(c->type),
                    (long long)o->row.id);
    } else if (o->answer == NULL) {
        resp_empty(c->resp, 204);
        if (kind == APPLY_VERB) {
            href = api_href(c, c->id, "");
            resp_header(c->resp, "Location", "%s", href);
            free(href);
        }
    } else if (o->doc_text != NULL) {
        resp_json_with(c->resp, 200, o->answer, "data", o->doc_text);
    } else {
        resp_json(c->resp, 200, o->answer);
    }
    api_set_etag(c, o->version);
    resp_header(c->resp, "Cache-Control", "no-store");
    if (o->replayed)
        resp_header(c->resp, "Idempotent-Replayed", "true");
}

/*
 * The one tail of every change: the idempotency key (from the header or `ar`'s id),
 * the fingerprint of a keyed request (its method, path and `body`), the transaction,
 * and the answer. `ch` has its kind and what it carries; the rest comes from the call.
 */
static enum err_code
submit(struct call *c, struct apply_change *ch, const struct action_request *ar, json_object *body)
{
    struct apply_outcome out = {0};
    char *key = NULL, *fingerprint = NULL, *what;
    enum err_code rc;

    rc = request_key(c, ar, &key);
    if (rc != ERR_OK)
        return rc;
    if (key != NULL) {
        what = xasprintf("%s %s", c->req->method, c->req->path);
        fingerprint = apply_fingerprint(what, body);
        free(what);
    }
    ch->type = c->type;
    ch->id = c->id;
    ch->actor = c->actor;
    ch->ar = ar;
    ch->key = key;
    ch->fingerprint = fingerprint;
    parse_if_match(c->req->if_match, &ch->if_match);
    rc = apply_change(&c->api->txn, ch, &out, &c->err);
    if (rc == ERR_OK)
        render(c, ch->kind, &out);
    /* what nobody could be following yet (a new resource) has no feed to tell */
    if (rc == ERR_OK && !out.replayed && ch->kind != APPLY_CREATE && ch->kind != APPLY_DUPLICATE)
        feed_note(c->api->feed, catalog_type_name(c->type), c->id, out.version);
    else
        c->missed_since = out.missed_since;
    apply_outcome_clear(&out);
    free(fingerprint);
    free(key);
    return rc;
}

static enum err_code
handle_create(struct call *c)
{
    struct apply_change ch = {.kind = APPLY_CREATE};
    json_object *body = NULL, *data = NULL;
    int present;
    enum err_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (present) {
        if (!json_object_is_type(body, json_type_object)) {
            rc = err_fail(&c->err, ERR_BAD_REQUEST, "",
                          "the body must be an object {\"data\": ...}");
            goto cleanup;
        }
        json_object_object_foreach(body, name, val)
        {
            char *p;
            if (strcmp(name, "data") == 0) {
                data = jsonp_copy(val);
                continue;
            }
            if (strcmp(name, "access") == 0) {
                rc = access_check_grants(val, c->actor, "/access", &c->err);
                if (rc != ERR_OK)
                    goto cleanup;
                ch.grants = val;
                continue;
            }
            p = ptr_join("", name);
            rc = err_fail(&c->err, ERR_BAD_REQUEST, p,
                          "unknown member; a create body takes \"data\" and \"access\"");
            free(p);
            goto cleanup;
        }
    }
    if (!present || !json_object_object_get_ex(body, "data", NULL))
        data = jsonp_copy(catalog_type_initial(c->type));
    else if (!catalog_type_any_document(c->type) && !json_object_is_type(data, json_type_object)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "/data", "a %s document must be an object",
                      catalog_type_name(c->type));
        goto cleanup;
    }
    ch.data = data;
    rc = submit(c, &ch, NULL, body);
cleanup:
    json_object_put(data);
    json_object_put(body);
    return rc;
}

static enum err_code
handle_read(struct call *c)
{
    const char *inm = c->req->if_none_match;
    struct store_row row = {0};
    enum err_code rc;

    /* A revalidation naming one version is answered without the document leaving the
     * database when that is still the version. */
    rc = store_read(c->api->store, catalog_type_name(c->type), c->id,
                    inm != NULL ? req_etag_version(inm, 1) : 0, &row, &c->err);
    if (rc == ERR_OK)
        rc = require_role(c, &row, ACCESS_READER);
    if (rc != ERR_OK)
        goto cleanup;
    if (row.deleted) {
        rc = err_fail(&c->err, ERR_GONE, NULL, "%s %lld was deleted", catalog_type_name(c->type),
                      (long long)c->id);
        goto cleanup;
    }
    api_set_etag(c, row.version);
    /* what a resource shows depends on who asks (its owner sees the grants) */
    resp_header(c->resp, "Cache-Control", "private, no-cache");
    resp_header(c->resp, "Accept-Patch", ACCEPT_PATCH);
    if (inm != NULL && req_etag_matches(inm, row.version, 1)) {
        resp_empty(c->resp, 304);
        goto cleanup;
    }
    send_representation(c, 200, &row);
cleanup:
    store_row_clear(&row);
    return rc;
}

static enum err_code
handle_list(struct call *c)
{
    int64_t limit = LIST_DEFAULT_LIMIT, after = 0;
    struct store_row *rows = NULL;
    size_t n = 0, i;
    json_object *body, *items, *links;
    enum err_code rc;

    if (req_query_int(c->req, "limit", 1, LIST_MAX_LIMIT, &limit, &c->err) < 0 ||
        req_query_int(c->req, "after", 0, INT64_MAX / 2, &after, &c->err) < 0)
        return ERR_BAD_REQUEST;
    rc = store_list(c->api->store, catalog_type_name(c->type), c->actor, after, (int)limit, &rows,
                    &n, &c->err);
    if (rc != ERR_OK)
        return rc;
    body = json_object_new_object();
    items = json_object_new_array();
    for (i = 0; i < n; i++)
        json_object_array_add(items, api_representation(c, &rows[i]));
    links = json_object_new_object();
    json_object_object_add(
        links, "self",
        api_link(xasprintf("%s/%s?limit=%lld&after=%lld", c->req->mount, catalog_type_name(c->type),
                           (long long)limit, (long long)after),
                 NULL));
    if (n == (size_t)limit)
        json_object_object_add(links, "next",
                               api_link(xasprintf("%s/%s?limit=%lld&after=%lld", c->req->mount,
                                                  catalog_type_name(c->type), (long long)limit,
                                                  (long long)rows[n - 1].id),
                                        NULL));
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "_links", links);
    resp_json(c->resp, 200, body);
    resp_header(c->resp, "Cache-Control", "private, no-cache");
    json_object_put(body);
    for (i = 0; i < n; i++)
        store_row_clear(&rows[i]);
    free(rows);
    return ERR_OK;
}

static enum err_code
handle_log(struct call *c)
{
    int64_t since = 0, limit = LOG_DEFAULT_LIMIT;
    struct store_row meta = {0};
    int64_t last;
    json_object *body, *links;
    struct sbuf entries;
    char suffix[96];
    size_t n;
    enum err_code rc;

    if (req_query_int(c->req, "since", 0, INT64_MAX / 2, &since, &c->err) < 0 ||
        req_query_int(c->req, "limit", 1, LOG_MAX_LIMIT, &limit, &c->err) < 0)
        return ERR_BAD_REQUEST;
    /* The history of a deleted resource stays readable: auditing needs it. */
    sbuf_init(&entries);
    rc = store_meta(c->api->store, catalog_type_name(c->type), c->id, &meta, &c->err);
    if (rc == ERR_OK)
        rc = require_role(c, &meta, ACCESS_READER);
    if (rc != ERR_OK)
        goto cleanup;
    rc = store_log(c->api->store, c->id, since, (int)limit, &entries, &n, &last, &c->err);
    if (rc != ERR_OK)
        goto cleanup;
    body = json_object_new_object();
    json_object_object_add(body, "resource", api_link(api_href(c, c->id, ""), NULL));
    json_object_object_add(body, "current_version", json_object_new_int64(meta.version));
    links = json_object_new_object();
    snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=%lld", (long long)since,
             (long long)limit);
    json_object_object_add(links, "self", api_link(api_href(c, c->id, suffix), NULL));
    if (n == (size_t)limit) {
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=%lld", (long long)last,
                 (long long)limit);
        json_object_object_add(links, "next", api_link(api_href(c, c->id, suffix), NULL));
    }
    json_object_object_add(body, "_links", links);
    /* the entries are spliced in as the database wrote them: a page is never parsed */
    resp_json_with(c->resp, 200, body, "entries", entries.data);
    resp_header(c->resp, "Cache-Control", "private, no-cache");
    json_object_put(body);
cleanup:
    store_row_clear(&meta);
    sbuf_free(&entries);
    return rc;
}

/* GET /{type}/{id}/events: the live feed, for whoever may read the log (feed.h). */
static enum err_code
handle_events(struct call *c)
{
    struct store_row meta = {0};
    int64_t since;
    enum err_code rc;

    rc = feed_start_point(c->req, &since, &c->err);
    if (rc != ERR_OK)
        return rc;
    rc = store_meta(c->api->store, catalog_type_name(c->type), c->id, &meta, &c->err);
    if (rc == ERR_OK)
        rc = require_role(c, &meta, ACCESS_READER);
    if (rc == ERR_OK)
        rc = feed_answer(c->api->feed, c->api->store, c->req, catalog_type_name(c->type), &meta,
                         since, c->resp, &c->err);
    store_row_clear(&meta);
    return rc;
}

/* GET /catalog: the catalog the workers loaded, for clients that run the engine. */
static enum err_code
handle_catalog(struct call *c)
{
    if (c->api->catalog_json == NULL)
        return err_fail(&c->err, ERR_INTERNAL, NULL, "the catalog file was not read");
    resp_header(c->resp, "ETag", "\"%s\"", c->api->catalog_tag);
    resp_header(c->resp, "Cache-Control", "private, no-cache");
    if (req_etag_list_has(c->req->if_none_match, c->api->catalog_tag)) {
        resp_empty(c->resp, 304);
        return ERR_OK;
    }
    resp_text(c->resp, 200, "application/json", c->api->catalog_json, c->api->catalog_len);
    return ERR_OK;
}

/* A request of one item named `name` carrying `data` (borrowed): a PATCH, a DELETE,
 * or a verb the catalog does not know. */
static void
single_item(struct action_request *ar, const char *name, json_object *data)
{
    memset(ar, 0, sizeof(*ar));
    ar->n = 1;
    ar->items = xcalloc(1, sizeof(*ar->items));
    ar->items[0].name = xstrdup(name);
    ar->items[0].data = json_object_get(data);
}

/*
 * An undo or redo, from {"action": "undo"|"redo", "scope"?, "expected_version"?, "id"?}
 * on the actions route or the same members (without "action") on POST .../undo|redo.
 * `body` may be NULL (an empty body on the verb route).
 */
static enum err_code
handle_history(struct call *c, const char *name, json_object *body)
{
    json_object *envelope = body ? jsonp_copy(body) : json_object_new_object(), *scope;
    struct apply_change ch = {.kind = strcmp(name, "redo") == 0 ? APPLY_REDO : APPLY_UNDO};
    struct action_request ar = {0};
    enum err_code rc;

    if (!json_object_is_type(envelope, json_type_object)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "", "the body must be a JSON object");
        goto cleanup;
    }
    if (json_object_object_get_ex(envelope, "scope", &scope)) {
        const char *v = json_object_get_string(scope);
        if (!json_object_is_type(scope, json_type_string) ||
            (strcmp(v, "actor") != 0 && strcmp(v, "resource") != 0) ||
            (ch.kind == APPLY_REDO && strcmp(v, "actor") == 0)) {
            rc = err_fail(&c->err, ERR_BAD_REQUEST, "/scope",
                          "scope is \"resource\" (the default) or, for undo, \"actor\"");
            goto cleanup;
        }
        ch.undo_own = strcmp(v, "actor") == 0;
        json_object_object_del(envelope, "scope");
    }
    if (json_object_object_get_ex(envelope, "target", NULL) ||
        json_object_object_get_ex(envelope, "data", NULL)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST,
                      json_object_object_get_ex(envelope, "target", NULL) ? "/target" : "/data",
                      "%s takes no target or data", name);
        goto cleanup;
    }
    json_object_object_add(envelope, "action", json_object_new_string(name));
    rc = action_parse(envelope, &ar, &c->err);
    if (rc == ERR_OK)
        rc = submit(c, &ch, &ar, body);
cleanup:
    action_request_free(&ar);
    json_object_put(envelope);
    return rc;
}

static enum err_code
handle_actions(struct call *c)
{
    struct apply_change ch = {.kind = APPLY_ACTIONS};
    json_object *body = NULL, *name;
    struct action_request ar = {0};
    int present;
    enum err_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (!present) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, NULL, "an action needs a JSON body");
        goto cleanup;
    }
    if (json_object_is_type(body, json_type_object) &&
        json_object_object_get_ex(body, "action", &name) &&
        json_object_is_type(name, json_type_string) &&
        (strcmp(json_object_get_string(name), "undo") == 0 ||
         strcmp(json_object_get_string(name), "redo") == 0)) {
        rc = handle_history(c, json_object_get_string(name), body);
        goto cleanup;
    }
    rc = action_parse(body, &ar, &c->err);
    if (rc == ERR_OK)
        rc = submit(c, &ch, &ar, body);
cleanup:
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/*
 * Copies a resource: a new resource owned by the caller, logged from its own creation
 * with an entry naming the source. The body is optional: an empty object.
 */
static enum err_code
duplicate(struct call *c)
{
    struct apply_change ch = {.kind = APPLY_DUPLICATE};
    json_object *body = NULL;
    char *source = NULL;
    int present;
    enum err_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (present && !json_object_is_type(body, json_type_object)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "", "the body of a verb must be a JSON object");
        goto cleanup;
    }
    if (present) {
        json_object_object_foreach(body, name, val)
        {
            char *p = ptr_join("", name);
            (void)val;
            rc = err_fail(&c->err, ERR_BAD_REQUEST, p,
                          "unknown member: duplicate takes an empty object (send an "
                          "idempotency key as Idempotency-Key)");
            free(p);
            goto cleanup;
        }
    }
    source = api_href(c, c->id, "");
    ch.source = source;
    rc = submit(c, &ch, NULL, body);
cleanup:
    free(source);
    json_object_put(body);
    return rc;
}

/*
 * POST /{type}/{id}/{verb}: a state transition (204) or a verb such as duplicate (201).
 * An optional JSON body is an envelope without "action" (expected_version, id, data).
 * A name that is no transition here is still looked up in the transaction, which
 * answers 404 with the verbs of the resource's state (or 410).
 */
static enum err_code
handle_verb(struct call *c, const char *verb)
{
    const struct catalog_action *act = catalog_type_action(c->type, verb);
    struct apply_change ch = {.kind = APPLY_VERB};
    json_object *body = NULL;
    struct action_request ar = {0};
    int present;
    enum err_code rc;

    if (act != NULL && catalog_action_kind(act) == CATALOG_DUPLICATE)
        return duplicate(c);
    if (strcmp(verb, "undo") == 0 || strcmp(verb, "redo") == 0) {
        rc = read_json_body(c, &body, &present);
        if (rc == ERR_OK)
            rc = handle_history(c, verb, body);
        json_object_put(body);
        return rc;
    }
    if (act == NULL || catalog_action_kind(act) != CATALOG_TRANSITION) {
        single_item(&ar, verb, NULL);
        rc = submit(c, &ch, &ar, NULL);
        action_request_free(&ar);
        return rc;
    }
    rc = read_json_body(c, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (!present)
        body = json_object_new_object();
    if (!json_object_is_type(body, json_type_object)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "", "the body of a verb must be a JSON object");
        goto cleanup;
    }
    if (json_object_object_get_ex(body, "action", NULL)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "/action", "the verb is named by the path");
        goto cleanup;
    }
    json_object_object_add(body, "action", json_object_new_string(verb));
    rc = action_parse(body, &ar, &c->err);
    if (rc == ERR_OK)
        rc = submit(c, &ch, &ar, body);
cleanup:
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/* PATCH has no envelope: ?on_conflict=merge asks for merging. */
static enum err_code
patch_merge_option(struct call *c, int *merge)
{
    const char *v;
    size_t n;

    *merge = 0;
    if (!req_query_param(c->req, "on_conflict", &v, &n))
        return ERR_OK;
    if (n == 5 && strncmp(v, "merge", 5) == 0)
        *merge = 1;
    else if (n != 6 || strncmp(v, "reject", 6) != 0)
        return err_fail(&c->err, ERR_BAD_REQUEST, NULL,
                        "query parameter on_conflict must be reject or merge");
    return ERR_OK;
}

/* PATCH /{type}/{id}: JSON Patch (RFC 6902 plus create) or JSON Merge Patch (RFC 7396). */
static enum err_code
handle_patch(struct call *c)
{
    struct apply_change ch = {0};
    json_object *body = NULL;
    struct action_request ar = {0};
    const char *media;
    int present;
    enum err_code rc;

    if (req_content_type_is(c->req, "application/json-patch+json")) {
        ch.kind = APPLY_JSON_PATCH;
        media = "application/json-patch+json";
    } else if (req_content_type_is(c->req, "application/merge-patch+json")) {
        ch.kind = APPLY_MERGE_PATCH;
        media = "application/merge-patch+json";
    } else {
        c->accept_patch = 1;
        return err_fail(&c->err, ERR_UNSUPPORTED_MEDIA, NULL,
                        "PATCH takes application/json-patch+json or application/merge-patch+json");
    }
    rc = read_body_as(c, media, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (!present) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, NULL, "PATCH needs a body");
        goto cleanup;
    }
    single_item(&ar, apply_builtin_name(ch.kind), body);
    rc = patch_merge_option(c, &ar.merge);
    if (rc == ERR_OK)
        rc = submit(c, &ch, &ar, body);
cleanup:
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/*
 * POST /{type}/{id}/share {"data": {"actor", "role"}} and .../unshare {"data": {"actor"}}
 * (and optionally "expected_version" and "id"): the owner grants or takes back access.
 * Logged like any change; 204.
 */
static enum err_code
handle_grant(struct call *c, enum apply_kind kind)
{
    static const char *const members[] = {"data", "expected_version", "id", NULL};
    struct apply_change ch = {.kind = kind};
    json_object *body = NULL;
    struct action_request ar = {0};
    const char *unknown;
    char *p;
    int present;
    enum err_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != ERR_OK)
        goto cleanup;
    if (!present || !json_object_is_type(body, json_type_object)) {
        rc = err_fail(&c->err, ERR_BAD_REQUEST, "", "the body must be an object {\"data\": ...}");
        goto cleanup;
    }
    unknown = jsonp_unknown_member(body, members);
    if (unknown != NULL) {
        p = ptr_join("", unknown);
        rc = err_fail(&c->err, ERR_BAD_REQUEST, p, "unknown member");
        free(p);
        goto cleanup;
    }
    json_object_object_add(body, "action", json_object_new_string(apply_builtin_name(kind)));
    rc = action_parse(body, &ar, &c->err);
    if (rc == ERR_OK)
        rc = submit(c, &ch, &ar, body);
cleanup:
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/* DELETE /{type}/{id}: logged like any change; later reads answer 410. */
static enum err_code
handle_delete(struct call *c)
{
    struct apply_change ch = {.kind = APPLY_DELETE};
    struct action_request ar;
    enum err_code rc;

    single_item(&ar, apply_builtin_name(ch.kind), NULL);
    rc = submit(c, &ch, &ar, NULL);
    action_request_free(&ar);
    return rc;
}

static enum err_code
method_not_allowed(struct call *c, const char *allow)
{
    c->allow = allow;
    return err_fail(&c->err, ERR_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; allowed: %s",
                    c->req->method, allow);
}

/* Parses a resource id: a positive decimal without sign or leading zero. */
static int
parse_id(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i, n = strlen(s);

    if (n == 0 || n > 18 || s[0] == '0')
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static enum err_code
route(struct call *c)
{
    struct req *r = c->req;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    enum err_code rc;

    if (r->nseg == 1 && strcmp(r->seg[0], "healthz") == 0) {
        if (!get)
            return method_not_allowed(c, "GET, HEAD");
        return handle_health(c);
    }
    rc = store_ready(c->api->store, &c->err);
    if (rc != ERR_OK)
        return rc;
    rc = auth_actor(c->api->auth, c->api->store, r->authorization, &c->actor, &c->err);
    if (rc != ERR_OK)
        return rc;
    if (r->nseg == 0 || r->nseg > 3 || r->path_too_deep)
        return err_fail(&c->err, ERR_NOT_FOUND, NULL, "no such resource");
    if (r->nseg == 1 && strcmp(r->seg[0], "catalog") == 0) {
        if (!get)
            return method_not_allowed(c, "GET, HEAD");
        return handle_catalog(c);
    }
    c->type = catalog_find_type(c->api->catalog, r->seg[0]);
    if (c->type == NULL) {
        rc = err_fail(&c->err, ERR_NOT_FOUND, NULL, "there is no resource type \"%s\"", r->seg[0]);
        err_set_slug(&c->err, "unknown-type");
        return rc;
    }
    if (r->nseg == 1) {
        if (get)
            return handle_list(c);
        if (post)
            return handle_create(c);
        return method_not_allowed(c, "GET, HEAD, POST");
    }
    if (!parse_id(r->seg[1], &c->id))
        return err_fail(&c->err, ERR_NOT_FOUND, NULL, "%s has no resource \"%s\"",
                        catalog_type_name(c->type), r->seg[1]);
    if (r->nseg == 2) {
        if (get)
            return handle_read(c);
        if (strcmp(r->method, "PATCH") == 0)
            return handle_patch(c);
        if (strcmp(r->method, "DELETE") == 0)
            return handle_delete(c);
        return method_not_allowed(c, "GET, HEAD, PATCH, DELETE");
    }
    if (strcmp(r->seg[2], "actions") == 0) {
        if (get)
            return handle_log(c);
        if (post)
            return handle_actions(c);
        return method_not_allowed(c, "GET, HEAD, POST");
    }
    if (strcmp(r->seg[2], "events") == 0) {
        if (!get)
            return method_not_allowed(c, "GET, HEAD");
        return handle_events(c);
    }
    if (!post)
        return method_not_allowed(c, "POST");
    if (strcmp(r->seg[2], "share") == 0)
        return handle_grant(c, APPLY_SHARE);
    if (strcmp(r->seg[2], "unshare") == 0)
        return handle_grant(c, APPLY_UNSHARE);
    return handle_verb(c, r->seg[2]);
}

/*
 * The links of a problem, from its facts: the log the client missed (a stale change),
 * the entry in an undo's way, and each action a problem lists as allowed.
 */
static void
add_error_links(struct call *c)
{
    json_object *links, *allowed, *conflicting;
    char suffix[96];

    if (c->type == NULL || c->id == 0)
        return;
    links = json_object_new_object();
    if (c->missed_since > 0) {
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld", (long long)c->missed_since);
        json_object_object_add(links, "missed_actions", api_link(api_href(c, c->id, suffix), NULL));
    }
    if (c->err.extra != NULL &&
        json_object_object_get_ex(c->err.extra, "conflicting_version", &conflicting)) {
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=1",
                 (long long)json_object_get_int64(conflicting) - 1);
        json_object_object_add(links, "conflicting_entry",
                               api_link(api_href(c, c->id, suffix), NULL));
    }
    if (c->err.extra != NULL &&
        json_object_object_get_ex(c->err.extra, "allowed_actions", &allowed)) {
        json_object *actions = api_action_links(c, c->id, allowed);
        json_object_object_foreach(actions, name, link)
        {
            json_object_object_add(links, name, json_object_get(link));
        }
        json_object_put(actions);
    }
    if (json_object_object_length(links) > 0)
        err_put(&c->err, "links", links);
    else
        json_object_put(links);
}

void
api_handle(struct api *a, struct req *r, struct resp *out)
{
    struct call c = {0};
    enum err_code rc;

    c.api = a;
    c.req = r;
    c.resp = out;
    rc = route(&c);
    if (rc != ERR_OK) {
        /* A problem replaces whatever a handler had started to build. */
        sbuf_reset(&out->headers);
        if (c.err.code == ERR_OK)
            err_fail(&c.err, rc, NULL, "%s", err_code_title(rc));
        if (c.allow != NULL)
            resp_header(out, "Allow", "%s", c.allow);
        if (c.accept_patch)
            resp_header(out, "Accept-Patch", ACCEPT_PATCH);
        add_error_links(&c);
        resp_problem(out, &c.err);
    }
    if (strcmp(r->method, "HEAD") == 0)
        out->omit_body = 1;
    err_clear(&c.err);
}
