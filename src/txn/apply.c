/*
 * apply.c: the transaction a change runs in (SPEC 3.1 and 4): lock the resource,
 * replay a keyed retry, check names and preconditions (or merge over what the client
 * missed, issue 6), apply the actions or patches, undo or redo from the log, thread
 * the undo/redo stacks, append the log entries and commit. Nothing here knows routes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api_impl.h"
#include "txn/cache.h"
#include "doc/history.h"
#include "doc/patch.h"
#include "base/digest.h"
#include "doc/touch.h"
#include "base/xalloc.h"

/* The 404 for a name that is not an action (or verb) here, listing what is. */
enum err_code
apply_unknown_action(struct call *c, const char *name, int verbs_only, const char *state)
{
    json_object *allowed =
        verbs_only ? catalog_type_verbs(c->type, state) : catalog_type_allowed(c->type, state);

    err_fail(&c->err, ERR_NOT_FOUND, verbs_only ? NULL : "/action", "%s has no %s \"%s\"",
             catalog_type_name(c->type), verbs_only ? "verb" : "action", name);
    err_set_slug(&c->err, "unknown-action");
    err_put(&c->err, "links", api_action_links(c, c->id, allowed));
    err_put(&c->err, "allowed_actions", allowed);
    return ERR_NOT_FOUND;
}

/*
 * A fingerprint of what a keyed request asks for, so a retry can be told from a
 * different request reusing the key: the route, and the body without its `id`.
 */
char *
apply_fingerprint(const struct call *c, json_object *body)
{
    json_object *copy = jsonp_copy(body);
    char *canon, *material, *hex = xmalloc(65);

    if (json_object_is_type(copy, json_type_object))
        json_object_object_del(copy, "id");
    canon = jsonp_canonical(copy);
    material = xasprintf("%s %s\n%s", c->req->method, c->req->path, canon);
    digest_sha256_hex(material, strlen(material), hex);
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
    api_set_etag(c, rp->version);
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

/* The 409 for a version the client had not caught up with, linking what it missed. */
static enum err_code
stale(struct call *c, const char *slug, int64_t seen, int64_t current, const char *pointer,
      const char *detail)
{
    char suffix[64];
    json_object *links = json_object_new_object();

    snprintf(suffix, sizeof(suffix), "/actions?since=%lld", (long long)seen);
    json_object_object_add(links, "missed_actions", api_link(api_href(c, c->id, suffix), NULL));
    err_fail(&c->err, ERR_CONFLICT, pointer, "%s", detail);
    err_set_slug(&c->err, slug);
    err_put(&c->err, "current_version", json_object_new_int64(current));
    err_put(&c->err, "links", links);
    return ERR_CONFLICT;
}

/*
 * The preconditions of SPEC 3.1 against the locked version: If-Match (412, strong
 * comparison; "*" only asserts existence), then a required precondition (428), then
 * expected_version (409, with the link to what the client missed). When the request
 * may merge (issue 6) an older version is not refused: *merge_base receives it and
 * the caller checks the entries since for overlap.
 */
static enum err_code
check_preconditions(struct call *c, const struct action_request *ar, int needs, int may_merge,
                    int64_t current, int64_t *merge_base)
{
    const char *im = c->req->if_match;
    int has_tag = im != NULL && !api_is_wildcard(im);
    int64_t seen = ar->has_expected_version ? ar->expected_version : 0;
    char detail[160];

    *merge_base = 0;
    if (has_tag && !req_etag_matches(im, current, 0)) {
        int64_t tagged = req_etag_version(im, 0);
        if (may_merge && tagged > 0 && tagged < current && (seen == 0 || seen == tagged)) {
            *merge_base = tagged;
            return ERR_OK;
        }
        err_fail(&c->err, ERR_PRECONDITION_FAILED, NULL,
                 "If-Match does not match the current version %lld (strong comparison)",
                 (long long)current);
        err_put(&c->err, "current_version", json_object_new_int64(current));
        return ERR_PRECONDITION_FAILED;
    }
    if (needs && !has_tag && !ar->has_expected_version) {
        err_fail(&c->err, ERR_PRECONDITION_REQUIRED, NULL,
                 "this action needs \"expected_version\" or If-Match: \"<version>\"%s",
                 im != NULL ? " (If-Match: * does not name a version)" : "");
        err_put(&c->err, "current_version", json_object_new_int64(current));
        return ERR_PRECONDITION_REQUIRED;
    }
    if (ar->has_expected_version && seen != current) {
        if (may_merge && seen < current) {
            *merge_base = seen;
            return ERR_OK;
        }
        snprintf(detail, sizeof(detail),
                 "expected version %lld but the resource is at version %lld", (long long)seen,
                 (long long)current);
        return stale(c, "stale-version", seen, current, "/expected_version", detail);
    }
    return ERR_OK;
}

/*
 * Merging (issue 6): the request was made against version `base`; it may apply over
 * the entries since only when none of them touched what it touches. `missed` holds
 * those entries, read with the row lock: a request may merge only from the version it
 * named, which apply_request asked store_lock for. Fills *over with the versions merged
 * over (malloc'd, *n of them), or answers 409 merge-conflict naming the overlapping
 * entries.
 */
static enum err_code
check_merge(struct call *c, int64_t base, int64_t current, json_object *ours,
            const struct store_touches *missed, int64_t **over, size_t *n)
{
    json_object *conflicts;
    size_t i;
    char detail[160];
    enum err_code rc = ERR_OK;

    *over = NULL;
    *n = 0;
    if (current - base > HISTORY_MAX_SPAN) {
        snprintf(detail, sizeof(detail), "version %lld is more than %d versions behind",
                 (long long)base, HISTORY_MAX_SPAN);
        return stale(c, "merge-conflict", base, current, NULL, detail);
    }
    conflicts = json_object_new_array();
    for (i = 0; i < missed->n; i++)
        if (touch_overlap(ours, missed->ents[i].has_touches ? missed->ents[i].touches : NULL))
            json_object_array_add(conflicts, json_object_new_int64(missed->ents[i].version));
    if (json_object_array_length(conflicts) > 0) {
        snprintf(detail, sizeof(detail),
                 "since version %lld, %zu change(s) touched what this request touches",
                 (long long)base, json_object_array_length(conflicts));
        stale(c, "merge-conflict", base, current, NULL, detail);
        err_put(&c->err, "conflicting_versions", conflicts);
        rc = ERR_CONFLICT;
    } else {
        json_object_put(conflicts);
        *over = xcalloc(missed->n + 1, sizeof(**over));
        for (i = 0; i < missed->n; i++)
            (*over)[i] = missed->ents[i].version;
        *n = missed->n;
    }
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
                       const struct action_effect *eff, int64_t base, int64_t current,
                       const struct store_touches *missed)
{
    json_object *ours = json_object_new_array();
    struct err failure = c->err;
    int64_t *over = NULL;
    size_t j, k, n;
    enum err_code rc;

    memset(&c->err, 0, sizeof(c->err));
    for (j = 0; j <= i; j++) {
        json_object *t = item_touches(c, via, &ar->items[j], &eff[j], NULL);
        for (k = 0; k < json_object_array_length(t); k++)
            json_object_array_add(ours, json_object_get(json_object_array_get_idx(t, k)));
        json_object_put(t);
    }
    rc = check_merge(c, base, current, ours, missed, &over, &n);
    json_object_put(ours);
    free(over);
    if (rc == ERR_CONFLICT) {
        err_clear(&failure);
        return 1;
    }
    err_clear(&c->err);
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
const char *
apply_builtin_name(enum via via)
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
 * needs a precondition).
 */
static enum err_code
check_names(struct call *c, const struct action_request *ar, enum via via, const char *state,
            int *needs)
{
    size_t i;

    *needs = 0;
    if (apply_builtin_name(via) != NULL) {
        *needs = 1; /* PATCH and DELETE replace what the client saw: always guarded */
        return ERR_OK;
    }
    for (i = 0; i < ar->n; i++) {
        const struct catalog_action *act = catalog_type_action(c->type, ar->items[i].name);
        enum catalog_action_kind kind = act ? catalog_action_kind(act) : CATALOG_EDIT;
        if (act == NULL || kind == CATALOG_DUPLICATE || (via == VIA_VERB && kind == CATALOG_EDIT)) {
            enum err_code rc = apply_unknown_action(c, ar->items[i].name, via == VIA_VERB, state);
            if (act != NULL && kind == CATALOG_DUPLICATE) {
                err_set_slug(&c->err, "verb-not-an-action");
                snprintf(c->err.detail, sizeof(c->err.detail),
                         "%s is a verb: POST it to its own route, %s/%s/%lld/%s", ar->items[i].name,
                         c->req->mount, catalog_type_name(c->type), (long long)c->id,
                         ar->items[i].name);
            }
            if (ar->batch) {
                char prefix[48];
                snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
                err_prefix_pointer(&c->err, prefix);
                err_put(&c->err, "failed_index", json_object_new_int64((int64_t)i));
            }
            return rc;
        }
        *needs |= catalog_action_needs_precondition(act);
    }
    return ERR_OK;
}

/* The conflict an undo or redo cannot apply over. */
static enum err_code history_conflict(struct call *c, const char *slug, int64_t version,
                                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum err_code
history_conflict(struct call *c, const char *slug, int64_t version, const char *fmt, ...)
{
    char detail[ERR_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    err_clear(&c->err);
    err_fail(&c->err, ERR_CONFLICT, NULL, "%s", detail);
    err_set_slug(&c->err, slug);
    if (version > 0) {
        char suffix[64];
        json_object *links = json_object_new_object();
        snprintf(suffix, sizeof(suffix), "/actions?since=%lld&limit=1", (long long)version - 1);
        json_object_object_add(links, "conflicting_entry",
                               api_link(api_href(c, c->id, suffix), NULL));
        err_put(&c->err, "conflicting_version", json_object_new_int64(version));
        err_put(&c->err, "links", links);
    }
    return ERR_CONFLICT;
}

/*
 * Compiles an undo (or redo) against the locked resource and applies it: finds the
 * entry to revert on its stack, builds the patches from the log, refuses when a later
 * change overlaps (409 naming it) or the reverse transition is not in the catalog.
 */
static enum err_code
apply_history(struct call *c, enum via via, struct store_row *row, struct action_effect *eff,
              struct history_step *hs)
{
    struct store *st = c->api->store;
    int redo = via == VIA_REDO;
    const char *what = redo ? "redo" : "undo";
    struct store_logent *ents = NULL;
    const struct store_logent *target, *later;
    size_t n = 0, nunit;
    int64_t top, first;
    const char *before;
    enum err_code rc;

    rc = store_stack_top(st, c->id, redo ? row->redo_top : row->undo_top,
                         hs->actor_scope ? c->actor : NULL, what, &top, &c->err);
    if (rc != ERR_OK)
        return rc;
    if (top == 0)
        return history_conflict(c, redo ? "nothing-to-redo" : "nothing-to-undo", 0,
                                "there is nothing to %s%s", what,
                                hs->actor_scope ? " of yours" : "");
    rc = store_entries(st, c->id, top, top, &ents, &n, &c->err);
    if (rc != ERR_OK)
        return rc;
    first = n == 1 ? ents[0].unit_first : top;
    store_logent_free(ents, n);
    if (row->version - first >= HISTORY_MAX_SPAN)
        return history_conflict(c, "history-too-deep", top,
                                "version %lld is more than %d versions back", (long long)top,
                                HISTORY_MAX_SPAN);
    /* the entry before the unit (its state), the unit, then everything after it */
    rc = store_entries(st, c->id, first - 1, row->version, &ents, &n, &c->err);
    if (rc != ERR_OK)
        return rc;
    nunit = (size_t)(top - first + 1);
    if (n < nunit + 1) {
        rc = err_fail(&c->err, ERR_INTERNAL, NULL, "the log of %s %lld has gaps",
                      catalog_type_name(c->type), (long long)c->id);
        goto out;
    }
    target = &ents[nunit];
    before = ents[0].state;
    if (redo) {
        eff->forward = json_object_get(target->inverse);
        eff->inverse = json_object_get(target->forward);
    } else {
        history_undo_patches(&ents[1], nunit, &eff->forward, &eff->inverse);
    }
    later = history_first_conflict(&ents[nunit + 1], n - nunit - 1, eff->forward);
    if (later != NULL) {
        rc = history_conflict(c, "undo-conflict", later->version,
                              "version %lld (%s by %s) changed what this %s would restore",
                              (long long)later->version, later->action, later->actor, what);
        goto out;
    }
    if (before != NULL && row->state != NULL && strcmp(before, row->state) != 0) {
        if (catalog_type_transition(c->type, row->state, before) == NULL) {
            rc = history_conflict(c, "transition-not-allowed", 0,
                                  "the %s would move from state %s back to %s, and no "
                                  "transition does that",
                                  what, row->state, before);
            goto out;
        }
        eff->new_state = xstrdup(before);
    }
    rc = patch_apply(&row->data, eff->forward, NULL, &c->err);
    if (rc != ERR_OK) {
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
static enum err_code
apply_one(struct call *c, enum via via, const struct action *a, const char *prefix,
          struct store_row *row, struct action_effect *eff, struct history_step *hs)
{
    enum err_code rc;

    switch (via) {
    case VIA_JSON_PATCH:
    case VIA_MERGE_PATCH:
        if (via == VIA_JSON_PATCH) {
            eff->forward = json_object_get(a->data);
            rc = patch_apply(&row->data, a->data, &eff->inverse, &c->err);
        } else {
            rc = patch_merge(&row->data, a->data, &eff->forward, &eff->inverse, &c->err);
        }
        if (rc == ERR_OK && !catalog_type_any_document(c->type) &&
            !json_object_is_type(row->data, json_type_object)) {
            /* Undo in place: the caller restores nothing after a failure. */
            patch_apply(&row->data, eff->inverse, NULL, NULL);
            return err_fail(&c->err, ERR_UNPROCESSABLE, "", "a %s document must stay an object",
                            catalog_type_name(c->type));
        }
        return rc;
    case VIA_DELETE:
        eff->forward = json_object_new_array();
        eff->inverse = json_object_new_array();
        row->deleted = 1;
        return ERR_OK;
    case VIA_UNDO:
    case VIA_REDO:
        rc = apply_history(c, via, row, eff, hs);
        break;
    default:
        rc = action_apply(c->type, a, row->state, prefix, &row->data, eff, &c->err);
        break;
    }
    if (rc == ERR_OK && eff->new_state != NULL)
        row->state = eff->new_state;
    return rc;
}

/* The version the client says it saw: expected_version, or the one strong tag of its
 * If-Match; 0 when it names none. */
static int64_t
seen_version(const struct call *c, const struct action_request *ar)
{
    if (ar->has_expected_version)
        return ar->expected_version;
    return c->req->if_match != NULL ? req_etag_version(c->req->if_match, 0) : 0;
}

/* Whether the request may merge over changes it missed: it asks to, or every item is
 * an action that always merges. */
static int
may_merge(const struct call *c, const struct action_request *ar, enum via via)
{
    size_t i;
    int always = apply_builtin_name(via) == NULL;

    if (ar->merge)
        return 1;
    for (i = 0; i < ar->n && always; i++) {
        const struct catalog_action *act = catalog_type_action(c->type, ar->items[i].name);
        always = act != NULL && catalog_action_always_merges(act);
    }
    return always;
}

/*
 * Threads the new entries onto the undo and redo stacks (sql/002_history.sql): an
 * ordinary change (or batch, as one unit) goes on the undo stack and clears the redo
 * stack; an undo goes on the redo stack and a redo on the undo stack, each popping the
 * entry it reverted when that entry was on top. A delete leaves both as they are.
 */
static void
link_history(struct store_row *row, struct store_entry *entries, size_t n, int64_t first_version,
             enum via via, const struct history_step *hs)
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
 * The answer's members, all but the document (spliced in by the caller): version, time,
 * the action or each item's result, the state, what a merge went over. Caller frees.
 */
static json_object *
answer(const struct action_request *ar, const struct store_row *row,
       const struct action_effect *eff, json_object *results, const char *txn_time,
       int64_t merge_base, const int64_t *merged_over, size_t n_merged)
{
    json_object *out = json_object_new_object();
    size_t i;

    json_object_object_add(out, "success", json_object_new_boolean(1));
    json_object_object_add(out, "version", json_object_new_int64(row->version));
    json_object_object_add(out, "applied_at", json_object_new_string(txn_time));
    if (ar->batch) {
        json_object_object_add(out, "results", json_object_get(results));
    } else {
        json_object_object_add(out, "action", json_object_new_string(ar->items[0].name));
        merge_result(out, &eff[0]);
    }
    if (row->state != NULL)
        json_object_object_add(out, "state", json_object_new_string(row->state));
    if (merge_base > 0) {
        json_object *list = json_object_new_array();
        for (i = 0; i < n_merged; i++)
            json_object_array_add(list, json_object_new_int64(merged_over[i]));
        json_object_object_add(out, "based_on", json_object_new_int64(merge_base));
        json_object_object_add(out, "merged_over", list);
    }
    return out;
}

/*
 * Whether the request may be compiled against a document the worker kept (cache.h) and
 * written with one conditional statement: a single change by an action, a verb or a
 * patch, without an idempotency key (whose replay check needs the transaction). Undo
 * and redo read the log, and a delete is rare enough to take the locked path.
 */
static int
may_use_cache(const struct call *c, const struct action_request *ar, enum via via, const char *key)
{
    return c->api->cache != NULL && key == NULL && ar->n == 1 && !ar->batch &&
           (via == VIA_ACTIONS || via == VIA_VERB || via == VIA_JSON_PATCH ||
            via == VIA_MERGE_PATCH);
}

/* The kept row of the call's resource at version `seen` (any version when 0), with its
 * document parsed; 0 when there is none. */
static int
recall(struct call *c, int64_t seen, struct store_row *row)
{
    struct err perr = {0};
    enum err_code rc;

    if (!cache_get(c->api->cache, catalog_type_name(c->type), c->id, seen, row))
        return 0;
    rc = jsonp_parse(row->data_text, strlen(row->data_text), &c->api->limits, &row->data, &perr);
    err_clear(&perr);
    free(row->data_text);
    row->data_text = NULL;
    if (rc == ERR_OK && !row->deleted)
        return 1;
    store_row_clear(row);
    return 0;
}

/*
 * One try at applying the items of `ar` to the resource in one transaction: lock, replay
 * check, names, preconditions, apply each item, write and log, commit. Any failure rolls
 * everything back. `body` is the request body (for the idempotency fingerprint).
 * With `from_cache`, the resource is what the worker kept instead of a locked read, and
 * the write commits only if the row is still at that version; *retry_locked is set
 * when the try must be repeated the ordinary way: nothing kept, the row moved on, or a
 * failure the locked read might answer differently (a 409 instead of a 422 when the
 * row moved on). Nothing has been written or answered then.
 */
static enum err_code
attempt(struct call *c, const struct action_request *ar, json_object *body, enum via via,
        const char *key, struct history_step *hs, int from_cache, int *retry_locked)
{
    struct store *st = c->api->store;
    struct store_row row = {0};
    struct store_replay rp = {0};
    struct store_entry *entries = NULL;
    struct action_effect *eff = NULL;
    struct store_idem idem = {0};
    json_object *response = NULL, *out = NULL, *results = NULL;
    char *txn_time = NULL, *fingerprint = NULL, *location = NULL, *locked_state = NULL;
    char *doc_text = NULL;
    struct sbuf doc = {0}, stored = {0};
    int64_t first_version, merge_base = 0, base_version = 0, *merged_over = NULL, seen;
    struct store_touches missed = {0};
    size_t n_merged = 0;
    json_object *touches = NULL, *before = NULL;
    int merging;
    int locked = 0, sent = 0, needs, found, no_body = via == VIA_VERB || via == VIA_DELETE;
    size_t i;
    enum err_code rc;

    *retry_locked = 0;
    /* A request that can only succeed at the version it saw does not even wait for the
     * lock at another (issue 5); one that may merge or replay an earlier attempt
     * succeeds at others. A merging one gets what it missed with the lock. */
    seen = seen_version(c, ar);
    merging = may_merge(c, ar, via);
    if (merging && seen > 0) {
        missed.after = seen;
        missed.limit = HISTORY_MAX_SPAN + 1;
    }
    if (from_cache) {
        if (!recall(c, seen, &row)) {
            *retry_locked = 1;
            return ERR_OK;
        }
        rc = ERR_OK;
    } else {
        rc = store_lock(st, catalog_type_name(c->type), c->id, key == NULL && !merging ? seen : 0,
                        missed.after > 0 ? &missed : NULL, &row, &txn_time, &c->err);
    }
    locked_state = row.state; /* row.state may come to point into eff; this is freed */
    if (rc == ERR_CONFLICT && row.id != 0) {
        /* stale before the lock: the same answer as under it, without the wait */
        err_clear(&c->err);
        if (row.deleted)
            rc = err_fail(&c->err, ERR_GONE, NULL, "%s %lld was deleted",
                          catalog_type_name(c->type), (long long)c->id);
        else if ((rc = check_names(c, ar, via, row.state, &needs)) == ERR_OK)
            rc = check_preconditions(c, ar, needs, 0, row.version, &merge_base);
        goto out;
    }
    if (rc != ERR_OK)
        goto out;
    locked = !from_cache;
    base_version = row.version;

    /* A retry carries a now-stale version (or finds the resource it deleted), so the
     * replay check comes first. */
    if (key != NULL) {
        fingerprint = apply_fingerprint(c, body);
        rc = store_find_key(st, c->actor, key, &found, &rp, &c->err);
        if (rc != ERR_OK)
            goto out;
        if (found) {
            if (rp.resource_id != c->id || strcmp(rp.fingerprint, fingerprint) != 0) {
                rc = err_fail(&c->err, ERR_UNPROCESSABLE, NULL,
                              "this idempotency key was used for a different request");
                err_set_slug(&c->err, "idempotency-key-reused");
                goto out;
            }
            replay(c, &rp);
            rc = ERR_OK;
            goto out;
        }
    }
    if (row.deleted) {
        rc = err_fail(&c->err, ERR_GONE, NULL, "%s %lld was deleted", catalog_type_name(c->type),
                      (long long)c->id);
        goto out;
    }

    rc = check_names(c, ar, via, row.state, &needs);
    if (rc != ERR_OK)
        goto out;
    rc = check_preconditions(c, ar, needs, merging, row.version, &merge_base);
    if (rc != ERR_OK)
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
        if (rc != ERR_OK && merge_base > 0 &&
            merge_explains_failure(c, via, ar, i, eff, merge_base, base_version, &missed))
            goto out;
        if (rc != ERR_OK) {
            if (ar->batch)
                err_put(&c->err, "failed_index", json_object_new_int64((int64_t)i));
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
        rc = check_merge(c, merge_base, base_version, ours, &missed, &merged_over, &n_merged);
        json_object_put(ours);
        if (rc != ERR_OK)
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

    /* The document is serialised once: into the update's parameter, and spliced into
     * the answer, whose text is in turn what a keyed request stores for its retries. */
    sbuf_init(&doc);
    jsonp_write(&doc, row.data);
    doc_text = doc.data;
    if (via == VIA_VERB)
        location = api_href(c, c->id, "");
    if (from_cache) {
        sent = 1;
        rc = store_write_at(st, &row, doc_text, &entries[0], c->actor, &txn_time, &c->err);
        if (rc != ERR_OK) {
            /* moved on (a 409 here): start over; anything else: the outcome is unknown */
            cache_drop(c->api->cache, c->id);
            *retry_locked = rc == ERR_CONFLICT;
            goto out;
        }
    }
    out = answer(ar, &row, eff, results, txn_time, merge_base, merged_over, n_merged);
    if (!no_body)
        resp_json_with(c->resp, 200, out, "data", doc_text);
    if (key != NULL) {
        response = json_object_new_object();
        json_object_object_add(response, "status", json_object_new_int(no_body ? 204 : 200));
        if (location != NULL)
            json_object_object_add(response, "location", json_object_new_string(location));
        sbuf_init(&stored);
        jsonp_write_with(&stored, response, no_body ? NULL : "body", c->resp->body.data);
    }
    if (!from_cache) {
        idem.key = key;
        idem.fingerprint = fingerprint;
        idem.response = stored.data;
        rc =
            store_commit(st, &row, doc_text, entries, ar->n, c->actor, key ? &idem : NULL, &c->err);
        locked = 0;
        if (rc != ERR_OK)
            goto out; /* the caller answers with the problem, replacing the body */
    }
    free(row.updated_at);
    row.updated_at = xstrdup(txn_time);
    cache_put(c->api->cache, &row, doc_text, doc.len);

    api_set_etag(c, row.version);
    resp_header(c->resp, "Cache-Control", "no-store");
    if (no_body) {
        resp_empty(c->resp, 204);
        if (location != NULL)
            resp_header(c->resp, "Location", "%s", location);
    }
out:
    if (from_cache && rc != ERR_OK && !sent) {
        /* compiled against the kept version: let the locked read give the answer */
        err_clear(&c->err);
        *retry_locked = 1;
    }
    /* every 409 says which version the client should catch up with (SPEC 3.1) */
    if (rc == ERR_CONFLICT && base_version > 0 &&
        (c->err.extra == NULL || !json_object_object_get_ex(c->err.extra, "current_version", NULL)))
        err_put(&c->err, "current_version", json_object_new_int64(base_version));
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
    store_touches_clear(&missed);
    free(fingerprint);
    free(location);
    free(txn_time);
    free(doc_text);
    sbuf_free(&stored);
    row.state = locked_state;
    store_row_clear(&row);
    return rc;
}

enum err_code
apply_request(struct call *c, const struct action_request *ar, json_object *body, enum via via,
              const char *key, struct history_step *hs)
{
    int retry_locked = 0;
    enum err_code rc;

    if (may_use_cache(c, ar, via, key)) {
        rc = attempt(c, ar, body, via, key, hs, 1, &retry_locked);
        if (!retry_locked)
            return rc;
        err_clear(&c->err);
    }
    return attempt(c, ar, body, via, key, hs, 0, &retry_locked);
}
