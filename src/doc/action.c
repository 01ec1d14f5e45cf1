/*
 * action.c: the action envelope (docs/api.md) and the compiler from catalog steps to
 * concrete RFC 6902 operations. The patch engine applies what the compiler emits, so
 * the document, the log's forward patch and its inverse all come from one place.
 */
#include "doc/action.h"
#include "doc/catalog_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "doc/jsonp.h"
#include "doc/patch.h"
#include "doc/ptr.h"
#include "base/xalloc.h"

/* Everything one action_apply needs while compiling its steps. */
struct compile {
    const struct catalog_type *type;
    const struct catalog_action *act;
    const struct action *req;
    json_object *data;     /* the data the steps read (borrowed, or `own_data`) */
    json_object *own_data; /* {} standing in for absent data declared as members */
    int has_data;
    char *data_ptr;   /* pointer_prefix + "/data" */
    char *target_ptr; /* pointer_prefix + "/target" */
    struct action_effect *eff;
    struct err *err;
};

/* Where a path template led in the document. */
struct loc {
    char *path;        /* concrete pointer, owned */
    char *parent_path; /* of the container holding it, owned; NULL for the root */
    json_object *parent;
    json_object *node; /* borrowed; NULL is JSON null */
    int exists;        /* 0: a member the last token names is absent from its object */
    size_t index;      /* position in `parent` when that is an array */
};

typedef enum err_code (*step_compiler)(struct compile *c, const struct catalog_step *s,
                                       json_object *doc, json_object *ops);

static enum err_code fail_tok(struct err *err, enum err_code code, const char *slug,
                              const char *base, const char *tok, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum err_code check_members(json_object *obj, const char *base, const char *const *allowed,
                                   struct err *err);
static enum err_code parse_item(json_object *obj, const char *base, struct action *item,
                                struct err *err);
static unsigned class_of(json_object *v);
static int is_number(json_object *v);
static int beyond_safe(json_object *v);
static enum err_code check_schema(const struct compile *c, const struct catalog_schema *s,
                                  json_object *v, const char *base, const char *section);
static const char *num_text(char *buf, size_t size, double d);
static enum err_code check_value(const struct compile *c, int numeric,
                                 const struct catalog_bounds *b, json_object *v, const char *base,
                                 const char *name);
static enum err_code check_values(const struct compile *c, const struct catalog_schema *s,
                                  json_object *v, const char *base);
static enum err_code check_rules(const struct compile *c);
static void loc_free(struct loc *l);
static int find_selected(json_object *arr, const char *member, json_object *want, size_t *idx);
static enum err_code locate(const struct compile *c, json_object *doc, const struct catalog_path *p,
                            struct loc *l);
static enum err_code need_type(const struct compile *c, const struct loc *l, enum json_type type);
static void emit_value(json_object *ops, const char *op, const char *path, json_object *value);
static void emit_path(json_object *ops, const char *op, const char *from, const char *path);
static int step_value(const struct compile *c, const struct catalog_step *s, json_object **out);
static char *value_ptr(const struct compile *c, const struct catalog_step *s);
static int key_cmp(json_object *a, json_object *b);
static int elem_cmp(json_object *elem, const char *key, json_object *k);
static int sorted_slot(json_object *arr, const char *key, json_object *k, size_t skip,
                       size_t *slot);
static enum err_code uuid_id(struct compile *c, json_object **out);
static enum err_code serial_id(struct compile *c, const struct catalog_step *s, json_object *arr,
                               json_object **out);
static enum err_code compile_set(struct compile *c, const struct catalog_step *s, json_object *doc,
                                 json_object *ops);
static enum err_code compile_merge(struct compile *c, const struct catalog_step *s,
                                   json_object *doc, json_object *ops);
static enum err_code compile_remove(struct compile *c, const struct catalog_step *s,
                                    json_object *doc, json_object *ops);
static enum err_code compile_insert_sorted(struct compile *c, const struct catalog_step *s,
                                           json_object *doc, json_object *ops);
static enum err_code compile_rekey(struct compile *c, const struct catalog_step *s,
                                   json_object *doc, json_object *ops);
static enum err_code compile_append(struct compile *c, const struct catalog_step *s,
                                    json_object *doc, json_object *ops);
static enum err_code compile_add_to_set(struct compile *c, const struct catalog_step *s,
                                        json_object *doc, json_object *ops);
static json_object *concat(json_object *first, json_object *second);
static enum err_code apply_steps(struct compile *c, json_object **doc);
static enum err_code apply_transition(struct compile *c, const char *state);

static const step_compiler compilers[] = {
    [CATALOG_OP_SET] = compile_set,
    [CATALOG_OP_MERGE] = compile_merge,
    [CATALOG_OP_REMOVE] = compile_remove,
    [CATALOG_OP_INSERT_SORTED] = compile_insert_sorted,
    [CATALOG_OP_REKEY] = compile_rekey,
    [CATALOG_OP_APPEND] = compile_append,
    [CATALOG_OP_ADD_TO_SET] = compile_add_to_set,
};

static const char *const single_members[] = {"action",      "target", "data", "expected_version",
                                             "on_conflict", "id",     NULL};
static const char *const batch_members[] = {"actions", "expected_version", "on_conflict", "id",
                                            NULL};
static const char *const item_members[] = {"action", "target", "data", NULL};

/*
 * Records a failure whose pointer is `base` followed by the escaped token `tok`
 * (just `base` when tok is NULL); `slug` NULL keeps the code's default.
 */
static enum err_code
fail_tok(struct err *err, enum err_code code, const char *slug, const char *base, const char *tok,
         const char *fmt, ...)
{
    char *ptr = tok != NULL ? ptr_join(base, tok) : xstrdup(base);
    va_list ap;

    va_start(ap, fmt);
    err_failv(err, code, ptr, fmt, ap);
    va_end(ap);
    if (slug != NULL)
        err_set_slug(err, slug);
    free(ptr);
    return code;
}

/* Rejects the first member of `obj` not in `allowed` (never ignored). */
static enum err_code
check_members(json_object *obj, const char *base, const char *const *allowed, struct err *err)
{
    const char *unknown = jsonp_unknown_member(obj, allowed);

    if (unknown != NULL)
        return fail_tok(err, ERR_BAD_REQUEST, NULL, base, unknown, "unknown member");
    return ERR_OK;
}

/* Reads "action", "target" and "data" of one envelope or batch item at `base`. */
static enum err_code
parse_item(json_object *obj, const char *base, struct action *item, struct err *err)
{
    json_object *v;

    if (!json_object_object_get_ex(obj, "action", &v))
        return fail_tok(err, ERR_BAD_REQUEST, NULL, base, "action", "\"action\" is required");
    if (!json_object_is_type(v, json_type_string))
        return fail_tok(err, ERR_BAD_REQUEST, NULL, base, "action", "must be a string, not %s",
                        jsonp_type_name(v));
    if (json_object_get_string_len(v) == 0 || json_object_get_string_len(v) > CATALOG_NAME_MAX)
        return fail_tok(err, ERR_BAD_REQUEST, NULL, base, "action",
                        "must be an action name of 1 to %d bytes", CATALOG_NAME_MAX);
    item->name = xstrdup(json_object_get_string(v));
    if (json_object_object_get_ex(obj, "target", &v)) {
        if (!json_object_is_type(v, json_type_object))
            return fail_tok(err, ERR_BAD_REQUEST, NULL, base, "target", "must be an object, not %s",
                            jsonp_type_name(v));
        item->target = json_object_get(v);
    }
    /* "data": null is no data: json-c cannot tell them apart once stored */
    if (json_object_object_get_ex(obj, "data", &v))
        item->data = json_object_get(v);
    return ERR_OK;
}

enum err_code
action_parse(json_object *body, struct action_request *out, struct err *err)
{
    json_object *v, *actions;
    enum err_code rc;
    size_t i, n;

    memset(out, 0, sizeof(*out));
    if (!json_object_is_type(body, json_type_object))
        return err_fail(err, ERR_BAD_REQUEST, "",
                        "the body must be an action envelope (an object)");
    out->batch = json_object_object_get_ex(body, "actions", &actions);
    rc = check_members(body, "", out->batch ? batch_members : single_members, err);
    if (rc != ERR_OK)
        goto fail;

    if (json_object_object_get_ex(body, "expected_version", &v)) {
        /* versions start at 1 (the creation), so 0 can never match */
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
            rc = err_fail(err, ERR_BAD_REQUEST, "/expected_version",
                          "must be an integer version, 1 or more");
            goto fail;
        }
        out->has_expected_version = 1;
        out->expected_version = json_object_get_int64(v);
    }

    if (json_object_object_get_ex(body, "on_conflict", &v)) {
        const char *how = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) ||
            (strcmp(how, "merge") != 0 && strcmp(how, "reject") != 0)) {
            rc = err_fail(err, ERR_BAD_REQUEST, "/on_conflict", "must be \"reject\" or \"merge\"");
            goto fail;
        }
        out->merge = strcmp(how, "merge") == 0;
    }

    if (json_object_object_get_ex(body, "id", &v)) {
        const char *s = json_object_get_string(v);
        size_t len = json_object_get_string_len(v);

        /* the same alphabet as an Idempotency-Key header's string, so both are one key */
        rc = json_object_is_type(v, json_type_string) && len > 0 && len <= ACTION_MAX_ID
                 ? ERR_OK
                 : ERR_BAD_REQUEST;
        for (i = 0; rc == ERR_OK && i < len; i++)
            if (s[i] < 0x20 || s[i] > 0x7e)
                rc = ERR_BAD_REQUEST;
        if (rc != ERR_OK) {
            err_fail(err, rc, "/id", "must be a string of 1 to %d printable ASCII characters",
                     ACTION_MAX_ID);
            goto fail;
        }
        out->id = xstrndup(s, len);
    }

    if (!out->batch) {
        out->items = xcalloc(1, sizeof(*out->items));
        out->n = 1;
        rc = parse_item(body, "", &out->items[0], err);
        if (rc != ERR_OK)
            goto fail;
        return ERR_OK;
    }

    if (!json_object_is_type(actions, json_type_array)) {
        rc = err_fail(err, ERR_BAD_REQUEST, "/actions", "must be an array of actions, not %s",
                      jsonp_type_name(actions));
        goto fail;
    }
    n = json_object_array_length(actions);
    if (n == 0 || n > ACTION_MAX_BATCH) {
        rc = err_fail(err, ERR_BAD_REQUEST, "/actions", "a batch holds 1 to %d actions",
                      ACTION_MAX_BATCH);
        goto fail;
    }
    out->items = xcalloc(n, sizeof(*out->items));
    for (i = 0; i < n; i++) {
        char base[32];

        v = json_object_array_get_idx(actions, i);
        snprintf(base, sizeof(base), "/actions/%zu", i);
        out->n = i + 1;
        if (!json_object_is_type(v, json_type_object)) {
            rc = err_fail(err, ERR_BAD_REQUEST, base, "must be an action object, not %s",
                          jsonp_type_name(v));
            goto fail;
        }
        rc = check_members(v, base, item_members, err);
        if (rc == ERR_OK)
            rc = parse_item(v, base, &out->items[i], err);
        if (rc != ERR_OK)
            goto fail;
    }
    return ERR_OK;

fail:
    action_request_free(out);
    return rc;
}

void
action_request_free(struct action_request *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++) {
        free(r->items[i].name);
        json_object_put(r->items[i].target);
        json_object_put(r->items[i].data);
    }
    free(r->items);
    free(r->id);
    memset(r, 0, sizeof(*r));
}

void
action_effect_clear(struct action_effect *e)
{
    if (e == NULL)
        return;
    json_object_put(e->forward);
    json_object_put(e->inverse);
    json_object_put(e->result);
    free(e->new_state);
    memset(e, 0, sizeof(*e));
}

static unsigned
class_of(json_object *v)
{
    static const unsigned classes[] = {
        [json_type_null] = CATALOG_T_NULL,       [json_type_boolean] = CATALOG_T_BOOLEAN,
        [json_type_double] = CATALOG_T_FRACTION, [json_type_int] = CATALOG_T_INTEGER,
        [json_type_object] = CATALOG_T_OBJECT,   [json_type_array] = CATALOG_T_ARRAY,
        [json_type_string] = CATALOG_T_STRING,
    };

    return classes[json_object_get_type(v)];
}

static int
is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/*
 * 1 when `v` is a number beyond +-CATALOG_SAFE_INTEGER. The browser's engine sees such
 * a number rounded (and cannot tell 1e20 from an integer), so a member declared integer
 * or number refuses it as out of range, whatever its class, in both engines.
 */
static int
beyond_safe(json_object *v)
{
    double d;
    int64_t i;

    if (json_object_is_type(v, json_type_int)) {
        i = json_object_get_int64(v);
        return i < -CATALOG_SAFE_INTEGER || i > CATALOG_SAFE_INTEGER;
    }
    if (!json_object_is_type(v, json_type_double))
        return 0;
    d = json_object_get_double(v);
    return !(d >= -(double)CATALOG_SAFE_INTEGER && d <= (double)CATALOG_SAFE_INTEGER);
}

/*
 * Checks the sent `target` or `data` (`v`, NULL when absent) against its declaration;
 * `base` is the pointer of the section. 400 with the pointer of the offending member.
 * A number beyond +-CATALOG_SAFE_INTEGER for a member declared integer or number passes
 * here whatever its class: check_values refuses it (422).
 */
static enum err_code
check_schema(const struct compile *c, const struct catalog_schema *s, json_object *v,
             const char *base, const char *section)
{
    struct json_object_iter it;
    const struct catalog_member *m;
    size_t i;

    switch (s->form) {
    case CATALOG_SCHEMA_NONE:
        if (v != NULL)
            return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, NULL, "%s takes no %s",
                            c->act->name, section);
        return ERR_OK;
    case CATALOG_SCHEMA_VALUE:
        if (v == NULL && !s->optional)
            return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, NULL, "%s needs %s (%s)",
                            c->act->name, section, s->spec);
        if (v != NULL && !(class_of(v) & s->types) && !(s->numeric && beyond_safe(v)))
            return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, NULL, "expected %s, got %s",
                            s->spec, jsonp_type_name(v));
        return ERR_OK;
    case CATALOG_SCHEMA_MEMBERS:
        break;
    }

    if (v != NULL && !json_object_is_type(v, json_type_object))
        return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, NULL, "must be an object, not %s",
                        jsonp_type_name(v));
    if (v != NULL) {
        json_object_object_foreachC(v, it)
        {
            m = NULL;
            for (i = 0; i < s->n && m == NULL; i++)
                if (strcmp(s->members[i].name, it.key) == 0)
                    m = &s->members[i];
            if (m == NULL)
                return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, it.key,
                                "unknown member of %s's %s", c->act->name, section);
            if (!(class_of(it.val) & m->types) && !(m->numeric && beyond_safe(it.val)))
                return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, it.key, "expected %s, got %s",
                                m->spec, jsonp_type_name(it.val));
        }
    }
    for (i = 0; i < s->n; i++) {
        m = &s->members[i];
        if (!m->optional && (v == NULL || !json_object_object_get_ex(v, m->name, NULL)))
            return fail_tok(c->err, ERR_BAD_REQUEST, NULL, base, m->name,
                            "%s's %s needs member \"%s\" (%s)", c->act->name, section, m->name,
                            m->spec);
    }
    return ERR_OK;
}

/* `d` written briefly, integers without a fraction, into `buf` (returned). */
static const char *
num_text(char *buf, size_t size, double d)
{
    int prec;

    if (d >= -(double)CATALOG_SAFE_INTEGER && d <= (double)CATALOG_SAFE_INTEGER &&
        d == (double)(int64_t)d) {
        snprintf(buf, size, "%" PRId64, (int64_t)d);
        return buf;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return buf;
    }
    snprintf(buf, size, "%.17g", d);
    return buf;
}

/*
 * Checks one value the schema accepted against its member's constraints: a number
 * for a member declared integer or number within +-CATALOG_SAFE_INTEGER, then its
 * bounds; a string's length in bytes. 422 "out-of-range" at `base` + `name` (just
 * `base` when name is NULL). Accepted values are exact doubles, so the comparisons
 * are those of the browser's engine.
 */
static enum err_code
check_value(const struct compile *c, int numeric, const struct catalog_bounds *b, json_object *v,
            const char *base, const char *name)
{
    char num[32];
    size_t len;
    double d;

    if (is_number(v)) {
        if (numeric && beyond_safe(v))
            return fail_tok(c->err, ERR_UNPROCESSABLE, "out-of-range", base, name,
                            "must lie within -%lld..%lld, where numbers are exact integers "
                            "in JavaScript",
                            CATALOG_SAFE_INTEGER, CATALOG_SAFE_INTEGER);
        d = json_object_get_double(v);
        if (b->has_min && (d < b->min || (b->min_exclusive && d == b->min)))
            return fail_tok(c->err, ERR_UNPROCESSABLE, "out-of-range", base, name, "must be %s %s",
                            b->min_exclusive ? "greater than" : "at least",
                            num_text(num, sizeof(num), b->min));
        if (b->has_max && (d > b->max || (b->max_exclusive && d == b->max)))
            return fail_tok(c->err, ERR_UNPROCESSABLE, "out-of-range", base, name, "must be %s %s",
                            b->max_exclusive ? "less than" : "at most",
                            num_text(num, sizeof(num), b->max));
    } else if (json_object_is_type(v, json_type_string)) {
        len = (size_t)json_object_get_string_len(v);
        if (b->has_min_length && len < b->min_length)
            return fail_tok(c->err, ERR_UNPROCESSABLE, "out-of-range", base, name,
                            "must be at least %zu bytes long", b->min_length);
        if (b->has_max_length && len > b->max_length)
            return fail_tok(c->err, ERR_UNPROCESSABLE, "out-of-range", base, name,
                            "must be at most %zu bytes long", b->max_length);
    }
    return ERR_OK;
}

/*
 * The constraints of a `target` or `data` (`v`, NULL when absent) that check_schema
 * accepted, member by member in declaration order. 422 "out-of-range" at the member.
 */
static enum err_code
check_values(const struct compile *c, const struct catalog_schema *s, json_object *v,
             const char *base)
{
    static const struct catalog_bounds none;
    enum err_code rc;
    json_object *val;
    size_t i;

    if (v == NULL)
        return ERR_OK;
    if (s->form == CATALOG_SCHEMA_VALUE)
        return check_value(c, s->numeric, &none, v, base, NULL);
    for (i = 0; i < s->n; i++) {
        const struct catalog_member *m = &s->members[i];

        if (!json_object_object_get_ex(v, m->name, &val))
            continue;
        rc = check_value(c, m->numeric, &m->bounds, val, base, m->name);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/*
 * The action's cross-member rules, in catalog order. A rule holds when either member
 * is absent or not a number (null); otherwise a broken one is 422 "invalid-range" at
 * the rule's second member.
 */
static enum err_code
check_rules(const struct compile *c)
{
    char x_text[32], y_text[32];
    json_object *x, *y;
    size_t i;

    for (i = 0; i < c->act->nrules; i++) {
        const struct catalog_rule *r = &c->act->rules[i];
        int less = r->kind == CATALOG_RULE_LESS;
        double a, b;

        if (c->req->data == NULL || !json_object_object_get_ex(c->req->data, r->first, &x) ||
            !json_object_object_get_ex(c->req->data, r->second, &y) || !is_number(x) ||
            !is_number(y))
            continue;
        a = json_object_get_double(x);
        b = json_object_get_double(y);
        if (less ? a < b : a <= b)
            continue;
        return fail_tok(c->err, ERR_UNPROCESSABLE, "invalid-range", c->data_ptr, r->second,
                        "%s (%s) must be %s %s (%s)", r->second,
                        num_text(y_text, sizeof(y_text), b), less ? "greater than" : "at least",
                        r->first, num_text(x_text, sizeof(x_text), a));
    }
    return ERR_OK;
}

static void
loc_free(struct loc *l)
{
    free(l->path);
    free(l->parent_path);
}

/* The index of the first object in `arr` whose `member` equals `want` (RFC 6902 4.6). */
static int
find_selected(json_object *arr, const char *member, json_object *want, size_t *idx)
{
    json_object *e, *v;
    size_t i;

    for (i = 0; i < json_object_array_length(arr); i++) {
        e = json_object_array_get_idx(arr, i);
        if (json_object_is_type(e, json_type_object) && json_object_object_get_ex(e, member, &v) &&
            jsonp_equal(v, want)) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

/*
 * Resolves path template `p` in `doc` into *l (release with loc_free, also on failure).
 * Every token must exist, except that the last may name a member absent from its
 * object (l->exists 0): whether that is an error is the operation's call.
 * 422 "target-not-found" when a selector matches nothing, "path-not-found" otherwise.
 */
static enum err_code
locate(const struct compile *c, json_object *doc, const struct catalog_path *p, struct loc *l)
{
    json_object *cur = doc, *child, *want;
    size_t i, idx = 0;

    memset(l, 0, sizeof(*l));
    l->path = xstrdup("");
    for (i = 0; i < p->n; i++) {
        const struct catalog_seg *s = &p->seg[i];
        char *next;

        if (s->selector) {
            if (!json_object_is_type(cur, json_type_array))
                return err_fail(c->err, ERR_UNPROCESSABLE, NULL,
                                "the document has no array at \"%s\" to select {%s} in", l->path,
                                s->name);
            want = json_object_object_get(c->req->target, s->name);
            if (!find_selected(cur, s->name, want, &idx))
                return fail_tok(c->err, ERR_UNPROCESSABLE, "target-not-found", c->target_ptr,
                                s->name, "no element of \"%s\" has %s %.64s", l->path, s->name,
                                jsonp_str(want));
            child = json_object_array_get_idx(cur, idx);
            next = ptr_join_index(l->path, idx);
        } else {
            int found = 0;

            next = ptr_join(l->path, s->name);
            if (json_object_is_type(cur, json_type_object)) {
                found = json_object_object_get_ex(cur, s->name, &child);
                if (!found && i + 1 == p->n) {
                    free(l->parent_path);
                    l->parent_path = l->path;
                    l->path = next;
                    l->parent = cur;
                    return ERR_OK;
                }
            } else if (json_object_is_type(cur, json_type_array)) {
                found = ptr_index(s->name, &idx) && idx < json_object_array_length(cur);
                if (found)
                    child = json_object_array_get_idx(cur, idx);
            }
            if (!found) {
                err_fail(c->err, ERR_UNPROCESSABLE, NULL, "the document has no value at \"%s\"",
                         next);
                err_set_slug(c->err, "path-not-found");
                free(next);
                return ERR_UNPROCESSABLE;
            }
        }
        free(l->parent_path);
        l->parent_path = l->path;
        l->path = next;
        l->parent = cur;
        l->index = idx;
        cur = child;
    }
    l->node = cur;
    l->exists = 1;
    return ERR_OK;
}

/* The located value must exist and, unless `type` is json_type_null, be of `type`. */
static enum err_code
need_type(const struct compile *c, const struct loc *l, enum json_type type)
{
    if (!l->exists) {
        err_fail(c->err, ERR_UNPROCESSABLE, NULL, "the document has no value at \"%s\"", l->path);
        err_set_slug(c->err, "path-not-found");
        return ERR_UNPROCESSABLE;
    }
    if (type != json_type_null && !json_object_is_type(l->node, type)) {
        err_fail(c->err, ERR_UNPROCESSABLE, NULL, "the value at \"%s\" is %s, not %s", l->path,
                 jsonp_type_name(l->node), type == json_type_array ? "an array" : "an object");
        err_set_slug(c->err, "wrong-type");
        return ERR_UNPROCESSABLE;
    }
    return ERR_OK;
}

/* Appends {"op", "path", "value"} to `ops`, taking `value` (NULL is JSON null). */
static void
emit_value(json_object *ops, const char *op, const char *path, json_object *value)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "op", json_object_new_string(op));
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "value", value);
    json_object_array_add(ops, o);
}

/* Appends {"op", "from"?, "path"} to `ops`. */
static void
emit_path(json_object *ops, const char *op, const char *from, const char *path)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "op", json_object_new_string(op));
    if (from != NULL)
        json_object_object_add(o, "from", json_object_new_string(from));
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_array_add(ops, o);
}

/*
 * The value step `s` writes, borrowed (NULL is JSON null). Returns 0 when the step
 * has none, because value_from names an optional member that was not sent or the
 * optional data was not sent: such a step is skipped.
 */
static int
step_value(const struct compile *c, const struct catalog_step *s, json_object **out)
{
    if (s->value_from == NULL) {
        *out = c->data;
        return c->has_data;
    }
    return json_object_object_get_ex(c->data, s->value_from, out);
}

/* The request pointer of the value step `s` writes; the caller frees it. */
static char *
value_ptr(const struct compile *c, const struct catalog_step *s)
{
    return s->value_from != NULL ? ptr_join(c->data_ptr, s->value_from) : xstrdup(c->data_ptr);
}

/* Orders two sort keys: numbers by value, before strings, which compare bytewise. */
static int
key_cmp(json_object *a, json_object *b)
{
    int sa = json_object_is_type(a, json_type_string),
        sb = json_object_is_type(b, json_type_string);

    if (sa != sb)
        return sa ? 1 : -1;
    if (sa) {
        int r = strcmp(json_object_get_string(a), json_object_get_string(b));
        return (r > 0) - (r < 0);
    }
    if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
        int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
        return (x > y) - (x < y);
    }
    double x = json_object_get_double(a), y = json_object_get_double(b);
    return (x > y) - (x < y);
}

/* Compares the sort key of an array element with `k`; elements without one sort last. */
static int
elem_cmp(json_object *elem, const char *key, json_object *k)
{
    json_object *ek;

    if (!json_object_is_type(elem, json_type_object) ||
        !json_object_object_get_ex(elem, key, &ek) ||
        !(class_of(ek) & (CATALOG_T_NUMBER | CATALOG_T_STRING)))
        return 1;
    return key_cmp(ek, k);
}

/*
 * The index an element with sort key `k` takes in `arr` once element `skip` (SIZE_MAX:
 * none) is taken out: before the first greater key. Returns 0 when another element
 * already has an equal key. The whole array is scanned so that an array edited out of
 * order by PATCH still cannot gain a duplicate.
 */
static int
sorted_slot(json_object *arr, const char *key, json_object *k, size_t skip, size_t *slot)
{
    size_t i, pos = 0, n = json_object_array_length(arr);
    int placed = 0, cmp;

    for (i = 0; i < n; i++) {
        if (i == skip)
            continue;
        cmp = elem_cmp(json_object_array_get_idx(arr, i), key, k);
        if (cmp == 0)
            return 0;
        if (cmp > 0 && !placed) {
            *slot = pos;
            placed = 1;
        }
        pos++;
    }
    if (!placed)
        *slot = pos;
    return 1;
}

/* A random version 4 UUID (RFC 9562 section 5.4) as a new string in *out. */
static enum err_code
uuid_id(struct compile *c, json_object **out)
{
    unsigned char b[16];
    char text[37], *p = text;
    size_t i;

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return err_fail(c->err, ERR_INTERNAL, NULL, "getrandom: %s", strerror(errno));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    for (i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += snprintf(p, 3, "%02x", b[i]);
    }
    *out = json_object_new_string(text);
    return ERR_OK;
}

/* 1 + the largest integer `id_member` among the objects of `arr` (or 1), in *out. */
static enum err_code
serial_id(struct compile *c, const struct catalog_step *s, json_object *arr, json_object **out)
{
    int64_t max = 0;
    json_object *e, *v;
    size_t i;

    for (i = 0; i < json_object_array_length(arr); i++) {
        e = json_object_array_get_idx(arr, i);
        if (json_object_is_type(e, json_type_object) &&
            json_object_object_get_ex(e, s->id_member, &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) > max)
            max = json_object_get_int64(v);
    }
    /* reachable: a PATCH can store any integer as an id */
    if (max == INT64_MAX) {
        err_fail(c->err, ERR_UNPROCESSABLE, NULL, "no %s is left after %" PRId64, s->id_member,
                 max);
        err_set_slug(c->err, "invalid-value");
        return ERR_UNPROCESSABLE;
    }
    *out = json_object_new_int64(max + 1);
    return ERR_OK;
}

/* set: add the value at path, or replace what is there. */
static enum err_code
compile_set(struct compile *c, const struct catalog_step *s, json_object *doc, json_object *ops)
{
    json_object *v;
    struct loc l;
    enum err_code rc;

    if (!step_value(c, s, &v))
        return ERR_OK;
    rc = locate(c, doc, &s->path, &l);
    if (rc == ERR_OK)
        emit_value(ops, l.exists ? "replace" : "add", l.path, jsonp_copy(v));
    loc_free(&l);
    return rc;
}

/* merge: each data member becomes an add or replace of that member of the object at path. */
static enum err_code
compile_merge(struct compile *c, const struct catalog_step *s, json_object *doc, json_object *ops)
{
    struct json_object_iter it;
    struct loc l;
    enum err_code rc;

    rc = locate(c, doc, &s->path, &l);
    if (rc == ERR_OK)
        rc = need_type(c, &l, json_type_object);
    if (rc == ERR_OK) {
        json_object_object_foreachC(c->data, it)
        {
            char *p = ptr_join(l.path, it.key);

            emit_value(ops, json_object_object_get_ex(l.node, it.key, NULL) ? "replace" : "add", p,
                       jsonp_copy(it.val));
            free(p);
        }
    }
    loc_free(&l);
    return rc;
}

/* remove: the value at path must exist. */
static enum err_code
compile_remove(struct compile *c, const struct catalog_step *s, json_object *doc, json_object *ops)
{
    struct loc l;
    enum err_code rc;

    rc = locate(c, doc, &s->path, &l);
    if (rc == ERR_OK)
        rc = need_type(c, &l, json_type_null);
    if (rc == ERR_OK)
        emit_path(ops, "remove", NULL, l.path);
    loc_free(&l);
    return rc;
}

/* insert_sorted: add the value (an object) to the array at path, in order of `key`. */
static enum err_code
compile_insert_sorted(struct compile *c, const struct catalog_step *s, json_object *doc,
                      json_object *ops)
{
    json_object *v, *k;
    struct loc l = {0};
    char *vp = NULL, *p;
    enum err_code rc;
    size_t slot;

    if (!step_value(c, s, &v))
        return ERR_OK;
    vp = value_ptr(c, s);
    if (!json_object_is_type(v, json_type_object)) {
        rc = fail_tok(c->err, ERR_BAD_REQUEST, NULL, vp, NULL, "must be an object, not %s",
                      jsonp_type_name(v));
        goto cleanup;
    }
    if (!json_object_object_get_ex(v, s->key, &k) ||
        !(class_of(k) & (CATALOG_T_NUMBER | CATALOG_T_STRING))) {
        rc = fail_tok(c->err, ERR_BAD_REQUEST, NULL, vp, s->key,
                      "the sort key \"%s\" must be a number or a string", s->key);
        goto cleanup;
    }
    rc = locate(c, doc, &s->path, &l);
    if (rc == ERR_OK)
        rc = need_type(c, &l, json_type_array);
    if (rc != ERR_OK)
        goto cleanup;
    if (!sorted_slot(l.node, s->key, k, SIZE_MAX, &slot)) {
        rc = fail_tok(c->err, ERR_UNPROCESSABLE, "duplicate-key", vp, s->key,
                      "\"%s\" already has an element with this %s", l.path, s->key);
        goto cleanup;
    }
    p = ptr_join_index(l.path, slot);
    emit_value(ops, "add", p, jsonp_copy(v));
    free(p);
cleanup:
    loc_free(&l);
    free(vp);
    return rc;
}

/*
 * rekey: the selected element gets `key` set to the value and moves to its sorted
 * place: a move (when the place changes) then a replace, so the log shows both.
 */
static enum err_code
compile_rekey(struct compile *c, const struct catalog_step *s, json_object *doc, json_object *ops)
{
    json_object *v;
    struct loc l = {0};
    char *vp = NULL, *at = NULL, *p;
    enum err_code rc;
    size_t slot;

    if (!step_value(c, s, &v))
        return ERR_OK;
    vp = value_ptr(c, s);
    /* the path ends in a selector (catalog validation), so the element exists */
    rc = locate(c, doc, &s->path, &l);
    if (rc != ERR_OK)
        goto cleanup;
    if (!sorted_slot(l.parent, s->key, v, l.index, &slot)) {
        rc = fail_tok(c->err, ERR_UNPROCESSABLE, "duplicate-key", vp, NULL,
                      "\"%s\" already has an element with this %s", l.parent_path, s->key);
        goto cleanup;
    }
    if (slot != l.index) {
        at = ptr_join_index(l.parent_path, slot);
        emit_path(ops, "move", l.path, at);
    }
    p = ptr_join(at != NULL ? at : l.path, s->key);
    emit_value(ops, json_object_object_get_ex(l.node, s->key, NULL) ? "replace" : "add", p,
               jsonp_copy(v));
    free(p);
cleanup:
    loc_free(&l);
    free(at);
    free(vp);
    return rc;
}

/*
 * append: add the value (an object) at the end of the array at path, with a server
 * assigned id first and `defaults` for members it lacks; the id goes into the result.
 */
static enum err_code
compile_append(struct compile *c, const struct catalog_step *s, json_object *doc, json_object *ops)
{
    struct json_object_iter it;
    json_object *v, *elem = NULL, *id = NULL;
    struct loc l = {0};
    char *vp = NULL, *p;
    enum err_code rc;

    if (!step_value(c, s, &v))
        return ERR_OK;
    vp = value_ptr(c, s);
    if (!json_object_is_type(v, json_type_object)) {
        rc = fail_tok(c->err, ERR_BAD_REQUEST, NULL, vp, NULL, "must be an object, not %s",
                      jsonp_type_name(v));
        goto cleanup;
    }
    if (s->id_member != NULL && json_object_object_get_ex(v, s->id_member, NULL)) {
        rc = fail_tok(c->err, ERR_BAD_REQUEST, NULL, vp, s->id_member,
                      "\"%s\" is assigned by the server", s->id_member);
        goto cleanup;
    }
    rc = locate(c, doc, &s->path, &l);
    if (rc == ERR_OK)
        rc = need_type(c, &l, json_type_array);
    if (rc == ERR_OK && s->id_kind == CATALOG_ID_UUID)
        rc = uuid_id(c, &id);
    else if (rc == ERR_OK && s->id_kind == CATALOG_ID_SERIAL)
        rc = serial_id(c, s, l.node, &id);
    if (rc != ERR_OK)
        goto cleanup;

    elem = json_object_new_object();
    if (id != NULL) {
        json_object_object_add(elem, s->id_member, jsonp_copy(id));
        if (c->eff->result == NULL)
            c->eff->result = json_object_new_object();
        json_object_object_add(c->eff->result, s->id_member, json_object_get(id));
    }
    json_object_object_foreachC(v, it)
    {
        json_object_object_add(elem, it.key, jsonp_copy(it.val));
    }
    if (s->defaults != NULL) {
        json_object_object_foreachC(s->defaults, it)
        {
            if (!json_object_object_get_ex(elem, it.key, NULL))
                json_object_object_add(elem, it.key, jsonp_copy(it.val));
        }
    }
    p = ptr_join_index(l.path, json_object_array_length(l.node));
    emit_value(ops, "add", p, elem);
    free(p);
cleanup:
    json_object_put(id);
    loc_free(&l);
    free(vp);
    return rc;
}

/* add_to_set: append the value to the array at path unless an equal one is there. */
static enum err_code
compile_add_to_set(struct compile *c, const struct catalog_step *s, json_object *doc,
                   json_object *ops)
{
    json_object *v, *set;
    struct loc l;
    enum err_code rc;
    size_t i;
    char *p;

    if (!step_value(c, s, &v))
        return ERR_OK;
    rc = locate(c, doc, &s->path, &l);
    if (rc != ERR_OK)
        goto cleanup;
    if (!l.exists) {
        set = json_object_new_array();
        json_object_array_add(set, jsonp_copy(v));
        emit_value(ops, "add", l.path, set);
        goto cleanup;
    }
    rc = need_type(c, &l, json_type_array);
    if (rc != ERR_OK)
        goto cleanup;
    for (i = 0; i < json_object_array_length(l.node); i++)
        if (jsonp_equal(json_object_array_get_idx(l.node, i), v))
            goto cleanup;
    p = ptr_join_index(l.path, json_object_array_length(l.node));
    emit_value(ops, "add", p, jsonp_copy(v));
    free(p);
cleanup:
    loc_free(&l);
    return rc;
}

/* A new array holding the elements of `first` then those of `second` (shared). */
static json_object *
concat(json_object *first, json_object *second)
{
    json_object *out = json_object_new_array();
    size_t i;

    for (i = 0; i < json_object_array_length(first); i++)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(first, i)));
    for (i = 0; i < json_object_array_length(second); i++)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(second, i)));
    return out;
}

/*
 * Compiles and applies the steps one by one, each against the document the previous
 * one left, collecting the forward patch and (in reverse) the inverse.
 */
static enum err_code
apply_steps(struct compile *c, json_object **doc)
{
    struct action_effect *eff = c->eff;
    json_object *ops, *inv = NULL, *all;
    enum err_code rc = ERR_OK;
    size_t i;

    eff->forward = json_object_new_array();
    eff->inverse = json_object_new_array();
    for (i = 0; i < c->act->nsteps && rc == ERR_OK; i++) {
        const struct catalog_step *s = &c->act->steps[i];

        ops = json_object_new_array();
        rc = compilers[s->op](c, s, *doc, ops);
        if (rc == ERR_OK && json_object_array_length(ops) > 0) {
            rc = patch_apply(doc, ops, &inv, c->err);
            if (rc == ERR_OK) {
                all = concat(eff->forward, ops);
                json_object_put(eff->forward);
                eff->forward = all;
                all = concat(inv, eff->inverse);
                json_object_put(eff->inverse);
                eff->inverse = all;
            } else if (c->err != NULL) {
                /* the compiler missed a check; its pointer names a patch the client never saw */
                c->err->has_pointer = 0;
                c->err->pointer[0] = '\0';
            }
            json_object_put(inv);
            inv = NULL;
        }
        json_object_put(ops);
    }
    if (rc == ERR_OK && !c->type->any_document && !json_object_is_type(*doc, json_type_object)) {
        rc = err_fail(c->err, ERR_UNPROCESSABLE, NULL, "a %s document must stay an object",
                      c->type->name);
        err_set_slug(c->err, "invalid-value");
    }
    /* all or nothing: an inverse always applies to the document it was made from */
    if (rc != ERR_OK && json_object_array_length(eff->inverse) > 0)
        patch_apply(doc, eff->inverse, NULL, NULL);
    return rc;
}

/* A transition changes the state only: the document and its patches stay empty. */
static enum err_code
apply_transition(struct compile *c, const char *state)
{
    if (!catalog_action_allowed_from(c->act, state)) {
        err_fail(c->err, ERR_CONFLICT, NULL, "%s is not allowed in state %s", c->act->name,
                 state != NULL ? state : "(none)");
        err_set_slug(c->err, "transition-not-allowed");
        err_put(c->err, "allowed_actions", catalog_type_allowed(c->type, state));
        return ERR_CONFLICT;
    }
    c->eff->forward = json_object_new_array();
    c->eff->inverse = json_object_new_array();
    c->eff->new_state = xstrdup(c->act->to);
    return ERR_OK;
}

enum err_code
action_apply(const struct catalog_type *t, const struct action *a, const char *state,
             const char *pointer_prefix, json_object **doc, struct action_effect *eff,
             struct err *err)
{
    struct compile c;
    enum err_code rc;

    memset(eff, 0, sizeof(*eff));
    memset(&c, 0, sizeof(c));
    c.type = t;
    c.req = a;
    c.eff = eff;
    c.err = err;
    c.data_ptr = ptr_join(pointer_prefix, "data");
    c.target_ptr = ptr_join(pointer_prefix, "target");

    c.act = catalog_type_action(t, a->name);
    if (c.act == NULL || c.act->kind == CATALOG_DUPLICATE) {
        if (c.act == NULL)
            rc = fail_tok(err, ERR_NOT_FOUND, "unknown-action", pointer_prefix, "action",
                          "%s has no action \"%s\"", t->name, a->name);
        else
            rc = fail_tok(err, ERR_NOT_FOUND, "verb-not-an-action", pointer_prefix, "action",
                          "%s is a verb of %s: POST /%s/{id}/%s", a->name, t->name, t->name,
                          a->name);
        err_put(err, "allowed_actions", catalog_type_allowed(t, state));
        goto cleanup;
    }
    /* every 400 of the request's shape before any 422 of its values */
    rc = check_schema(&c, &c.act->target, a->target, c.target_ptr, "target");
    if (rc == ERR_OK)
        rc = check_schema(&c, &c.act->data, a->data, c.data_ptr, "data");
    if (rc == ERR_OK)
        rc = check_values(&c, &c.act->target, a->target, c.target_ptr);
    if (rc == ERR_OK)
        rc = check_values(&c, &c.act->data, a->data, c.data_ptr);
    if (rc == ERR_OK)
        rc = check_rules(&c);
    if (rc != ERR_OK)
        goto cleanup;

    if (c.act->kind == CATALOG_TRANSITION) {
        rc = apply_transition(&c, state);
        goto cleanup;
    }
    c.data = a->data;
    c.has_data = a->data != NULL;
    if (c.act->data.form == CATALOG_SCHEMA_MEMBERS && a->data == NULL) {
        c.data = c.own_data = json_object_new_object();
        c.has_data = 1;
    }
    rc = apply_steps(&c, doc);

cleanup:
    if (rc != ERR_OK)
        action_effect_clear(eff);
    json_object_put(c.own_data);
    free(c.data_ptr);
    free(c.target_ptr);
    return rc;
}
