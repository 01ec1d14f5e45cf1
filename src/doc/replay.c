/*
 * replay.c: a resource rebuilt from its log, entry by entry, and checked against the
 * stored row and the hash chain (sql/003_audit.sql, sql/009_hash_all_columns.sql). The
 * same patch engine the workers use (patch.c) applies each entry's forward patch, so a
 * replay that agrees shows the log alone accounts for the document; one that does not
 * names the first place where it stops doing so.
 */
#include "doc/replay.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "doc/jsonp.h"
#include "doc/patch.h"
#include "doc/ptr.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

/* A divergence message, values included, fits in this; longer ones are cut. */
#define REPLAY_WHY_MAX 1024

/* Bytes of a JSON value quoted in a message before it is shortened with "...". */
#define REPLAY_VALUE_MAX 80

static int diverge(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replay_access(struct replay *r, const struct replay_entry *e, const char *what);
static char *describe(const struct replay_entry *e);
static int parse(const char *text, size_t len, json_object **out);
static int same_text(const char *a, const char *b);
static void quote_value(struct sbuf *b, json_object *v);
static int first_difference(json_object *a, json_object *b, const char *at, struct sbuf *out);
static int by_name(const void *a, const void *b);
static const char **sorted_names(json_object *obj, size_t *n);

/* Records the first divergence; returns 0 so callers can `return diverge(...)`. */
static int
diverge(struct replay *r, const char *fmt, ...)
{
    char buf[REPLAY_WHY_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(r->why);
    r->why = xstrdup(buf);
    return 0;
}

/* "version 7 (update_crop_keyframe by alice at 2026-...)"; the caller frees it. */
static char *
describe(const struct replay_entry *e)
{
    return xasprintf("version %" PRId64 " (%s by %s at %s)", e->version,
                     e->action ? e->action : "?", e->actor ? e->actor : "?",
                     e->applied_at ? e->applied_at : "?");
}

/* Parses stored JSON text; 1 on success (*out may be NULL: JSON null), 0 if unreadable. */
static int
parse(const char *text, size_t len, json_object **out)
{
    struct err err = {0};
    enum err_code rc;

    *out = NULL;
    rc = jsonp_parse(text, len, &jsonp_stored_limits, out, &err);
    err_clear(&err);
    return rc == ERR_OK;
}

/* Equal strings, NULL equal only to NULL. */
static int
same_text(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

void
replay_begin(struct replay *r, const char *genesis)
{
    memset(r, 0, sizeof(*r));
    r->genesis = xstrdup(genesis);
}

void
replay_clear(struct replay *r)
{
    if (r == NULL)
        return;
    free(r->genesis);
    json_object_put(r->doc);
    free(r->state);
    free(r->last_hash);
    free(r->why);
    free(r->owner);
    json_object_put(r->access);
    memset(r, 0, sizeof(*r));
}

/* The string member `name` of `obj`, or NULL. */
static const char *
string_member(json_object *obj, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Who owns and may reach the resource after entry `e` (replay.h). */
static int
replay_access(struct replay *r, const struct replay_entry *e, const char *what)
{
    json_object *data = NULL, *grants;
    const char *actor, *role, *owner;
    int creation = e->version == 1,
        grant = !creation && (strcmp(e->action, "share") == 0 || strcmp(e->action, "unshare") == 0);
    int transfer = !creation && strcmp(e->action, "transfer") == 0;
    int ok = 1;

    if (!creation && !grant && !transfer)
        return 1;
    if (e->data != NULL && !parse(e->data, e->data_len, &data))
        return diverge(r, "%s: its data cannot be read as JSON", what);
    if (creation) {
        r->owner = xstrdup(e->actor);
        if (data != NULL && json_object_object_get_ex(data, "access", &grants))
            r->access = jsonp_copy(grants);
    } else if (grant) {
        actor = string_member(data, "actor");
        role = string_member(data, "role");
        if (actor == NULL || (strcmp(e->action, "share") == 0 && role == NULL)) {
            ok = diverge(r, "%s: names no grant", what);
            goto cleanup;
        }
        if (r->access == NULL)
            r->access = json_object_new_object();
        if (role != NULL && strcmp(e->action, "share") == 0)
            json_object_object_add(r->access, actor, json_object_new_string(role));
        else
            json_object_object_del(r->access, actor);
    } else {
        owner = string_member(data, "owner");
        if (owner == NULL) {
            ok = diverge(r, "%s: names no new owner", what);
            goto cleanup;
        }
        free(r->owner);
        r->owner = xstrdup(owner);
        if (r->access != NULL)
            json_object_object_del(r->access, owner);
    }
cleanup:
    json_object_put(data);
    return ok;
}

/* Grants as compared: none and an empty set are the same. */
static int
same_grants(json_object *a, json_object *b)
{
    int empty_a = a == NULL || json_object_object_length(a) == 0;
    int empty_b = b == NULL || json_object_object_length(b) == 0;

    if (empty_a || empty_b)
        return empty_a && empty_b;
    return jsonp_equal(a, b);
}

int
replay_step(struct replay *r, const struct replay_entry *e)
{
    struct err err = {0};
    json_object *patch = NULL;
    const char *expected;
    char *what = NULL;
    int ok = 0;

    if (r->why != NULL)
        return 0;
    what = describe(e);

    /* Order first: a chain link only means something between neighbours. */
    if (e->version != r->version + 1) {
        if (r->version == 0)
            diverge(r, "the log starts at %s, not at version 1", what);
        else
            diverge(r, "%s follows version %" PRId64 ": versions must run without gaps", what,
                    r->version);
        goto cleanup;
    }

    /* The chain: the link to the previous entry, then the entry's own content. A row
     * edited behind the application's back fails the second test; one edited and then
     * re-hashed fails the first test at the entry after it. */
    expected = r->version == 0 ? r->genesis : r->last_hash;
    if (e->prev_hash == NULL || e->hash == NULL) {
        diverge(r, "%s: has no hash (was sql/003_audit.sql applied?)", what);
        goto cleanup;
    }
    if (strcmp(e->prev_hash, expected) != 0) {
        if (r->version == 0)
            diverge(r, "%s: prev_hash is not the genesis value", what);
        else
            diverge(r,
                    "%s: prev_hash does not match the hash of version %" PRId64
                    " (that entry was changed and re-hashed, or this link was edited)",
                    what, r->version);
        goto cleanup;
    }
    if (e->content_hash == NULL) {
        diverge(r, "%s: has hash version %d, which no hash function computes", what,
                e->hash_version);
        goto cleanup;
    }
    if (strcmp(e->hash, e->content_hash) != 0) {
        diverge(r, "%s: hash does not match its content (hash version %d)", what, e->hash_version);
        goto cleanup;
    }

    if (!parse(e->forward, e->forward_len, &patch)) {
        diverge(r, "%s: its forward patch cannot be read as JSON", what);
        goto cleanup;
    }
    if (patch_apply(&r->doc, patch, NULL, &err) != ERR_OK) {
        diverge(r, "%s: its forward patch does not apply to the replayed document: %s%s%s", what,
                err.detail, err.has_pointer ? " at patch member " : "",
                err.has_pointer ? err.pointer : "");
        goto cleanup;
    }

    if (e->state != NULL) {
        free(r->state);
        r->state = xstrdup(e->state);
    }
    if (e->action != NULL && strcmp(e->action, "delete") == 0 && r->deleted_by == 0)
        r->deleted_by = e->version;
    if (!replay_access(r, e, what))
        goto cleanup;
    free(r->last_hash);
    r->last_hash = xstrdup(e->hash);
    r->version = e->version;
    ok = 1;

cleanup:
    err_clear(&err);
    json_object_put(patch);
    free(what);
    return ok;
}

int
replay_end(struct replay *r, const struct replay_stored *s)
{
    json_object *stored = NULL;
    char *diff = NULL;
    int ok = 0;

    if (r->why != NULL)
        return 0;
    if (r->version == 0)
        return diverge(r, "has no log entries");
    if (s->version != r->version)
        return diverge(r, "stored version %" PRId64 ", but the log ends at version %" PRId64,
                       s->version, r->version);
    if (!parse(s->data, s->data_len, &stored))
        return diverge(r, "the stored document cannot be read as JSON");
    diff = replay_diff(stored, r->doc);
    if (diff != NULL) {
        diverge(r, "data differs %s", diff);
        goto cleanup;
    }
    if (!same_text(s->state, r->state)) {
        diverge(r, "state differs: stored %s%s%s, replayed %s%s%s", s->state ? "\"" : "",
                s->state ? s->state : "none", s->state ? "\"" : "", r->state ? "\"" : "",
                r->state ? r->state : "none", r->state ? "\"" : "");
        goto cleanup;
    }
    if (s->deleted && r->deleted_by == 0) {
        diverge(r, "deleted_at is set, but the log has no delete");
        goto cleanup;
    }
    if (!s->deleted && r->deleted_by != 0) {
        diverge(r, "the log deletes it at version %" PRId64 ", but deleted_at is not set",
                r->deleted_by);
        goto cleanup;
    }
    if (!same_text(s->owner, r->owner)) {
        diverge(r, "owner differs: stored %s, replayed %s", s->owner ? s->owner : "none",
                r->owner ? r->owner : "none");
        goto cleanup;
    }
    json_object_put(stored);
    stored = NULL;
    if (s->access != NULL && !parse(s->access, s->access_len, &stored)) {
        diverge(r, "the stored grants cannot be read as JSON");
        goto cleanup;
    }
    if (!same_grants(stored, r->access)) {
        diverge(r, "grants differ: stored %s, replayed %s",
                stored ? json_object_to_json_string(stored) : "none",
                r->access ? json_object_to_json_string(r->access) : "none");
        goto cleanup;
    }
    ok = 1;

cleanup:
    free(diff);
    json_object_put(stored);
    return ok;
}

/* Appends the compact text of `v`, shortened at a UTF-8 character boundary. */
static void
quote_value(struct sbuf *b, json_object *v)
{
    const char *s = jsonp_str(v);
    size_t n = strlen(s);

    if (n <= REPLAY_VALUE_MAX) {
        sbuf_add(b, s, n);
        return;
    }
    n = REPLAY_VALUE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    sbuf_add(b, s, n);
    sbuf_adds(b, "...");
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The member names of `obj` in byte order, borrowed from it; the caller frees the array. */
static const char **
sorted_names(json_object *obj, size_t *n)
{
    const char **names;
    size_t i = 0;

    *n = (size_t)json_object_object_length(obj);
    names = xcalloc(*n + 1, sizeof(*names));
    json_object_object_foreach(obj, name, member)
    {
        (void)member;
        names[i++] = name;
    }
    qsort(names, *n, sizeof(*names), by_name);
    return names;
}

/*
 * Looks for the first place under pointer `at` where `a` (stored) and `b` (replayed)
 * differ; on finding it, appends the description to `out` and returns 1.
 * Containers of the same kind are searched member by member; anything else that is
 * not equal differs right here.
 */
static int
first_difference(json_object *a, json_object *b, const char *at, struct sbuf *out)
{
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    json_object *va, *vb;
    const char **na = NULL, **nb = NULL;
    size_t la, lb, i, j;
    char *child = NULL;
    int found = 0;

    if (jsonp_equal(a, b))
        return 0;
    if (ta == json_type_object && tb == json_type_object) {
        na = sorted_names(a, &la);
        nb = sorted_names(b, &lb);
        for (i = 0, j = 0; !found && (i < la || j < lb);) {
            int c = i == la ? 1 : j == lb ? -1 : strcmp(na[i], nb[j]);
            child = ptr_join(at, c <= 0 ? na[i] : nb[j]);
            if (c == 0) {
                found = first_difference(json_object_object_get(a, na[i]),
                                         json_object_object_get(b, nb[j]), child, out);
                i++;
                j++;
            } else {
                sbuf_addf(out, "at %s: stored ", child);
                if (c < 0)
                    quote_value(out, json_object_object_get(a, na[i++]));
                else
                    sbuf_adds(out, "(absent)");
                sbuf_adds(out, ", replayed ");
                if (c > 0)
                    quote_value(out, json_object_object_get(b, nb[j++]));
                else
                    sbuf_adds(out, "(absent)");
                found = 1;
            }
            free(child);
            child = NULL;
        }
        free(na);
        free(nb);
        if (found)
            return 1;
    } else if (ta == json_type_array && tb == json_type_array) {
        la = json_object_array_length(a);
        lb = json_object_array_length(b);
        for (i = 0; i < la && i < lb; i++) {
            child = ptr_join_index(at, i);
            found = first_difference(json_object_array_get_idx(a, i),
                                     json_object_array_get_idx(b, i), child, out);
            free(child);
            if (found)
                return 1;
        }
        /* Equal up to the shorter one: the first extra element is the difference. */
        child = ptr_join_index(at, i);
        va = i < la ? json_object_array_get_idx(a, i) : NULL;
        vb = i < lb ? json_object_array_get_idx(b, i) : NULL;
        sbuf_addf(out, "at %s: stored ", child);
        if (i < la)
            quote_value(out, va);
        else
            sbuf_adds(out, "(absent)");
        sbuf_adds(out, ", replayed ");
        if (i < lb)
            quote_value(out, vb);
        else
            sbuf_adds(out, "(absent)");
        free(child);
        return 1;
    }
    /* Different kinds, or scalars that differ. Two objects reach here only should the
     * member search disagree with jsonp_equal; then they differ here as a whole. */
    if (at[0] == '\0')
        sbuf_adds(out, "at the document root: stored ");
    else
        sbuf_addf(out, "at %s: stored ", at);
    quote_value(out, a);
    sbuf_adds(out, ", replayed ");
    quote_value(out, b);
    return 1;
}

char *
replay_diff(json_object *stored, json_object *replayed)
{
    struct sbuf out;

    sbuf_init(&out);
    if (!first_difference(stored, replayed, "", &out)) {
        sbuf_free(&out);
        return NULL;
    }
    return out.data;
}
