/*
 * touch.c: semantic touch sets. Catalog actions are described by their steps' path
 * templates resolved with the request's target and data, never by array positions;
 * JSON Patches by their paths with positions widened to the whole array.
 */
#include "doc/touch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc/catalog_impl.h"
#include "doc/jsonp.h"
#include "doc/ptr.h"
#include "base/xalloc.h"

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

/* A touch's operation as a bit: reads and additions commute with their own kind. */
enum {
    OP_R = 1,
    OP_ADD = 2,
    OP_W = 4 /* any other operation: a write */
};

static unsigned
op_bit(const char *op)
{
    if (strcmp(op, "r") == 0)
        return OP_R;
    if (strcmp(op, "add") == 0)
        return OP_ADD;
    return OP_W;
}

/* The operations a touch of kind `bit` overlaps. */
static unsigned
conflicts_of(unsigned bit)
{
    return bit == OP_R ? OP_ADD | OP_W : bit == OP_ADD ? OP_R | OP_W : OP_R | OP_ADD | OP_W;
}

/*
 * A hash equal for equal tokens (token_equal): a member name's bytes; a keyed element's
 * key and, for a number, its value as a double (jsonp_equal compares numbers by value),
 * for a string its bytes, for anything else only its type. Unequal tokens may collide:
 * a lookup confirms with token_equal.
 */
static uint64_t
token_hash(json_object *t)
{
    uint64_t h = 1469598103934665603ULL;
    json_object *key, *value = NULL;
    const char *s;
    double d;
    size_t i, n;

    if (json_object_is_type(t, json_type_string)) {
        s = json_object_get_string(t);
        n = (size_t)json_object_get_string_len(t);
    } else {
        h ^= 0x9e37;
        if (json_object_object_get_ex(t, "key", &key) && json_object_get_string(key) != NULL) {
            s = json_object_get_string(key);
            for (i = 0; s[i] != '\0'; i++)
                h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
        }
        json_object_object_get_ex(t, "value", &value);
        switch (json_object_get_type(value)) {
        case json_type_int:
        case json_type_double:
            d = json_object_get_double(value);
            if (d == 0)
                d = 0; /* -0.0 equals 0 */
            s = (const char *)&d;
            n = sizeof(d);
            break;
        case json_type_string:
            s = json_object_get_string(value);
            n = (size_t)json_object_get_string_len(value);
            break;
        default:
            return h ^ (uint64_t)json_object_get_type(value);
        }
    }
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* A path prefix of `ours`: the operations of touches that end here and below. */
struct tnode {
    json_object *token; /* borrowed from ours; NULL for the root */
    size_t parent;
    uint64_t hash;
    unsigned here;  /* operations of touches whose path ends at this node */
    unsigned below; /* `here` of this node and of every node under it */
};

struct touch_index {
    int all;             /* no touch set at all: overlaps everything, even an empty set */
    int opless;          /* a touch without an operation: overlaps every touch */
    size_t count;        /* touches indexed */
    unsigned state;      /* operations of state touches */
    struct tnode *nodes; /* nodes[0] is the root, the empty path */
    size_t nnodes, cap;
    size_t *slots; /* open addressing over (parent, token): node index + 1; 0 is free */
    size_t nslots;
};

static size_t
slot_of(const struct touch_index *ix, size_t parent, uint64_t hash)
{
    return (size_t)((hash ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ULL)) & (ix->nslots - 1));
}

/* The child of node `parent` for `token`, or 0 (the root is never a child). */
static size_t
find_child(const struct touch_index *ix, size_t parent, json_object *token, uint64_t hash)
{
    size_t at = slot_of(ix, parent, hash), node;

    while ((node = ix->slots[at]) != 0) {
        const struct tnode *n = &ix->nodes[node - 1];
        if (n->parent == parent && n->hash == hash && token_equal(n->token, token))
            return node - 1;
        at = (at + 1) & (ix->nslots - 1);
    }
    return 0;
}

static void
place(struct touch_index *ix, size_t node)
{
    size_t at = slot_of(ix, ix->nodes[node].parent, ix->nodes[node].hash);

    while (ix->slots[at] != 0)
        at = (at + 1) & (ix->nslots - 1);
    ix->slots[at] = node + 1;
}

static size_t
add_child(struct touch_index *ix, size_t parent, json_object *token, uint64_t hash)
{
    size_t i;

    if (ix->nnodes == ix->cap) {
        ix->cap *= 2;
        ix->nodes = xrealloc(ix->nodes, ix->cap * sizeof(*ix->nodes));
    }
    /* at most half full, so every probe ends */
    if (2 * (ix->nnodes + 1) > ix->nslots) {
        free(ix->slots);
        ix->nslots *= 2;
        ix->slots = xcalloc(ix->nslots, sizeof(*ix->slots));
        for (i = 1; i < ix->nnodes; i++)
            place(ix, i);
    }
    ix->nodes[ix->nnodes] = (struct tnode){token, parent, hash, 0, 0};
    place(ix, ix->nnodes);
    return ix->nnodes++;
}

static void
index_touch(struct touch_index *ix, json_object *t)
{
    json_object *op, *path;
    unsigned bit;
    size_t node = 0, i, n;

    ix->count++;
    if (!json_object_object_get_ex(t, "op", &op) || json_object_get_string(op) == NULL) {
        ix->opless = 1;
        return;
    }
    bit = op_bit(json_object_get_string(op));
    if (json_object_object_get_ex(t, "state", NULL)) {
        ix->state |= bit;
        return;
    }
    /* a touch without a path touches the whole document, as the empty path does */
    n = json_object_object_get_ex(t, "path", &path) ? json_object_array_length(path) : 0;
    ix->nodes[0].below |= bit;
    for (i = 0; i < n; i++) {
        json_object *token = json_object_array_get_idx(path, i);
        uint64_t hash = token_hash(token);
        size_t child = find_child(ix, node, token, hash);
        if (child == 0)
            child = add_child(ix, node, token, hash);
        node = child;
        ix->nodes[node].below |= bit;
    }
    ix->nodes[node].here |= bit;
}

struct touch_index *
touch_index_new(json_object *ours)
{
    struct touch_index *ix = xcalloc(1, sizeof(*ix));
    size_t i, n;

    ix->cap = 16;
    ix->nodes = xcalloc(ix->cap, sizeof(*ix->nodes));
    ix->nnodes = 1;
    ix->nslots = 32;
    ix->slots = xcalloc(ix->nslots, sizeof(*ix->slots));
    if (ours == NULL) {
        ix->all = 1;
        return ix;
    }
    n = json_object_array_length(ours);
    for (i = 0; i < n; i++)
        index_touch(ix, json_object_array_get_idx(ours, i));
    return ix;
}

void
touch_index_free(struct touch_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->nodes);
    free(ix->slots);
    free(ix);
}

/* Whether one touch of theirs overlaps the indexed set: a touch of ours on its path
 * (an ancestor or the same), or anywhere under it (a descendant). */
static int
overlaps_one(const struct touch_index *ix, json_object *t)
{
    json_object *op, *path;
    unsigned against;
    size_t node = 0, i, n;

    if (!json_object_object_get_ex(t, "op", &op) || json_object_get_string(op) == NULL)
        return 1;
    against = conflicts_of(op_bit(json_object_get_string(op)));
    if (json_object_object_get_ex(t, "state", NULL))
        return (ix->state & against) != 0;
    n = json_object_object_get_ex(t, "path", &path) ? json_object_array_length(path) : 0;
    for (i = 0; i < n; i++) {
        json_object *token = json_object_array_get_idx(path, i);
        if (ix->nodes[node].here & against)
            return 1;
        node = find_child(ix, node, token, token_hash(token));
        if (node == 0)
            return 0;
    }
    return (ix->nodes[node].below & against) != 0;
}

int
touch_index_overlaps(const struct touch_index *ix, json_object *theirs)
{
    size_t i, n;

    if (ix->all || theirs == NULL)
        return 1;
    n = json_object_array_length(theirs);
    if (ix->count == 0)
        return 0;
    if (ix->opless)
        return n > 0;
    for (i = 0; i < n; i++)
        if (overlaps_one(ix, json_object_array_get_idx(theirs, i)))
            return 1;
    return 0;
}

int
touch_overlap(json_object *ours, json_object *theirs)
{
    struct touch_index *ix = touch_index_new(ours);
    int overlap = touch_index_overlaps(ix, theirs);

    touch_index_free(ix);
    return overlap;
}
