/*
 * touch.c: semantic touch sets. Catalog actions are described by their steps' path
 * templates resolved with the request's target and data, never by array positions;
 * JSON Patches by their paths with positions widened to the whole array.
 */
#include "doc/touch.h"

#include <string.h>

#include "doc/catalog_impl.h"
#include "doc/jsonp.h"
#include "doc/ptr.h"

static json_object *
keyed(const char *key, json_object *value)
{
    json_object *t = json_object_new_object();

    json_object_object_add(t, "key", json_object_new_string(key));
    json_object_object_add(t, "value", jsonp_copy(value));
    return t;
}

static void
add_touch(json_object *touches, const char *op, json_object *path, json_object *value)
{
    json_object *t = json_object_new_object();

    json_object_object_add(t, "op", json_object_new_string(op));
    json_object_object_add(t, "path", path);
    if (value != NULL || strcmp(op, "add") == 0)
        json_object_object_add(t, "value", jsonp_copy(value));
    json_object_array_add(touches, t);
}

/* The tokens of a path template with its selectors resolved from `target`. A literal
 * array position in the template stands for its whole array, as in a JSON Patch. */
static json_object *
resolve(const struct catalog_path *p, size_t nseg, json_object *target)
{
    json_object *tokens = json_object_new_array(), *v = NULL;
    size_t i, idx;

    for (i = 0; i < nseg; i++) {
        if (!p->seg[i].selector &&
            (strcmp(p->seg[i].name, "-") == 0 || ptr_index(p->seg[i].name, &idx)))
            break;
        if (p->seg[i].selector) {
            json_object_object_get_ex(target, p->seg[i].name, &v);
            json_object_array_add(tokens, keyed(p->seg[i].name, v));
        } else {
            json_object_array_add(tokens, json_object_new_string(p->seg[i].name));
        }
    }
    return tokens;
}

static json_object *
extend(json_object *tokens, json_object *token)
{
    json_object_array_add(tokens, token);
    return tokens;
}

/* The value a step writes: the whole data or one member; 0 when not sent. */
static int
step_value(const struct catalog_step *s, json_object *data, json_object **out)
{
    if (s->value_from == NULL) {
        *out = data;
        return data != NULL;
    }
    return json_object_object_get_ex(data, s->value_from, out);
}

static void
step_touches(const struct catalog_step *s, const struct action *a, const struct action_effect *eff,
             json_object *touches)
{
    const struct catalog_path *p = &s->path;
    json_object *value = NULL, *k = NULL, *id = NULL;
    int has_value = step_value(s, a->data, &value);

    switch (s->op) {
    case CATALOG_OP_SET:
    case CATALOG_OP_REMOVE:
        if (s->op == CATALOG_OP_SET && !has_value)
            return;
        add_touch(touches, "w", resolve(p, p->n, a->target), NULL);
        return;
    case CATALOG_OP_MERGE:
        if (json_object_is_type(a->data, json_type_object)) {
            json_object_object_foreach(a->data, member, val)
            {
                (void)val;
                add_touch(touches, "w",
                          extend(resolve(p, p->n, a->target), json_object_new_string(member)),
                          NULL);
            }
        }
        return;
    case CATALOG_OP_INSERT_SORTED:
        if (!has_value)
            return;
        json_object_object_get_ex(value, s->key, &k);
        add_touch(touches, "w", extend(resolve(p, p->n, a->target), keyed(s->key, k)), NULL);
        return;
    case CATALOG_OP_REKEY:
        if (!has_value)
            return;
        add_touch(touches, "w", resolve(p, p->n, a->target), NULL);
        add_touch(touches, "w", extend(resolve(p, p->n - 1, a->target), keyed(s->key, value)),
                  NULL);
        return;
    case CATALOG_OP_APPEND:
        if (s->id_member != NULL && eff->result != NULL &&
            json_object_object_get_ex(eff->result, s->id_member, &id))
            add_touch(touches, "w", extend(resolve(p, p->n, a->target), keyed(s->id_member, id)),
                      NULL);
        else
            add_touch(touches, "w", resolve(p, p->n, a->target), NULL);
        return;
    case CATALOG_OP_ADD_TO_SET:
        if (has_value)
            add_touch(touches, "add", resolve(p, p->n, a->target), value);
        return;
    }
}

json_object *
touch_action(const struct catalog_type *t, const struct action *a, const struct action_effect *eff)
{
    const struct catalog_action *act = catalog_type_action(t, a->name);
    json_object *touches = json_object_new_array();
    size_t i;

    if (act == NULL)
        return touches;
    if (act->kind == CATALOG_TRANSITION) {
        touch_add_state(touches);
        return touches;
    }
    for (i = 0; i < act->nsteps; i++)
        step_touches(&act->steps[i], a, eff, touches);
    return touches;
}

void
touch_add_all(json_object *touches)
{
    add_touch(touches, "w", json_object_new_array(), NULL);
    touch_add_state(touches);
}

void
touch_add_state(json_object *touches)
{
    json_object *t = json_object_new_object();

    json_object_object_add(t, "op", json_object_new_string("w"));
    json_object_object_add(t, "state", json_object_new_boolean(1));
    json_object_array_add(touches, t);
}

/*
 * The tokens of `pointer` up to its first array position, NULL when unreadable. Where
 * `doc` (the document the patch applies to) says what a container is, only an array
 * cuts; past what `doc` holds, any index-like token cuts, to be safe.
 */
static json_object *
cut_pointer(const char *pointer, json_object *doc)
{
    struct ptr p = {0};
    json_object *tokens, *at = doc, *next;
    int known = doc != NULL;
    size_t i, idx;

    if (ptr_parse(pointer, &p, NULL) != ERR_OK)
        return NULL;
    tokens = json_object_new_array();
    for (i = 0; i < p.n; i++) {
        int index_like = strcmp(p.tok[i], "-") == 0 || ptr_index(p.tok[i], &idx);
        if (known ? json_object_is_type(at, json_type_array) : index_like)
            break;
        json_object_array_add(tokens, json_object_new_string(p.tok[i]));
        known = known && json_object_is_type(at, json_type_object) &&
                json_object_object_get_ex(at, p.tok[i], &next);
        if (known)
            at = next;
    }
    ptr_free(&p);
    return tokens;
}

static void
patch_touch(json_object *touches, const char *op, json_object *pointer, json_object *doc)
{
    json_object *tokens = cut_pointer(json_object_get_string(pointer), doc);

    /* an unreadable path cannot be shown disjoint from anything: touch everything */
    add_touch(touches, op, tokens ? tokens : json_object_new_array(), NULL);
}

json_object *
touch_patch(json_object *patch, json_object *doc)
{
    json_object *touches = json_object_new_array(), *op, *name, *path, *from;
    size_t i, n = json_object_is_type(patch, json_type_array) ? json_object_array_length(patch) : 0;

    for (i = 0; i < n; i++) {
        const char *o;
        op = json_object_array_get_idx(patch, i);
        if (!json_object_object_get_ex(op, "op", &name))
            continue;
        o = json_object_get_string(name);
        if (json_object_object_get_ex(op, "path", &path))
            patch_touch(touches, strcmp(o, "test") == 0 ? "r" : "w", path, doc);
        /* only move and copy have a "from"; other operations ignore one (RFC 6902 section 4) */
        if ((strcmp(o, "move") == 0 || strcmp(o, "copy") == 0) &&
            json_object_object_get_ex(op, "from", &from))
            patch_touch(touches, strcmp(o, "move") == 0 ? "w" : "r", from, doc);
    }
    return touches;
}

static int
token_equal(json_object *a, json_object *b)
{
    json_object *ka, *kb, *va = NULL, *vb = NULL;

    if (json_object_is_type(a, json_type_string) || json_object_is_type(b, json_type_string))
        return json_object_is_type(a, json_type_string) &&
               json_object_is_type(b, json_type_string) &&
               strcmp(json_object_get_string(a), json_object_get_string(b)) == 0;
    if (!json_object_object_get_ex(a, "key", &ka) || !json_object_object_get_ex(b, "key", &kb) ||
        strcmp(json_object_get_string(ka), json_object_get_string(kb)) != 0)
        return 0;
    json_object_object_get_ex(a, "value", &va);
    json_object_object_get_ex(b, "value", &vb);
    return jsonp_equal(va, vb);
}

static int
one_overlap(json_object *x, json_object *y)
{
    json_object *ox, *oy, *px, *py;
    const char *a, *b;
    int sx, sy;
    size_t i, n;

    json_object_object_get_ex(x, "op", &ox);
    json_object_object_get_ex(y, "op", &oy);
    a = json_object_get_string(ox);
    b = json_object_get_string(oy);
    if (a == NULL || b == NULL)
        return 1;
    if ((strcmp(a, "r") == 0 && strcmp(b, "r") == 0) ||
        (strcmp(a, "add") == 0 && strcmp(b, "add") == 0))
        return 0;
    sx = json_object_object_get_ex(x, "state", NULL);
    sy = json_object_object_get_ex(y, "state", NULL);
    if (sx || sy)
        return sx && sy;
    if (!json_object_object_get_ex(x, "path", &px) || !json_object_object_get_ex(y, "path", &py))
        return 1;
    n = json_object_array_length(px) < json_object_array_length(py) ? json_object_array_length(px)
                                                                    : json_object_array_length(py);
    for (i = 0; i < n; i++)
        if (!token_equal(json_object_array_get_idx(px, i), json_object_array_get_idx(py, i)))
            return 0;
    return 1;
}

int
touch_overlap(json_object *ours, json_object *theirs)
{
    size_t i, j, n, m;

    if (ours == NULL || theirs == NULL)
        return 1;
    n = json_object_array_length(ours);
    m = json_object_array_length(theirs);
    for (i = 0; i < n; i++)
        for (j = 0; j < m; j++)
            if (one_overlap(json_object_array_get_idx(ours, i),
                            json_object_array_get_idx(theirs, j)))
                return 1;
    return 0;
}
