/*
 * fuzz_history.c: undo and redo compiled from log entries (history_undo_patches,
 * history_first_conflict, history_patches_overlap). The first byte picks the mode.
 * Even: a document, then patches, NUL-separated; each patch that applies becomes a log
 * entry, as actiond writes them, and the undo of every tail of the log must apply to
 * the last document and give back the document before that tail, its inverse the last
 * one again. Odd: a JSON array of entries {"forward", "inverse", "reverts"} as the
 * database could hold them, a NUL, and the patch of the undo being checked; a patch
 * not shaped like one actiond logs (logged_patch) counts as empty.
 */
#include "fuzz.h"

#include "doc/history.h"
#include "doc/patch.h"
#include "store/store.h"

#define MAX_ENTRIES 8

/* The entries a log of patches on `doc` gives; states[i] is the document before entry i,
 * states[n] the last. Returns n. */
static size_t
log_of(const uint8_t *data, size_t size, json_object *doc, struct store_logent *ents,
       json_object **states)
{
    const char *text;
    size_t len, n = 0;
    json_object *patch, *inverse;

    states[0] = jsonp_copy(doc);
    while (size > 0 && n < MAX_ENTRIES) {
        fuzz_take(&data, &size, &text, &len);
        if (!fuzz_json(text, len, &patch))
            continue;
        inverse = NULL;
        states[n + 1] = jsonp_copy(states[n]);
        if (fuzz_too_many_copies(patch) ||
            patch_apply(&states[n + 1], patch, &inverse, NULL) != ERR_OK) {
            json_object_put(states[n + 1]);
            json_object_put(patch);
            continue;
        }
        ents[n].version = (int64_t)n + 2; /* 1 is the creation */
        ents[n].forward = patch;
        ents[n].inverse = inverse;
        n++;
    }
    return n;
}

/* `patch` applied to a copy of `doc`, which must succeed. */
static json_object *
applied(json_object *doc, json_object *patch)
{
    json_object *out = jsonp_copy(doc);

    FUZZ_CHECK(patch_apply(&out, patch, NULL, NULL) == ERR_OK);
    return out;
}

static void
undo_tails(const uint8_t *data, size_t size)
{
    struct store_logent ents[MAX_ENTRIES] = {0};
    json_object *states[MAX_ENTRIES + 1] = {0}, *doc, *fwd, *inv, *undone, *redone;
    const struct store_logent *found;
    const char *text;
    size_t len, n, i;

    fuzz_take(&data, &size, &text, &len);
    if (!fuzz_json(text, len, &doc))
        return;
    n = log_of(data, size, doc, ents, states);
    for (i = 0; i < n; i++) {
        history_undo_patches(&ents[i], n - i, &fwd, &inv);
        undone = applied(states[n], fwd);
        FUZZ_CHECK(jsonp_equal(undone, states[i]));
        redone = applied(undone, inv);
        FUZZ_CHECK(jsonp_equal(redone, states[n]));
        json_object_put(undone);
        json_object_put(redone);
        json_object_put(fwd);
        json_object_put(inv);
        /* the undo of entry i alone, against the entries after it */
        history_undo_patches(&ents[i], 1, &fwd, &inv);
        found = history_first_conflict(&ents[i + 1], n - i - 1, fwd);
        FUZZ_CHECK(found == NULL || (found > &ents[i] && found < &ents[n]));
        json_object_put(fwd);
        json_object_put(inv);
    }
    for (i = 0; i < n; i++) {
        json_object_put(ents[i].forward);
        json_object_put(ents[i].inverse);
    }
    for (i = 0; i <= n; i++)
        json_object_put(states[i]);
    json_object_put(doc);
}

/* 1 when `op` has a string member `name` */
static int
has_string(json_object *op, const char *name)
{
    json_object *v;

    return json_object_object_get_ex(op, name, &v) && json_object_is_type(v, json_type_string);
}

/*
 * `v` if it has the shape of a patch actiond logs (every operation an object with "op"
 * and "path" strings, and "from" for move and copy), else an empty array; a new reference.
 */
static json_object *
logged_patch(json_object *v)
{
    json_object *op;
    const char *kind;
    size_t i;

    if (!json_object_is_type(v, json_type_array))
        return json_object_new_array();
    for (i = 0; i < json_object_array_length(v); i++) {
        op = json_object_array_get_idx(v, i);
        if (!has_string(op, "op") || !has_string(op, "path"))
            return json_object_new_array();
        kind = json_object_get_string(json_object_object_get(op, "op"));
        if ((strcmp(kind, "move") == 0 || strcmp(kind, "copy") == 0) && !has_string(op, "from"))
            return json_object_new_array();
    }
    return json_object_get(v);
}

static void
stored_entries(const uint8_t *data, size_t size)
{
    struct store_logent ents[MAX_ENTRIES] = {0};
    const struct store_logent *found;
    json_object *list = NULL, *ours = NULL, *e, *v, *fwd, *inv;
    const char *text;
    size_t len, n = 0, i;

    fuzz_take(&data, &size, &text, &len);
    if (!fuzz_json(text, len, &list) || !json_object_is_type(list, json_type_array))
        goto cleanup;
    fuzz_take(&data, &size, &text, &len);
    if (!fuzz_json(text, len, &v))
        goto cleanup;
    ours = logged_patch(v);
    json_object_put(v);
    for (; n < json_object_array_length(list) && n < MAX_ENTRIES; n++) {
        e = json_object_array_get_idx(list, n);
        ents[n].version = (int64_t)n + 2;
        ents[n].forward = logged_patch(json_object_object_get(e, "forward"));
        ents[n].inverse = logged_patch(json_object_object_get(e, "inverse"));
        if (json_object_object_get_ex(e, "reverts", &v))
            ents[n].reverts = json_object_get_int64(v);
    }
    if (n == 0)
        goto cleanup;
    history_undo_patches(ents, n, &fwd, &inv);
    json_object_put(fwd);
    json_object_put(inv);
    found = history_first_conflict(ents, n, ours);
    FUZZ_CHECK(found == NULL || (found >= &ents[0] && found < &ents[n]));
    for (i = 0; i < n; i++)
        (void)history_patches_overlap(ours, ents[i].forward);

cleanup:
    for (i = 0; i < n; i++) {
        json_object_put(ents[i].forward);
        json_object_put(ents[i].inverse);
    }
    json_object_put(list);
    json_object_put(ours);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        undo_tails(data + 1, size - 1);
    else
        stored_entries(data + 1, size - 1);
    return 0;
}
