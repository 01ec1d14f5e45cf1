/*
 * fuzz_patch.c: JSON Patch (patch_apply) and JSON Merge Patch (patch_merge). The input
 * is a document, a NUL, and a patch; both engines run on it. What the log relies on is
 * checked: a failed patch leaves the document as it was; the inverse of a successful
 * one restores the document, and the inverse of that inverse redoes it; a merge patch's
 * forward patch replays it, it matches RFC 7396 section 2's algorithm, and merging
 * twice changes nothing the second time.
 */
#include "fuzz.h"

#include "doc/patch.h"

/* Applies `patch` to a copy of `doc`, which it must accept; returns the result. */
static json_object *
applied(json_object *doc, json_object *patch)
{
    json_object *out = jsonp_copy(doc);
    struct err err = {0};

    FUZZ_CHECK(patch_apply(&out, patch, NULL, &err) == ERR_OK);
    return out;
}

static void
json_patch(json_object *doc, json_object *patch)
{
    json_object *work = jsonp_copy(doc), *inverse = NULL, *again = NULL, *after, *undone, *redone;
    struct err err = {0};

    if (patch_apply(&work, patch, &inverse, &err) != ERR_OK) {
        FUZZ_CHECK(err.code != ERR_OK && inverse == NULL);
        FUZZ_CHECK(jsonp_equal(work, doc));
        goto cleanup;
    }
    after = work;
    undone = jsonp_copy(after);
    FUZZ_CHECK(patch_apply(&undone, inverse, &again, NULL) == ERR_OK);
    FUZZ_CHECK(jsonp_equal(undone, doc));
    redone = applied(undone, again);
    FUZZ_CHECK(jsonp_equal(redone, after));
    json_object_put(undone);
    json_object_put(redone);

cleanup:
    json_object_put(work);
    json_object_put(inverse);
    json_object_put(again);
    err_clear(&err);
}

/* RFC 7396 section 2, MergePatch(Target, Patch), on its own copies: the reference. */
static json_object *
merge_reference(json_object *target, json_object *patch)
{
    json_object *out, *member;

    if (!json_object_is_type(patch, json_type_object)) {
        json_object_put(target);
        return jsonp_copy(patch);
    }
    out = json_object_is_type(target, json_type_object) ? target : json_object_new_object();
    if (out != target)
        json_object_put(target);
    json_object_object_foreach(patch, name, value)
    {
        if (value == NULL) {
            json_object_object_del(out, name);
            continue;
        }
        member = NULL;
        if (json_object_object_get_ex(out, name, &member))
            json_object_get(member);
        json_object_object_add(out, name, merge_reference(member, value));
    }
    return out;
}

static void
merge_patch(json_object *doc, json_object *merge)
{
    json_object *work = jsonp_copy(doc), *forward = NULL, *inverse = NULL, *replayed, *undone;
    json_object *expected = merge_reference(jsonp_copy(doc), merge), *twice_fwd = NULL;
    struct err err = {0};

    FUZZ_CHECK(patch_merge(&work, merge, &forward, &inverse, &err) == ERR_OK);
    FUZZ_CHECK(jsonp_equal(work, expected));
    replayed = applied(doc, forward);
    FUZZ_CHECK(jsonp_equal(replayed, work));
    undone = applied(work, inverse);
    FUZZ_CHECK(jsonp_equal(undone, doc));
    json_object_put(inverse);
    inverse = NULL;
    FUZZ_CHECK(patch_merge(&work, merge, &twice_fwd, &inverse, &err) == ERR_OK);
    FUZZ_CHECK(json_object_array_length(twice_fwd) == 0);

    json_object_put(replayed);
    json_object_put(undone);
    json_object_put(twice_fwd);
    json_object_put(expected);
    json_object_put(work);
    json_object_put(forward);
    json_object_put(inverse);
    err_clear(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc_text, *patch_text;
    size_t doc_len, patch_len;
    json_object *doc = NULL, *patch = NULL;

    fuzz_take(&data, &size, &doc_text, &doc_len);
    fuzz_take(&data, &size, &patch_text, &patch_len);
    if (!fuzz_json(doc_text, doc_len, &doc) || !fuzz_json(patch_text, patch_len, &patch))
        goto cleanup;
    if (!fuzz_too_many_copies(patch))
        json_patch(doc, patch);
    merge_patch(doc, patch);

cleanup:
    json_object_put(doc);
    json_object_put(patch);
    return 0;
}
