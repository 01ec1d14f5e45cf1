/*
 * fuzz_action.c: the action envelope (action_parse) and the action compiler
 * (action_apply) with the shipped catalog, catalog/default.json. The first byte picks
 * the type and, for a type with states, the resource's state; the rest is an envelope,
 * a NUL, and the document (the type's initial document when empty). The envelope's
 * items are applied in turn, each to what the ones before left. Checked: a failed item
 * leaves the document as it was; a successful one's forward patch replays it on the
 * document before, and its inverse restores that; the overlap of its touches
 * (touch_action) with the item's before is symmetric.
 */
#include "fuzz.h"

#include "doc/action.h"
#include "doc/catalog.h"
#include "doc/patch.h"
#include "doc/touch.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

/* The types and states of catalog/default.json. */
static const char *const type_names[] = {"clips", "analysis_jobs", "articles", "dashboards",
                                         "documents"};
static const char *const state_names[] = {"queued", "running", "suspended",
                                          "failed", "done",    "nonesuch"};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

static struct catalog *catalog;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = getenv("ACTIOND_FUZZ_CATALOG");
    struct err err = {0};

    (void)argc;
    (void)argv;
    catalog = catalog_load(path != NULL ? path : FUZZ_SRCDIR "/catalog/default.json", &err);
    if (catalog == NULL) {
        fprintf(stderr, "fuzz_action: %s\n", err.detail);
        abort();
    }
    return 0;
}

/* `patch` applied to a copy of `doc`, which must succeed. */
static json_object *
applied(json_object *doc, json_object *patch)
{
    json_object *out = jsonp_copy(doc);

    FUZZ_CHECK(patch_apply(&out, patch, NULL, NULL) == ERR_OK);
    return out;
}

/*
 * Applies one item to *doc, checking what the log relies on. *prev holds the touches of
 * the item applied before (NULL for none) and gets this one's: two items of a batch
 * stand for two clients' actions whose overlap a merge decides.
 */
static void
apply_item(const struct catalog_type *t, const struct action *a, char **state, size_t i,
           json_object **doc, json_object **prev)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *before = jsonp_copy(*doc), *replayed, *undone, *touches;
    char prefix[32];

    snprintf(prefix, sizeof(prefix), "/actions/%zu", i);
    if (action_apply(t, a, *state, prefix, doc, &eff, &err) != ERR_OK) {
        FUZZ_CHECK(err.code != ERR_OK && eff.forward == NULL && eff.inverse == NULL);
        FUZZ_CHECK(jsonp_equal(*doc, before));
        goto cleanup;
    }
    replayed = applied(before, eff.forward);
    FUZZ_CHECK(jsonp_equal(replayed, *doc));
    undone = applied(*doc, eff.inverse);
    FUZZ_CHECK(jsonp_equal(undone, before));
    touches = touch_action(t, a, &eff);
    FUZZ_CHECK(json_object_is_type(touches, json_type_array));
    if (*prev != NULL)
        FUZZ_CHECK(touch_overlap(*prev, touches) == touch_overlap(touches, *prev));
    json_object_put(*prev);
    *prev = json_object_get(touches);
    if (eff.new_state != NULL) {
        free(*state);
        *state = strdup(eff.new_state);
    }
    json_object_put(replayed);
    json_object_put(undone);
    json_object_put(touches);
    action_effect_clear(&eff);

cleanup:
    json_object_put(before);
    err_clear(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct catalog_type *t;
    struct action_request ar = {0};
    struct err err = {0};
    const char *env_text, *doc_text;
    size_t env_len, doc_len, i;
    json_object *env = NULL, *doc = NULL, *prev = NULL;
    char *state = NULL;

    if (size < 1)
        return 0;
    t = catalog_find_type(catalog, type_names[data[0] % NTYPES]);
    FUZZ_CHECK(t != NULL);
    if (catalog_type_initial_state(t) != NULL)
        state = strdup(state_names[(data[0] / NTYPES) % NSTATES]);
    data++;
    size--;
    fuzz_take(&data, &size, &env_text, &env_len);
    fuzz_take(&data, &size, &doc_text, &doc_len);
    if (!fuzz_json(env_text, env_len, &env))
        goto cleanup;
    if (doc_len == 0)
        doc = jsonp_copy(catalog_type_initial(t));
    else if (!fuzz_json(doc_text, doc_len, &doc))
        goto cleanup;
    if (action_parse(env, &ar, &err) != ERR_OK) {
        FUZZ_CHECK(err.code == ERR_BAD_REQUEST && ar.n == 0);
        goto cleanup;
    }
    FUZZ_CHECK(ar.n >= 1 && ar.n <= ACTION_MAX_BATCH);
    for (i = 0; i < ar.n; i++)
        apply_item(t, &ar.items[i], &state, i, &doc, &prev);

cleanup:
    action_request_free(&ar);
    json_object_put(env);
    json_object_put(doc);
    json_object_put(prev);
    free(state);
    err_clear(&err);
    return 0;
}
