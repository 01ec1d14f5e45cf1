/*
 * api.c: routing and the HTTP rules of SPEC section 3: who may act, which
 * preconditions hold (If-Match, expected_version, 409/412/428), idempotent replays,
 * and the shape of every representation and link. One function per route; every
 * failure is an ad_error that api_handle turns into problem+json in one place.
 */
#include "api.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "auth.h"
#include "history.h"
#include "jsonp.h"
#include "patch.h"
#include "touch.h"
#include "ptr.h"
#include "sha256.h"
#include "xalloc.h"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define LOG_DEFAULT_LIMIT 100
#define LOG_MAX_LIMIT 1000
/* How far back an undo may reach: it reads every entry since, under the row lock. */
#define HISTORY_MAX_SPAN 1000
#define ACCEPT_PATCH "application/json-patch+json, application/merge-patch+json"

struct api {
    struct store *store;
    const struct catalog *catalog;
    struct auth_cache *auth;
    size_t max_body;
    struct jsonp_limits limits;
};

/* What one request carries through its handler; owned by api_handle's frame. */
struct call {
    struct api *api;
    struct req *req;
    struct resp *resp;
    struct ad_error err;
    const char *actor;
    const struct cat_type *type;
    int64_t id;
    const char *state; /* the resource's state when known, for links in errors */
    const char *allow; /* the Allow header of a 405 */
    int accept_patch;  /* advertise the patch formats (RFC 5789 section 3.1) */
};

/* How a change arrived; it decides what the request may name and how it answers. */
enum via {
    VIA_ACTIONS,     /* POST /{type}/{id}/actions: catalog actions and transitions */
    VIA_VERB,        /* POST /{type}/{id}/{verb}: a transition, 204 */
    VIA_JSON_PATCH,  /* PATCH, application/json-patch+json */
    VIA_MERGE_PATCH, /* PATCH, application/merge-patch+json */
    VIA_DELETE,      /* DELETE, 204 */
    VIA_UNDO,        /* POST .../undo or {"action": "undo"} */
    VIA_REDO         /* POST .../redo or {"action": "redo"} */
};

/* What an undo or redo needs beyond the request, and what it found. */
struct hist_step {
    int actor_scope;     /* {"scope": "actor"}: the caller's own most recent change */
    int64_t reverts;     /* the version reverted */
    int64_t target_prev; /* that entry's stack_prev: the new top if it was the top */
};

static char *request_fingerprint(const struct call *c, json_object *body);

struct api *
api_new(const struct config *cfg, struct store *store, const struct catalog *catalog)
{
    struct api *a = xcalloc(1, sizeof(*a));

    a->store = store;
    a->catalog = catalog;
    a->auth = auth_cache_new(cfg->token_cache_seconds);
    a->max_body = cfg->max_body;
    a->limits.max_depth = cfg->max_depth;
    a->limits.max_string = cfg->max_string;
    return a;
}

void
api_free(struct api *a)
{
    if (a == NULL)
        return;
    auth_cache_free(a->auth);
    free(a);
}

/* "<mount>/<type>/<id><suffix>", newly allocated. */
static char *
resource_href(const struct call *c, int64_t id, const char *suffix)
{
    return xasprintf("%s/%s/%lld%s", c->req->mount, cat_type_name(c->type), (long long)id, suffix);
}

static json_object *
link_object(char *href, const char *method)
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
action_link(const struct call *c, int64_t id, const char *name)
{
    const struct cat_action *act = cat_type_action(c->type, name);
    char suffix[256];

    if (act != NULL && cat_action_kind(act) != CAT_EDIT)
        snprintf(suffix, sizeof(suffix), "/%s", name);
    else
        snprintf(suffix, sizeof(suffix), "/actions");
    return link_object(resource_href(c, id, suffix), "POST");
}

/* {"name": {"href", "method"}, ...} for an array of action names (borrowed). */
static json_object *
action_links(const struct call *c, int64_t id, json_object *names)
{
    json_object *links = json_object_new_object();
    size_t i, n = json_object_array_length(names);

    for (i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(names, i));
        json_object_object_add(links, name, action_link(c, id, name));
    }
    return links;
}

/* The representation of a resource (SPEC 3): a new object the caller releases. */
static json_object *
representation(const struct call *c, const struct store_row *row)
{
    json_object *o = json_object_new_object();
    json_object *links = json_object_new_object();
    json_object *verbs;
    size_t i, n;

    json_object_object_add(o, "id", json_object_new_int64(row->id));
    json_object_object_add(o, "type", json_object_new_string(row->type));
    json_object_object_add(o, "version", json_object_new_int64(row->version));
    if (cat_type_initial_state(c->type) != NULL)
        json_object_object_add(o, "state", row->state ? json_object_new_string(row->state) : NULL);
    json_object_object_add(o, "owner", json_object_new_string(row->owner));
    json_object_object_add(o, "created_at", json_object_new_string(row->created_at));
    json_object_object_add(o, "updated_at", json_object_new_string(row->updated_at));
    json_object_object_add(o, "data", jsonp_copy(row->data));

    json_object_object_add(links, "self", link_object(resource_href(c, row->id, ""), NULL));
    json_object_object_add(links, "actions",
                           link_object(resource_href(c, row->id, "/actions"), "POST"));
    json_object_object_add(links, "history",
                           link_object(resource_href(c, row->id, "/actions?since=0"), NULL));
    verbs = cat_type_verbs(c->type, row->state);
    n = json_object_array_length(verbs);
    for (i = 0; i < n; i++) {
        const char *verb = json_object_get_string(json_object_array_get_idx(verbs, i));
        json_object_object_add(links, verb, action_link(c, row->id, verb));
    }
    json_object_put(verbs);
    if (row->undo_top != 0)
        json_object_object_add(links, "undo",
                               link_object(resource_href(c, row->id, "/undo"), "POST"));
    if (row->redo_top != 0)
        json_object_object_add(links, "redo",
                               link_object(resource_href(c, row->id, "/redo"), "POST"));
    json_object_object_add(o, "_links", links);
    return o;
}

static void
set_etag(struct call *c, int64_t version)
{
    resp_header(c->resp, "ETag", "\"%lld\"", (long long)version);
}

static int
is_wildcard(const char *if_match)
{
    while (*if_match == ' ' || *if_match == '\t')
        if_match++;
    return if_match[0] == '*' && if_match[strspn(if_match + 1, " \t") + 1] == '\0';
}

/*
 * Reads the body as JSON. Checks, in order: size (413), media type (415), syntax and
 * limits (400). An empty body gives *out = NULL and *present = 0.
 */
static enum ad_code
read_body_as(struct call *c, const char *media_type, json_object **out, int *present)
{
    enum ad_code rc;

    *out = NULL;
    *present = 0;
    rc = req_body(c->req, c->api->max_body, &c->err);
    if (rc != AD_OK)
        return rc;
    if (c->req->body_len == 0)
        return AD_OK;
    if (!req_content_type_is(c->req, media_type))
        return ad_fail(&c->err, AD_UNSUPPORTED_MEDIA, NULL, "the body must be %s%s", media_type,
                       c->req->content_type ? "" : " (no Content-Type was sent)");
    rc = jsonp_parse(c->req->body, c->req->body_len, &c->api->limits, out, &c->err);
    if (rc == AD_OK)
        *present = 1;
    return rc;
}

static enum ad_code
read_json_body(struct call *c, json_object **out, int *present)
{
    return read_body_as(c, "application/json", out, present);
}

static enum ad_code
handle_health(struct call *c)
{
    json_object *body;
    enum ad_code rc = store_ping(c->api->store, &c->err);

    if (rc != AD_OK)
        return rc;
    body = json_object_new_object();
    json_object_object_add(body, "status", json_object_new_string("ok"));
    resp_json(c->resp, 200, body);
    resp_header(c->resp, "Cache-Control", "no-store");
    json_object_put(body);
    return AD_OK;
}

/* The log entry of a creation: replaying the log starts from null and applies it. */
static void
creation_entry(struct store_entry *entry, const char *action, json_object *data, json_object *note)
{
    json_object *op = json_object_new_object();

    memset(entry, 0, sizeof(*entry));
    entry->action = action;
    entry->data = note;
    entry->forward = json_object_new_array();
    json_object_object_add(op, "op", json_object_new_string("add"));
    json_object_object_add(op, "path", json_object_new_string(""));
    json_object_object_add(op, "value", jsonp_copy(data));
    json_object_array_add(entry->forward, op);
    entry->inverse = json_object_new_array();
    op = json_object_new_object();
    json_object_object_add(op, "op", json_object_new_string("replace"));
    json_object_object_add(op, "path", json_object_new_string(""));
    json_object_object_add(op, "value", NULL);
    json_object_array_add(entry->inverse, op);
    entry->touches = json_object_new_array();
    touch_add_all(entry->touches);
}

static void
creation_entry_clear(struct store_entry *entry)
{
    json_object_put(entry->forward);
    json_object_put(entry->inverse);
    json_object_put(entry->touches);
}

/* 201 with the new resource, Location and ETag. */
static void
answer_created(struct call *c, const struct store_row *row)
{
    json_object *rep = representation(c, row);

    resp_json(c->resp, 201, rep);
    json_object_put(rep);
    resp_header(c->resp, "Location", "%s/%s/%lld", c->req->mount, cat_type_name(c->type),
                (long long)row->id);
    set_etag(c, row->version);
    resp_header(c->resp, "Cache-Control", "no-store");
}

/*
 * A keyed create seen before: answers the first response again (the resource as it
 * was created, rebuilt from its creation entry) and sets *replayed; 422 when the key
 * named a different request.
 */
static enum ad_code
replay_create(struct call *c, const char *key, const char *fingerprint, int *replayed)
{
    struct store_replay rp = {0};
    struct store_row first = {0};
    struct store_logent *ents = NULL;
    json_object *value;
    size_t n = 0;
    int found;
    enum ad_code rc;

    *replayed = 0;
    rc = store_find_key(c->api->store, c->actor, key, &found, &rp, &c->err);
    if (rc != AD_OK || !found)
        goto out;
    if (rp.version != 1 || strcmp(rp.fingerprint, fingerprint) != 0) {
        rc = ad_fail(&c->err, AD_UNPROCESSABLE, NULL,
                     "this idempotency key was used for a different request");
        ad_error_slug(&c->err, "idempotency-key-reused");
        goto out;
    }
    rc = store_entries(c->api->store, rp.resource_id, 1, 1, &ents, &n, &c->err);
    if (rc != AD_OK)
        goto out;
    if (n != 1 || !json_object_object_get_ex(json_object_array_get_idx(ents[0].forward, 0), "value",
                                             &value)) {
        rc = ad_fail(&c->err, AD_INTERNAL, NULL, "the creation entry cannot be read back");
        goto out;
    }
    first.id = rp.resource_id;
    first.type = (char *)cat_type_name(c->type);
    first.version = 1;
    first.data = value;
    first.state = ents[0].state;
    first.owner = ents[0].actor;
    first.created_at = ents[0].applied_at;
    first.updated_at = ents[0].applied_at;
    answer_created(c, &first);
    resp_header(c->resp, "Idempotent-Replayed", "true");
    *replayed = 1;
out:
    store_logent_free(ents, n);
    store_replay_clear(&rp);
    return rc;
}

/*
 * Creates a resource of the call's type with `data` and its creation `entry`, and
 * answers 201. With an Idempotency-Key, a retry of an earlier create (same route and
 * `body`) answers that create's response instead, also when both race.
 */
static enum ad_code
create_keyed(struct call *c, json_object *body, json_object *data, struct store_entry *entry)
{
    struct store_row row = {0};
    struct store_idem idem = {0};
    json_object *response = NULL;
    char *key = NULL, *fingerprint = NULL;
    int replayed;
    enum ad_code rc;

    rc = req_idempotency_key(c->req, ACTION_MAX_ID, &key, &c->err);
    if (rc != AD_OK)
        goto out;
    if (key != NULL) {
        fingerprint = request_fingerprint(c, body);
        rc = replay_create(c, key, fingerprint, &replayed);
        if (rc != AD_OK || replayed)
            goto out;
        response = json_object_new_object();
        json_object_object_add(response, "status", json_object_new_int(201));
        idem.key = key;
        idem.fingerprint = fingerprint;
        idem.response = response;
    }
    rc = store_create(c->api->store, cat_type_name(c->type), data, cat_type_initial_state(c->type),
                      c->actor, entry, key ? &idem : NULL, &row, &c->err);
    if (rc == AD_CONFLICT && key != NULL) {
        /* the same key committed concurrently: answer as its retry */
        ad_error_clear(&c->err);
        rc = replay_create(c, key, fingerprint, &replayed);
        if (rc == AD_OK && !replayed)
            rc = ad_fail(&c->err, AD_CONFLICT, NULL, "this idempotency key is in use; retry");
        goto out;
    }
    if (rc == AD_OK)
        answer_created(c, &row);
out:
    store_row_clear(&row);
    json_object_put(response);
    free(fingerprint);
    free(key);
    return rc;
}

static enum ad_code
handle_create(struct call *c)
{
    json_object *body = NULL, *data = NULL;
    struct store_entry entry = {0};
    int present;
    enum ad_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != AD_OK)
        goto out;
    if (present) {
        if (!json_object_is_type(body, json_type_object)) {
            rc = ad_fail(&c->err, AD_BAD_REQUEST, "", "the body must be an object {\"data\": ...}");
            goto out;
        }
        json_object_object_foreach(body, name, val)
        {
            char *p;
            if (strcmp(name, "data") == 0) {
                data = jsonp_copy(val);
                continue;
            }
            p = ptr_join("", name);
            rc = ad_fail(&c->err, AD_BAD_REQUEST, p,
                         "unknown member; a create body takes only \"data\"");
            free(p);
            goto out;
        }
    }
    if (!present || !json_object_object_get_ex(body, "data", NULL))
        data = jsonp_copy(cat_type_initial(c->type));
    else if (!cat_type_any_document(c->type) && !json_object_is_type(data, json_type_object)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, "/data", "a %s document must be an object",
                     cat_type_name(c->type));
        goto out;
    }

    creation_entry(&entry, "create", data, NULL);
    rc = create_keyed(c, body, data, &entry);
out:
    creation_entry_clear(&entry);
    json_object_put(data);
    json_object_put(body);
    return rc;
}

static enum ad_code
handle_read(struct call *c)
{
    struct store_row row = {0};
    json_object *rep;
    enum ad_code rc;

    rc = store_get(c->api->store, cat_type_name(c->type), c->id, &row, &c->err);
    if (rc != AD_OK)
        goto out;
    if (row.deleted) {
        rc = ad_fail(&c->err, AD_GONE, NULL, "%s %lld was deleted", cat_type_name(c->type),
                     (long long)c->id);
        goto out;
    }
    set_etag(c, row.version);
    resp_header(c->resp, "Cache-Control", "no-cache");
    resp_header(c->resp, "Accept-Patch", ACCEPT_PATCH);
    if (c->req->if_none_match != NULL && req_etag_matches(c->req->if_none_match, row.version, 1)) {
        resp_empty(c->resp, 304);
        goto out;
    }
    rep = representation(c, &row);
    resp_json(c->resp, 200, rep);
    json_object_put(rep);
out:
    store_row_clear(&row);
    return rc;
}

static enum ad_code
handle_list(struct call *c)
{
    int64_t limit = LIST_DEFAULT_LIMIT, after = 0;
    struct store_row *rows = NULL;
    size_t n = 0, i;
    json_object *body, *items, *links;
    enum ad_code rc;

    if (req_query_int(c->req, "limit", 1, LIST_MAX_LIMIT, &limit, &c->err) < 0 ||
        req_query_int(c->req, "after", 0, INT64_MAX / 2, &after, &c->err) < 0)
        return AD_BAD_REQUEST;
    rc = store_list(c->api->store, cat_type_name(c->type), after, (int)limit, &rows, &n, &c->err);
    if (rc != AD_OK)
        return rc;
    body = json_object_new_object();
    items = json_object_new_array();
    for (i = 0; i < n; i++)
        json_object_array_add(items, representation(c, &rows[i]));
    links = json_object_new_object();
    json_object_object_add(
        links, "self",
        link_object(xasprintf("%s/%s?limit=%lld&after=%lld", c->req->mount, cat_type_name(c->type),
                              (long long)limit, (long long)after),
                    NULL));
    if (n == (size_t)limit)
        json_object_object_add(links, "next",
                               link_object(xasprintf("%s/%s?limit=%lld&after=%lld", c->req->mount,
                                                     cat_type_name(c->type), (long long)limit,
                                                     (long long)rows[n - 1].id),
                                           NULL));
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "_links", links);
    resp_json(c->resp, 200, body);
    resp_header(c->resp, "Cache-Control", "no-cache");
    json_object_put(body);
    for (i = 0; i < n; i++)
        store_row_clear(&rows[i]);
    free(rows);
    return AD_OK;
}

static enum ad_code
handle_log(struct call *c)
{
    int64_t since = 0, limit = LOG_DEFAULT_LIMIT;
    int64_t version;
    int deleted;
    json_object *entries = NULL, *body, *links;
    size_t n;
    enum ad_code rc;

    if (req_query_int(c->req, "since", 0, INT64_MAX / 2, &since, &c->err) < 0 ||
        req_query_int(c->req, "limit", 1, LOG_MAX_LIMIT, &limit, &c->err) < 0)
        return AD_BAD_REQUEST;
    /* The history of a deleted resource stays readable: auditing needs it. */
    rc = store_version(c->api->store, cat_type_name(c->type), c->id, &version, &deleted, &c->err);
    if (rc != AD_OK)
        return rc;
    rc = store_log(c->api->store, c->id, since, (int)limit, &entries, &c->err);
    if (rc != AD_OK)
        return rc;
    n = json_object_array_length(entries);
    body = json_object_new_object();
    json_object_object_add(body, "resource", link_object(resource_href(c, c->id, ""), NULL));
    json_object_object_add(body, "current_version", json_object_new_int64(version));
    json_object_object_add(body, "entries", entries);
    links = json_object_new_object();
    {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=%lld", (long long)since,
                 (long long)limit);
        json_object_object_add(links, "self", link_object(resource_href(c, c->id, suffix), NULL));
        if (n == (size_t)limit) {
            json_object *last = json_object_array_get_idx(entries, n - 1);
            json_object *v;
            json_object_object_get_ex(last, "version", &v);
            snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=%lld",
                     (long long)json_object_get_int64(v), (long long)limit);
            json_object_object_add(links, "next",
                                   link_object(resource_href(c, c->id, suffix), NULL));
        }
    }
    json_object_object_add(body, "_links", links);
    resp_json(c->resp, 200, body);
    resp_header(c->resp, "Cache-Control", "no-cache");
    json_object_put(body);
    return AD_OK;
}

/* The 404 for a name that is not an action (or verb) here, listing what is. */
static enum ad_code
unknown_action(struct call *c, const char *name, int verbs_only, const char *state)
{
    json_object *allowed =
        verbs_only ? cat_type_verbs(c->type, state) : cat_type_allowed(c->type, state);

    ad_fail(&c->err, AD_NOT_FOUND, verbs_only ? NULL : "/action", "%s has no %s \"%s\"",
            cat_type_name(c->type), verbs_only ? "verb" : "action", name);
    ad_error_slug(&c->err, "unknown-action");
    ad_error_put(&c->err, "links", action_links(c, c->id, allowed));
    ad_error_put(&c->err, "allowed_actions", allowed);
    return AD_NOT_FOUND;
}

/*
 * A fingerprint of what a keyed request asks for, so a retry can be told from a
 * different request reusing the key: the route, and the body without its `id`.
 */
static char *
request_fingerprint(const struct call *c, json_object *body)
{
    json_object *copy = jsonp_copy(body);
    char *canon, *material, *hex = xmalloc(65);

    if (json_object_is_type(copy, json_type_object))
        json_object_object_del(copy, "id");
    canon = jsonp_canonical(copy);
    material = xasprintf("%s %s\n%s", c->req->method, c->req->path, canon);
    sha256_hex(material, strlen(material), hex);
    free(material);
    free(canon);
    json_object_put(copy);
    return hex;
}

/* Sends back the stored first response of a keyed request (SPEC 3.1). */
static void
replay(struct call *c, const struct store_replay *rp)
{
    json_object *status, *body, *location;

    json_object_object_get_ex(rp->response, "status", &status);
    set_etag(c, rp->version);
    resp_header(c->resp, "Idempotent-Replayed", "true");
    resp_header(c->resp, "Cache-Control", "no-store");
    if (json_object_object_get_ex(rp->response, "body", &body)) {
        resp_json(c->resp, json_object_get_int(status), body);
    } else {
        resp_empty(c->resp, json_object_get_int(status));
    }
    if (json_object_object_get_ex(rp->response, "location", &location))
        resp_header(c->resp, "Location", "%s", json_object_get_string(location));
}

/* The version of an If-Match naming exactly one strong tag "N", or 0. */
static int64_t
if_match_version(const char *im)
{
    int64_t v = 0;
    size_t i, n;

    while (*im == ' ' || *im == '\t')
        im++;
    n = strlen(im);
    while (n > 0 && (im[n - 1] == ' ' || im[n - 1] == '\t'))
        n--;
    if (n < 3 || n > 20 || im[0] != '"' || im[n - 1] != '"')
        return 0;
    for (i = 1; i < n - 1; i++) {
        if (im[i] < '0' || im[i] > '9')
            return 0;
        v = v * 10 + (im[i] - '0');
    }
    return v;
}

/* The 409 for a version the client had not caught up with, linking what it missed. */
static enum ad_code
stale(struct call *c, const char *slug, int64_t seen, int64_t current, const char *pointer,
      const char *detail)
{
    char suffix[64];
    json_object *links = json_object_new_object();

    snprintf(suffix, sizeof(suffix), "/actions?since=%lld", (long long)seen);
    json_object_object_add(links, "missed_actions",
                           link_object(resource_href(c, c->id, suffix), NULL));
    ad_fail(&c->err, AD_CONFLICT, pointer, "%s", detail);
    ad_error_slug(&c->err, slug);
    ad_error_put(&c->err, "current_version", json_object_new_int64(current));
    ad_error_put(&c->err, "links", links);
    return AD_CONFLICT;
}

/*
 * The preconditions of SPEC 3.1 against the locked version: If-Match (412, strong
 * comparison; "*" only asserts existence), then a required precondition (428), then
 * expected_version (409, with the link to what the client missed). When the request
 * may merge (issue 6) an older version is not refused: *merge_base receives it and
 * the caller checks the entries since for overlap.
 */
static enum ad_code
check_preconditions(struct call *c, const struct action_request *ar, int needs, int may_merge,
                    int64_t current, int64_t *merge_base)
{
    const char *im = c->req->if_match;
    int has_tag = im != NULL && !is_wildcard(im);
    int64_t seen = ar->has_expected_version ? ar->expected_version : 0;
    char detail[160];

    *merge_base = 0;
    if (has_tag && !req_etag_matches(im, current, 0)) {
        int64_t tagged = if_match_version(im);
        if (may_merge && tagged > 0 && tagged < current && (seen == 0 || seen == tagged)) {
            *merge_base = tagged;
            return AD_OK;
        }
        ad_fail(&c->err, AD_PRECONDITION_FAILED, NULL,
                "If-Match does not match the current version %lld (strong comparison)",
                (long long)current);
        ad_error_put(&c->err, "current_version", json_object_new_int64(current));
        return AD_PRECONDITION_FAILED;
    }
    if (needs && !has_tag && !ar->has_expected_version) {
        ad_fail(&c->err, AD_PRECONDITION_REQUIRED, NULL,
                "this action needs \"expected_version\" or If-Match: \"<version>\"%s",
                im != NULL ? " (If-Match: * does not name a version)" : "");
        ad_error_put(&c->err, "current_version", json_object_new_int64(current));
        return AD_PRECONDITION_REQUIRED;
    }
    if (ar->has_expected_version && seen != current) {
        if (may_merge && seen < current) {
            *merge_base = seen;
            return AD_OK;
        }
        snprintf(detail, sizeof(detail),
                 "expected version %lld but the resource is at version %lld", (long long)seen,
                 (long long)current);
        return stale(c, "stale-version", seen, current, "/expected_version", detail);
    }
    return AD_OK;
}

/*
 * Merging (issue 6): the request was made against version `base`; it may apply over
 * the entries since only when none of them touched what it touches. Fills *over with
 * the versions merged over (malloc'd, *n of them), or answers 409 merge-conflict
 * naming the overlapping entries.
 */
static enum ad_code
check_merge(struct call *c, int64_t base, int64_t current, json_object *ours, int64_t **over,
            size_t *n)
{
    struct store_logent *missed = NULL;
    json_object *conflicts;
    size_t i, nmissed = 0;
    char detail[160];
    enum ad_code rc;

    *over = NULL;
    *n = 0;
    if (current - base > HISTORY_MAX_SPAN) {
        snprintf(detail, sizeof(detail), "version %lld is more than %d versions behind",
                 (long long)base, HISTORY_MAX_SPAN);
        return stale(c, "merge-conflict", base, current, NULL, detail);
    }
    rc = store_entries(c->api->store, c->id, base + 1, current, &missed, &nmissed, &c->err);
    if (rc != AD_OK)
        return rc;
    conflicts = json_object_new_array();
    for (i = 0; i < nmissed; i++)
        if (touch_overlap(ours, missed[i].has_touches ? missed[i].touches : NULL))
            json_object_array_add(conflicts, json_object_new_int64(missed[i].version));
    if (json_object_array_length(conflicts) > 0) {
        snprintf(detail, sizeof(detail),
                 "since version %lld, %zu change(s) touched what this request touches",
                 (long long)base, json_object_array_length(conflicts));
        stale(c, "merge-conflict", base, current, NULL, detail);
        ad_error_put(&c->err, "conflicting_versions", conflicts);
        rc = AD_CONFLICT;
    } else {
        json_object_put(conflicts);
        *over = xcalloc(nmissed + 1, sizeof(**over));
        for (i = 0; i < nmissed; i++)
            (*over)[i] = missed[i].version;
        *n = nmissed;
    }
    store_logent_free(missed, nmissed);
    return rc;
}

static json_object *item_touches(const struct call *c, enum via via, const struct action *a,
                                 const struct action_effect *eff, json_object *before);

/*
 * A merging request whose item i failed against the current document: when an entry
 * it missed overlaps what items 0..i touch, that is the real cause, and the answer is
 * 409 merge-conflict (returns 1, err replaced); otherwise the failure stands (0).
 */
static int
merge_explains_failure(struct call *c, enum via via, const struct action_request *ar, size_t i,
                       const struct action_effect *eff, int64_t base, int64_t current)
{
    json_object *ours = json_object_new_array();
    struct ad_error failure = c->err;
    int64_t *over = NULL;
    size_t j, k, n;
    enum ad_code rc;

    memset(&c->err, 0, sizeof(c->err));
    for (j = 0; j <= i; j++) {
        json_object *t = item_touches(c, via, &ar->items[j], &eff[j], NULL);
        for (k = 0; k < json_object_array_length(t); k++)
            json_object_array_add(ours, json_object_get(json_object_array_get_idx(t, k)));
        json_object_put(t);
    }
    rc = check_merge(c, base, current, ours, &over, &n);
    json_object_put(ours);
    free(over);
    if (rc == AD_CONFLICT) {
        ad_error_clear(&failure);
        return 1;
    }
    ad_error_clear(&c->err);
    c->err = failure;
    return 0;
}

/* What an applied item touched (touch.h): semantic for catalog actions, by path for
 * patches, undo and redo (`before` is the document they applied to, or NULL),
 * everything for a delete. A new array. */
static json_object *
item_touches(const struct call *c, enum via via, const struct action *a,
             const struct action_effect *eff, json_object *before)
{
    json_object *t;

    switch (via) {
    case VIA_ACTIONS:
    case VIA_VERB:
        return touch_action(c->type, a, eff);
    case VIA_DELETE:
        t = json_object_new_array();
        touch_add_all(t);
        return t;
    default:
        t = touch_patch(eff->forward, before);
        if (eff->new_state != NULL)
            touch_add_state(t);
        return t;
    }
}

/* Adds `eff->result` members to `into`. */
static void
merge_result(json_object *into, const struct action_effect *eff)
{
    if (eff->result == NULL)
        return;
    json_object_object_foreach(eff->result, key, val)
    {
        json_object_object_add(into, key, json_object_get(val));
    }
}

/* The log's name for a change that is not a catalog action. */
static const char *
builtin_name(enum via via)
{
    switch (via) {
    case VIA_JSON_PATCH:
        return "json_patch";
    case VIA_MERGE_PATCH:
        return "merge_patch";
    case VIA_DELETE:
        return "delete";
    case VIA_UNDO:
        return "undo";
    case VIA_REDO:
        return "redo";
    default:
        return NULL;
    }
}

/*
 * Checks that every item names something this route may apply; sets *needs (some item
 * needs a precondition) and *always_merge (every item merges a stale version anyway).
 */
static enum ad_code
check_names(struct call *c, const struct action_request *ar, enum via via, const char *state,
            int *needs, int *always_merge)
{
    size_t i;

    *needs = 0;
    *always_merge = builtin_name(via) == NULL;
    if (builtin_name(via) != NULL) {
        *needs = 1; /* PATCH and DELETE replace what the client saw: always guarded */
        return AD_OK;
    }
    for (i = 0; i < ar->n; i++) {
        const struct cat_action *act = cat_type_action(c->type, ar->items[i].name);
        enum cat_action_kind kind = act ? cat_action_kind(act) : CAT_EDIT;
        if (act == NULL || kind == CAT_DUPLICATE || (via == VIA_VERB && kind == CAT_EDIT)) {
            enum ad_code rc = unknown_action(c, ar->items[i].name, via == VIA_VERB, state);
            if (act != NULL && kind == CAT_DUPLICATE) {
                ad_error_slug(&c->err, "verb-not-an-action");
                snprintf(c->err.detail, sizeof(c->err.detail),
                         "%s is a verb: POST it to its own route, %s/%s/%lld/%s", ar->items[i].name,
                         c->req->mount, cat_type_name(c->type), (long long)c->id,
                         ar->items[i].name);
            }
            if (ar->batch) {
                char prefix[48];
                snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
                ad_error_prefix_pointer(&c->err, prefix);
                ad_error_put(&c->err, "failed_index", json_object_new_int64((int64_t)i));
            }
            return rc;
        }
        *needs |= cat_action_needs_precondition(act);
        *always_merge &= cat_action_always_merges(act);
    }
    return AD_OK;
}

/* The conflict an undo or redo cannot apply over. */
static enum ad_code history_conflict(struct call *c, const char *slug, int64_t version,
                                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum ad_code
history_conflict(struct call *c, const char *slug, int64_t version, const char *fmt, ...)
{
    char detail[AD_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    ad_error_clear(&c->err);
    ad_fail(&c->err, AD_CONFLICT, NULL, "%s", detail);
    ad_error_slug(&c->err, slug);
    if (version > 0) {
        char suffix[64];
        json_object *links = json_object_new_object();
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=1", (long long)version - 1);
        json_object_object_add(links, "conflicting_entry",
                               link_object(resource_href(c, c->id, suffix), NULL));
        ad_error_put(&c->err, "conflicting_version", json_object_new_int64(version));
        ad_error_put(&c->err, "links", links);
    }
    return AD_CONFLICT;
}

/*
 * Compiles an undo (or redo) against the locked resource and applies it: finds the
 * entry to revert on its stack, builds the patches from the log, refuses when a later
 * change overlaps (409 naming it) or the reverse transition is not in the catalog.
 */
static enum ad_code
apply_history(struct call *c, enum via via, struct store_row *row, struct action_effect *eff,
              struct hist_step *hs)
{
    struct store *st = c->api->store;
    int redo = via == VIA_REDO;
    const char *what = redo ? "redo" : "undo";
    struct store_logent *ents = NULL;
    const struct store_logent *target, *later;
    size_t n = 0, nunit;
    int64_t top, first;
    const char *before;
    enum ad_code rc;

    rc = store_stack_top(st, c->id, redo ? row->redo_top : row->undo_top,
                         hs->actor_scope ? c->actor : NULL, what, &top, &c->err);
    if (rc != AD_OK)
        return rc;
    if (top == 0)
        return history_conflict(c, redo ? "nothing-to-redo" : "nothing-to-undo", 0,
                                "there is nothing to %s%s", what,
                                hs->actor_scope ? " of yours" : "");
    rc = store_entries(st, c->id, top, top, &ents, &n, &c->err);
    if (rc != AD_OK)
        return rc;
    first = n == 1 ? ents[0].unit_first : top;
    store_logent_free(ents, n);
    if (row->version - first >= HISTORY_MAX_SPAN)
        return history_conflict(c, "history-too-deep", top,
                                "version %lld is more than %d versions back", (long long)top,
                                HISTORY_MAX_SPAN);
    /* the entry before the unit (its state), the unit, then everything after it */
    rc = store_entries(st, c->id, first - 1, row->version, &ents, &n, &c->err);
    if (rc != AD_OK)
        return rc;
    nunit = (size_t)(top - first + 1);
    if (n < nunit + 1) {
        rc = ad_fail(&c->err, AD_INTERNAL, NULL, "the log of %s %lld has gaps",
                     cat_type_name(c->type), (long long)c->id);
        goto out;
    }
    target = &ents[nunit];
    before = ents[0].state;
    if (redo) {
        eff->forward = json_object_get(target->inverse);
        eff->inverse = json_object_get(target->forward);
    } else {
        hist_undo_patches(&ents[1], nunit, &eff->forward, &eff->inverse);
    }
    later = hist_first_conflict(&ents[nunit + 1], n - nunit - 1, eff->forward);
    if (later != NULL) {
        rc = history_conflict(c, "undo-conflict", later->version,
                              "version %lld (%s by %s) changed what this %s would restore",
                              (long long)later->version, later->action, later->actor, what);
        goto out;
    }
    if (before != NULL && row->state != NULL && strcmp(before, row->state) != 0) {
        if (cat_type_transition(c->type, row->state, before) == NULL) {
            rc = history_conflict(c, "transition-not-allowed", 0,
                                  "the %s would move from state %s back to %s, and no "
                                  "transition does that",
                                  what, row->state, before);
            goto out;
        }
        eff->new_state = xstrdup(before);
    }
    rc = patch_apply(&row->data, eff->forward, NULL, &c->err);
    if (rc != AD_OK) {
        rc = history_conflict(c, "undo-conflict", 0,
                              "the document no longer has what this %s would restore (%s)", what,
                              c->err.detail);
        goto out;
    }
    hs->reverts = top;
    hs->target_prev = target->stack_prev;
    eff->result = json_object_new_object();
    json_object_object_add(eff->result, "reverts", json_object_new_int64(top));
out:
    store_logent_free(ents, n);
    return rc;
}

/* Applies one item of the request to row->data (and row->state / row->deleted). A new
 * state is borrowed from eff, which outlives the row's use of it. */
static enum ad_code
apply_one(struct call *c, enum via via, const struct action *a, const char *prefix,
          struct store_row *row, struct action_effect *eff, struct hist_step *hs)
{
    enum ad_code rc;

    switch (via) {
    case VIA_JSON_PATCH:
    case VIA_MERGE_PATCH:
        if (via == VIA_JSON_PATCH) {
            eff->forward = json_object_get(a->data);
            rc = patch_apply(&row->data, a->data, &eff->inverse, &c->err);
        } else {
            rc = patch_merge(&row->data, a->data, &eff->forward, &eff->inverse, &c->err);
        }
        if (rc == AD_OK && !cat_type_any_document(c->type) &&
            !json_object_is_type(row->data, json_type_object)) {
            /* Undo in place: the caller restores nothing after a failure. */
            patch_apply(&row->data, eff->inverse, NULL, NULL);
            return ad_fail(&c->err, AD_UNPROCESSABLE, "", "a %s document must stay an object",
                           cat_type_name(c->type));
        }
        return rc;
    case VIA_DELETE:
        eff->forward = json_object_new_array();
        eff->inverse = json_object_new_array();
        row->deleted = 1;
        return AD_OK;
    case VIA_UNDO:
    case VIA_REDO:
        rc = apply_history(c, via, row, eff, hs);
        break;
    default:
        rc = action_apply(c->type, a, row->state, prefix, &row->data, eff, &c->err);
        break;
    }
    if (rc == AD_OK && eff->new_state != NULL) {
        row->state = eff->new_state;
        c->state = row->state;
    }
    return rc;
}

/*
 * The version a request can only succeed at, so the lock is not even waited for at
 * another (issue 5): its expected_version, or the one strong tag of its If-Match.
 * 0 (lock whatever the version) when it may merge or replay an earlier attempt, both
 * of which succeed at other versions.
 */
static int64_t
lock_only_version(const struct call *c, const struct action_request *ar, enum via via,
                  const char *key)
{
    size_t i;

    if (key != NULL || ar->merge)
        return 0;
    if (builtin_name(via) == NULL) {
        int always = 1;
        for (i = 0; i < ar->n; i++) {
            const struct cat_action *act = cat_type_action(c->type, ar->items[i].name);
            always &= act != NULL && cat_action_always_merges(act);
        }
        if (always)
            return 0;
    }
    if (ar->has_expected_version)
        return ar->expected_version;
    return c->req->if_match != NULL ? if_match_version(c->req->if_match) : 0;
}

/*
 * Threads the new entries onto the undo and redo stacks (sql/002_history.sql): an
 * ordinary change (or batch, as one unit) goes on the undo stack and clears the redo
 * stack; an undo goes on the redo stack and a redo on the undo stack, each popping the
 * entry it reverted when that entry was on top. A delete leaves both as they are.
 */
static void
link_history(struct store_row *row, struct store_entry *entries, size_t n, int64_t first_version,
             enum via via, const struct hist_step *hs)
{
    struct store_entry *last = &entries[n - 1];

    switch (via) {
    case VIA_DELETE:
        return;
    case VIA_UNDO:
        last->reverts = hs->reverts;
        last->stack_prev = row->redo_top;
        if (row->undo_top == hs->reverts)
            row->undo_top = hs->target_prev;
        row->redo_top = row->version;
        return;
    case VIA_REDO:
        last->reverts = hs->reverts;
        last->stack_prev = row->undo_top;
        if (row->redo_top == hs->reverts)
            row->redo_top = hs->target_prev;
        row->undo_top = row->version;
        return;
    default:
        last->stack_prev = row->undo_top;
        last->unit_first = n > 1 ? first_version : 0;
        row->undo_top = row->version;
        row->redo_top = 0;
        return;
    }
}

/*
 * Applies the items of `ar` to the resource in one transaction: lock, replay check,
 * names, preconditions, apply each item, write and log, commit. Any failure rolls
 * everything back. `body` is the request body (for the idempotency fingerprint).
 */
static enum ad_code
apply_actions(struct call *c, const struct action_request *ar, json_object *body, enum via via,
              const char *key, struct hist_step *hs)
{
    struct store *st = c->api->store;
    struct store_row row = {0};
    struct store_replay rp = {0};
    struct store_entry *entries = NULL;
    struct action_effect *eff = NULL;
    struct store_idem idem = {0};
    json_object *response = NULL, *out = NULL, *results = NULL;
    char *txn_time = NULL, *fingerprint = NULL, *location = NULL, *locked_state = NULL;
    int64_t first_version, merge_base = 0, base_version, *merged_over = NULL;
    size_t n_merged = 0;
    json_object *touches = NULL, *before = NULL;
    int always_merge;
    int locked = 0, needs, found, no_body = via == VIA_VERB || via == VIA_DELETE;
    size_t i;
    enum ad_code rc;

    rc = store_lock(st, cat_type_name(c->type), c->id, lock_only_version(c, ar, via, key), &row,
                    &txn_time, &c->err);
    locked_state = row.state; /* row.state may come to point into eff; this is freed */
    c->state = row.state;
    if (rc == AD_CONFLICT && row.id != 0) {
        /* stale before the lock: the same answer as under it, without the wait */
        ad_error_clear(&c->err);
        if (row.deleted)
            rc = ad_fail(&c->err, AD_GONE, NULL, "%s %lld was deleted", cat_type_name(c->type),
                         (long long)c->id);
        else if ((rc = check_names(c, ar, via, row.state, &needs, &always_merge)) == AD_OK)
            rc = check_preconditions(c, ar, needs, 0, row.version, &merge_base);
        goto out;
    }
    if (rc != AD_OK)
        goto out;
    locked = 1;

    /* A retry carries a now-stale version (or finds the resource it deleted), so the
     * replay check comes first. */
    if (key != NULL) {
        fingerprint = request_fingerprint(c, body);
        rc = store_find_key(st, c->actor, key, &found, &rp, &c->err);
        if (rc != AD_OK)
            goto out;
        if (found) {
            if (rp.resource_id != c->id || strcmp(rp.fingerprint, fingerprint) != 0) {
                rc = ad_fail(&c->err, AD_UNPROCESSABLE, NULL,
                             "this idempotency key was used for a different request");
                ad_error_slug(&c->err, "idempotency-key-reused");
                goto out;
            }
            replay(c, &rp);
            rc = AD_OK;
            goto out;
        }
    }
    if (row.deleted) {
        rc = ad_fail(&c->err, AD_GONE, NULL, "%s %lld was deleted", cat_type_name(c->type),
                     (long long)c->id);
        goto out;
    }

    rc = check_names(c, ar, via, row.state, &needs, &always_merge);
    if (rc != AD_OK)
        goto out;
    base_version = row.version;
    rc = check_preconditions(c, ar, needs, ar->merge || always_merge, row.version, &merge_base);
    if (rc != AD_OK)
        goto out;

    eff = xcalloc(ar->n, sizeof(*eff));
    entries = xcalloc(ar->n, sizeof(*entries));
    touches = json_object_new_array();
    results = json_object_new_array();
    for (i = 0; i < ar->n; i++) {
        char prefix[48] = "";
        json_object *one;
        if (ar->batch)
            snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
        /* patches address arrays by position: their touches need the document before */
        before = via == VIA_ACTIONS || via == VIA_VERB || via == VIA_DELETE ? NULL
                                                                            : jsonp_copy(row.data);
        rc = apply_one(c, via, &ar->items[i], prefix, &row, &eff[i], hs);
        if (rc != AD_OK && merge_base > 0 &&
            merge_explains_failure(c, via, ar, i, eff, merge_base, base_version))
            goto out;
        if (rc != AD_OK) {
            if (ar->batch)
                ad_error_put(&c->err, "failed_index", json_object_new_int64((int64_t)i));
            goto out;
        }
        entries[i].action = ar->items[i].name;
        entries[i].target = ar->items[i].target;
        entries[i].data = ar->items[i].data;
        entries[i].forward = eff[i].forward;
        entries[i].inverse = eff[i].inverse;
        entries[i].state = row.state;
        entries[i].touches = item_touches(c, via, &ar->items[i], &eff[i], before);
        json_object_put(before);
        before = NULL;
        json_object_array_add(touches, json_object_get(entries[i].touches));
        one = json_object_new_object();
        json_object_object_add(one, "action", json_object_new_string(ar->items[i].name));
        json_object_object_add(one, "version", json_object_new_int64(row.version + 1 + (int64_t)i));
        merge_result(one, &eff[i]);
        json_object_array_add(results, one);
    }
    if (merge_base > 0) {
        json_object *ours = json_object_new_array();
        for (i = 0; i < ar->n; i++) {
            size_t j, m = json_object_array_length(entries[i].touches);
            for (j = 0; j < m; j++)
                json_object_array_add(
                    ours, json_object_get(json_object_array_get_idx(entries[i].touches, j)));
        }
        rc = check_merge(c, merge_base, base_version, ours, &merged_over, &n_merged);
        json_object_put(ours);
        if (rc != AD_OK)
            goto out;
        for (i = 0; i < ar->n; i++) {
            entries[i].based_on = merge_base;
            entries[i].merged_over = merged_over;
            entries[i].n_merged_over = n_merged;
        }
    }
    first_version = row.version + 1;
    row.version += (int64_t)ar->n;
    link_history(&row, entries, ar->n, first_version, via, hs);

    out = json_object_new_object();
    json_object_object_add(out, "success", json_object_new_boolean(1));
    json_object_object_add(out, "version", json_object_new_int64(row.version));
    json_object_object_add(out, "applied_at", json_object_new_string(txn_time));
    if (ar->batch) {
        json_object_object_add(out, "results", json_object_get(results));
    } else {
        json_object_object_add(out, "action", json_object_new_string(ar->items[0].name));
        merge_result(out, &eff[0]);
    }
    if (row.state != NULL)
        json_object_object_add(out, "state", json_object_new_string(row.state));
    if (merge_base > 0) {
        json_object *list = json_object_new_array();
        for (i = 0; i < n_merged; i++)
            json_object_array_add(list, json_object_new_int64(merged_over[i]));
        json_object_object_add(out, "based_on", json_object_new_int64(merge_base));
        json_object_object_add(out, "merged_over", list);
    }
    json_object_object_add(out, "data", jsonp_copy(row.data));

    response = json_object_new_object();
    json_object_object_add(response, "status", json_object_new_int(no_body ? 204 : 200));
    if (!no_body)
        json_object_object_add(response, "body", json_object_get(out));
    if (via == VIA_VERB) {
        location = resource_href(c, c->id, "");
        json_object_object_add(response, "location", json_object_new_string(location));
    }
    idem.key = key;
    idem.fingerprint = fingerprint;
    idem.response = response;
    rc = store_commit(st, &row, entries, ar->n, c->actor, key ? &idem : NULL, &c->err);
    locked = 0;
    if (rc != AD_OK)
        goto out;

    set_etag(c, row.version);
    resp_header(c->resp, "Cache-Control", "no-store");
    if (no_body) {
        resp_empty(c->resp, 204);
        if (location != NULL)
            resp_header(c->resp, "Location", "%s", location);
    } else {
        resp_json(c->resp, 200, out);
    }
out:
    if (locked)
        store_rollback(st);
    if (eff != NULL)
        for (i = 0; i < ar->n; i++) {
            action_effect_clear(&eff[i]);
            json_object_put(entries[i].touches);
        }
    json_object_put(touches);
    json_object_put(before);
    free(merged_over);
    free(eff);
    free(entries);
    json_object_put(results);
    json_object_put(out);
    json_object_put(response);
    store_replay_clear(&rp);
    free(fingerprint);
    free(location);
    free(txn_time);
    c->state = NULL;
    row.state = locked_state;
    store_row_clear(&row);
    return rc;
}

/*
 * The idempotency key of a request: the envelope's `id` or the Idempotency-Key header.
 * When both are present they must agree. *key is malloc'd or NULL.
 */
static enum ad_code
request_key(struct call *c, const struct action_request *ar, char **key)
{
    enum ad_code rc = req_idempotency_key(c->req, ACTION_MAX_ID, key, &c->err);

    if (rc != AD_OK)
        return rc;
    if (ar->id == NULL)
        return AD_OK;
    if (*key != NULL && strcmp(*key, ar->id) != 0) {
        free(*key);
        *key = NULL;
        return ad_fail(&c->err, AD_BAD_REQUEST, "/id",
                       "the body's id and the Idempotency-Key header differ");
    }
    free(*key);
    *key = xstrdup(ar->id);
    return AD_OK;
}

/*
 * An undo or redo, from {"action": "undo"|"redo", "scope"?, "expected_version"?, "id"?}
 * on the actions route or the same members (without "action") on POST .../undo|redo.
 * `body` may be NULL (an empty body on the verb route).
 */
static enum ad_code
handle_history(struct call *c, const char *name, json_object *body)
{
    json_object *envelope = body ? jsonp_copy(body) : json_object_new_object(), *scope;
    struct action_request ar = {0};
    struct hist_step hs = {0};
    char *key = NULL;
    enum ad_code rc;

    if (!json_object_is_type(envelope, json_type_object)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, "", "the body must be a JSON object");
        goto out;
    }
    if (json_object_object_get_ex(envelope, "scope", &scope)) {
        const char *v = json_object_get_string(scope);
        if (!json_object_is_type(scope, json_type_string) ||
            (strcmp(v, "actor") != 0 && strcmp(v, "resource") != 0) ||
            (strcmp(name, "redo") == 0 && strcmp(v, "actor") == 0)) {
            rc = ad_fail(&c->err, AD_BAD_REQUEST, "/scope",
                         "scope is \"resource\" (the default) or, for undo, \"actor\"");
            goto out;
        }
        hs.actor_scope = strcmp(v, "actor") == 0;
        json_object_object_del(envelope, "scope");
    }
    if (json_object_object_get_ex(envelope, "target", NULL) ||
        json_object_object_get_ex(envelope, "data", NULL)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST,
                     json_object_object_get_ex(envelope, "target", NULL) ? "/target" : "/data",
                     "%s takes no target or data", name);
        goto out;
    }
    json_object_object_add(envelope, "action", json_object_new_string(name));
    rc = action_parse(envelope, &ar, &c->err);
    if (rc != AD_OK)
        goto out;
    rc = request_key(c, &ar, &key);
    if (rc != AD_OK)
        goto out;
    rc = apply_actions(c, &ar, body, strcmp(name, "redo") == 0 ? VIA_REDO : VIA_UNDO, key, &hs);
out:
    free(key);
    action_request_free(&ar);
    json_object_put(envelope);
    return rc;
}

static enum ad_code
handle_actions(struct call *c)
{
    json_object *body = NULL, *name;
    struct action_request ar = {0};
    char *key = NULL;
    int present;
    enum ad_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != AD_OK)
        goto out;
    if (!present) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, NULL, "an action needs a JSON body");
        goto out;
    }
    if (json_object_is_type(body, json_type_object) &&
        json_object_object_get_ex(body, "action", &name) &&
        json_object_is_type(name, json_type_string) &&
        (strcmp(json_object_get_string(name), "undo") == 0 ||
         strcmp(json_object_get_string(name), "redo") == 0)) {
        rc = handle_history(c, json_object_get_string(name), body);
        goto out;
    }
    rc = action_parse(body, &ar, &c->err);
    if (rc != AD_OK)
        goto out;
    rc = request_key(c, &ar, &key);
    if (rc != AD_OK)
        goto out;
    rc = apply_actions(c, &ar, body, VIA_ACTIONS, key, NULL);
out:
    free(key);
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/*
 * Copies a resource: a new resource owned by the caller, logged from its own creation
 * with an entry naming the source. The body is optional: an empty object.
 */
static enum ad_code
duplicate(struct call *c)
{
    struct store_row src = {0};
    struct store_entry entry = {0};
    json_object *body = NULL, *note = NULL;
    char *source;
    int present;
    enum ad_code rc;

    rc = read_json_body(c, &body, &present);
    if (rc != AD_OK)
        goto out;
    if (present && !json_object_is_type(body, json_type_object)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, "", "the body of a verb must be a JSON object");
        goto out;
    }
    if (present) {
        json_object_object_foreach(body, name, val)
        {
            char *p = ptr_join("", name);
            (void)val;
            rc = ad_fail(&c->err, AD_BAD_REQUEST, p,
                         "unknown member: duplicate takes an empty object (send an "
                         "idempotency key as Idempotency-Key)");
            free(p);
            goto out;
        }
    }
    rc = store_get(c->api->store, cat_type_name(c->type), c->id, &src, &c->err);
    if (rc != AD_OK)
        goto out;
    if (src.deleted) {
        rc = ad_fail(&c->err, AD_GONE, NULL, "%s %lld was deleted", cat_type_name(c->type),
                     (long long)c->id);
        goto out;
    }
    note = json_object_new_object();
    source = resource_href(c, c->id, "");
    json_object_object_add(note, "source", json_object_new_string(source));
    json_object_object_add(note, "source_version", json_object_new_int64(src.version));
    free(source);
    creation_entry(&entry, "duplicate", src.data, note);
    rc = create_keyed(c, body, src.data, &entry);
out:
    creation_entry_clear(&entry);
    json_object_put(note);
    json_object_put(body);
    store_row_clear(&src);
    return rc;
}

/*
 * POST /{type}/{id}/{verb}: a state transition (204) or a verb such as duplicate (201).
 * An optional JSON body is an envelope without "action" (expected_version, id, data).
 */
static enum ad_code
handle_verb(struct call *c, const char *verb)
{
    const struct cat_action *act = cat_type_action(c->type, verb);
    json_object *body = NULL;
    struct action_request ar = {0};
    char *key = NULL;
    int present;
    enum ad_code rc;

    if (act != NULL && cat_action_kind(act) == CAT_DUPLICATE)
        return duplicate(c);
    if (strcmp(verb, "undo") == 0 || strcmp(verb, "redo") == 0) {
        rc = read_json_body(c, &body, &present);
        if (rc == AD_OK)
            rc = handle_history(c, verb, body);
        json_object_put(body);
        return rc;
    }
    if (act == NULL || cat_action_kind(act) != CAT_TRANSITION) {
        struct store_row row = {0};
        rc = store_get(c->api->store, cat_type_name(c->type), c->id, &row, &c->err);
        if (rc == AD_OK && row.deleted)
            rc = ad_fail(&c->err, AD_GONE, NULL, "%s %lld was deleted", cat_type_name(c->type),
                         (long long)c->id);
        else if (rc == AD_OK)
            rc = unknown_action(c, verb, 1, row.state);
        store_row_clear(&row);
        return rc;
    }
    rc = read_json_body(c, &body, &present);
    if (rc != AD_OK)
        goto out;
    if (!present)
        body = json_object_new_object();
    if (!json_object_is_type(body, json_type_object)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, "", "the body of a verb must be a JSON object");
        goto out;
    }
    if (json_object_object_get_ex(body, "action", NULL)) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, "/action", "the verb is named by the path");
        goto out;
    }
    json_object_object_add(body, "action", json_object_new_string(verb));
    rc = action_parse(body, &ar, &c->err);
    if (rc != AD_OK)
        goto out;
    rc = request_key(c, &ar, &key);
    if (rc != AD_OK)
        goto out;
    rc = apply_actions(c, &ar, body, VIA_VERB, key, NULL);
out:
    free(key);
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/* A request of one built-in change (PATCH, DELETE) carrying `data` (borrowed). */
static void
builtin_request(struct action_request *ar, enum via via, json_object *data)
{
    memset(ar, 0, sizeof(*ar));
    ar->n = 1;
    ar->items = xcalloc(1, sizeof(*ar->items));
    ar->items[0].name = xstrdup(builtin_name(via));
    ar->items[0].data = json_object_get(data);
}

/* PATCH has no envelope: ?on_conflict=merge asks for merging (issue 6). */
static enum ad_code
patch_merge_option(struct call *c, int *merge)
{
    const char *v;
    size_t n;

    *merge = 0;
    if (!req_query_param(c->req, "on_conflict", &v, &n))
        return AD_OK;
    if (n == 5 && strncmp(v, "merge", 5) == 0)
        *merge = 1;
    else if (n != 6 || strncmp(v, "reject", 6) != 0)
        return ad_fail(&c->err, AD_BAD_REQUEST, NULL,
                       "query parameter on_conflict must be reject or merge");
    return AD_OK;
}

/* PATCH /{type}/{id}: JSON Patch (RFC 6902 plus create) or JSON Merge Patch (RFC 7396). */
static enum ad_code
handle_patch(struct call *c)
{
    json_object *body = NULL;
    struct action_request ar = {0};
    char *key = NULL;
    const char *media;
    enum via via;
    int present;
    enum ad_code rc;

    if (req_content_type_is(c->req, "application/json-patch+json")) {
        via = VIA_JSON_PATCH;
        media = "application/json-patch+json";
    } else if (req_content_type_is(c->req, "application/merge-patch+json")) {
        via = VIA_MERGE_PATCH;
        media = "application/merge-patch+json";
    } else {
        c->accept_patch = 1;
        return ad_fail(&c->err, AD_UNSUPPORTED_MEDIA, NULL,
                       "PATCH takes application/json-patch+json or application/merge-patch+json");
    }
    rc = read_body_as(c, media, &body, &present);
    if (rc != AD_OK)
        goto out;
    if (!present) {
        rc = ad_fail(&c->err, AD_BAD_REQUEST, NULL, "PATCH needs a body");
        goto out;
    }
    rc = req_idempotency_key(c->req, ACTION_MAX_ID, &key, &c->err);
    if (rc != AD_OK)
        goto out;
    builtin_request(&ar, via, body);
    rc = patch_merge_option(c, &ar.merge);
    if (rc != AD_OK)
        goto out;
    rc = apply_actions(c, &ar, body, via, key, NULL);
out:
    free(key);
    action_request_free(&ar);
    json_object_put(body);
    return rc;
}

/* DELETE /{type}/{id}: logged like any change; later reads answer 410. */
static enum ad_code
handle_delete(struct call *c)
{
    struct action_request ar;
    char *key = NULL;
    enum ad_code rc;

    rc = req_idempotency_key(c->req, ACTION_MAX_ID, &key, &c->err);
    if (rc != AD_OK)
        return rc;
    builtin_request(&ar, VIA_DELETE, NULL);
    rc = apply_actions(c, &ar, NULL, VIA_DELETE, key, NULL);
    action_request_free(&ar);
    free(key);
    return rc;
}

static enum ad_code
method_not_allowed(struct call *c, const char *allow)
{
    c->allow = allow;
    return ad_fail(&c->err, AD_METHOD_NOT_ALLOWED, NULL, "%s is not allowed here; allowed: %s",
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

static enum ad_code
route(struct call *c)
{
    struct req *r = c->req;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    enum ad_code rc;

    if (r->nseg == 1 && strcmp(r->seg[0], "healthz") == 0) {
        if (!get)
            return method_not_allowed(c, "GET, HEAD");
        return handle_health(c);
    }
    rc = store_ready(c->api->store, &c->err);
    if (rc != AD_OK)
        return rc;
    rc = auth_actor(c->api->auth, c->api->store, r->authorization, &c->actor, &c->err);
    if (rc != AD_OK)
        return rc;
    if (r->nseg == 0 || r->nseg > 3 || r->path_too_deep)
        return ad_fail(&c->err, AD_NOT_FOUND, NULL, "no such resource");
    c->type = catalog_type(c->api->catalog, r->seg[0]);
    if (c->type == NULL) {
        rc = ad_fail(&c->err, AD_NOT_FOUND, NULL, "there is no resource type \"%s\"", r->seg[0]);
        ad_error_slug(&c->err, "unknown-type");
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
        return ad_fail(&c->err, AD_NOT_FOUND, NULL, "%s has no resource \"%s\"",
                       cat_type_name(c->type), r->seg[1]);
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
    if (!post)
        return method_not_allowed(c, "POST");
    return handle_verb(c, r->seg[2]);
}

/* A problem that lists allowed_actions also links each of them (SPEC 3.2). */
static void
add_error_links(struct call *c)
{
    json_object *allowed;

    if (c->err.extra == NULL || c->type == NULL || c->id == 0 ||
        json_object_object_get_ex(c->err.extra, "links", NULL) ||
        !json_object_object_get_ex(c->err.extra, "allowed_actions", &allowed))
        return;
    ad_error_put(&c->err, "links", action_links(c, c->id, allowed));
}

void
api_handle(struct api *a, struct req *r, struct resp *out)
{
    struct call c = {0};
    enum ad_code rc;

    c.api = a;
    c.req = r;
    c.resp = out;
    rc = route(&c);
    if (rc != AD_OK) {
        /* A problem replaces whatever a handler had started to build. */
        sbuf_reset(&out->headers);
        if (c.err.code == AD_OK)
            ad_fail(&c.err, rc, NULL, "%s", ad_code_title(rc));
        if (c.allow != NULL)
            resp_header(out, "Allow", "%s", c.allow);
        if (c.accept_patch)
            resp_header(out, "Accept-Patch", ACCEPT_PATCH);
        add_error_links(&c);
        resp_problem(out, &c.err);
    }
    if (strcmp(r->method, "HEAD") == 0)
        out->omit_body = 1;
    ad_error_clear(&c.err);
}
