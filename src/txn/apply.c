/*
 * apply.c: the transaction one change runs in, as explicit steps (enum step): read the
 * row (locked, or the document this process kept), replay a keyed retry, check names
 * and preconditions, compile every item against the document, merge over what a stale
 * client missed, write and commit. Each step is one function; run_steps drives them.
 * Creates and duplicates take a shorter path through the same replay. Failures are
 * an err with facts (versions, names), never HTTP: http/api.c renders them.
 */
#include "txn/apply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/digest.h"
#include "base/sbuf.h"
#include "base/xalloc.h"
#include "doc/access.h"
#include "doc/history.h"
#include "doc/patch.h"
#include "doc/ptr.h"
#include "doc/touch.h"

enum step {
    STEP_READ,    /* lock the row, or recall the document this process kept */
    STEP_REPLAY,  /* a keyed request seen before answers as it did then */
    STEP_CHECK,   /* existence, names and preconditions: where the version is decided */
    STEP_COMPILE, /* every item compiled against the document and applied to it */
    STEP_MERGE,   /* a stale request: what it touches against what it missed */
    STEP_WRITE,   /* the row, its log entries and the key's answer; commit */
    STEP_NOTHING, /* nothing changed: the answer, without a version or an entry */
    STEP_DONE
};

/* One try at a change: what the steps share. Owned by attempt()'s frame. */
struct txn {
    const struct apply_ctx *ctx;
    const struct apply_change *ch;
    struct apply_outcome *out;
    struct err *err;
    int from_cache;   /* the row is the kept document, not a locked read */
    int locked;       /* the row lock is held: the transaction is open */
    int sent;         /* the kept-document write went out: its outcome is its answer */
    int retry_locked; /* the try must be repeated with the locked read */
    struct store_row row;
    char *read_state; /* row.state as read; row.state may come to point into eff */
    char *txn_time;
    int64_t seen;       /* the version the client says it saw; 0 when it names none */
    int64_t current;    /* the row's version as read */
    int merging;        /* the request may merge over changes it missed */
    int64_t merge_base; /* it does: the version it was made against */
    struct store_touches missed;
    struct action_effect *eff;
    struct store_entry *entries;
    json_object *results;
    int64_t *merged_over;
    size_t n_merged;
    int64_t reverts;            /* undo/redo: the version reverted */
    int64_t target_prev;        /* that entry's stack_prev: the new top if it was the top */
    struct patch_budget budget; /* what a client's patches may build (patch.h) */
    int changed;                /* some item changed the document, state or grants */
};

static enum err_code
reused_key(struct err *err)
{
    err_fail(err, ERR_UNPROCESSABLE, NULL, "this idempotency key was used for a different request");
    err_set_slug(err, "idempotency-key-reused");
    return ERR_UNPROCESSABLE;
}

static int
is_create(enum apply_kind kind)
{
    return kind == APPLY_CREATE || kind == APPLY_DUPLICATE;
}

static enum err_code
gone(const struct apply_change *ch, struct err *err)
{
    return err_fail(err, ERR_GONE, NULL, "%s %lld was deleted", catalog_type_name(ch->type),
                    (long long)ch->id);
}

void
apply_outcome_clear(struct apply_outcome *o)
{
    if (o == NULL)
        return;
    json_object_put(o->answer);
    free(o->doc_text);
    store_row_clear(&o->row);
    memset(o, 0, sizeof(*o));
}

/* The 404 for a name that is not an action (with `verbs_only`, a verb) of type `t` in
 * `state`, with the allowed ones. */
static enum err_code
apply_unknown_action(const struct catalog_type *t, const char *name, int verbs_only,
                     const char *state, struct err *err)
{
    json_object *allowed =
        verbs_only ? catalog_type_verbs(t, state) : catalog_type_allowed(t, state);

    err_fail(err, ERR_NOT_FOUND, verbs_only ? NULL : "/action", "%s has no %s \"%s\"",
             catalog_type_name(t), verbs_only ? "verb" : "action", name);
    err_set_slug(err, "unknown-action");
    err_put(err, "allowed_actions", allowed);
    return ERR_NOT_FOUND;
}

char *
apply_fingerprint(const char *what, json_object *body)
{
    json_object *copy = jsonp_copy(body);
    char *canon, *material, *hex = xmalloc(DIGEST_SHA256_HEX_LEN + 1);

    if (json_object_is_type(copy, json_type_object))
        json_object_object_del(copy, "id");
    canon = jsonp_canonical(copy);
    material = xasprintf("%s\n%s", what, canon);
    digest_sha256_hex(material, strlen(material), hex);
    free(material);
    free(canon);
    json_object_put(copy);
    return hex;
}

const char *
apply_builtin_name(enum apply_kind kind)
{
    switch (kind) {
    case APPLY_JSON_PATCH:
        return "json_patch";
    case APPLY_MERGE_PATCH:
        return "merge_patch";
    case APPLY_DELETE:
        return "delete";
    case APPLY_UNDO:
        return "undo";
    case APPLY_REDO:
        return "redo";
    case APPLY_SHARE:
        return "share";
    case APPLY_UNSHARE:
        return "unshare";
    case APPLY_CREATE:
        return "create";
    case APPLY_DUPLICATE:
        return "duplicate";
    default:
        return NULL;
    }
}

/* The role a kind of change needs on its resource. */
static enum access_role
needed_role(enum apply_kind kind)
{
    switch (kind) {
    case APPLY_DELETE:
    case APPLY_SHARE:
    case APPLY_UNSHARE:
        return ACCESS_OWNER;
    case APPLY_DUPLICATE:
        return ACCESS_READER;
    default:
        return ACCESS_EDITOR;
    }
}

/* Whether the actor may make this change to `row`: decided on the row as read. */
static enum err_code
check_access(const struct apply_change *ch, const struct store_row *row, struct err *err)
{
    return access_require(access_role(row->owner, row->access, ch->actor), needed_role(ch->kind),
                          catalog_type_name(ch->type), ch->id, err);
}

/* ---------------------------------------------------------------------------------
 * Replay: one path for every keyed request, creates included. */

/* The resource as its creation entry made it: what a keyed create answers again. */
static enum err_code
created_row(const struct apply_ctx *ctx, const struct apply_change *ch, int64_t id,
            struct store_row *row, struct err *err)
{
    struct store_logent *ents = NULL;
    json_object *value;
    size_t n = 0;
    enum err_code rc;

    rc = store_entries(ctx->store, id, 1, 1, &ents, &n, err);
    if (rc != ERR_OK)
        return rc;
    if (n != 1 || !json_object_object_get_ex(json_object_array_get_idx(ents[0].forward, 0), "value",
                                             &value)) {
        rc = err_fail(err, ERR_INTERNAL, NULL, "the creation entry cannot be read back");
        goto cleanup;
    }
    row->id = id;
    row->type = xstrdup(catalog_type_name(ch->type));
    row->version = 1;
    row->data = json_object_get(value);
    row->state = ents[0].state ? xstrdup(ents[0].state) : NULL;
    row->owner = xstrdup(ents[0].actor);
    row->created_at = xstrdup(ents[0].applied_at);
    row->updated_at = xstrdup(ents[0].applied_at);
    if (ents[0].data != NULL && json_object_object_get_ex(ents[0].data, "access", &value))
        row->access = jsonp_copy(value);
cleanup:
    store_logent_free(ents, n);
    return rc;
}

/*
 * Looks up the change's idempotency key (inside the caller's transaction when one is
 * open). Sets *found and fills the outcome with the first answer when the key was used
 * by this same request; ERR_UNPROCESSABLE when it was used by another. A replayed
 * answer's version is the one its body names (a batch's last), else the entry's.
 */
static enum err_code
replay(const struct apply_ctx *ctx, const struct apply_change *ch, struct apply_outcome *out,
       int *found, struct err *err)
{
    struct store_replay rp = {0};
    json_object *body, *version;
    enum err_code rc;

    rc = store_find_key(ctx->store, ch->actor, ch->key, found, &rp, err);
    if (rc != ERR_OK || !*found)
        goto cleanup;
    if (strcmp(rp.fingerprint, ch->fingerprint) != 0 ||
        (is_create(ch->kind) ? rp.version != 1 : rp.resource_id != ch->id)) {
        rc = reused_key(err);
        goto cleanup;
    }
    out->replayed = 1;
    out->id = rp.resource_id;
    out->version = rp.version;
    if (is_create(ch->kind)) {
        rc = created_row(ctx, ch, rp.resource_id, &out->row, err);
        goto cleanup;
    }
    if (json_object_object_get_ex(rp.response, "body", &body)) {
        out->answer = json_object_get(body);
        if (json_object_object_get_ex(body, "version", &version))
            out->version = json_object_get_int64(version);
    }
cleanup:
    store_replay_clear(&rp);
    return rc;
}

/* ---------------------------------------------------------------------------------
 * Check: preconditions and names. */

static int
if_match_names(const struct apply_if_match *im, int64_t version)
{
    size_t i;

    for (i = 0; i < im->n; i++)
        if (im->tags[i] == version)
            return 1;
    return 0;
}

/* The 409 for a version the client had not caught up with; the outcome says from
 * which version the log holds what it missed. */
static enum err_code
stale(struct txn *t, const char *slug, int64_t seen, const char *pointer, const char *detail)
{
    err_fail(t->err, ERR_CONFLICT, pointer, "%s", detail);
    err_set_slug(t->err, slug);
    err_put(t->err, "current_version", json_object_new_int64(t->current));
    t->out->missed_since = seen;
    return ERR_CONFLICT;
}

/*
 * The one place the version is decided, against the version read: If-Match (412,
 * strong comparison; "*" only asserts existence), then a required precondition (428),
 * then expected_version (409). A request that may merge is not refused for an older
 * version: t->merge_base receives it, and STEP_MERGE checks the entries since. (The
 * locking read's and the kept-document write's version conditions only spare a stale
 * request the wait for the lock, or catch a row that moved on; either way the request
 * comes back here with the version as it is.)
 */
static enum err_code
check_preconditions(struct txn *t, int needs, int may_merge)
{
    const struct apply_if_match *im = &t->ch->if_match;
    const struct action_request *ar = t->ch->ar;
    int has_tag = im->sent && !im->any;
    int64_t seen = ar->has_expected_version ? ar->expected_version : 0;
    char detail[160];

    t->merge_base = 0;
    if (has_tag && !if_match_names(im, t->current)) {
        int64_t tagged = im->single ? im->tags[0] : 0;
        if (may_merge && tagged > 0 && tagged < t->current && (seen == 0 || seen == tagged)) {
            t->merge_base = tagged;
            return ERR_OK;
        }
        err_fail(t->err, ERR_PRECONDITION_FAILED, NULL,
                 "If-Match does not match the current version %lld (strong comparison)",
                 (long long)t->current);
        err_put(t->err, "current_version", json_object_new_int64(t->current));
        return ERR_PRECONDITION_FAILED;
    }
    if (needs && !has_tag && !ar->has_expected_version) {
        err_fail(t->err, ERR_PRECONDITION_REQUIRED, NULL,
                 "this action needs \"expected_version\" or If-Match: \"<version>\"%s",
                 im->sent ? " (If-Match: * does not name a version)" : "");
        err_put(t->err, "current_version", json_object_new_int64(t->current));
        return ERR_PRECONDITION_REQUIRED;
    }
    if (ar->has_expected_version && seen != t->current) {
        if (may_merge && seen < t->current) {
            t->merge_base = seen;
            return ERR_OK;
        }
        snprintf(detail, sizeof(detail),
                 "expected version %lld but the resource is at version %lld", (long long)seen,
                 (long long)t->current);
        return stale(t, "stale-version", seen, "/expected_version", detail);
    }
    return ERR_OK;
}

/* Checks that every item names something this kind of change may apply; sets *needs
 * when some item needs a precondition. */
static enum err_code
check_names(struct txn *t, int *needs)
{
    const struct apply_change *ch = t->ch;
    const struct action_request *ar = ch->ar;
    size_t i;

    *needs = 0;
    if (ch->kind == APPLY_SHARE || ch->kind == APPLY_UNSHARE)
        return ERR_OK; /* a grant changes nothing the client saw of the document */
    if (apply_builtin_name(ch->kind) != NULL) {
        *needs = 1; /* PATCH and DELETE replace what the client saw: always guarded */
        return ERR_OK;
    }
    for (i = 0; i < ar->n; i++) {
        const struct catalog_action *act = catalog_type_action(ch->type, ar->items[i].name);
        enum catalog_action_kind kind = act ? catalog_action_kind(act) : CATALOG_EDIT;
        int verb = ch->kind == APPLY_VERB;
        if (act == NULL || kind == CATALOG_DUPLICATE || (verb && kind == CATALOG_EDIT)) {
            enum err_code rc =
                apply_unknown_action(ch->type, ar->items[i].name, verb, t->row.state, t->err);
            if (act != NULL && kind == CATALOG_DUPLICATE) {
                err_set_slug(t->err, "verb-not-an-action");
                snprintf(t->err->detail, sizeof(t->err->detail),
                         "%s is a verb: POST it to its own route (links.%s)", ar->items[i].name,
                         ar->items[i].name);
            }
            if (ar->batch) {
                char prefix[48];
                snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
                err_prefix_pointer(t->err, prefix);
                err_put(t->err, "failed_index", json_object_new_int64((int64_t)i));
            }
            return rc;
        }
        *needs |= catalog_action_needs_precondition(act);
    }
    return ERR_OK;
}

/* ---------------------------------------------------------------------------------
 * Compile: each item against the document. */

/* The conflict an undo or redo cannot apply over; `version` (when > 0) is the entry
 * in the way. */
static enum err_code history_conflict(struct txn *t, const char *slug, int64_t version,
                                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum err_code
history_conflict(struct txn *t, const char *slug, int64_t version, const char *fmt, ...)
{
    va_list ap;

    /* not cleared first: an argument may be the error's own detail */
    va_start(ap, fmt);
    err_failv(t->err, ERR_CONFLICT, NULL, fmt, ap);
    va_end(ap);
    err_set_slug(t->err, slug);
    if (t->err->extra != NULL) {
        json_object_put(t->err->extra);
        t->err->extra = NULL;
    }
    if (version > 0)
        err_put(t->err, "conflicting_version", json_object_new_int64(version));
    return ERR_CONFLICT;
}

/*
 * Compiles an undo (or redo) against the locked resource and applies it: finds the
 * entry to revert on its stack, builds the patches from the log, refuses when a later
 * change overlaps (409 naming it) or the reverse transition is not in the catalog.
 */
static enum err_code
compile_history(struct txn *t, struct action_effect *eff)
{
    struct store *st = t->ctx->store;
    struct store_row *row = &t->row;
    int redo = t->ch->kind == APPLY_REDO;
    const char *what = redo ? "redo" : "undo";
    struct store_logent *ents = NULL;
    const struct store_logent *target, *later;
    size_t n = 0, nunit;
    int64_t top, first;
    const char *before;
    enum err_code rc;

    rc = store_stack_top(st, t->ch->id, redo ? row->redo_top : row->undo_top,
                         t->ch->undo_own ? t->ch->actor : NULL, what, &top, t->err);
    if (rc != ERR_OK)
        return rc;
    if (top == 0)
        return history_conflict(t, redo ? "nothing-to-redo" : "nothing-to-undo", 0,
                                "there is nothing to %s%s", what,
                                t->ch->undo_own ? " of yours" : "");
    rc = store_entries(st, t->ch->id, top, top, &ents, &n, t->err);
    if (rc != ERR_OK)
        return rc;
    first = n == 1 ? ents[0].unit_first : top;
    store_logent_free(ents, n);
    if (row->version - first >= APPLY_HISTORY_MAX_SPAN)
        return history_conflict(t, "history-too-deep", top,
                                "version %lld is more than %d versions back", (long long)top,
                                APPLY_HISTORY_MAX_SPAN);
    /* the entry before the unit (its state), the unit, then everything after it */
    rc = store_entries(st, t->ch->id, first - 1, row->version, &ents, &n, t->err);
    if (rc != ERR_OK)
        return rc;
    nunit = (size_t)(top - first + 1);
    if (n < nunit + 1) {
        rc = err_fail(t->err, ERR_INTERNAL, NULL, "the log of %s %lld has gaps",
                      catalog_type_name(t->ch->type), (long long)t->ch->id);
        goto cleanup;
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
        rc = history_conflict(t, "undo-conflict", later->version,
                              "version %lld (%s by %s) changed what this %s would restore",
                              (long long)later->version, later->action, later->actor, what);
        goto cleanup;
    }
    if (before != NULL && row->state != NULL && strcmp(before, row->state) != 0) {
        if (catalog_type_transition(t->ch->type, row->state, before) == NULL) {
            rc = history_conflict(t, "transition-not-allowed", 0,
                                  "the %s would move from state %s back to %s, and no "
                                  "transition does that",
                                  what, row->state, before);
            goto cleanup;
        }
        eff->new_state = xstrdup(before);
    }
    rc = patch_apply(&row->data, eff->forward, NULL, t->err);
    if (rc != ERR_OK) {
        rc = history_conflict(t, "undo-conflict", 0,
                              "the document no longer has what this %s would restore (%s)", what,
                              t->err->detail);
        goto cleanup;
    }
    t->reverts = top;
    t->target_prev = target->stack_prev;
    eff->result = json_object_new_object();
    json_object_object_add(eff->result, "reverts", json_object_new_int64(top));
cleanup:
    store_logent_free(ents, n);
    return rc;
}

/*
 * A share or unshare, {"actor": A, "role": R} or {"actor": A} (access.h): sets or
 * removes A's grant in row->access. Nothing in the document changes.
 */
static enum err_code
compile_grant(struct txn *t, const struct action *a, struct action_effect *eff)
{
    int share = t->ch->kind == APPLY_SHARE;
    json_object *actor, *role = NULL, *held;
    const char *name;
    enum err_code rc;

    rc = access_check_grant(a->data, share, t->row.owner, "/data", t->err);
    if (rc != ERR_OK)
        return rc;
    json_object_object_get_ex(a->data, "actor", &actor);
    json_object_object_get_ex(a->data, "role", &role);
    name = json_object_get_string(actor);
    if (t->row.access == NULL || !json_object_object_get_ex(t->row.access, name, &held))
        held = NULL;
    t->changed |= share ? held == NULL || strcmp(json_object_get_string(held),
                                                 json_object_get_string(role)) != 0
                        : held != NULL;
    if (t->row.access == NULL)
        t->row.access = json_object_new_object();
    if (share)
        json_object_object_add(t->row.access, name, json_object_get(role));
    else
        json_object_object_del(t->row.access, name);
    if (json_object_object_length(t->row.access) > ACCESS_GRANTS_MAX)
        return err_fail(t->err, ERR_UNPROCESSABLE, "/data/actor",
                        "a resource has at most %d grants", ACCESS_GRANTS_MAX);
    if (json_object_object_length(t->row.access) == 0) {
        json_object_put(t->row.access);
        t->row.access = NULL;
    }
    eff->forward = json_object_new_array();
    eff->inverse = json_object_new_array();
    return ERR_OK;
}

/* Applies one item to row->data (and row->state / row->deleted). A new state is
 * borrowed from eff, which outlives the row's use of it. */
static enum err_code
compile_item(struct txn *t, const struct action *a, const char *prefix, struct action_effect *eff)
{
    const struct catalog_type *type = t->ch->type;
    struct store_row *row = &t->row;
    enum err_code rc;

    switch (t->ch->kind) {
    case APPLY_JSON_PATCH:
    case APPLY_MERGE_PATCH:
        if (t->ch->kind == APPLY_JSON_PATCH) {
            if (json_object_is_type(a->data, json_type_array) &&
                json_object_array_length(a->data) > t->ctx->bounds.max_patch_ops)
                return err_fail_slug(t->err, ERR_UNPROCESSABLE, "too-many-operations", "",
                                     "a JSON Patch has at most %zu operations",
                                     t->ctx->bounds.max_patch_ops);
            eff->forward = json_object_get(a->data);
            rc = patch_apply_bounded(&row->data, a->data, &eff->inverse, &t->budget, t->err);
        } else {
            rc = patch_merge_bounded(&row->data, a->data, &eff->forward, &eff->inverse, &t->budget,
                                     t->err);
        }
        if (rc == ERR_OK && !catalog_type_any_document(type) &&
            !json_object_is_type(row->data, json_type_object)) {
            /* Undo in place: the caller restores nothing after a failure. */
            patch_apply(&row->data, eff->inverse, NULL, NULL);
            return err_fail(t->err, ERR_UNPROCESSABLE, "", "a %s document must stay an object",
                            catalog_type_name(type));
        }
        return rc;
    case APPLY_DELETE:
        eff->forward = json_object_new_array();
        eff->inverse = json_object_new_array();
        row->deleted = 1;
        return ERR_OK;
    case APPLY_SHARE:
    case APPLY_UNSHARE:
        return compile_grant(t, a, eff);
    case APPLY_UNDO:
    case APPLY_REDO:
        rc = compile_history(t, eff);
        break;
    default:
        rc = action_apply(type, a, row->state, prefix, &row->data, eff, t->err);
        break;
    }
    if (rc == ERR_OK && eff->new_state != NULL)
        row->state = eff->new_state;
    return rc;
}

/* What an applied item touched (touch.h): semantic for catalog actions, by path for
 * patches, undo and redo (`before` is the document they applied to, or NULL),
 * everything for a delete. A new array. */
static json_object *
item_touches(const struct apply_change *ch, const struct action *a, const struct action_effect *eff,
             json_object *before)
{
    json_object *t;

    switch (ch->kind) {
    case APPLY_ACTIONS:
    case APPLY_VERB:
        return touch_action(ch->type, a, eff);
    case APPLY_DELETE:
        t = json_object_new_array();
        touch_add_all(t);
        return t;
    case APPLY_SHARE:
    case APPLY_UNSHARE:
        return json_object_new_array(); /* no part of the document */
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

/* ---------------------------------------------------------------------------------
 * Merge: a stale request against the entries it missed. */

/*
 * The request was made against t->merge_base; it may apply over the entries since only
 * when none of them touched what `ours` touches. The entries were read with the row
 * lock (store_lock). Fills t->merged_over, or answers 409 merge-conflict naming the
 * overlapping entries.
 */
static enum err_code
check_merge(struct txn *t, json_object *ours)
{
    const struct store_touches *missed = &t->missed;
    int64_t base = t->merge_base;
    struct touch_index *ix;
    json_object *conflicts;
    size_t i;
    char detail[160];

    if (t->current - base > APPLY_HISTORY_MAX_SPAN) {
        snprintf(detail, sizeof(detail), "version %lld is more than %d versions behind",
                 (long long)base, APPLY_HISTORY_MAX_SPAN);
        return stale(t, "merge-conflict", base, NULL, detail);
    }
    /* indexed once: each missed entry costs its own touches, not theirs times ours */
    ix = touch_index_new(ours);
    conflicts = json_object_new_array();
    for (i = 0; i < missed->n; i++)
        if (touch_index_overlaps(ix, missed->ents[i].has_touches ? missed->ents[i].touches : NULL))
            json_object_array_add(conflicts, json_object_new_int64(missed->ents[i].version));
    touch_index_free(ix);
    if (json_object_array_length(conflicts) > 0) {
        snprintf(detail, sizeof(detail),
                 "since version %lld, %zu change(s) touched what this request touches",
                 (long long)base, json_object_array_length(conflicts));
        stale(t, "merge-conflict", base, NULL, detail);
        err_put(t->err, "conflicting_versions", conflicts);
        return ERR_CONFLICT;
    }
    json_object_put(conflicts);
    t->merged_over = xcalloc(missed->n + 1, sizeof(*t->merged_over));
    for (i = 0; i < missed->n; i++)
        t->merged_over[i] = missed->ents[i].version;
    t->n_merged = missed->n;
    return ERR_OK;
}

/* What items 0..last touch, as one array. */
static json_object *
touches_through(struct txn *t, size_t last)
{
    json_object *ours = json_object_new_array();
    size_t i, j;

    for (i = 0; i <= last; i++) {
        json_object *one = t->entries[i].touches;
        json_object *made = one == NULL
                                ? item_touches(t->ch, &t->ch->ar->items[i], &t->eff[i], NULL)
                                : json_object_get(one);
        for (j = 0; j < json_object_array_length(made); j++)
            json_object_array_add(ours, json_object_get(json_object_array_get_idx(made, j)));
        json_object_put(made);
    }
    return ours;
}

/*
 * A merging request whose item `failed` could not apply to the current document: when
 * an entry it missed overlaps what items 0..failed touch, that is the real cause and
 * the answer is 409 merge-conflict (returns 1, err replaced); otherwise the failure
 * stands (0).
 */
static int
merge_explains_failure(struct txn *t, size_t failed)
{
    struct err failure = *t->err;
    json_object *ours = touches_through(t, failed);
    enum err_code rc;

    memset(t->err, 0, sizeof(*t->err));
    rc = check_merge(t, ours);
    json_object_put(ours);
    free(t->merged_over);
    t->merged_over = NULL;
    t->n_merged = 0;
    if (rc == ERR_CONFLICT) {
        err_clear(&failure);
        return 1;
    }
    err_clear(t->err);
    *t->err = failure;
    t->out->missed_since = 0;
    return 0;
}

/* ---------------------------------------------------------------------------------
 * Write: history stacks, the answer, the row and its entries. */

/*
 * Threads the new entries onto the undo and redo stacks (sql/002_history.sql): an
 * ordinary change (or batch, as one unit) goes on the undo stack and clears the redo
 * stack; an undo goes on the redo stack and a redo on the undo stack, each popping the
 * entry it reverted when that entry was on top. A delete leaves both as they are.
 */
static void
link_history(struct txn *t, int64_t first_version)
{
    struct store_row *row = &t->row;
    size_t n = t->ch->ar->n;
    struct store_entry *last = &t->entries[n - 1];

    switch (t->ch->kind) {
    case APPLY_DELETE:
    case APPLY_SHARE:
    case APPLY_UNSHARE:
        return; /* nothing an undo could revert in the document */
    case APPLY_UNDO:
        last->reverts = t->reverts;
        last->stack_prev = row->redo_top;
        if (row->undo_top == t->reverts)
            row->undo_top = t->target_prev;
        row->redo_top = row->version;
        return;
    case APPLY_REDO:
        last->reverts = t->reverts;
        last->stack_prev = row->undo_top;
        if (row->redo_top == t->reverts)
            row->redo_top = t->target_prev;
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

/* Whether a change of this kind answers with a body (a transition by its verb, a
 * delete and a grant answer with none). */
static int
has_body(enum apply_kind kind)
{
    return kind != APPLY_VERB && kind != APPLY_DELETE && kind != APPLY_SHARE &&
           kind != APPLY_UNSHARE;
}

/* The answer's members, all but the document: version, time, the action or each item's
 * result, the state, what a merge went over. A new object. */
static json_object *
answer(struct txn *t, const char *applied_at)
{
    const struct action_request *ar = t->ch->ar;
    json_object *out = json_object_new_object();
    size_t i;

    json_object_object_add(out, "success", json_object_new_boolean(1));
    json_object_object_add(out, "version", json_object_new_int64(t->row.version));
    json_object_object_add(out, "applied_at", json_object_new_string(applied_at));
    if (ar->batch) {
        json_object_object_add(out, "results", json_object_get(t->results));
    } else {
        json_object_object_add(out, "action", json_object_new_string(ar->items[0].name));
        merge_result(out, &t->eff[0]);
    }
    if (t->row.state != NULL)
        json_object_object_add(out, "state", json_object_new_string(t->row.state));
    if (t->merge_base > 0) {
        json_object *list = json_object_new_array();
        for (i = 0; i < t->n_merged; i++)
            json_object_array_add(list, json_object_new_int64(t->merged_over[i]));
        json_object_object_add(out, "based_on", json_object_new_int64(t->merge_base));
        json_object_object_add(out, "merged_over", list);
    }
    return out;
}

/*
 * What the change leaves and what it adds to the log, against the limits: the
 * document's size (`doc_len`, its text) and nesting, and the bytes of the entries'
 * patches, targets and data.
 */
static enum err_code
check_bounds(struct txn *t, size_t doc_len)
{
    const struct apply_limits *b = &t->ctx->bounds;
    size_t logged = 0, i;

    if (doc_len > b->max_document)
        return err_fail_slug(t->err, ERR_TOO_LARGE, "document-too-large", NULL,
                             "the document would be %zu bytes; at most %zu", doc_len,
                             b->max_document);
    if (jsonp_depth(t->row.data, b->max_document_depth) > b->max_document_depth)
        return err_fail_slug(t->err, ERR_UNPROCESSABLE, "too-deep", NULL,
                             "the document would nest deeper than %zu levels",
                             b->max_document_depth);
    for (i = 0; i < t->ch->ar->n && logged <= b->max_log_bytes; i++) {
        const struct store_entry *e = &t->entries[i];
        logged +=
            jsonp_size(e->forward, b->max_log_bytes) + jsonp_size(e->inverse, b->max_log_bytes);
        if (e->data != NULL)
            logged += jsonp_size(e->data, b->max_log_bytes);
        if (e->target != NULL)
            logged += jsonp_size(e->target, b->max_log_bytes);
    }
    if (logged > b->max_log_bytes)
        return err_fail_slug(t->err, ERR_TOO_LARGE, "log-entry-too-large", NULL,
                             "this change would add more than %zu bytes to the log",
                             b->max_log_bytes);
    return ERR_OK;
}

/* What a keyed request keeps for its retries: {"body": answer} or {}. Malloc'd. */
static char *
stored_answer(json_object *ans, const char *doc_text)
{
    json_object *wrapper = json_object_new_object();
    struct sbuf body = {0}, stored = {0};

    if (ans != NULL) {
        jsonp_write_with(&body, ans, "data", doc_text);
        jsonp_write_with(&stored, wrapper, "body", body.data);
    } else {
        jsonp_write(&stored, wrapper);
    }
    json_object_put(wrapper);
    sbuf_free(&body);
    return stored.data;
}

/*
 * Whether an applied item changed the document or the state: a transition did; else
 * it did unless its inverse would only write back values already there (an empty
 * inverse: an empty patch, a move onto itself, a tag already present, a test; or
 * replaces with the current values). A grant says for itself (compile_grant).
 */
static int
item_changed(json_object *doc, enum apply_kind kind, const struct action_effect *eff)
{
    size_t i, n;

    if (kind == APPLY_DELETE || eff->new_state != NULL)
        return 1;
    if (kind == APPLY_SHARE || kind == APPLY_UNSHARE)
        return 0;
    n = eff->inverse != NULL ? json_object_array_length(eff->inverse) : 0;
    for (i = 0; i < n; i++) {
        json_object *op = json_object_array_get_idx(eff->inverse, i), *name, *path, *value, *now;
        struct ptr p = {0};
        int same;

        if (!json_object_object_get_ex(op, "op", &name) ||
            strcmp(json_object_get_string(name), "replace") != 0 ||
            !json_object_object_get_ex(op, "path", &path) ||
            !json_object_object_get_ex(op, "value", &value) ||
            ptr_parse(json_object_get_string(path), &p, NULL) != ERR_OK)
            return 1;
        same = ptr_resolve(doc, &p, p.n, &now) && jsonp_equal(now, value);
        ptr_free(&p);
        if (!same)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------
 * The steps. */

/* The kept row of the resource at version t->seen (any when 0), document parsed; 0
 * when there is none. */
static int
recall(struct txn *t)
{
    struct err perr = {0};
    enum err_code rc;
    struct store_row *row = &t->row;

    if (!cache_get(t->ctx->cache, catalog_type_name(t->ch->type), t->ch->id, t->seen, row))
        return 0;
    rc = jsonp_parse(row->data_text, strlen(row->data_text), t->ctx->limits, &row->data, &perr);
    err_clear(&perr);
    free(row->data_text);
    row->data_text = NULL;
    if (rc == ERR_OK && !row->deleted)
        return 1;
    store_row_clear(row);
    return 0;
}

static enum err_code
step_read(struct txn *t, enum step *next)
{
    const struct apply_change *ch = t->ch;
    int needs;
    enum err_code rc;

    if (t->from_cache) {
        if (!recall(t)) {
            t->retry_locked = 1;
            *next = STEP_DONE;
            return ERR_OK;
        }
        t->read_state = t->row.state;
        t->current = t->row.version;
        *next = STEP_CHECK;
        return check_access(ch, &t->row, t->err);
    }
    if (t->merging && t->seen > 0) {
        t->missed.after = t->seen;
        t->missed.limit = APPLY_HISTORY_MAX_SPAN + 1;
    }
    /* A request that can only succeed at the version it saw does not wait for the lock
     * at another; one that may merge or replay an earlier attempt may succeed at any. */
    rc = store_lock(t->ctx->store, catalog_type_name(ch->type), ch->id,
                    ch->key == NULL && !t->merging ? t->seen : 0,
                    t->missed.after > 0 ? &t->missed : NULL, &t->row, &t->txn_time, t->err);
    t->read_state = t->row.state;
    t->current = t->row.version;
    if (rc == ERR_CONFLICT) {
        /* at another version, read without the lock: decided as under it */
        err_clear(t->err);
        if ((rc = check_access(ch, &t->row, t->err)) != ERR_OK)
            return rc;
        if (t->row.deleted)
            return gone(ch, t->err);
        rc = check_names(t, &needs);
        if (rc == ERR_OK)
            rc = check_preconditions(t, needs, 0);
        if (rc == ERR_OK) {
            /* it reached the version meanwhile: read again, with the lock */
            store_row_clear(&t->row);
            t->read_state = NULL;
            *next = STEP_READ;
        }
        return rc;
    }
    if (rc != ERR_OK)
        return rc;
    t->locked = 1;
    *next = ch->key != NULL ? STEP_REPLAY : STEP_CHECK;
    return check_access(ch, &t->row, t->err);
}

static enum err_code
step_replay(struct txn *t, enum step *next)
{
    int found = 0;
    enum err_code rc = replay(t->ctx, t->ch, t->out, &found, t->err);

    *next = found ? STEP_DONE : STEP_CHECK;
    return rc;
}

static enum err_code
step_check(struct txn *t, enum step *next)
{
    int needs;
    enum err_code rc;

    if (t->row.deleted)
        return gone(t->ch, t->err);
    rc = check_names(t, &needs);
    if (rc == ERR_OK)
        rc = check_preconditions(t, needs, t->merging);
    *next = STEP_COMPILE;
    return rc;
}

static enum err_code
step_compile(struct txn *t, enum step *next)
{
    const struct action_request *ar = t->ch->ar;
    enum apply_kind kind = t->ch->kind;
    json_object *before = NULL;
    size_t i;
    enum err_code rc = ERR_OK;

    t->eff = xcalloc(ar->n, sizeof(*t->eff));
    t->entries = xcalloc(ar->n, sizeof(*t->entries));
    t->results = json_object_new_array();
    for (i = 0; i < ar->n; i++) {
        char prefix[48] = "";
        json_object *one;
        if (ar->batch)
            snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
        /* patches address arrays by position: their touches need the document before */
        if (kind != APPLY_ACTIONS && kind != APPLY_VERB && kind != APPLY_DELETE)
            before = jsonp_copy(t->row.data);
        rc = compile_item(t, &ar->items[i], prefix, &t->eff[i]);
        if (rc == ERR_OK)
            t->changed |= item_changed(t->row.data, kind, &t->eff[i]);
        if (rc != ERR_OK) {
            json_object_put(before);
            if (t->merge_base > 0 && merge_explains_failure(t, i))
                return ERR_CONFLICT;
            if (ar->batch)
                err_put(t->err, "failed_index", json_object_new_int64((int64_t)i));
            return rc;
        }
        t->entries[i].action = ar->items[i].name;
        t->entries[i].target = ar->items[i].target;
        t->entries[i].data = ar->items[i].data;
        t->entries[i].forward = t->eff[i].forward;
        t->entries[i].inverse = t->eff[i].inverse;
        t->entries[i].state = t->row.state;
        t->entries[i].touches = item_touches(t->ch, &ar->items[i], &t->eff[i], before);
        json_object_put(before);
        before = NULL;
        one = json_object_new_object();
        json_object_object_add(one, "action", json_object_new_string(ar->items[i].name));
        json_object_object_add(one, "version",
                               json_object_new_int64(t->row.version + 1 + (int64_t)i));
        merge_result(one, &t->eff[i]);
        json_object_array_add(t->results, one);
    }
    *next = t->merge_base > 0 ? STEP_MERGE : t->changed ? STEP_WRITE : STEP_NOTHING;
    return rc;
}

static enum err_code
step_merge(struct txn *t, enum step *next)
{
    json_object *ours = touches_through(t, t->ch->ar->n - 1);
    enum err_code rc = check_merge(t, ours);
    size_t i;

    json_object_put(ours);
    for (i = 0; rc == ERR_OK && i < t->ch->ar->n; i++) {
        t->entries[i].based_on = t->merge_base;
        t->entries[i].merged_over = t->merged_over;
        t->entries[i].n_merged_over = t->n_merged;
    }
    *next = t->changed ? STEP_WRITE : STEP_NOTHING;
    return rc;
}

/*
 * A change that changes nothing writes nothing: no version, no log entry, no key
 * recorded. It answers as an applied change would, at the current version, with
 * "unchanged": true (a verb's 204 says it by its ETag alone). A
 * document this process kept may be stale, and only a write would have found out,
 * so that try starts over with the locked read.
 */
static enum err_code
step_nothing(struct txn *t, enum step *next)
{
    struct sbuf doc = {0};
    size_t i;

    *next = STEP_DONE;
    if (t->from_cache) {
        t->retry_locked = 1;
        return ERR_OK;
    }
    for (i = 0; i < json_object_array_length(t->results); i++)
        json_object_object_add(json_object_array_get_idx(t->results, i), "version",
                               json_object_new_int64(t->row.version));
    t->out->id = t->ch->id;
    t->out->version = t->row.version;
    if (has_body(t->ch->kind)) {
        t->out->answer = answer(t, t->row.updated_at);
        json_object_object_add(t->out->answer, "unchanged", json_object_new_boolean(1));
        jsonp_write(&doc, t->row.data);
        t->out->doc_text = doc.data;
    }
    return ERR_OK;
}

static enum err_code
step_write(struct txn *t, enum step *next)
{
    const struct apply_change *ch = t->ch;
    struct store_row *row = &t->row;
    size_t n = ch->ar->n;
    struct store_idem idem = {0};
    struct sbuf doc = {0};
    char *stored = NULL;
    json_object *ans;
    enum err_code rc;

    *next = STEP_DONE;
    row->version += (int64_t)n;
    link_history(t, row->version - (int64_t)n + 1);
    /* The document is serialised once: into the write's parameter and the answer. */
    jsonp_write(&doc, row->data);
    rc = check_bounds(t, doc.len);
    if (rc != ERR_OK)
        goto cleanup;
    if (t->from_cache) {
        t->sent = 1;
        rc = store_write_at(t->ctx->store, row, doc.data, &t->entries[0], ch->actor, &t->txn_time,
                            t->err);
        if (rc != ERR_OK) {
            /* moved on (a conflict): start over; anything else: the outcome is unknown */
            cache_drop(t->ctx->cache, ch->id);
            t->retry_locked = rc == ERR_CONFLICT;
            goto cleanup;
        }
    }
    ans = answer(t, t->txn_time);
    if (!t->from_cache) {
        if (ch->key != NULL) {
            stored = stored_answer(has_body(ch->kind) ? ans : NULL, doc.data);
            idem.key = ch->key;
            idem.fingerprint = ch->fingerprint;
            idem.response = stored;
        }
        rc = store_commit(t->ctx->store, row, doc.data, t->entries, n, ch->actor,
                          ch->key ? &idem : NULL, t->err);
        t->locked = 0;
        if (rc == ERR_CONFLICT) {
            /* the same key committed concurrently: only a retry's outcome is known */
            err_clear(t->err);
            err_fail(t->err, ERR_CONFLICT, NULL, "this idempotency key is in use; retry");
            err_set_slug(t->err, "idempotency-key-in-use");
        }
        if (rc != ERR_OK) {
            json_object_put(ans);
            goto cleanup;
        }
    }
    free(row->updated_at);
    row->updated_at = xstrdup(t->txn_time);
    cache_put(t->ctx->cache, row, doc.data, doc.len);
    t->out->id = ch->id;
    t->out->version = row->version;
    if (has_body(ch->kind)) {
        t->out->answer = ans;
        t->out->doc_text = doc.data;
        doc.data = NULL;
    } else {
        json_object_put(ans);
    }
    rc = ERR_OK;
cleanup:
    free(stored);
    sbuf_free(&doc);
    return rc;
}

/* Drives the steps from STEP_READ until one fails or the change is done. */
static enum err_code
run_steps(struct txn *t)
{
    enum step step = STEP_READ;
    enum err_code rc = ERR_OK;

    while (rc == ERR_OK && step != STEP_DONE) {
        switch (step) {
        case STEP_READ:
            rc = step_read(t, &step);
            break;
        case STEP_REPLAY:
            rc = step_replay(t, &step);
            break;
        case STEP_CHECK:
            rc = step_check(t, &step);
            break;
        case STEP_COMPILE:
            rc = step_compile(t, &step);
            break;
        case STEP_MERGE:
            rc = step_merge(t, &step);
            break;
        case STEP_WRITE:
            rc = step_write(t, &step);
            break;
        case STEP_NOTHING:
            rc = step_nothing(t, &step);
            break;
        case STEP_DONE:
            break;
        }
    }
    return rc;
}

/* The version the client says it saw: expected_version, or the one strong tag of its
 * If-Match; 0 when it names none. */
static int64_t
seen_version(const struct apply_change *ch)
{
    if (ch->ar->has_expected_version)
        return ch->ar->expected_version;
    return ch->if_match.single ? ch->if_match.tags[0] : 0;
}

/* Whether the request may merge over changes it missed: it asks to, or every item is
 * an action that always merges. */
static int
may_merge(const struct apply_change *ch)
{
    size_t i;
    int always = apply_builtin_name(ch->kind) == NULL;

    if (ch->ar->merge)
        return 1;
    for (i = 0; i < ch->ar->n && always; i++) {
        const struct catalog_action *act = catalog_type_action(ch->type, ch->ar->items[i].name);
        always = act != NULL && catalog_action_always_merges(act);
    }
    return always;
}

/*
 * One try, from the kept document (`from_cache`) or from the locked row. Sets
 * t->retry_locked when a try from the kept document must be repeated the ordinary way:
 * nothing kept, the row moved on, or a failure the locked read might answer
 * differently. Nothing has been written then.
 */
static enum err_code
attempt(const struct apply_ctx *ctx, const struct apply_change *ch, struct apply_outcome *out,
        struct err *err, int from_cache, int *retry_locked)
{
    struct txn t = {0};
    enum err_code rc;
    size_t i;

    t.ctx = ctx;
    t.ch = ch;
    t.out = out;
    t.err = err;
    t.from_cache = from_cache;
    t.seen = seen_version(ch);
    t.merging = may_merge(ch);
    t.budget.max_depth = ctx->bounds.max_document_depth;
    t.budget.max_bytes = ctx->bounds.max_document;
    rc = run_steps(&t);
    if (from_cache && !t.sent && (rc != ERR_OK || t.retry_locked)) {
        /* compiled against the kept version: let the locked read give the answer */
        err_clear(err);
        out->missed_since = 0;
        t.retry_locked = 1;
        rc = ERR_OK;
    }
    /* every 409 says which version the client should catch up with */
    if (rc == ERR_CONFLICT && t.current > 0 &&
        (err->extra == NULL || !json_object_object_get_ex(err->extra, "current_version", NULL)))
        err_put(err, "current_version", json_object_new_int64(t.current));
    if (t.locked)
        store_rollback(ctx->store);
    if (t.eff != NULL)
        for (i = 0; i < ch->ar->n; i++) {
            action_effect_clear(&t.eff[i]);
            json_object_put(t.entries[i].touches);
        }
    free(t.eff);
    free(t.entries);
    free(t.merged_over);
    json_object_put(t.results);
    store_touches_clear(&t.missed);
    free(t.txn_time);
    t.row.state = t.read_state;
    store_row_clear(&t.row);
    *retry_locked = t.retry_locked;
    return rc;
}

/* ---------------------------------------------------------------------------------
 * Creates and duplicates: no row to lock, the same replay. */

/* The log entry of a creation: replaying the log starts from null and applies it.
 * Borrows `data` and `note`; release with creation_entry_clear. */
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
    json_object_object_add(op, "value", json_object_get(data));
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

/*
 * A new resource: from the change's data, or (a duplicate) from the current document
 * of the change's resource, logged with a note naming the source. A keyed create seen
 * before answers as it did then, also when both race.
 */
static enum err_code
create(const struct apply_ctx *ctx, const struct apply_change *ch, struct apply_outcome *out,
       struct err *err)
{
    const char *type = catalog_type_name(ch->type);
    struct store_row src = {0};
    struct store_entry entry = {0};
    struct store_idem idem = {0};
    json_object *data = ch->data, *note = NULL, *grants = NULL;
    int found = 0;
    enum err_code rc = ERR_OK;

    if (ch->key != NULL) {
        rc = replay(ctx, ch, out, &found, err);
        if (rc != ERR_OK || found)
            goto cleanup;
        idem.key = ch->key;
        idem.fingerprint = ch->fingerprint;
        idem.response = "{}";
    }
    if (ch->kind == APPLY_DUPLICATE) {
        rc = store_get(ctx->store, type, ch->id, &src, err);
        if (rc == ERR_OK)
            rc = check_access(ch, &src, err);
        if (rc == ERR_OK && src.deleted)
            rc = gone(ch, err);
        if (rc != ERR_OK)
            goto cleanup;
        data = src.data;
        note = json_object_new_object();
        json_object_object_add(note, "source", json_object_new_string(ch->source));
        json_object_object_add(note, "source_version", json_object_new_int64(src.version));
    }
    if (jsonp_size(data, ctx->bounds.max_document) > ctx->bounds.max_document) {
        rc = err_fail_slug(err, ERR_TOO_LARGE, "document-too-large", "/data",
                           "a document has at most %zu bytes", ctx->bounds.max_document);
        goto cleanup;
    }
    if (jsonp_depth(data, ctx->bounds.max_document_depth) > ctx->bounds.max_document_depth) {
        rc = err_fail_slug(err, ERR_UNPROCESSABLE, "too-deep", "/data",
                           "a document nests at most %zu levels", ctx->bounds.max_document_depth);
        goto cleanup;
    }
    if (ch->kind == APPLY_CREATE && ch->grants != NULL &&
        json_object_object_length(ch->grants) > 0) {
        grants = ch->grants;
        note = json_object_new_object();
        json_object_object_add(note, "access", jsonp_copy(grants));
    }
    creation_entry(&entry, apply_builtin_name(ch->kind), data, note);
    rc = store_create(ctx->store, type, data, catalog_type_initial_state(ch->type), grants,
                      ch->actor, &entry, ch->key ? &idem : NULL, &out->row, err);
    if (rc == ERR_CONFLICT && ch->key != NULL) {
        /* the same key committed concurrently: answer as its retry */
        err_clear(err);
        rc = replay(ctx, ch, out, &found, err);
        if (rc == ERR_OK && !found) {
            rc = err_fail(err, ERR_CONFLICT, NULL, "this idempotency key is in use; retry");
            err_set_slug(err, "idempotency-key-in-use");
        }
        goto cleanup;
    }
    if (rc == ERR_OK) {
        out->id = out->row.id;
        out->version = out->row.version;
    }
cleanup:
    creation_entry_clear(&entry);
    json_object_put(note);
    store_row_clear(&src);
    return rc;
}

/*
 * Whether the change may be compiled against a document the worker kept (cache.h) and
 * written with one conditional statement: a single change by an action, a verb or a
 * patch, without an idempotency key (whose replay check needs the transaction). Undo
 * and redo read the log, and a delete is rare enough to take the locked path.
 */
static int
may_use_cache(const struct apply_ctx *ctx, const struct apply_change *ch)
{
    return ctx->cache != NULL && ch->key == NULL && ch->ar->n == 1 && !ch->ar->batch &&
           (ch->kind == APPLY_ACTIONS || ch->kind == APPLY_VERB || ch->kind == APPLY_JSON_PATCH ||
            ch->kind == APPLY_MERGE_PATCH);
}

enum err_code
apply_change(const struct apply_ctx *ctx, const struct apply_change *ch, struct apply_outcome *out,
             struct err *err)
{
    int retry_locked = 0;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    if (is_create(ch->kind))
        return create(ctx, ch, out, err);
    if (may_use_cache(ctx, ch)) {
        rc = attempt(ctx, ch, out, err, 1, &retry_locked);
        if (!retry_locked)
            return rc;
        apply_outcome_clear(out);
    }
    return attempt(ctx, ch, out, err, 0, &retry_locked);
}
