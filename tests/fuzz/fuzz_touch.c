/*
 * fuzz_touch.c: touch sets of JSON Patches (touch_patch) and their overlap
 * (touch_overlap). The input is a document, a NUL, patch A, a NUL, and patch B; a patch
 * counts only when patch_apply accepts it on the document, as actiond records touches
 * only for applied changes. Checked: overlap is symmetric, an unrecorded set (NULL)
 * overlaps everything, and a set that writes anything overlaps itself.
 */
#include "fuzz.h"

#include "doc/patch.h"
#include "doc/touch.h"

/* The touches of `patch` on `doc`, or NULL when the patch does not apply. */
static json_object *
touches_of(json_object *doc, json_object *patch)
{
    json_object *work = jsonp_copy(doc), *t = NULL;
    struct err err = {0};

    if (patch_apply(&work, patch, NULL, &err) == ERR_OK)
        t = touch_patch(patch, doc);
    json_object_put(work);
    err_clear(&err);
    return t;
}

/* 1 when a set holds a write: a path or state that "w" names. */
static int
writes(json_object *touches)
{
    json_object *op;
    size_t i;

    for (i = 0; i < json_object_array_length(touches); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(touches, i), "op", &op) &&
            strcmp(json_object_get_string(op), "w") == 0)
            return 1;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc_text, *a_text, *b_text;
    size_t doc_len, a_len, b_len;
    json_object *doc = NULL, *a = NULL, *b = NULL, *ta = NULL, *tb = NULL;

    fuzz_take(&data, &size, &doc_text, &doc_len);
    fuzz_take(&data, &size, &a_text, &a_len);
    fuzz_take(&data, &size, &b_text, &b_len);
    if (!fuzz_json(doc_text, doc_len, &doc) || !fuzz_json(a_text, a_len, &a) ||
        !fuzz_json(b_text, b_len, &b))
        goto cleanup;
    if (fuzz_too_many_copies(a) || fuzz_too_many_copies(b))
        goto cleanup;
    ta = touches_of(doc, a);
    tb = touches_of(doc, b);
    if (ta == NULL || tb == NULL)
        goto cleanup;
    FUZZ_CHECK(touch_overlap(ta, tb) == touch_overlap(tb, ta));
    FUZZ_CHECK(touch_overlap(ta, NULL) && touch_overlap(NULL, tb));
    FUZZ_CHECK(!writes(ta) || touch_overlap(ta, ta));
    touch_add_state(ta);
    touch_add_all(tb);
    FUZZ_CHECK(touch_overlap(ta, tb) && touch_overlap(tb, ta));

cleanup:
    json_object_put(doc);
    json_object_put(a);
    json_object_put(b);
    json_object_put(ta);
    json_object_put(tb);
    return 0;
}
