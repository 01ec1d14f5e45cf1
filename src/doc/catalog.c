/*
 * catalog.c: reads the catalog file (docs/catalog.md) with the strict JSON reader,
 * validates every member and builds the immutable structures of catalog_impl.h.
 * Validation is complete at load, so action.c never meets a malformed declaration.
 */
#include "doc/catalog.h"
#include "doc/catalog_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/ptr.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

/* A catalog is configuration written by people; anything larger is a mistake. */
#define CATALOG_MAX_BYTES (4 * 1024 * 1024)

/*
 * Validation state. `ptr` is the JSON Pointer of the member being checked; on the
 * first failure it names the culprit and validation stops, so only the success path
 * pops what it pushed.
 */
struct vctx {
    const char *source;
    struct err *err;
    size_t len;
    char ptr[ERR_POINTER_MAX];
};

static void v_putc(struct vctx *v, char c);
static size_t v_push(struct vctx *v, const char *tok);
static size_t v_push_index(struct vctx *v, size_t idx);
static void v_pop(struct vctx *v, size_t len);
static enum err_code v_fail(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum err_code v_only(struct vctx *v, json_object *obj, const char *const *allowed);
static enum err_code v_member(struct vctx *v, json_object *obj, const char *key,
                              enum json_type type, int required, json_object **out);
static int is_name(const char *s);
static int is_member_name(const char *s);
static enum err_code v_name(struct vctx *v, const char *name);
static int parse_spec(const char *s, char **spec, unsigned *types, int *optional, int *numeric);
static enum err_code v_bound(struct vctx *v, json_object *decl, const char *key,
                             const struct catalog_member *m, int *has, double *out);
static enum err_code v_length(struct vctx *v, json_object *decl, const char *key,
                              const struct catalog_member *m, int *has, size_t *out);
static enum err_code v_member_decl(struct vctx *v, json_object *decl, struct catalog_member *m);
static enum err_code v_schema(struct vctx *v, json_object *decl, int value_form_ok,
                              struct catalog_schema *out);
static const struct catalog_member *schema_member(const struct catalog_schema *s, const char *name);
static enum err_code v_path(struct vctx *v, const char *text, const struct catalog_action *a,
                            struct catalog_path *out);
static enum err_code v_value_from(struct vctx *v, const char *text, const struct catalog_action *a,
                                  struct catalog_step *out);
static enum err_code v_sort_key(struct vctx *v, json_object *step, const struct catalog_action *a,
                                struct catalog_step *out);
static enum err_code v_append(struct vctx *v, json_object *step, const struct catalog_action *a,
                              struct catalog_step *out);
static enum err_code v_step(struct vctx *v, json_object *step, const struct catalog_action *a,
                            struct catalog_step *out);
static enum err_code v_rules(struct vctx *v, json_object *rules, struct catalog_action *a);
static enum err_code v_precondition(struct vctx *v, json_object *obj, int dflt, int *out);
static struct catalog_action *v_new_action(struct vctx *v, struct catalog_type *t,
                                           const char *name);
static enum err_code v_edit(struct vctx *v, struct catalog_type *t, const char *name,
                            json_object *decl);
static int has_state(const struct catalog_type *t, const char *name);
static enum err_code v_transition(struct vctx *v, struct catalog_type *t, const char *name,
                                  json_object *decl);
static enum err_code v_states(struct vctx *v, struct catalog_type *t, json_object *decl);
static enum err_code v_verb(struct vctx *v, struct catalog_type *t, const char *name,
                            json_object *decl);
static enum err_code v_type(struct vctx *v, const struct catalog *c, const char *name,
                            json_object *decl, struct catalog_type *out);
static void schema_free(struct catalog_schema *s);
static void action_free(struct catalog_action *a);
static void type_free(struct catalog_type *t);

/* Action names the HTTP surface uses itself (docs/api.md). */
static const char *const reserved_actions[] = {"actions", "undo",       "redo",        "create",
                                               "delete",  "json_patch", "merge_patch", "share",
                                               "unshare", "transfer",   "events",      NULL};

static const struct {
    const char *name;
    unsigned types;
} type_names[] = {
    {"null", CATALOG_T_NULL},     {"boolean", CATALOG_T_BOOLEAN}, {"integer", CATALOG_T_INTEGER},
    {"number", CATALOG_T_NUMBER}, {"string", CATALOG_T_STRING},   {"object", CATALOG_T_OBJECT},
    {"array", CATALOG_T_ARRAY},   {"any", CATALOG_T_ANY},
};

/* The members of a member declaration written as an object (docs/catalog.md). */
static const char *const m_member_decl[] = {"type",       "description",       "minimum",
                                            "maximum",    "exclusive_minimum", "exclusive_maximum",
                                            "min_length", "max_length",        NULL};

/* The names of the cross-member rules, indexed by enum catalog_rule_kind. */
static const char *const rule_names[] = {
    [CATALOG_RULE_LESS] = "less", [CATALOG_RULE_LESS_OR_EQUAL] = "less_or_equal", NULL};

#define TYPE_HELP                                                                                  \
    "integer, number, string, boolean, object, array, null or any, joined by |, "                  \
    "with ? for optional"

static const char *const m_path_only[] = {"op", "path", NULL};
static const char *const m_value[] = {"op", "path", "value_from", NULL};
static const char *const m_sorted[] = {"op", "path", "key", "value_from", NULL};
static const char *const m_append[] = {"op", "path", "value_from", "id", "defaults", NULL};

/* Per operation: its name, its members, and whether it writes a value from data. */
static const struct {
    const char *name;
    const char *const *members;
    int writes_value;
} op_info[] = {
    [CATALOG_OP_SET] = {"set", m_value, 1},
    [CATALOG_OP_MERGE] = {"merge", m_path_only, 0},
    [CATALOG_OP_REMOVE] = {"remove", m_path_only, 0},
    [CATALOG_OP_INSERT_SORTED] = {"insert_sorted", m_sorted, 1},
    [CATALOG_OP_REKEY] = {"rekey", m_sorted, 1},
    [CATALOG_OP_APPEND] = {"append", m_append, 1},
    [CATALOG_OP_ADD_TO_SET] = {"add_to_set", m_value, 1},
};

#define OP_HELP "set, merge, remove, insert_sorted, rekey, append or add_to_set"

static void
v_putc(struct vctx *v, char c)
{
    /* names are bounded, so only a pathological unknown member can be cut short here */
    if (v->len + 1 < sizeof(v->ptr)) {
        v->ptr[v->len++] = c;
        v->ptr[v->len] = '\0';
    }
}

/* Appends one escaped reference token (RFC 6901 section 3); returns the length to pop to. */
static size_t
v_push(struct vctx *v, const char *tok)
{
    size_t old = v->len;

    v_putc(v, '/');
    for (; *tok != '\0'; tok++) {
        if (*tok == '~') {
            v_putc(v, '~');
            v_putc(v, '0');
        } else if (*tok == '/') {
            v_putc(v, '~');
            v_putc(v, '1');
        } else {
            v_putc(v, *tok);
        }
    }
    return old;
}

static size_t
v_push_index(struct vctx *v, size_t idx)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%zu", idx);
    return v_push(v, buf);
}

static void
v_pop(struct vctx *v, size_t len)
{
    v->len = len;
    v->ptr[len] = '\0';
}

/* Records "SOURCE: /pointer: message" and returns ERR_BAD_REQUEST. */
static enum err_code
v_fail(struct vctx *v, const char *fmt, ...)
{
    char msg[ERR_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v->len == 0)
        err_fail(v->err, ERR_BAD_REQUEST, NULL, "%s: %s", v->source, msg);
    else
        err_fail(v->err, ERR_BAD_REQUEST, NULL, "%s: %s: %s", v->source, v->ptr, msg);
    return ERR_BAD_REQUEST;
}

/* Rejects any member of `obj` not in the NULL-terminated `allowed`. */
static enum err_code
v_only(struct vctx *v, json_object *obj, const char *const *allowed)
{
    const char *unknown = jsonp_unknown_member(obj, allowed);

    if (unknown == NULL)
        return ERR_OK;
    v_push(v, unknown);
    return v_fail(v, "unknown member");
}

/*
 * Looks up member `key` of object `obj`. Stores a borrowed reference in *out, or NULL
 * when the member is absent and not required. A missing required member, or one of
 * another JSON type, fails with the member's pointer.
 */
static enum err_code
v_member(struct vctx *v, json_object *obj, const char *key, enum json_type type, int required,
         json_object **out)
{
    static const char *const article[] = {[json_type_boolean] = "a boolean",
                                          [json_type_object] = "an object",
                                          [json_type_array] = "an array",
                                          [json_type_string] = "a string"};

    *out = NULL;
    if (!json_object_object_get_ex(obj, key, out)) {
        if (!required)
            return ERR_OK;
        v_push(v, key);
        return v_fail(v, "missing (required)");
    }
    if (!json_object_is_type(*out, type)) {
        v_push(v, key);
        return v_fail(v, "must be %s", article[type]);
    }
    return ERR_OK;
}

/* ^[a-z][a-z0-9_]*$ and at most CATALOG_NAME_MAX bytes: names appear in URLs and links. */
static int
is_name(const char *s)
{
    size_t i;

    if (s[0] < 'a' || s[0] > 'z')
        return 0;
    for (i = 1; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return i <= CATALOG_NAME_MAX;
}

/* ^[A-Za-z_][A-Za-z0-9_]*$, at most CATALOG_NAME_MAX bytes: data and target members. */
static int
is_member_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        int alpha = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_';
        if (!alpha && (i == 0 || s[i] < '0' || s[i] > '9'))
            return 0;
    }
    return i > 0 && i <= CATALOG_NAME_MAX;
}

/* Checks the name of a type, action, transition, verb or state; the pointer is on it. */
static enum err_code
v_name(struct vctx *v, const char *name)
{
    if (!is_name(name))
        return v_fail(v, "invalid name \"%s\": names match ^[a-z][a-z0-9_]*$ (at most %d bytes)",
                      name, CATALOG_NAME_MAX);
    return ERR_OK;
}

/*
 * Parses a member type such as "integer", "number|null" or "string?". Returns 1 and
 * fills the outputs (*spec is allocated: the text without "?"; *numeric is 1 when it
 * names integer or number), or 0 when malformed.
 */
static int
parse_spec(const char *s, char **spec, unsigned *types, int *optional, int *numeric)
{
    size_t len = strlen(s);
    const char *p = s, *end;

    *optional = len > 0 && s[len - 1] == '?';
    if (*optional)
        len--;
    end = s + len;
    *types = 0;
    *numeric = 0;
    for (;;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        const char *q = bar != NULL ? bar : end;
        size_t i, n = sizeof(type_names) / sizeof(type_names[0]);

        for (i = 0; i < n; i++)
            if (strlen(type_names[i].name) == (size_t)(q - p) &&
                memcmp(type_names[i].name, p, (size_t)(q - p)) == 0)
                break;
        if (i == n)
            return 0;
        *types |= type_names[i].types;
        *numeric |=
            type_names[i].types == CATALOG_T_INTEGER || type_names[i].types == CATALOG_T_NUMBER;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    *spec = xstrndup(s, len);
    return 1;
}

/*
 * Reads bound `key` (minimum, maximum, exclusive_...) of a member declared as an object
 * (the pointer is on the declaration): a number within +-CATALOG_SAFE_INTEGER, on a
 * member declared integer or number. Absent: *has stays 0.
 */
static enum err_code
v_bound(struct vctx *v, json_object *decl, const char *key, const struct catalog_member *m,
        int *has, double *out)
{
    json_object *b;
    size_t mark;
    int64_t i;

    if (!json_object_object_get_ex(decl, key, &b))
        return ERR_OK;
    mark = v_push(v, key);
    if (!json_object_is_type(b, json_type_int) && !json_object_is_type(b, json_type_double))
        return v_fail(v, "must be a number");
    if (!m->numeric)
        return v_fail(v, "bounds need a member declared integer or number, not %s", m->spec);
    if (json_object_is_type(b, json_type_int)) {
        i = json_object_get_int64(b);
        if (i < -CATALOG_SAFE_INTEGER || i > CATALOG_SAFE_INTEGER)
            return v_fail(v, "must lie within -%lld..%lld", CATALOG_SAFE_INTEGER,
                          CATALOG_SAFE_INTEGER);
        *out = (double)i;
    } else {
        *out = json_object_get_double(b);
        if (!(*out >= -(double)CATALOG_SAFE_INTEGER && *out <= (double)CATALOG_SAFE_INTEGER))
            return v_fail(v, "must lie within -%lld..%lld", CATALOG_SAFE_INTEGER,
                          CATALOG_SAFE_INTEGER);
    }
    *has = 1;
    v_pop(v, mark);
    return ERR_OK;
}

/*
 * Reads length `key` (min_length, max_length) of a member declared as an object (the
 * pointer is on the declaration): an integer 0..CATALOG_SAFE_INTEGER, on a member
 * declared string. Absent: *has stays 0.
 */
static enum err_code
v_length(struct vctx *v, json_object *decl, const char *key, const struct catalog_member *m,
         int *has, size_t *out)
{
    json_object *n;
    size_t mark;

    if (!json_object_object_get_ex(decl, key, &n))
        return ERR_OK;
    mark = v_push(v, key);
    if (!json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 0 ||
        json_object_get_int64(n) > CATALOG_SAFE_INTEGER)
        return v_fail(v, "must be an integer from 0 to %lld", CATALOG_SAFE_INTEGER);
    if (!(m->types & CATALOG_T_STRING))
        return v_fail(v, "lengths need a member declared string, not %s", m->spec);
    *out = (size_t)json_object_get_int64(n);
    *has = 1;
    v_pop(v, mark);
    return ERR_OK;
}

/*
 * One member declaration (the pointer is on it): a type string, or an object with
 * "type" and constraints (docs/catalog.md). A range or length range that no value
 * can satisfy is refused at the member that closes it.
 */
static enum err_code
v_member_decl(struct vctx *v, json_object *decl, struct catalog_member *m)
{
    struct catalog_bounds *b = &m->bounds;
    json_object *desc, *type;
    const char *spec;
    int both = 0;

    if (json_object_is_type(decl, json_type_string)) {
        spec = json_object_get_string(decl);
        if (!parse_spec(spec, &m->spec, &m->types, &m->optional, &m->numeric))
            return v_fail(v, "unknown type \"%s\" (%s)", spec, TYPE_HELP);
        return ERR_OK;
    }
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be a type string (%s) or an object with \"type\"", TYPE_HELP);
    if (v_only(v, decl, m_member_decl) != ERR_OK ||
        v_member(v, decl, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_member(v, decl, "type", json_type_string, 1, &type) != ERR_OK)
        return ERR_BAD_REQUEST;
    spec = json_object_get_string(type);
    if (!parse_spec(spec, &m->spec, &m->types, &m->optional, &m->numeric)) {
        v_push(v, "type");
        return v_fail(v, "unknown type \"%s\" (%s)", spec, TYPE_HELP);
    }

    if (v_bound(v, decl, "minimum", m, &b->has_min, &b->min) != ERR_OK ||
        v_bound(v, decl, "exclusive_minimum", m, &both, &b->min) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (b->has_min && both) {
        v_push(v, "exclusive_minimum");
        return v_fail(v, "declare minimum or exclusive_minimum, not both");
    }
    b->min_exclusive = both;
    b->has_min |= both;
    both = 0;
    if (v_bound(v, decl, "maximum", m, &b->has_max, &b->max) != ERR_OK ||
        v_bound(v, decl, "exclusive_maximum", m, &both, &b->max) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (b->has_max && both) {
        v_push(v, "exclusive_maximum");
        return v_fail(v, "declare maximum or exclusive_maximum, not both");
    }
    b->max_exclusive = both;
    b->has_max |= both;
    if (b->has_min && b->has_max &&
        (b->min > b->max || (b->min == b->max && (b->min_exclusive || b->max_exclusive)))) {
        v_push(v, b->max_exclusive ? "exclusive_maximum" : "maximum");
        return v_fail(v, "no value lies within %s %s and %s %s",
                      b->min_exclusive ? "exclusive_minimum" : "minimum",
                      jsonp_str(json_object_object_get(decl, b->min_exclusive ? "exclusive_minimum"
                                                                              : "minimum")),
                      b->max_exclusive ? "exclusive_maximum" : "maximum",
                      jsonp_str(json_object_object_get(decl, b->max_exclusive ? "exclusive_maximum"
                                                                              : "maximum")));
    }

    if (v_length(v, decl, "min_length", m, &b->has_min_length, &b->min_length) != ERR_OK ||
        v_length(v, decl, "max_length", m, &b->has_max_length, &b->max_length) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (b->has_min_length && b->has_max_length && b->min_length > b->max_length) {
        v_push(v, "max_length");
        return v_fail(v, "no length lies within min_length %zu and max_length %zu", b->min_length,
                      b->max_length);
    }
    return ERR_OK;
}

/*
 * Parses a `data` or `target` declaration (the pointer is on it): an object of member
 * types, or, when `value_form_ok`, one type string.
 */
static enum err_code
v_schema(struct vctx *v, json_object *decl, int value_form_ok, struct catalog_schema *out)
{
    struct json_object_iter it;

    if (value_form_ok && json_object_is_type(decl, json_type_string)) {
        const char *s = json_object_get_string(decl);

        if (!parse_spec(s, &out->spec, &out->types, &out->optional, &out->numeric))
            return v_fail(v, "unknown type \"%s\" (%s)", s, TYPE_HELP);
        out->form = CATALOG_SCHEMA_VALUE;
        return ERR_OK;
    }
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, value_form_ok ? "must be an object of member types or a type string"
                                       : "must be an object of member types");
    out->form = CATALOG_SCHEMA_MEMBERS;
    out->members = xcalloc((size_t)json_object_object_length(decl), sizeof(*out->members));
    json_object_object_foreachC(decl, it)
    {
        struct catalog_member *m = &out->members[out->n];
        size_t mark = v_push(v, it.key);

        if (!is_member_name(it.key))
            return v_fail(v,
                          "invalid member name: member names match ^[A-Za-z_][A-Za-z0-9_]*$ "
                          "(at most %d bytes)",
                          CATALOG_NAME_MAX);
        m->name = xstrdup(it.key);
        out->n++;
        if (v_member_decl(v, it.val, m) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, mark);
    }
    return ERR_OK;
}

static const struct catalog_member *
schema_member(const struct catalog_schema *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->members[i].name, name) == 0)
            return &s->members[i];
    return NULL;
}

/*
 * Parses a path template (the pointer is on it): a JSON Pointer whose tokens of the
 * form {member} select, in an array, the element whose `member` equals the target's.
 */
static enum err_code
v_path(struct vctx *v, const char *text, const struct catalog_action *a, struct catalog_path *out)
{
    struct ptr p = {0, NULL};
    struct err perr = {0};
    enum err_code rc;
    size_t i;

    if (ptr_parse(text, &p, &perr) != ERR_OK) {
        rc = v_fail(v, "not a JSON Pointer: %s", perr.detail);
        goto cleanup;
    }
    out->text = xstrdup(text);
    out->seg = xcalloc(p.n, sizeof(*out->seg));
    for (i = 0; i < p.n; i++) {
        const char *tok = p.tok[i];
        size_t len = strlen(tok);
        struct catalog_seg *s = &out->seg[out->n++];

        if (tok[0] != '{') {
            if (strcmp(tok, "-") == 0) {
                rc = v_fail(v, "\"-\" names no element here: use the append operation");
                goto cleanup;
            }
            s->name = xstrdup(tok);
            continue;
        }
        if (len < 3 || tok[len - 1] != '}') {
            rc = v_fail(v, "malformed selector \"%s\": write {member}", tok);
            goto cleanup;
        }
        s->name = xstrndup(tok + 1, len - 2);
        s->selector = 1;
        const struct catalog_member *m = schema_member(&a->target, s->name);
        if (m == NULL) {
            rc = v_fail(v, "selector {%s} is not a member of the action's target", s->name);
            goto cleanup;
        }
        if (m->optional) {
            rc = v_fail(v, "selector {%s} names an optional target member", s->name);
            goto cleanup;
        }
    }
    rc = ERR_OK;
cleanup:
    ptr_free(&p);
    err_clear(&perr);
    return rc;
}

/* Parses value_from (the pointer is on it): "" for the whole data, or "/member". */
static enum err_code
v_value_from(struct vctx *v, const char *text, const struct catalog_action *a,
             struct catalog_step *out)
{
    struct ptr p = {0, NULL};
    struct err perr = {0};
    enum err_code rc;

    if (text[0] == '\0')
        return ERR_OK;
    if (ptr_parse(text, &p, &perr) != ERR_OK || p.n != 1) {
        rc = v_fail(v, "must be \"\" (the whole data) or \"/member\"");
        goto cleanup;
    }
    if (a->data.form != CATALOG_SCHEMA_MEMBERS) {
        rc = v_fail(v, "\"%s\" needs data declared as an object of members", text);
        goto cleanup;
    }
    if (schema_member(&a->data, p.tok[0]) == NULL) {
        rc = v_fail(v, "\"%s\" names no member of the action's data", text);
        goto cleanup;
    }
    out->value_from = xstrdup(p.tok[0]);
    rc = ERR_OK;
cleanup:
    ptr_free(&p);
    err_clear(&perr);
    return rc;
}

/* The `key` of insert_sorted and rekey, checked against data where it is declared. */
static enum err_code
v_sort_key(struct vctx *v, json_object *step, const struct catalog_action *a,
           struct catalog_step *out)
{
    const struct catalog_member *m;
    json_object *key;
    size_t mark;

    if (v_member(v, step, "key", json_type_string, 1, &key) != ERR_OK)
        return ERR_BAD_REQUEST;
    mark = v_push(v, "key");
    if (!is_member_name(json_object_get_string(key)))
        return v_fail(v, "must be a member name (^[A-Za-z_][A-Za-z0-9_]*$)");
    out->key = xstrdup(json_object_get_string(key));
    v_pop(v, mark);

    if (out->op == CATALOG_OP_REKEY) {
        /* the new key is the value; rekey's value_from is required to be a member */
        m = schema_member(&a->data, out->value_from);
        if (m->types & ~(unsigned)(CATALOG_T_NUMBER | CATALOG_T_STRING)) {
            v_push(v, "value_from");
            return v_fail(v,
                          "data member \"%s\" is a sort key: declare it integer, number or "
                          "string",
                          out->value_from);
        }
    } else if (out->value_from == NULL && a->data.form == CATALOG_SCHEMA_MEMBERS) {
        m = schema_member(&a->data, out->key);
        if (m == NULL || m->optional ||
            (m->types & ~(unsigned)(CATALOG_T_NUMBER | CATALOG_T_STRING))) {
            v_push(v, "key");
            return v_fail(v,
                          "\"%s\" must be a required data member declared integer, number "
                          "or string",
                          out->key);
        }
    }
    return ERR_OK;
}

/* append's `id` {"member", "kind"} and `defaults`. */
static enum err_code
v_append(struct vctx *v, json_object *step, const struct catalog_action *a,
         struct catalog_step *out)
{
    static const char *const m_id[] = {"member", "kind", NULL};
    json_object *id, *member, *kind, *defaults;
    size_t mark;

    if (v_member(v, step, "id", json_type_object, 0, &id) != ERR_OK ||
        v_member(v, step, "defaults", json_type_object, 0, &defaults) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (id != NULL) {
        mark = v_push(v, "id");
        if (v_only(v, id, m_id) != ERR_OK ||
            v_member(v, id, "member", json_type_string, 1, &member) != ERR_OK ||
            v_member(v, id, "kind", json_type_string, 1, &kind) != ERR_OK)
            return ERR_BAD_REQUEST;
        if (strcmp(json_object_get_string(kind), "uuid") == 0) {
            out->id_kind = CATALOG_ID_UUID;
        } else if (strcmp(json_object_get_string(kind), "serial") == 0) {
            out->id_kind = CATALOG_ID_SERIAL;
        } else {
            v_push(v, "kind");
            return v_fail(v, "must be \"uuid\" or \"serial\"");
        }
        out->id_member = xstrdup(json_object_get_string(member));
        v_push(v, "member");
        if (!is_member_name(out->id_member))
            return v_fail(v, "must be a member name (^[A-Za-z_][A-Za-z0-9_]*$)");
        if (out->value_from == NULL && schema_member(&a->data, out->id_member) != NULL)
            return v_fail(v,
                          "\"%s\" is assigned by the server: the action's data must not "
                          "declare it",
                          out->id_member);
        v_pop(v, mark);
    }
    if (defaults != NULL) {
        if (out->id_member != NULL && json_object_object_get_ex(defaults, out->id_member, NULL)) {
            v_push(v, "defaults");
            v_push(v, out->id_member);
            return v_fail(v, "\"%s\" is assigned by the server", out->id_member);
        }
        out->defaults = jsonp_copy(defaults);
    }
    return ERR_OK;
}

/* One step of an action (the pointer is on it). */
static enum err_code
v_step(struct vctx *v, json_object *step, const struct catalog_action *a, struct catalog_step *out)
{
    json_object *op, *path, *value_from;
    size_t i, mark, nops = sizeof(op_info) / sizeof(op_info[0]);

    if (!json_object_is_type(step, json_type_object))
        return v_fail(v, "must be an object");
    if (v_member(v, step, "op", json_type_string, 1, &op) != ERR_OK)
        return ERR_BAD_REQUEST;
    for (i = 0; i < nops; i++)
        if (strcmp(json_object_get_string(op), op_info[i].name) == 0)
            break;
    if (i == nops) {
        v_push(v, "op");
        return v_fail(v, "unknown operation \"%s\" (one of " OP_HELP ")",
                      json_object_get_string(op));
    }
    out->op = (enum catalog_op)i;
    if (v_only(v, step, op_info[i].members) != ERR_OK ||
        v_member(v, step, "path", json_type_string, 1, &path) != ERR_OK ||
        v_member(v, step, "value_from", json_type_string, out->op == CATALOG_OP_REKEY,
                 &value_from) != ERR_OK)
        return ERR_BAD_REQUEST;

    mark = v_push(v, "path");
    if (v_path(v, json_object_get_string(path), a, &out->path) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (out->op == CATALOG_OP_REMOVE && out->path.n == 0)
        return v_fail(v, "remove cannot remove the whole document");
    if (out->op == CATALOG_OP_REKEY &&
        (out->path.n == 0 || !out->path.seg[out->path.n - 1].selector))
        return v_fail(v, "rekey needs a path ending in a {selector}");
    v_pop(v, mark);

    if (op_info[i].writes_value && a->data.form == CATALOG_SCHEMA_NONE)
        return v_fail(v, "%s writes a value from data, but the action declares no data",
                      op_info[i].name);
    if (out->op == CATALOG_OP_MERGE && a->data.form != CATALOG_SCHEMA_MEMBERS)
        return v_fail(v, "merge needs the action's data declared as an object of members");
    if (value_from != NULL) {
        mark = v_push(v, "value_from");
        if (v_value_from(v, json_object_get_string(value_from), a, out) != ERR_OK)
            return ERR_BAD_REQUEST;
        if (out->op == CATALOG_OP_REKEY && out->value_from == NULL)
            return v_fail(v, "rekey needs \"/member\": the data member holding the new key");
        v_pop(v, mark);
    }

    if (out->op == CATALOG_OP_INSERT_SORTED || out->op == CATALOG_OP_REKEY)
        return v_sort_key(v, step, a, out);
    if (out->op == CATALOG_OP_APPEND)
        return v_append(v, step, a, out);
    return ERR_OK;
}

/*
 * "rules" (the pointer is on it): an array of {"less": [first, second]} or
 * {"less_or_equal": [first, second]}, each naming two different data members declared
 * integer or number. Read after `data`, which the rules name.
 */
static enum err_code
v_rules(struct vctx *v, json_object *rules, struct catalog_action *a)
{
    static const char *const shape = "must be {\"less\": [first, second]} or "
                                     "{\"less_or_equal\": [first, second]}";
    size_t i, j, k, len;

    if (!json_object_is_type(rules, json_type_array))
        return v_fail(v, "must be an array of rules");
    if (a->data.form != CATALOG_SCHEMA_MEMBERS)
        return v_fail(v, "rules compare data members: declare data as an object of members");
    len = json_object_array_length(rules);
    a->rules = xcalloc(len, sizeof(*a->rules));
    for (i = 0; i < len; i++) {
        json_object *r = json_object_array_get_idx(rules, i);
        struct catalog_rule *out = &a->rules[a->nrules];
        json_object *pair = NULL;
        const char *unknown;
        size_t mark = v_push_index(v, i);

        if (!json_object_is_type(r, json_type_object) || json_object_object_length(r) != 1)
            return v_fail(v, "%s", shape);
        unknown = jsonp_unknown_member(r, rule_names);
        if (unknown != NULL) {
            v_push(v, unknown);
            return v_fail(v, "unknown rule \"%s\" (less or less_or_equal)", unknown);
        }
        /* its one member is a known rule */
        for (k = 0; !json_object_object_get_ex(r, rule_names[k], &pair); k++)
            continue;
        v_push(v, rule_names[k]);
        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
            return v_fail(v, "must name two data members: [first, second]");
        for (j = 0; j < 2; j++) {
            json_object *name = json_object_array_get_idx(pair, j);
            const struct catalog_member *m;
            size_t nmark = v_push_index(v, j);

            if (!json_object_is_type(name, json_type_string))
                return v_fail(v, "must be the name of a data member");
            m = schema_member(&a->data, json_object_get_string(name));
            if (m == NULL)
                return v_fail(v, "\"%s\" names no member of the action's data",
                              json_object_get_string(name));
            if (!m->numeric)
                return v_fail(v, "data member \"%s\" is %s: rules compare integers or numbers",
                              m->name, m->spec);
            v_pop(v, nmark);
        }
        out->kind = (enum catalog_rule_kind)k;
        out->first = xstrdup(json_object_get_string(json_object_array_get_idx(pair, 0)));
        out->second = xstrdup(json_object_get_string(json_object_array_get_idx(pair, 1)));
        a->nrules++;
        if (strcmp(out->first, out->second) == 0) {
            v_push_index(v, 1);
            return v_fail(v, "compares \"%s\" with itself", out->second);
        }
        v_pop(v, mark);
    }
    return ERR_OK;
}

/* `precondition`: "required" or "none"; `dflt` when absent. */
static enum err_code
v_precondition(struct vctx *v, json_object *obj, int dflt, int *out)
{
    json_object *pre;

    if (v_member(v, obj, "precondition", json_type_string, 0, &pre) != ERR_OK)
        return ERR_BAD_REQUEST;
    *out = dflt;
    if (pre == NULL)
        return ERR_OK;
    if (strcmp(json_object_get_string(pre), "required") == 0) {
        *out = 1;
    } else if (strcmp(json_object_get_string(pre), "none") == 0) {
        *out = 0;
    } else {
        v_push(v, "precondition");
        return v_fail(v, "must be \"required\" or \"none\"");
    }
    return ERR_OK;
}

/* `merge`: "always" makes a stale version merge without the client asking (docs/merge.md);
 * "on_request" (the default) merges only with "on_conflict": "merge". */
static enum err_code
v_merge(struct vctx *v, json_object *obj, int *out)
{
    json_object *m;

    if (v_member(v, obj, "merge", json_type_string, 0, &m) != ERR_OK)
        return ERR_BAD_REQUEST;
    *out = 0;
    if (m == NULL || strcmp(json_object_get_string(m), "on_request") == 0)
        return ERR_OK;
    if (strcmp(json_object_get_string(m), "always") == 0) {
        *out = 1;
        return ERR_OK;
    }
    v_push(v, "merge");
    return v_fail(v, "must be \"always\" or \"on_request\"");
}

/*
 * Checks `name` (the pointer is on it) and claims the next action slot of `t` for it:
 * edits, transitions and verbs share one namespace, and some names are the API's own.
 * Returns the slot, or NULL after recording the failure.
 */
static struct catalog_action *
v_new_action(struct vctx *v, struct catalog_type *t, const char *name)
{
    struct catalog_action *a;
    size_t i;

    if (v_name(v, name) != ERR_OK)
        return NULL;
    if (jsonp_name_in(name, reserved_actions)) {
        v_fail(v,
               "\"%s\" is reserved: the API uses it (actions, undo, redo, create, delete, "
               "json_patch, merge_patch)",
               name);
        return NULL;
    }
    for (i = 0; i < t->nactions; i++) {
        if (strcmp(t->actions[i].name, name) == 0) {
            v_fail(v,
                   "\"%s\" is already declared: actions, transitions and verbs share one "
                   "namespace",
                   name);
            return NULL;
        }
    }
    a = &t->actions[t->nactions++];
    a->name = xstrdup(name);
    return a;
}

/* An entry of "actions" (the pointer is on it). */
static enum err_code
v_edit(struct vctx *v, struct catalog_type *t, const char *name, json_object *decl)
{
    static const char *const members[] = {"description", "precondition", "merge", "target",
                                          "data",        "rules",        "steps", NULL};
    struct catalog_action *a;
    json_object *desc, *target, *data, *rules, *steps;
    size_t i, j, k, mark;

    a = v_new_action(v, t, name);
    if (a == NULL)
        return ERR_BAD_REQUEST;
    a->kind = CATALOG_EDIT;
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be an object");
    if (v_only(v, decl, members) != ERR_OK ||
        v_member(v, decl, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_precondition(v, decl, 1, &a->needs_precondition) != ERR_OK ||
        v_merge(v, decl, &a->always_merge) != ERR_OK ||
        v_member(v, decl, "steps", json_type_array, 1, &steps) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (json_object_object_get_ex(decl, "target", &target)) {
        mark = v_push(v, "target");
        if (v_schema(v, target, 0, &a->target) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, mark);
    }
    if (json_object_object_get_ex(decl, "data", &data)) {
        mark = v_push(v, "data");
        if (v_schema(v, data, 1, &a->data) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, mark);
    }
    if (json_object_object_get_ex(decl, "rules", &rules)) {
        mark = v_push(v, "rules");
        if (v_rules(v, rules, a) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, mark);
    }

    mark = v_push(v, "steps");
    if (json_object_array_length(steps) == 0)
        return v_fail(v, "an action needs at least one step");
    a->steps = xcalloc(json_object_array_length(steps), sizeof(*a->steps));
    for (i = 0; i < json_object_array_length(steps); i++) {
        size_t smark = v_push_index(v, i);

        if (v_step(v, json_object_array_get_idx(steps, i), a, &a->steps[a->nsteps++]) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, smark);
    }
    v_pop(v, mark);

    /* a target member no path selects is a typo, or a client value silently ignored */
    for (k = 0; k < a->target.n; k++) {
        int used = 0;

        for (i = 0; i < a->nsteps && !used; i++)
            for (j = 0; j < a->steps[i].path.n && !used; j++)
                used = a->steps[i].path.seg[j].selector &&
                       strcmp(a->steps[i].path.seg[j].name, a->target.members[k].name) == 0;
        if (!used) {
            v_push(v, "target");
            v_push(v, a->target.members[k].name);
            return v_fail(v, "no step path selects by this member");
        }
    }
    return ERR_OK;
}

static int
has_state(const struct catalog_type *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->nstates; i++)
        if (strcmp(t->states[i], name) == 0)
            return 1;
    return 0;
}

/*
 * A non-empty array of distinct state names (the pointer is on it), copied into *out
 * (malloc'd, *n of them). With `declared`, each must be one of its states (a
 * transition's sources); without, each must be a valid name (the declaration itself).
 */
static enum err_code
v_state_list(struct vctx *v, json_object *list, const struct catalog_type *declared,
             const char *if_empty, char ***out, size_t *n)
{
    size_t i, j, len = json_object_array_length(list);

    if (len == 0)
        return v_fail(v, "%s", if_empty);
    *out = xcalloc(len, sizeof(**out));
    for (i = 0; i < len; i++) {
        json_object *s = json_object_array_get_idx(list, i);
        size_t mark = v_push_index(v, i);
        const char *name;

        if (!json_object_is_type(s, json_type_string))
            return v_fail(v, "must be a string");
        name = json_object_get_string(s);
        if (declared != NULL && !has_state(declared, name))
            return v_fail(v, "\"%s\" is not a declared state", name);
        if (declared == NULL && v_name(v, name) != ERR_OK)
            return ERR_BAD_REQUEST;
        for (j = 0; j < *n; j++)
            if (strcmp((*out)[j], name) == 0)
                return v_fail(v, "\"%s\" is listed twice", name);
        (*out)[(*n)++] = xstrdup(name);
        v_pop(v, mark);
    }
    return ERR_OK;
}

/* An entry of "transitions" (the pointer is on it). */
static enum err_code
v_transition(struct vctx *v, struct catalog_type *t, const char *name, json_object *decl)
{
    static const char *const members[] = {"description", "from", "to", "precondition", NULL};
    struct catalog_action *a;
    json_object *desc, *from, *to;
    size_t mark;

    a = v_new_action(v, t, name);
    if (a == NULL)
        return ERR_BAD_REQUEST;
    a->kind = CATALOG_TRANSITION;
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be an object");
    if (v_only(v, decl, members) != ERR_OK ||
        v_member(v, decl, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_precondition(v, decl, 0, &a->needs_precondition) != ERR_OK ||
        v_member(v, decl, "from", json_type_array, 1, &from) != ERR_OK ||
        v_member(v, decl, "to", json_type_string, 1, &to) != ERR_OK)
        return ERR_BAD_REQUEST;

    mark = v_push(v, "from");
    if (v_state_list(v, from, t, "a transition needs at least one source state", &a->from,
                     &a->nfrom) != ERR_OK)
        return ERR_BAD_REQUEST;
    v_pop(v, mark);

    if (!has_state(t, json_object_get_string(to))) {
        v_push(v, "to");
        return v_fail(v, "\"%s\" is not a declared state", json_object_get_string(to));
    }
    a->to = xstrdup(json_object_get_string(to));
    return ERR_OK;
}

/* "states": {"all": [...], "initial": S, "transitions": {...}} (the pointer is on it). */
static enum err_code
v_states(struct vctx *v, struct catalog_type *t, json_object *decl)
{
    static const char *const members[] = {"all", "initial", "transitions", NULL};
    struct json_object_iter it;
    json_object *all, *initial, *transitions;
    size_t mark;

    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be an object");
    if (v_only(v, decl, members) != ERR_OK ||
        v_member(v, decl, "all", json_type_array, 1, &all) != ERR_OK ||
        v_member(v, decl, "initial", json_type_string, 1, &initial) != ERR_OK ||
        v_member(v, decl, "transitions", json_type_object, 1, &transitions) != ERR_OK)
        return ERR_BAD_REQUEST;

    mark = v_push(v, "all");
    if (v_state_list(v, all, NULL, "a state machine needs at least one state", &t->states,
                     &t->nstates) != ERR_OK)
        return ERR_BAD_REQUEST;
    v_pop(v, mark);

    if (!has_state(t, json_object_get_string(initial))) {
        v_push(v, "initial");
        return v_fail(v, "\"%s\" is not listed in \"all\"", json_object_get_string(initial));
    }
    t->initial_state = xstrdup(json_object_get_string(initial));

    mark = v_push(v, "transitions");
    json_object_object_foreachC(transitions, it)
    {
        size_t tmark = v_push(v, it.key);

        if (v_transition(v, t, it.key, it.val) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, tmark);
    }
    v_pop(v, mark);
    return ERR_OK;
}

/* An entry of "verbs" (the pointer is on it); {"op": "duplicate"} is the only one so far. */
static enum err_code
v_verb(struct vctx *v, struct catalog_type *t, const char *name, json_object *decl)
{
    static const char *const members[] = {"description", "op", NULL};
    struct catalog_action *a;
    json_object *desc, *op;

    a = v_new_action(v, t, name);
    if (a == NULL)
        return ERR_BAD_REQUEST;
    a->kind = CATALOG_DUPLICATE;
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be an object");
    if (v_only(v, decl, members) != ERR_OK ||
        v_member(v, decl, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_member(v, decl, "op", json_type_string, 1, &op) != ERR_OK)
        return ERR_BAD_REQUEST;
    if (strcmp(json_object_get_string(op), "duplicate") != 0) {
        v_push(v, "op");
        return v_fail(v, "unknown verb operation \"%s\" (only \"duplicate\")",
                      json_object_get_string(op));
    }
    return ERR_OK;
}

/* One entry of "types" (the pointer is on it). */
static enum err_code
v_type(struct vctx *v, const struct catalog *c, const char *name, json_object *decl,
       struct catalog_type *out)
{
    static const char *const members[] = {
        "description", "initial", "any_document", "states", "actions", "verbs", NULL};
    struct json_object_iter it;
    json_object *desc, *initial, *any, *states, *transitions, *actions, *verbs;
    size_t n, mark;

    if (v_name(v, name) != ERR_OK)
        return ERR_BAD_REQUEST;
    /* the health check shares the path space of the types (docs/api.md) */
    if (strcmp(name, "healthz") == 0)
        return v_fail(v, "\"healthz\" is reserved for the health check");
    if (strcmp(name, "catalog") == 0)
        return v_fail(v, "\"catalog\" is reserved: GET /catalog answers the catalog itself");
    if (catalog_find_type(c, name) != NULL)
        return v_fail(v, "type \"%s\" is declared twice", name);
    out->name = xstrdup(name);
    if (!json_object_is_type(decl, json_type_object))
        return v_fail(v, "must be an object");
    if (v_only(v, decl, members) != ERR_OK ||
        v_member(v, decl, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_member(v, decl, "any_document", json_type_boolean, 0, &any) != ERR_OK ||
        v_member(v, decl, "states", json_type_object, 0, &states) != ERR_OK ||
        v_member(v, decl, "actions", json_type_object, 0, &actions) != ERR_OK ||
        v_member(v, decl, "verbs", json_type_object, 0, &verbs) != ERR_OK)
        return ERR_BAD_REQUEST;
    out->any_document = any != NULL && json_object_get_boolean(any);
    if (!json_object_object_get_ex(decl, "initial", &initial)) {
        v_push(v, "initial");
        return v_fail(v, "missing (required)");
    }
    if (!out->any_document && !json_object_is_type(initial, json_type_object)) {
        v_push(v, "initial");
        return v_fail(v, "must be an object (set \"any_document\": true to allow any value)");
    }
    out->initial = jsonp_copy(initial);

    n = (actions ? (size_t)json_object_object_length(actions) : 0) +
        (verbs ? (size_t)json_object_object_length(verbs) : 0);
    if (states != NULL && json_object_object_get_ex(states, "transitions", &transitions) &&
        json_object_is_type(transitions, json_type_object))
        n += (size_t)json_object_object_length(transitions);
    out->actions = xcalloc(n, sizeof(*out->actions));

    /* edits first, then transitions, then verbs: the order catalog_type_allowed promises */
    if (actions != NULL) {
        mark = v_push(v, "actions");
        json_object_object_foreachC(actions, it)
        {
            size_t amark = v_push(v, it.key);

            if (v_edit(v, out, it.key, it.val) != ERR_OK)
                return ERR_BAD_REQUEST;
            v_pop(v, amark);
        }
        v_pop(v, mark);
    }
    if (states != NULL) {
        mark = v_push(v, "states");
        if (v_states(v, out, states) != ERR_OK)
            return ERR_BAD_REQUEST;
        v_pop(v, mark);
    }
    if (verbs != NULL) {
        mark = v_push(v, "verbs");
        json_object_object_foreachC(verbs, it)
        {
            size_t vmark = v_push(v, it.key);

            if (v_verb(v, out, it.key, it.val) != ERR_OK)
                return ERR_BAD_REQUEST;
            v_pop(v, vmark);
        }
        v_pop(v, mark);
    }
    return ERR_OK;
}

struct catalog *
catalog_from_json(json_object *root, const char *source, struct err *err)
{
    static const char *const members[] = {"description", "types", NULL};
    struct vctx v = {source, err, 0, ""};
    struct catalog *c = xcalloc(1, sizeof(*c));
    struct json_object_iter it;
    json_object *desc, *types;

    if (!json_object_is_type(root, json_type_object)) {
        v_fail(&v, "the catalog must be a JSON object");
        goto fail;
    }
    if (v_only(&v, root, members) != ERR_OK ||
        v_member(&v, root, "description", json_type_string, 0, &desc) != ERR_OK ||
        v_member(&v, root, "types", json_type_object, 1, &types) != ERR_OK)
        goto fail;
    if (json_object_object_length(types) == 0) {
        v_push(&v, "types");
        v_fail(&v, "the catalog declares no types");
        goto fail;
    }
    c->types = xcalloc((size_t)json_object_object_length(types), sizeof(*c->types));
    v_push(&v, "types");
    json_object_object_foreachC(types, it)
    {
        size_t mark = v_push(&v, it.key);

        /* counted before validation so catalog_free releases a half-built type */
        if (v_type(&v, c, it.key, it.val, &c->types[c->ntypes++]) != ERR_OK)
            goto fail;
        v_pop(&v, mark);
    }
    return c;
fail:
    catalog_free(c);
    return NULL;
}

struct catalog *
catalog_load(const char *path, struct err *err)
{
    struct catalog *c = NULL;
    struct err perr = {0};
    json_object *root = NULL;
    struct sbuf buf;
    char chunk[8192];
    size_t n;
    FILE *f;

    sbuf_init(&buf);
    f = fopen(path, "rb");
    if (f == NULL) {
        err_fail(err, ERR_INTERNAL, NULL, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf.len + n > CATALOG_MAX_BYTES) {
            err_fail(err, ERR_BAD_REQUEST, NULL, "%s: larger than %d bytes", path,
                     CATALOG_MAX_BYTES);
            goto cleanup;
        }
        sbuf_add(&buf, chunk, n);
    }
    if (ferror(f)) {
        err_fail(err, ERR_INTERNAL, NULL, "%s: read error", path);
        goto cleanup;
    }
    /* the strict reader, so a name declared twice is an error rather than a lost action */
    if (jsonp_parse(buf.data != NULL ? buf.data : "", buf.len, NULL, &root, &perr) != ERR_OK) {
        if (perr.has_pointer && perr.pointer[0] != '\0')
            err_fail(err, ERR_BAD_REQUEST, NULL, "%s: %s: %s", path, perr.pointer, perr.detail);
        else
            err_fail(err, ERR_BAD_REQUEST, NULL, "%s: %s", path, perr.detail);
        goto cleanup;
    }
    c = catalog_from_json(root, path, err);
cleanup:
    json_object_put(root);
    err_clear(&perr);
    sbuf_free(&buf);
    if (f != NULL)
        fclose(f);
    return c;
}

static void
schema_free(struct catalog_schema *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->members[i].name);
        free(s->members[i].spec);
    }
    free(s->members);
    free(s->spec);
}

static void
action_free(struct catalog_action *a)
{
    size_t i, j;

    for (i = 0; i < a->nsteps; i++) {
        struct catalog_step *s = &a->steps[i];

        for (j = 0; j < s->path.n; j++)
            free(s->path.seg[j].name);
        free(s->path.seg);
        free(s->path.text);
        free(s->value_from);
        free(s->key);
        free(s->id_member);
        json_object_put(s->defaults);
    }
    free(a->steps);
    for (i = 0; i < a->nrules; i++) {
        free(a->rules[i].first);
        free(a->rules[i].second);
    }
    free(a->rules);
    for (i = 0; i < a->nfrom; i++)
        free(a->from[i]);
    free(a->from);
    free(a->to);
    schema_free(&a->target);
    schema_free(&a->data);
    free(a->name);
}

static void
type_free(struct catalog_type *t)
{
    size_t i;

    for (i = 0; i < t->nactions; i++)
        action_free(&t->actions[i]);
    free(t->actions);
    for (i = 0; i < t->nstates; i++)
        free(t->states[i]);
    free(t->states);
    free(t->initial_state);
    json_object_put(t->initial);
    free(t->name);
}

void
catalog_free(struct catalog *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->ntypes; i++)
        type_free(&c->types[i]);
    free(c->types);
    free(c);
}

const struct catalog_type *
catalog_find_type(const struct catalog *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->ntypes; i++)
        if (c->types[i].name != NULL && strcmp(c->types[i].name, name) == 0)
            return &c->types[i];
    return NULL;
}

const char *
catalog_type_name(const struct catalog_type *t)
{
    return t->name;
}

json_object *
catalog_type_initial(const struct catalog_type *t)
{
    return t->initial;
}

const char *
catalog_type_initial_state(const struct catalog_type *t)
{
    return t->initial_state;
}

int
catalog_type_any_document(const struct catalog_type *t)
{
    return t->any_document;
}

const struct catalog_action *
catalog_type_action(const struct catalog_type *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->nactions; i++)
        if (strcmp(t->actions[i].name, name) == 0)
            return &t->actions[i];
    return NULL;
}

json_object *
catalog_type_allowed(const struct catalog_type *t, const char *state)
{
    json_object *out = json_object_new_array();
    size_t i;

    for (i = 0; i < t->nactions; i++)
        if (t->actions[i].kind != CATALOG_TRANSITION ||
            catalog_action_allowed_from(&t->actions[i], state))
            json_object_array_add(out, json_object_new_string(t->actions[i].name));
    return out;
}

json_object *
catalog_type_verbs(const struct catalog_type *t, const char *state)
{
    json_object *out = json_object_new_array();
    size_t i;

    for (i = 0; i < t->nactions; i++)
        if (t->actions[i].kind == CATALOG_DUPLICATE ||
            catalog_action_allowed_from(&t->actions[i], state))
            json_object_array_add(out, json_object_new_string(t->actions[i].name));
    return out;
}

const char *
catalog_action_name(const struct catalog_action *a)
{
    return a->name;
}

enum catalog_action_kind
catalog_action_kind(const struct catalog_action *a)
{
    return a->kind;
}

int
catalog_action_needs_precondition(const struct catalog_action *a)
{
    return a->needs_precondition;
}

int
catalog_action_always_merges(const struct catalog_action *a)
{
    return a->always_merge;
}

int
catalog_action_allowed_from(const struct catalog_action *a, const char *state)
{
    size_t i;

    if (a->kind != CATALOG_TRANSITION || state == NULL)
        return 0;
    for (i = 0; i < a->nfrom; i++)
        if (strcmp(a->from[i], state) == 0)
            return 1;
    return 0;
}

const char *
catalog_action_to_state(const struct catalog_action *a)
{
    return a->to;
}

const struct catalog_action *
catalog_type_transition(const struct catalog_type *t, const char *from, const char *to)
{
    size_t i;

    for (i = 0; i < t->nactions; i++) {
        const struct catalog_action *a = &t->actions[i];
        if (a->kind == CATALOG_TRANSITION && strcmp(a->to, to) == 0 &&
            catalog_action_allowed_from(a, from))
            return a;
    }
    return NULL;
}
