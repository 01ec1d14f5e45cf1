/*
 * patch.c: JSON Patch (RFC 6902) plus `create`, and JSON Merge Patch (RFC 7396)
 * translated to JSON Patch. A patch runs against a deep copy of the document, so a
 * failing operation discards the copy and the caller's document is never touched.
 */
#include "doc/patch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/ptr.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

/* The longest piece of a client's pointer quoted back in an error detail. */
#define SHOW_MAX 160

enum op_kind {
    OP_ADD,
    OP_REMOVE,
    OP_REPLACE,
    OP_MOVE,
    OP_COPY,
    OP_TEST,
    OP_CREATE,
};

static const char *const op_names[] = {
    [OP_ADD] = "add",   [OP_REMOVE] = "remove", [OP_REPLACE] = "replace", [OP_MOVE] = "move",
    [OP_COPY] = "copy", [OP_TEST] = "test",     [OP_CREATE] = "create",
};

/* One operation of the patch, checked for shape; strings and value are borrowed. */
struct op {
    enum op_kind kind;
    const char *path_text;
    const char *from_text;
    struct ptr path;
    struct ptr from;
    json_object *value;
    int share_value; /* store `value` itself, not a copy: an undo, whose patch is dropped */
    struct patch_budget *budget; /* NULL: unbounded (the log's own patches) */
    char at_path[32];            /* the error pointers into the patch: "/3/path"... */
    char at_from[32];
    char at_value[32];
};

/* What the last token of a path may name. */
enum target_mode {
    TARGET_EXISTING, /* a value that must be there: remove, replace, a move/copy source */
    TARGET_INSERT,   /* a place for a new value: "-" and index == size are allowed */
};

/* A resolved location. `parent` NULL means the whole document. */
struct loc {
    json_object *parent;
    const char *name; /* member name, when parent is an object */
    size_t idx;       /* concrete index, when parent is an array */
    char *path;       /* the location as a pointer with a concrete index (owned) */
};

/* Copies a client string for an error detail, cut short on a UTF-8 boundary. */
static const char *
show(char out[SHOW_MAX + 4], const char *s)
{
    size_t n = strlen(s);

    if (n <= SHOW_MAX)
        return s;
    n = SHOW_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
    return out;
}

static int
is_object(json_object *v)
{
    return json_object_is_type(v, json_type_object);
}

static int
is_array(json_object *v)
{
    return json_object_is_type(v, json_type_array);
}

/* Whether pointer a names a proper ancestor of b. Escaped pointers are canonical. */
static int
proper_prefix(const char *a, const char *b)
{
    size_t n = strlen(a);

    return strlen(b) > n && strncmp(a, b, n) == 0 && b[n] == '/';
}

static void
loc_free(struct loc *l)
{
    free(l->path);
    l->path = NULL;
}

/*
 * Resolves the parent of `p` in doc and checks its last token against `mode`
 * (RFC 6902 section 4, RFC 6901 section 4). Errors are 422 "path-not-found".
 */
static enum err_code
locate(json_object *doc, const struct ptr *p, const char *text, enum target_mode mode,
       const char *where, struct loc *l, struct err *err)
{
    char shown[SHOW_MAX + 4];
    json_object *parent;
    const char *last;
    size_t len;
    char *base;

    memset(l, 0, sizeof(*l));
    if (p->n == 0) {
        l->path = xstrdup("");
        return ERR_OK;
    }
    if (!ptr_resolve(doc, p, p->n - 1, &parent))
        return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                             "parent of %s does not exist", show(shown, text));
    last = p->tok[p->n - 1];
    if (is_object(parent)) {
        if (mode == TARGET_EXISTING && !json_object_object_get_ex(parent, last, NULL))
            return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                                 "%s does not exist", show(shown, text));
        l->parent = parent;
        l->name = last;
        l->path = xstrdup(text);
        return ERR_OK;
    }
    if (!is_array(parent))
        return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                             "parent of %s is %s%s, not an object or array", show(shown, text),
                             parent == NULL ? "" : "a ", jsonp_type_name(parent));
    len = json_object_array_length(parent);
    if (strcmp(last, "-") == 0) {
        /* RFC 6901 section 4: "-" is the element after the last, so it only appends. */
        if (mode == TARGET_EXISTING)
            return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                                 "%s: \"-\" names no element; it may only be the target of "
                                 "add, create, move or copy",
                                 show(shown, text));
        l->idx = len;
    } else if (!ptr_index(last, &l->idx)) {
        return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                             "%s: the last token is not an array index (digits without a "
                             "leading zero, or \"-\")",
                             show(shown, text));
    } else if (l->idx > len || (mode == TARGET_EXISTING && l->idx == len)) {
        return err_fail_slug(err, ERR_UNPROCESSABLE, "path-not-found", where,
                             "%s: index %zu is out of range for an array of %zu elements",
                             show(shown, text), l->idx, len);
    }
    l->parent = parent;
    /* Tokens never hold '/', so the parent's pointer is everything before the last one. */
    base = xstrndup(text, (size_t)(strrchr(text, '/') - text));
    l->path = ptr_join_index(base, l->idx);
    free(base);
    return ERR_OK;
}

/* The value at an existing location (borrowed). */
static json_object *
loc_value(json_object *doc, const struct loc *l)
{
    if (l->parent == NULL)
        return doc;
    if (is_object(l->parent))
        return json_object_object_get(l->parent, l->name);
    return json_object_array_get_idx(l->parent, l->idx);
}

/*
 * json-c 0.16 has no array insertion: append a slot, shift the tail up one, store.
 * Each shifted element is referenced before the store that releases its old slot.
 */
static void
array_insert(json_object *arr, size_t idx, json_object *v)
{
    size_t j = json_object_array_length(arr);

    json_object_array_add(arr, NULL);
    for (; j > idx; j--)
        json_object_array_put_idx(arr, j, json_object_get(json_object_array_get_idx(arr, j - 1)));
    json_object_array_put_idx(arr, idx, v);
}

/*
 * Stores `v` (ownership passes) at a TARGET_INSERT location: a new member, a replaced
 * member, an array insertion, or the whole document. Returns 1 with the displaced
 * value in *old (owned by the caller) when a value was replaced, else 0.
 */
static int
put(json_object **doc, const struct loc *l, json_object *v, json_object **old)
{
    *old = NULL;
    if (l->parent == NULL) {
        *old = *doc;
        *doc = v;
        return 1;
    }
    if (is_array(l->parent)) {
        array_insert(l->parent, l->idx, v);
        return 0;
    }
    if (json_object_object_get_ex(l->parent, l->name, old)) {
        json_object_get(*old);
        json_object_object_add(l->parent, l->name, v);
        return 1;
    }
    json_object_object_add(l->parent, l->name, v);
    return 0;
}

/* Takes the value out of a TARGET_EXISTING location below the root; the caller owns it. */
static json_object *
detach(const struct loc *l)
{
    json_object *old = json_object_get(loc_value(NULL, l));

    if (is_object(l->parent))
        json_object_object_del(l->parent, l->name);
    else
        json_object_array_del_idx(l->parent, l->idx, 1);
    return old;
}

/* Replaces the value at a TARGET_EXISTING location; returns the old value (owned). */
static json_object *
swap(json_object **doc, const struct loc *l, json_object *v)
{
    json_object *old;

    if (l->parent == NULL) {
        old = *doc;
        *doc = v;
    } else if (is_object(l->parent)) {
        old = json_object_get(json_object_object_get(l->parent, l->name));
        json_object_object_add(l->parent, l->name, v);
    } else {
        old = json_object_get(json_object_array_get_idx(l->parent, l->idx));
        json_object_array_put_idx(l->parent, l->idx, v);
    }
    return old;
}

/* Appends an operation to `list`; `value` (owned) is written only when has_value. */
static void
emit(json_object *list, const char *op, const char *from, const char *path, int has_value,
     json_object *value)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "op", json_object_new_string(op));
    if (from != NULL)
        json_object_object_add(o, "from", json_object_new_string(from));
    json_object_object_add(o, "path", json_object_new_string(path));
    if (has_value)
        json_object_object_add(o, "value", value);
    json_object_array_add(list, o);
}

/* The value an add, create or replace stores (a new reference). */
static json_object *
op_value(const struct op *o)
{
    return o->share_value ? json_object_get(o->value) : jsonp_copy(o->value);
}

/* The inverse of storing at B: put back what B held, or take B away again. */
static void
emit_undo_put(json_object *inv, const char *b, int had_old, json_object *old)
{
    if (had_old)
        emit(inv, "replace", NULL, b, 1, old);
    else
        emit(inv, "remove", NULL, b, 0, NULL);
}

/*
 * Charges putting `v` at o->path to the budget: its nesting there, and (unless it only
 * moves) its bytes. ERR_OK when there is no budget or it holds.
 */
static enum err_code
spend(struct op *o, json_object *v, struct err *err)
{
    struct patch_budget *b = o->budget;
    size_t left;

    if (b == NULL)
        return ERR_OK;
    if (o->path.n > b->max_depth || o->path.n + jsonp_depth(v, b->max_depth) > b->max_depth)
        return err_fail_slug(err, ERR_UNPROCESSABLE, "too-deep", o->at_path,
                             "this would nest the document deeper than %zu levels", b->max_depth);
    if (o->kind == OP_MOVE)
        return ERR_OK;
    left = b->used_bytes < b->max_bytes ? b->max_bytes - b->used_bytes : 0;
    b->used_bytes += jsonp_size(v, left);
    if (b->used_bytes > b->max_bytes)
        return err_fail_slug(err, ERR_TOO_LARGE, "document-too-large", o->at_path,
                             "the values this change puts in the document exceed %zu bytes",
                             b->max_bytes);
    return ERR_OK;
}

/*
 * add (RFC 6902 section 4.1) and create. `create` refuses a target that already holds
 * a value; the root always holds one. An array index names a gap between elements,
 * not an element, so a create into an array inserts exactly like add and never
 * conflicts.
 */
static enum err_code
do_add(struct op *o, json_object **doc, json_object *inv, struct err *err)
{
    char shown[SHOW_MAX + 4];
    json_object *old;
    struct loc l;
    enum err_code rc;
    int had_old;

    rc = locate(*doc, &o->path, o->path_text, TARGET_INSERT, o->at_path, &l, err);
    if (rc != ERR_OK)
        goto cleanup;
    if (o->kind == OP_CREATE &&
        (l.parent == NULL ||
         (is_object(l.parent) && json_object_object_get_ex(l.parent, l.name, NULL)))) {
        rc = err_fail_slug(err, ERR_CONFLICT, "already-exists", o->at_path,
                           "create: a value is already present at %s", show(shown, o->path_text));
        goto cleanup;
    }
    rc = spend(o, o->value, err);
    if (rc != ERR_OK)
        goto cleanup;
    had_old = put(doc, &l, op_value(o), &old);
    emit_undo_put(inv, l.path, had_old, old);

cleanup:
    loc_free(&l);
    return rc;
}

/* remove (RFC 6902 section 4.2). */
static enum err_code
do_remove(struct op *o, json_object **doc, json_object *inv, struct err *err)
{
    struct loc l;
    enum err_code rc;

    if (o->path.n == 0)
        return err_fail(err, ERR_UNPROCESSABLE, o->at_path,
                        "cannot remove the whole document: a resource always has one; "
                        "use replace with path \"\" instead");
    rc = locate(*doc, &o->path, o->path_text, TARGET_EXISTING, o->at_path, &l, err);
    if (rc == ERR_OK)
        emit(inv, "add", NULL, l.path, 1, detach(&l));
    loc_free(&l);
    return rc;
}

/* replace (RFC 6902 section 4.3): the target must exist. */
static enum err_code
do_replace(struct op *o, json_object **doc, json_object *inv, struct err *err)
{
    struct loc l;
    enum err_code rc;

    rc = locate(*doc, &o->path, o->path_text, TARGET_EXISTING, o->at_path, &l, err);
    if (rc == ERR_OK)
        rc = spend(o, o->value, err);
    if (rc == ERR_OK)
        emit(inv, "replace", NULL, l.path, 1, swap(doc, &l, op_value(o)));
    loc_free(&l);
    return rc;
}

/*
 * move (RFC 6902 section 4.4): a remove from A, then an add at B. The inverse moves
 * B back to A and restores what B held; when B is an ancestor of A that move would be
 * illegal, so the inverse instead restores B and adds the moved value at A.
 */
static enum err_code
do_move(struct op *o, json_object **doc, json_object *inv, struct err *err)
{
    char shown[SHOW_MAX + 4];
    struct loc a, b;
    json_object *v, *old;
    enum err_code rc;
    int had_old;

    if (proper_prefix(o->from_text, o->path_text))
        return err_fail(err, ERR_BAD_REQUEST, o->at_from,
                        "move: \"from\" %s is an ancestor of \"path\"; a value cannot be "
                        "moved into itself (RFC 6902 section 4.4)",
                        show(shown, o->from_text));
    memset(&b, 0, sizeof(b));
    rc = locate(*doc, &o->from, o->from_text, TARGET_EXISTING, o->at_from, &a, err);
    if (rc != ERR_OK || strcmp(o->from_text, o->path_text) == 0)
        goto cleanup;
    v = detach(&a);
    rc = locate(*doc, &o->path, o->path_text, TARGET_INSERT, o->at_path, &b, err);
    if (rc == ERR_OK)
        rc = spend(o, v, err);
    if (rc != ERR_OK) {
        /* a failed operation leaves the document as it was: put the value back */
        put(doc, &a, v, &old);
        goto cleanup;
    }
    had_old = put(doc, &b, v, &old);
    if (proper_prefix(b.path, a.path)) {
        emit_undo_put(inv, b.path, had_old, old);
        emit(inv, "add", NULL, a.path, 1, jsonp_copy(v));
    } else {
        emit(inv, "move", b.path, a.path, 0, NULL);
        if (had_old)
            emit(inv, "add", NULL, b.path, 1, old);
    }

cleanup:
    loc_free(&a);
    loc_free(&b);
    return rc;
}

/* copy (RFC 6902 section 4.5): an add at B of a deep copy of the value at A. */
static enum err_code
do_copy(struct op *o, json_object **doc, json_object *inv, struct err *err)
{
    struct loc a, b;
    json_object *old;
    enum err_code rc;
    int had_old;

    memset(&b, 0, sizeof(b));
    rc = locate(*doc, &o->from, o->from_text, TARGET_EXISTING, o->at_from, &a, err);
    if (rc != ERR_OK)
        goto cleanup;
    rc = locate(*doc, &o->path, o->path_text, TARGET_INSERT, o->at_path, &b, err);
    if (rc == ERR_OK)
        rc = spend(o, loc_value(*doc, &a), err);
    if (rc != ERR_OK)
        goto cleanup;
    had_old = put(doc, &b, jsonp_copy(loc_value(*doc, &a)), &old);
    emit_undo_put(inv, b.path, had_old, old);

cleanup:
    loc_free(&a);
    loc_free(&b);
    return rc;
}

/*
 * test (RFC 6902 section 4.6). A path with nothing at it fails the test like an
 * unequal value: either way the client's belief about the document was wrong.
 */
static enum err_code
do_test(struct op *o, json_object **doc, struct err *err)
{
    char shown[SHOW_MAX + 4];
    json_object *v;

    if (!ptr_resolve(*doc, &o->path, o->path.n, &v))
        return err_fail_slug(err, ERR_CONFLICT, "test-failed", o->at_path,
                             "test failed: no value at %s", show(shown, o->path_text));
    if (!jsonp_equal(v, o->value))
        return err_fail_slug(err, ERR_CONFLICT, "test-failed", o->at_value,
                             "test failed: the value at %s differs", show(shown, o->path_text));
    return ERR_OK;
}

/* Reads member `name` of operation i as a string and parses it as a JSON Pointer. */
static enum err_code
read_pointer(json_object *obj, const char *name, const char *where, const char **text,
             struct ptr *p, struct err *err)
{
    struct err perr = {0};
    json_object *v;

    if (!json_object_object_get_ex(obj, name, &v))
        return err_fail(err, ERR_BAD_REQUEST, where, "the operation has no \"%s\"", name);
    if (!json_object_is_type(v, json_type_string))
        return err_fail(err, ERR_BAD_REQUEST, where, "\"%s\" must be a string, not %s", name,
                        jsonp_type_name(v));
    *text = json_object_get_string(v);
    if (ptr_parse(*text, p, &perr) != ERR_OK)
        return err_fail(err, ERR_BAD_REQUEST, where, "%s", perr.detail);
    return ERR_OK;
}

/* "/<i><member>" into `out` (32 bytes): the pointer of operation i, or of one of its
 * members, in the patch. */
static void
op_pointer(char *out, size_t i, const char *member)
{
    size_t n = 1;

    out[0] = '/';
    n += sbuf_fmt_decimal(out + 1, i);
    strcpy(out + n, member);
}

/* Checks the shape of operation i (RFC 6902 sections 4 and 5) into *o. */
static enum err_code
read_op(json_object *obj, size_t i, struct op *o, struct err *err)
{
    char at[32];
    json_object *v;
    const char *name;
    size_t k;

    op_pointer(at, i, "");
    if (!is_object(obj))
        return err_fail(err, ERR_BAD_REQUEST, at, "operation %zu must be an object, not %s", i,
                        jsonp_type_name(obj));
    op_pointer(at, i, "/op");
    if (!json_object_object_get_ex(obj, "op", &v) || !json_object_is_type(v, json_type_string))
        return err_fail(err, ERR_BAD_REQUEST, at, "operation %zu needs \"op\" as a string", i);
    name = json_object_get_string(v);
    for (k = 0; k < sizeof(op_names) / sizeof(op_names[0]); k++)
        if (strcmp(name, op_names[k]) == 0)
            break;
    if (k == sizeof(op_names) / sizeof(op_names[0]))
        return err_fail(err, ERR_BAD_REQUEST, at,
                        "\"op\" must be one of add, remove, replace, move, copy, test, create");
    o->kind = (enum op_kind)k;
    op_pointer(o->at_path, i, "/path");
    op_pointer(o->at_from, i, "/from");
    op_pointer(o->at_value, i, "/value");
    if (read_pointer(obj, "path", o->at_path, &o->path_text, &o->path, err) != ERR_OK)
        return ERR_BAD_REQUEST;
    if ((o->kind == OP_MOVE || o->kind == OP_COPY) &&
        read_pointer(obj, "from", o->at_from, &o->from_text, &o->from, err) != ERR_OK)
        return ERR_BAD_REQUEST;
    if ((o->kind == OP_ADD || o->kind == OP_REPLACE || o->kind == OP_TEST ||
         o->kind == OP_CREATE) &&
        !json_object_object_get_ex(obj, "value", &o->value))
        return err_fail(err, ERR_BAD_REQUEST, o->at_value, "%s needs a \"value\"",
                        op_names[o->kind]);
    return ERR_OK;
}

/*
 * Applies operation i to *doc, appending its inverse operations to `inv` in order.
 * With `share_values` the values it stores are the patch's own objects, not copies.
 * `budget` (or NULL) bounds what it may build.
 */
static enum err_code
apply_op(json_object **doc, json_object *obj, size_t i, json_object *inv, int share_values,
         struct patch_budget *budget, struct err *err)
{
    struct op o;
    enum err_code rc;

    memset(&o, 0, sizeof(o));
    rc = read_op(obj, i, &o, err);
    if (rc != ERR_OK)
        goto cleanup;
    o.share_value = share_values;
    o.budget = budget;
    switch (o.kind) {
    case OP_ADD:
    case OP_CREATE:
        rc = do_add(&o, doc, inv, err);
        break;
    case OP_REMOVE:
        rc = do_remove(&o, doc, inv, err);
        break;
    case OP_REPLACE:
        rc = do_replace(&o, doc, inv, err);
        break;
    case OP_MOVE:
        rc = do_move(&o, doc, inv, err);
        break;
    case OP_COPY:
        rc = do_copy(&o, doc, inv, err);
        break;
    case OP_TEST:
        rc = do_test(&o, doc, err);
        break;
    }

cleanup:
    ptr_free(&o.path);
    ptr_free(&o.from);
    return rc;
}

/* The inverse of the first `n` operations: their groups of inverse operations, last first. */
static json_object *
join_inverse(json_object *groups, size_t n)
{
    json_object *inv = json_object_new_array(), *grp;
    size_t i, k;

    for (i = n; i-- > 0;) {
        grp = json_object_array_get_idx(groups, i);
        for (k = 0; k < json_object_array_length(grp); k++)
            json_object_array_add(inv, json_object_get(json_object_array_get_idx(grp, k)));
    }
    return inv;
}

/*
 * In place, without a copy of the document: a failed operation changes nothing (each
 * do_* checks before it stores), and the inverse of those before it restores the
 * rest, putting back the very values it took out (a document replaced at "" comes
 * back as the same object). An inverse applies by construction; should one fail all
 * the same, the document is left as far as it got and the caller has the original
 * error.
 */
enum err_code
patch_apply(json_object **doc, json_object *patch, json_object **inverse, struct err *err)
{
    return patch_apply_bounded(doc, patch, inverse, NULL, err);
}

enum err_code
patch_apply_bounded(json_object **doc, json_object *patch, json_object **inverse,
                    struct patch_budget *budget, struct err *err)
{
    json_object *groups, *grp, *undo, *scratch;
    enum err_code rc = ERR_OK;
    size_t n, i;

    if (!is_array(patch))
        return err_fail(err, ERR_BAD_REQUEST, "", "a JSON Patch must be an array, not %s",
                        jsonp_type_name(patch));
    /* One group of inverse operations per operation, reversed into the inverse at the end. */
    groups = json_object_new_array();
    n = json_object_array_length(patch);
    for (i = 0; i < n; i++) {
        grp = json_object_new_array();
        json_object_array_add(groups, grp);
        rc = apply_op(doc, json_object_array_get_idx(patch, i), i, grp, 0, budget, err);
        if (rc != ERR_OK)
            break;
    }
    if (rc != ERR_OK) {
        undo = join_inverse(groups, i);
        scratch = json_object_new_array();
        for (i = 0; i < json_object_array_length(undo); i++)
            if (apply_op(doc, json_object_array_get_idx(undo, i), i, scratch, 1, NULL, NULL) !=
                ERR_OK)
                break;
        json_object_put(scratch);
        json_object_put(undo);
    } else if (inverse != NULL) {
        *inverse = join_inverse(groups, n);
    }
    json_object_put(groups);
    return rc;
}

/* RFC 7396 section 2 applied to a target that is not an object: nulls vanish. */
static json_object *
merge_fresh(json_object *merge)
{
    json_object *r;

    if (!is_object(merge))
        return jsonp_copy(merge);
    r = json_object_new_object();
    json_object_object_foreach(merge, name, v)
    {
        if (v != NULL)
            json_object_object_add(r, name, merge_fresh(v));
    }
    return r;
}

/*
 * Appends to `fwd` the operations that merge object `merge` into object `target`
 * found at `path`, following RFC 7396 section 2 member by member and leaving out
 * members that would not change.
 */
static void
merge_members(json_object *target, json_object *merge, const char *path, json_object *fwd)
{
    json_object_object_foreach(merge, name, mv)
    {
        json_object *tv;
        int has = json_object_object_get_ex(target, name, &tv);
        char *p = ptr_join(path, name);

        if (mv == NULL) {
            if (has)
                emit(fwd, "remove", NULL, p, 0, NULL);
        } else if (has && is_object(mv) && is_object(tv)) {
            merge_members(tv, mv, p, fwd);
        } else if (!has) {
            emit(fwd, "add", NULL, p, 1, merge_fresh(mv));
        } else if (!jsonp_equal(tv, mv)) {
            emit(fwd, "replace", NULL, p, 1, merge_fresh(mv));
        }
        free(p);
    }
}

enum err_code
patch_merge(json_object **doc, json_object *merge, json_object **forward, json_object **inverse,
            struct err *err)
{
    return patch_merge_bounded(doc, merge, forward, inverse, NULL, err);
}

enum err_code
patch_merge_bounded(json_object **doc, json_object *merge, json_object **forward,
                    json_object **inverse, struct patch_budget *budget, struct err *err)
{
    json_object *fwd = json_object_new_array();

    if (is_object(merge)) {
        if (is_object(*doc))
            merge_members(*doc, merge, "", fwd);
        else
            emit(fwd, "replace", NULL, "", 1, merge_fresh(merge));
    } else if (!jsonp_equal(*doc, merge)) {
        emit(fwd, "replace", NULL, "", 1, jsonp_copy(merge));
    }
    *forward = fwd;
    return patch_apply_bounded(doc, fwd, inverse, budget, err);
}
