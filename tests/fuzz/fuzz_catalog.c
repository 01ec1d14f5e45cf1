/*
 * fuzz_catalog.c: catalog validation (catalog_from_json) on any JSON text. The input is
 * a catalog, a NUL, an action envelope, a NUL, and a document. A catalog it accepts must
 * answer every query about its types, states and actions, and its actions must compile:
 * the envelope's items are applied to each type's document (the input's, or the type's
 * initial one), since validation at load is all action.c relies on.
 */
#include "fuzz.h"

#include "doc/action.h"
#include "doc/catalog.h"

/* Asks about every name catalog_type_allowed lists for `state`. */
static void
query_actions(const struct catalog_type *t, const char *state)
{
    json_object *allowed = catalog_type_allowed(t, state), *verbs = catalog_type_verbs(t, state);
    const struct catalog_action *a;
    size_t i;

    for (i = 0; i < json_object_array_length(allowed); i++) {
        a = catalog_type_action(t, json_object_get_string(json_object_array_get_idx(allowed, i)));
        FUZZ_CHECK(a != NULL);
        (void)catalog_action_name(a);
        (void)catalog_action_needs_precondition(a);
        (void)catalog_action_always_merges(a);
        if (catalog_action_kind(a) == CATALOG_TRANSITION) {
            FUZZ_CHECK(catalog_action_allowed_from(a, state));
            FUZZ_CHECK(catalog_type_transition(t, state, catalog_action_to_state(a)) != NULL);
        }
    }
    json_object_put(allowed);
    json_object_put(verbs);
}

/* Applies the items of `ar` to a copy of `doc`, or of the type's initial document. */
static void
apply_items(const struct catalog_type *t, const struct action_request *ar, const char *state,
            json_object *doc, int has_doc)
{
    json_object *work = jsonp_copy(has_doc ? doc : catalog_type_initial(t)), *before;
    struct action_effect eff;
    struct err err = {0};
    size_t i;

    for (i = 0; i < ar->n; i++) {
        before = jsonp_copy(work);
        if (action_apply(t, &ar->items[i], state, "", &work, &eff, &err) == ERR_OK)
            action_effect_clear(&eff);
        else
            FUZZ_CHECK(jsonp_equal(work, before));
        err_clear(&err);
        json_object_put(before);
    }
    json_object_put(work);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *cat_text, *env_text, *doc_text;
    size_t cat_len, env_len, doc_len, i;
    json_object *root = NULL, *env = NULL, *doc = NULL, *types, *all;
    struct action_request ar = {0};
    struct catalog *c = NULL;
    struct err err = {0};
    const struct catalog_type *t;
    const char *state;

    fuzz_take(&data, &size, &cat_text, &cat_len);
    fuzz_take(&data, &size, &env_text, &env_len);
    fuzz_take(&data, &size, &doc_text, &doc_len);
    if (!fuzz_json(cat_text, cat_len, &root))
        goto cleanup;
    c = catalog_from_json(root, "fuzz", &err);
    if (c == NULL) {
        FUZZ_CHECK(err.code == ERR_BAD_REQUEST && err.detail[0] != '\0');
        goto cleanup;
    }
    if (!fuzz_json(env_text, env_len, &env) || action_parse(env, &ar, &err) != ERR_OK)
        ar.n = 0;
    if (doc_len > 0 && !fuzz_json(doc_text, doc_len, &doc))
        doc_len = 0;
    FUZZ_CHECK(json_object_object_get_ex(root, "types", &types));
    json_object_object_foreach(types, name, decl)
    {
        t = catalog_find_type(c, name);
        FUZZ_CHECK(t != NULL && strcmp(catalog_type_name(t), name) == 0);
        (void)catalog_type_any_document(t);
        state = catalog_type_initial_state(t);
        query_actions(t, state);
        apply_items(t, &ar, state, doc, doc_len > 0);
        all = NULL;
        if (json_object_object_get_ex(decl, "states", &all) &&
            json_object_object_get_ex(all, "all", &all))
            for (i = 0; i < json_object_array_length(all); i++)
                query_actions(t, json_object_get_string(json_object_array_get_idx(all, i)));
    }

cleanup:
    action_request_free(&ar);
    catalog_free(c);
    json_object_put(root);
    json_object_put(env);
    json_object_put(doc);
    err_clear(&err);
    return 0;
}
