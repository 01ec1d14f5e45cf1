/*
 * history.c: what an undo or redo does to the document, computed from the log, and
 * the overlap test that keeps an undo from silently overwriting a later change.
 */
#include "doc/history.h"

#include <stdlib.h>
#include <string.h>

#include "doc/ptr.h"
#include "base/xalloc.h"

/* Adds the paths an operation involves to `paths`; `reads` adds those it only reads. */
static void
op_paths(json_object *op, int reads, json_object *paths)
{
    json_object *name, *path, *from;
    const char *o;

    if (!json_object_object_get_ex(op, "op", &name))
        return;
    o = json_object_get_string(name);
    if (strcmp(o, "test") == 0 && !reads)
        return;
    if (json_object_object_get_ex(op, "path", &path))
        json_object_array_add(paths, json_object_get(path));
    /* move writes its source; copy only reads it; other operations ignore a "from" */
    if (json_object_object_get_ex(op, "from", &from) &&
        (strcmp(o, "move") == 0 || (reads && strcmp(o, "copy") == 0)))
        json_object_array_add(paths, json_object_get(from));
}

/* Parses `pointer` into *out (release with ptr_free) and sets *len to the number of
 * its tokens before the first array position. out->n stays whole, so ptr_free frees
 * every token. Returns 0 when the pointer does not parse. */
static int
cut_path(const char *pointer, struct ptr *out, size_t *len)
{
    size_t i, idx;

    if (ptr_parse(pointer, out, NULL) != ERR_OK)
        return 0;
    for (i = 0; i < out->n; i++)
        if (strcmp(out->tok[i], "-") == 0 || ptr_index(out->tok[i], &idx))
            break;
    *len = i;
    return 1;
}

static int
paths_overlap(const char *a, const char *b)
{
    struct ptr pa = {0}, pb = {0};
    size_t i, n, na, nb;
    int overlap = 1;

    /* an unreadable path can prove nothing disjoint: count it as overlapping */
    if (!cut_path(a, &pa, &na) || !cut_path(b, &pb, &nb))
        goto cleanup;
    n = na < nb ? na : nb;
    for (i = 0; i < n; i++)
        if (strcmp(pa.tok[i], pb.tok[i]) != 0) {
            overlap = 0;
            break;
        }
cleanup:
    ptr_free(&pa);
    ptr_free(&pb);
    return overlap;
}

int
history_patches_overlap(json_object *ours, json_object *theirs)
{
    json_object *mine = json_object_new_array(), *other = json_object_new_array();
    size_t i, j, n;
    int overlap = 0;

    n = json_object_array_length(ours);
    for (i = 0; i < n; i++)
        op_paths(json_object_array_get_idx(ours, i), 1, mine);
    n = json_object_array_length(theirs);
    for (i = 0; i < n; i++)
        op_paths(json_object_array_get_idx(theirs, i), 0, other);
    for (i = 0; i < json_object_array_length(mine) && !overlap; i++)
        for (j = 0; j < json_object_array_length(other) && !overlap; j++)
            overlap = paths_overlap(json_object_get_string(json_object_array_get_idx(mine, i)),
                                    json_object_get_string(json_object_array_get_idx(other, j)));
    json_object_put(mine);
    json_object_put(other);
    return overlap;
}

static void
append_all(json_object *to, json_object *ops)
{
    size_t i, n = json_object_array_length(ops);

    for (i = 0; i < n; i++)
        json_object_array_add(to, json_object_get(json_object_array_get_idx(ops, i)));
}

void
history_undo_patches(const struct store_logent *unit, size_t n, json_object **forward,
                     json_object **inverse)
{
    size_t i;

    *forward = json_object_new_array();
    *inverse = json_object_new_array();
    for (i = n; i > 0; i--)
        append_all(*forward, unit[i - 1].inverse);
    for (i = 0; i < n; i++)
        append_all(*inverse, unit[i].forward);
}

const struct store_logent *
history_first_conflict(const struct store_logent *later, size_t n, json_object *ours)
{
    char *cancelled = xcalloc(n + 1, 1);
    const struct store_logent *found = NULL;
    size_t i;

    /* Newest first: an undo or redo whose target is also in `later` cancels it, and
     * the pair has no effect left. An entry cancels at most one other, so a chain
     * change -> undo -> redo leaves exactly one effect standing. */
    for (i = n; i > 0; i--) {
        const struct store_logent *e = &later[i - 1];
        size_t t;
        if (cancelled[i - 1] || e->reverts < later[0].version)
            continue;
        t = (size_t)(e->reverts - later[0].version);
        if (t < i - 1 && !cancelled[t]) {
            cancelled[t] = 1;
            cancelled[i - 1] = 1;
        }
    }
    for (i = 0; i < n && found == NULL; i++)
        if (!cancelled[i] && history_patches_overlap(ours, later[i].forward))
            found = &later[i];
    free(cancelled);
    return found;
}
