/*
 * test_vectors.c: the shared vectors of tests/vectors/actions.json (format:
 * tests/vectors/README.md) against the C engine: action_parse and action_apply,
 * patch_apply, patch_merge, touch_action, touch_patch and touch_overlap.
 * tests/web/engine.test.mjs runs the same file against web/engine.js, so a vector
 * that fails in one and passes in the other is a difference between the engines.
 * Each test checks every vector of one kind and names each one that fails.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "doc/action.h"
#include "doc/catalog.h"
#include "doc/jsonp.h"
#include "doc/patch.h"
#include "doc/touch.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

#define VECTORS TEST_SRCDIR "/tests/vectors/actions.json"

/* The file holds one catalog of its own, for operations the shipped one does not use. */
static json_object *file;
static struct catalog *shipped, *ops;
/* A server-assigned UUID, which a vector writes as "<uuid>". */
static regex_t uuid_re;

static json_object *
read_vectors(void)
{
    struct err err = {0};
    struct jsonp_limits lim = {JSONP_DEFAULT_DEPTH, 1024 * 1024};
    json_object *root = NULL;
    struct sbuf buf;
    char chunk[8192];
    size_t n;
    FILE *f = fopen(VECTORS, "rb");

    cr_assert_not_null(f, "%s", VECTORS);
    sbuf_init(&buf);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sbuf_add(&buf, chunk, n);
    fclose(f);
    cr_assert_eq(jsonp_parse(buf.data, buf.len, &lim, &root, &err), ERR_OK, "%s: %s %s", VECTORS,
                 err.pointer, err.detail);
    sbuf_free(&buf);
    return root;
}

static void
setup(void)
{
    struct err err = {0};
    json_object *catalogs, *own;

    file = read_vectors();
    shipped = catalog_load(TEST_SRCDIR "/catalog/default.json", &err);
    cr_assert_not_null(shipped, "%s", err.detail);
    cr_assert(json_object_object_get_ex(file, "catalogs", &catalogs));
    cr_assert(json_object_object_get_ex(catalogs, "ops", &own));
    ops = catalog_from_json(own, VECTORS "#/catalogs/ops", &err);
    cr_assert_not_null(ops, "%s", err.detail);
    cr_assert_eq(regcomp(&uuid_re,
                         "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                         REG_EXTENDED),
                 0);
}

static void
teardown(void)
{
    regfree(&uuid_re);
    catalog_free(ops);
    catalog_free(shipped);
    json_object_put(file);
}

TestSuite(vectors, .init = setup, .fini = teardown);

/* Member `name` of `obj`, borrowed; NULL when absent or JSON null. */
static json_object *
get(json_object *obj, const char *name)
{
    json_object *v = NULL;

    json_object_object_get_ex(obj, name, &v);
    return v;
}

/* `got` with every generated UUID written "<uuid>", as a new value. */
static json_object *
without_uuids(json_object *got)
{
    const char *text = jsonp_str(got), *p = text;
    struct err err = {0};
    json_object *out = NULL;
    regmatch_t m;
    struct sbuf b;

    sbuf_init(&b);
    while (regexec(&uuid_re, p, 1, &m, 0) == 0) {
        sbuf_add(&b, p, (size_t)m.rm_so);
        sbuf_adds(&b, "<uuid>");
        p += m.rm_eo;
    }
    sbuf_adds(&b, p);
    cr_assert_eq(jsonp_parse(b.data, b.len, NULL, &out, &err), ERR_OK, "%s", err.detail);
    sbuf_free(&b);
    return out;
}

/*
 * Compares what the engine produced (`got`, taken) with the vector's `expected`;
 * returns 1 when equal (RFC 6902 equality: numbers by value, objects unordered).
 */
static int
check(json_object *vec, json_object *got)
{
    json_object *clean = without_uuids(got);
    json_object *want = get(vec, "expected");
    int same = jsonp_equal(clean, want);

    cr_expect(same, "%s:\n  want %s\n  got  %s", json_object_get_string(get(vec, "name")),
              jsonp_str(want), jsonp_str(clean));
    json_object_put(clean);
    json_object_put(got);
    return same;
}

/* {"error": {"status", "slug", "pointer"?, "allowed_actions"?}} from a failure (cleared). */
static json_object *
error_of(enum err_code code, struct err *err)
{
    json_object *out = json_object_new_object(), *e = json_object_new_object(), *allowed;

    json_object_object_add(e, "status", json_object_new_int(err_code_status(code)));
    json_object_object_add(e, "slug", json_object_new_string(err->slug));
    if (err->has_pointer)
        json_object_object_add(e, "pointer", json_object_new_string(err->pointer));
    if (err->extra != NULL && json_object_object_get_ex(err->extra, "allowed_actions", &allowed))
        json_object_object_add(e, "allowed_actions", json_object_get(allowed));
    json_object_object_add(out, "error", e);
    err_clear(err);
    return out;
}

/* The members a successful change shares: the document and its patches (all taken). */
static json_object *
success(json_object *doc, json_object *forward, json_object *inverse, json_object *touches)
{
    json_object *out = json_object_new_object();

    json_object_object_add(out, "document", doc);
    if (forward != NULL)
        json_object_object_add(out, "forward", forward);
    json_object_object_add(out, "inverse", inverse);
    json_object_object_add(out, "touches", touches);
    return out;
}

/* Parses and applies the vector's action envelope; what happened, as a vector's `expected`. */
static json_object *
run_action(json_object *vec)
{
    const struct catalog *c = get(vec, "catalog") != NULL ? ops : shipped;
    const struct catalog_type *t = catalog_find_type(c, json_object_get_string(get(vec, "type")));
    json_object *state = get(vec, "state"), *doc, *out;
    struct action_request req;
    struct action_effect eff;
    struct err err = {0};
    enum err_code rc;

    cr_assert_not_null(t, "%s", json_object_get_string(get(vec, "name")));
    rc = action_parse(get(vec, "action"), &req, &err);
    if (rc != ERR_OK)
        return error_of(rc, &err);
    doc = jsonp_copy(get(vec, "document"));
    rc = action_apply(t, &req.items[0], state ? json_object_get_string(state) : NULL, "", &doc,
                      &eff, &err);
    if (rc != ERR_OK) {
        out = error_of(rc, &err);
        json_object_put(doc);
    } else {
        out = success(doc, json_object_get(eff.forward), json_object_get(eff.inverse),
                      touch_action(t, &req.items[0], &eff));
        if (eff.result != NULL)
            json_object_object_add(out, "result", json_object_get(eff.result));
        if (eff.new_state != NULL)
            json_object_object_add(out, "state", json_object_new_string(eff.new_state));
    }
    action_effect_clear(&eff);
    action_request_free(&req);
    return out;
}

/* Applies the vector's JSON Patch, or its merge patch. */
static json_object *
run_patch(json_object *vec)
{
    int merge = json_object_object_get_ex(vec, "merge_patch", NULL);
    json_object *before = get(vec, "document"), *doc = jsonp_copy(before);
    json_object *forward = NULL, *inverse = NULL, *patch;
    struct err err = {0};
    enum err_code rc;

    if (merge) {
        rc = patch_merge(&doc, get(vec, "merge_patch"), &forward, &inverse, &err);
        patch = forward;
    } else {
        patch = get(vec, "patch");
        rc = patch_apply(&doc, patch, &inverse, &err);
    }
    if (rc != ERR_OK) {
        json_object_put(doc);
        json_object_put(forward);
        return error_of(rc, &err);
    }
    /* a JSON Patch vector leaves out `forward`: it is the patch itself */
    return success(doc, forward, inverse, touch_patch(patch, before));
}

static json_object *
run_overlap(json_object *vec)
{
    json_object *o = get(vec, "overlap"), *out = json_object_new_object();

    json_object_object_add(
        out, "overlap", json_object_new_boolean(touch_overlap(get(o, "ours"), get(o, "theirs"))));
    return out;
}

/* The kinds of vector, each named by the member holding its input. */
enum kind { KIND_ACTION, KIND_PATCH, KIND_MERGE_PATCH, KIND_OVERLAP };

static const struct {
    const char *member;
    json_object *(*run)(json_object *vec);
} kinds[] = {
    [KIND_ACTION] = {"action", run_action},
    [KIND_PATCH] = {"patch", run_patch},
    [KIND_MERGE_PATCH] = {"merge_patch", run_patch},
    [KIND_OVERLAP] = {"overlap", run_overlap},
};

/* Runs every vector of `kind`; asserts that there are some and that all pass. */
static void
run_all(enum kind kind)
{
    json_object *vectors = get(file, "vectors");
    size_t i, seen = 0, passed = 0;

    for (i = 0; i < json_object_array_length(vectors); i++) {
        json_object *vec = json_object_array_get_idx(vectors, i);

        if (!json_object_object_get_ex(vec, kinds[kind].member, NULL))
            continue;
        seen++;
        passed += (size_t)check(vec, kinds[kind].run(vec));
    }
    cr_assert_gt(seen, 0, "no %s vectors", kinds[kind].member);
    cr_assert_eq(passed, seen, "%zu of %zu %s vectors differ", seen - passed, seen,
                 kinds[kind].member);
}

Test(vectors, actions_compile_and_apply_as_the_vectors_say)
{
    run_all(KIND_ACTION);
}

Test(vectors, json_patches_apply_as_the_vectors_say)
{
    run_all(KIND_PATCH);
}

Test(vectors, merge_patches_apply_as_the_vectors_say)
{
    run_all(KIND_MERGE_PATCH);
}

Test(vectors, touch_sets_overlap_as_the_vectors_say)
{
    run_all(KIND_OVERLAP);
}
