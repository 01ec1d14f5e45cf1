/*
 * test_patch.c: the patch engine against every example of RFC 6902 Appendix A and
 * RFC 7396 Appendix A, the `create` extension, all-or-nothing application, and a
 * seeded random check that every inverse restores the original document exactly.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/patch.h"
#include "doc/ptr.h"
#include "base/xalloc.h"

static json_object *
J(const char *s)
{
    struct err err = {0};
    json_object *v = NULL;

    cr_assert_eq(jsonp_parse(s, strlen(s), NULL, &v, &err), ERR_OK, "%s: %s", s, err.detail);
    return v;
}

/* Exact sameness: equal canonical text, so 1 and 1.0 differ and member order does not. */
static void
assert_same(json_object *got, json_object *want, const char *what)
{
    char *g = jsonp_canonical(got), *w = jsonp_canonical(want);

    cr_assert_str_eq(g, w, "%s: got %s, want %s", what, g, w);
    cr_assert(jsonp_equal(got, want), "%s", what);
    free(g);
    free(w);
}

/* Whether pointer `s` ends in "-" naming the end of an array of `doc`. */
static int
uses_dash(json_object *doc, const char *s)
{
    struct ptr p;
    json_object *parent;
    int r = 0;

    cr_assert_eq(ptr_parse(s, &p, NULL), ERR_OK, "%s", s);
    if (p.n > 0 && strcmp(p.tok[p.n - 1], "-") == 0 && ptr_resolve(doc, &p, p.n - 1, &parent))
        r = json_object_is_type(parent, json_type_array);
    ptr_free(&p);
    return r;
}

/*
 * Applies inverse `inv` to *doc one operation at a time, checking that none uses "-"
 * for an array position: the log replays concrete positions only.
 */
static void
apply_inverse(json_object **doc, json_object *inv)
{
    struct err err = {0};
    size_t i;

    cr_assert(json_object_is_type(inv, json_type_array));
    for (i = 0; i < json_object_array_length(inv); i++) {
        json_object *op = json_object_array_get_idx(inv, i), *one, *v;

        if (json_object_object_get_ex(op, "path", &v))
            cr_assert_not(uses_dash(*doc, json_object_get_string(v)), "inverse uses \"-\": %s",
                          jsonp_str(inv));
        if (json_object_object_get_ex(op, "from", &v))
            cr_assert_not(uses_dash(*doc, json_object_get_string(v)), "inverse uses \"-\": %s",
                          jsonp_str(inv));
        one = json_object_new_array();
        json_object_array_add(one, json_object_get(op));
        cr_assert_eq(patch_apply(doc, one, NULL, &err), ERR_OK, "inverse %s, op %zu: %s",
                     jsonp_str(inv), i, err.detail);
        json_object_put(one);
    }
}

/* Applies `patch` to `doc`, expects `expect`, then checks the inverse restores `doc`. */
static void
check_ok(const char *doc, const char *patch, const char *expect)
{
    json_object *d = J(doc), *orig = J(doc), *p = J(patch), *want = J(expect), *inv = NULL;
    struct err err = {0};

    cr_assert_eq(patch_apply(&d, p, &inv, &err), ERR_OK, "%s: %s", patch, err.detail);
    assert_same(d, want, patch);
    apply_inverse(&d, inv);
    assert_same(d, orig, "inverse");
    json_object_put(d);
    json_object_put(orig);
    json_object_put(p);
    json_object_put(want);
    json_object_put(inv);
}

/* Expects failure with `code`, `slug` and `pointer`, and the document untouched. */
static void
check_fail(const char *doc, const char *patch, enum err_code code, const char *slug,
           const char *pointer)
{
    json_object *d = J(doc), *orig = J(doc), *p = J(patch), *inv = NULL;
    json_object *before = d;
    struct err err = {0};

    cr_assert_eq(patch_apply(&d, p, &inv, &err), code, "%s: got %d (%s)", patch, err.code,
                 err.detail);
    cr_assert_eq(err.code, code);
    cr_assert_str_eq(err.slug, slug, "%s: %s", patch, err.detail);
    cr_assert(err.has_pointer);
    cr_assert_str_eq(err.pointer, pointer, "%s: %s", patch, err.detail);
    cr_assert(strlen(err.detail) > 0);
    cr_assert_null(inv);
    cr_assert_eq(d, before, "the document was replaced");
    assert_same(d, orig, "unchanged after failure");
    err_clear(&err);
    json_object_put(d);
    json_object_put(orig);
    json_object_put(p);
}

/* Returns the detail of the expected failure, for tests that check its wording. */
static char *
fail_detail(const char *doc, const char *patch)
{
    json_object *d = J(doc), *p = J(patch);
    struct err err = {0};

    cr_assert_neq(patch_apply(&d, p, NULL, &err), ERR_OK, "%s", patch);
    json_object_put(d);
    json_object_put(p);
    return xstrdup(err.detail);
}

/* RFC 6902 Appendix A. */

Test(rfc6902, a01_adding_an_object_member)
{
    check_ok("{\"foo\": \"bar\"}", "[{\"op\": \"add\", \"path\": \"/baz\", \"value\": \"qux\"}]",
             "{\"baz\": \"qux\", \"foo\": \"bar\"}");
}

Test(rfc6902, a02_adding_an_array_element)
{
    check_ok("{\"foo\": [\"bar\", \"baz\"]}",
             "[{\"op\": \"add\", \"path\": \"/foo/1\", \"value\": \"qux\"}]",
             "{\"foo\": [\"bar\", \"qux\", \"baz\"]}");
}

Test(rfc6902, a03_removing_an_object_member)
{
    check_ok("{\"baz\": \"qux\", \"foo\": \"bar\"}", "[{\"op\": \"remove\", \"path\": \"/baz\"}]",
             "{\"foo\": \"bar\"}");
}

Test(rfc6902, a04_removing_an_array_element)
{
    check_ok("{\"foo\": [\"bar\", \"qux\", \"baz\"]}",
             "[{\"op\": \"remove\", \"path\": \"/foo/1\"}]", "{\"foo\": [\"bar\", \"baz\"]}");
}

Test(rfc6902, a05_replacing_a_value)
{
    check_ok("{\"baz\": \"qux\", \"foo\": \"bar\"}",
             "[{\"op\": \"replace\", \"path\": \"/baz\", \"value\": \"boo\"}]",
             "{\"baz\": \"boo\", \"foo\": \"bar\"}");
}

Test(rfc6902, a06_moving_a_value)
{
    check_ok("{\"foo\": {\"bar\": \"baz\", \"waldo\": \"fred\"}, \"qux\": {\"corge\": \"grault\"}}",
             "[{\"op\": \"move\", \"from\": \"/foo/waldo\", \"path\": \"/qux/thud\"}]",
             "{\"foo\": {\"bar\": \"baz\"}, \"qux\": {\"corge\": \"grault\", \"thud\": \"fred\"}}");
}

Test(rfc6902, a07_moving_an_array_element)
{
    check_ok("{\"foo\": [\"all\", \"grass\", \"cows\", \"eat\"]}",
             "[{\"op\": \"move\", \"from\": \"/foo/1\", \"path\": \"/foo/3\"}]",
             "{\"foo\": [\"all\", \"cows\", \"eat\", \"grass\"]}");
}

Test(rfc6902, a08_testing_a_value_success)
{
    check_ok("{\"baz\": \"qux\", \"foo\": [\"a\", 2, \"c\"]}",
             "[{\"op\": \"test\", \"path\": \"/baz\", \"value\": \"qux\"},"
             " {\"op\": \"test\", \"path\": \"/foo/1\", \"value\": 2}]",
             "{\"baz\": \"qux\", \"foo\": [\"a\", 2, \"c\"]}");
}

Test(rfc6902, a09_testing_a_value_error)
{
    check_fail("{\"baz\": \"qux\"}", "[{\"op\": \"test\", \"path\": \"/baz\", \"value\": \"bar\"}]",
               ERR_CONFLICT, "test-failed", "/0/value");
}

Test(rfc6902, a10_adding_a_nested_member_object)
{
    check_ok("{\"foo\": \"bar\"}",
             "[{\"op\": \"add\", \"path\": \"/child\", \"value\": {\"grandchild\": {}}}]",
             "{\"foo\": \"bar\", \"child\": {\"grandchild\": {}}}");
}

Test(rfc6902, a11_ignoring_unrecognized_elements)
{
    check_ok("{\"foo\": \"bar\"}",
             "[{\"op\": \"add\", \"path\": \"/baz\", \"value\": \"qux\", \"xyz\": 123}]",
             "{\"foo\": \"bar\", \"baz\": \"qux\"}");
}

Test(rfc6902, a12_adding_to_a_nonexistent_target)
{
    char *detail;

    check_fail("{\"foo\": \"bar\"}",
               "[{\"op\": \"add\", \"path\": \"/baz/bat\", \"value\": \"qux\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    detail = fail_detail("{\"foo\": \"bar\"}",
                         "[{\"op\": \"add\", \"path\": \"/baz/bat\", \"value\": \"qux\"}]");
    cr_assert_str_eq(detail, "parent of /baz/bat does not exist");
    free(detail);
}

/* The duplicate "op" never reaches the engine: the strict reader refuses it. */
Test(rfc6902, a13_invalid_json_patch_document)
{
    static const char patch[] =
        "[{\"op\": \"add\", \"path\": \"/baz\", \"value\": \"qux\", \"op\": \"remove\"}]";
    struct err err = {0};
    json_object *p = NULL;

    cr_assert_eq(jsonp_parse(patch, strlen(patch), NULL, &p, &err), ERR_BAD_REQUEST);
    cr_assert_null(p);
    cr_assert(strstr(err.detail, "duplicate member name \"op\"") != NULL, "%s", err.detail);
}

Test(rfc6902, a14_escape_ordering)
{
    check_ok("{\"/\": 9, \"~1\": 10}", "[{\"op\": \"test\", \"path\": \"/~01\", \"value\": 10}]",
             "{\"/\": 9, \"~1\": 10}");
}

Test(rfc6902, a15_comparing_strings_and_numbers)
{
    check_fail("{\"/\": 9, \"~1\": 10}",
               "[{\"op\": \"test\", \"path\": \"/~01\", \"value\": \"10\"}]", ERR_CONFLICT,
               "test-failed", "/0/value");
}

Test(rfc6902, a16_adding_an_array_value)
{
    check_ok("{\"foo\": [\"bar\"]}",
             "[{\"op\": \"add\", \"path\": \"/foo/-\", \"value\": [\"abc\", \"def\"]}]",
             "{\"foo\": [\"bar\", [\"abc\", \"def\"]]}");
}

/* RFC 7396 Appendix A, through patch_merge, each with its inverse. */

static void
check_merge(const char *doc, const char *merge, const char *expect)
{
    json_object *d = J(doc), *orig = J(doc), *m = J(merge), *want = J(expect);
    json_object *fwd = NULL, *inv = NULL, *d2 = J(doc);
    struct err err = {0};

    cr_assert_eq(patch_merge(&d, m, &fwd, &inv, &err), ERR_OK, "%s: %s", merge, err.detail);
    assert_same(d, want, merge);
    /* The forward patch alone has the same effect. */
    cr_assert_eq(patch_apply(&d2, fwd, NULL, &err), ERR_OK, "%s", err.detail);
    assert_same(d2, want, "forward");
    apply_inverse(&d, inv);
    assert_same(d, orig, "inverse of merge");
    json_object_put(d);
    json_object_put(d2);
    json_object_put(orig);
    json_object_put(m);
    json_object_put(want);
    json_object_put(fwd);
    json_object_put(inv);
}

Test(rfc7396, appendix_a_examples)
{
    check_merge("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_merge("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check_merge("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check_merge("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check_merge("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_merge("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check_merge("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
                "{\"a\":{\"b\":\"d\"}}");
    check_merge("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check_merge("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    check_merge("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    check_merge("{\"a\":\"foo\"}", "null", "null");
    check_merge("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    check_merge("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check_merge("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    check_merge("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

Test(rfc7396, section3_example)
{
    check_merge(
        "{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":"
        "\"Doe\"},\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
        "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":"
        "{\"familyName\":null},\"tags\":[\"example\"]}",
        "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
        "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}");
}

Test(rfc7396, no_change_gives_empty_forward)
{
    json_object *d = J("{\"a\":1,\"b\":{\"c\":[1]}}"),
                *m = J("{\"a\":1,\"x\":null,\"b\":{\"c\":[1]}}");
    json_object *fwd = NULL, *inv = NULL;

    cr_assert_eq(patch_merge(&d, m, &fwd, &inv, NULL), ERR_OK);
    cr_assert_str_eq(jsonp_str(fwd), "[]");
    cr_assert_str_eq(jsonp_str(inv), "[]");
    json_object_put(d);
    json_object_put(m);
    json_object_put(fwd);
    json_object_put(inv);
}

Test(rfc7396, forward_patch_shape)
{
    json_object *d = J("{\"a\":1,\"o\":{\"k\":1},\"s\":\"x\"}");
    json_object *m =
        J("{\"a\":null,\"o\":{\"k\":2,\"n\":null},\"s\":{\"q\":null,\"r\":1},\"a/b\":3}");
    json_object *fwd = NULL, *inv = NULL;

    cr_assert_eq(patch_merge(&d, m, &fwd, &inv, NULL), ERR_OK);
    cr_assert_str_eq(jsonp_str(fwd), "[{\"op\":\"remove\",\"path\":\"/a\"},"
                                     "{\"op\":\"replace\",\"path\":\"/o/k\",\"value\":2},"
                                     "{\"op\":\"replace\",\"path\":\"/s\",\"value\":{\"r\":1}},"
                                     "{\"op\":\"add\",\"path\":\"/a~1b\",\"value\":3}]");
    json_object_put(d);
    json_object_put(m);
    json_object_put(fwd);
    json_object_put(inv);
}

/* create */

Test(create, adds_a_new_member)
{
    check_ok("{\"a\":1}", "[{\"op\":\"create\",\"path\":\"/b\",\"value\":{\"c\":2}}]",
             "{\"a\":1,\"b\":{\"c\":2}}");
}

Test(create, conflicts_on_an_existing_member)
{
    check_fail("{\"a\":1}", "[{\"op\":\"create\",\"path\":\"/a\",\"value\":2}]", ERR_CONFLICT,
               "already-exists", "/0/path");
    /* A member holding null still holds a value. */
    check_fail("{\"a\":null}", "[{\"op\":\"create\",\"path\":\"/a\",\"value\":2}]", ERR_CONFLICT,
               "already-exists", "/0/path");
    check_fail("{\"a\":1}", "[{\"op\":\"create\",\"path\":\"\",\"value\":2}]", ERR_CONFLICT,
               "already-exists", "/0/path");
}

Test(create, inserts_into_arrays_without_conflict)
{
    check_ok("{\"l\":[1,2]}", "[{\"op\":\"create\",\"path\":\"/l/0\",\"value\":0}]",
             "{\"l\":[0,1,2]}");
    check_ok("{\"l\":[1,2]}", "[{\"op\":\"create\",\"path\":\"/l/-\",\"value\":3}]",
             "{\"l\":[1,2,3]}");
}

Test(create, missing_parent)
{
    check_fail("{}", "[{\"op\":\"create\",\"path\":\"/a/b\",\"value\":1}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
}

/* all or nothing */

Test(atomic, third_op_failing_leaves_doc_unchanged)
{
    check_fail("{\"a\":1,\"l\":[1,2,3]}",
               "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
               " {\"op\":\"remove\",\"path\":\"/l/0\"},"
               " {\"op\":\"replace\",\"path\":\"/missing\",\"value\":3},"
               " {\"op\":\"add\",\"path\":\"/c\",\"value\":4}]",
               ERR_UNPROCESSABLE, "path-not-found", "/2/path");
    check_fail("{\"a\":1}",
               "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]},"
               " {\"op\":\"add\",\"path\":\"/-\",\"value\":2},"
               " {\"op\":\"test\",\"path\":\"\",\"value\":[1]}]",
               ERR_CONFLICT, "test-failed", "/2/value");
}

Test(atomic, sequential_ops_see_earlier_effects_and_invert_in_reverse)
{
    check_ok("{\"l\":[\"a\",\"b\"]}",
             "[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":\"c\"},"
             " {\"op\":\"move\",\"from\":\"/l/0\",\"path\":\"/l/-\"},"
             " {\"op\":\"copy\",\"from\":\"/l\",\"path\":\"/m\"},"
             " {\"op\":\"remove\",\"path\":\"/l/1\"},"
             " {\"op\":\"replace\",\"path\":\"/m/0\",\"value\":\"z\"},"
             " {\"op\":\"test\",\"path\":\"/m\",\"value\":[\"z\",\"c\",\"a\"]}]",
             "{\"l\":[\"b\",\"a\"],\"m\":[\"z\",\"c\",\"a\"]}");
}

/* pointers, escaping and "-" */

Test(paths, tilde_escapes)
{
    check_ok("{\"a/b\":1,\"m~n\":2}",
             "[{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":10},"
             " {\"op\":\"remove\",\"path\":\"/m~0n\"},"
             " {\"op\":\"add\",\"path\":\"/~0~1\",\"value\":3}]",
             "{\"a/b\":10,\"~/\":3}");
    check_ok("{\"~1\":{\"x\":1}}", "[{\"op\":\"move\",\"from\":\"/~01/x\",\"path\":\"/~1\"}]",
             "{\"~1\":{},\"/\":1}");
}

Test(paths, dash_appends_for_add_move_copy)
{
    check_ok("[1,2]", "[{\"op\":\"add\",\"path\":\"/-\",\"value\":3}]", "[1,2,3]");
    check_ok("{\"a\":[1],\"b\":[]}", "[{\"op\":\"move\",\"from\":\"/a/0\",\"path\":\"/b/-\"}]",
             "{\"a\":[],\"b\":[1]}");
    check_ok("{\"a\":[1],\"b\":[2]}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b/-\"}]",
             "{\"a\":[1],\"b\":[2,[1]]}");
    check_ok("[1,2]", "[{\"op\":\"move\",\"from\":\"/0\",\"path\":\"/-\"}]", "[2,1]");
}

Test(paths, dash_is_a_member_name_in_objects)
{
    check_ok("{}", "[{\"op\":\"add\",\"path\":\"/-\",\"value\":1}]", "{\"-\":1}");
    check_ok("{\"-\":1}", "[{\"op\":\"remove\",\"path\":\"/-\"}]", "{}");
}

Test(paths, dash_invalid_for_remove_replace_test_and_from)
{
    check_fail("[1]", "[{\"op\":\"remove\",\"path\":\"/-\"}]", ERR_UNPROCESSABLE, "path-not-found",
               "/0/path");
    check_fail("[1]", "[{\"op\":\"replace\",\"path\":\"/-\",\"value\":2}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1]", "[{\"op\":\"test\",\"path\":\"/-\",\"value\":1}]", ERR_CONFLICT,
               "test-failed", "/0/path");
    check_fail("[1]", "[{\"op\":\"move\",\"from\":\"/-\",\"path\":\"/0\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/from");
    check_fail("[1]", "[{\"op\":\"copy\",\"from\":\"/-\",\"path\":\"/0\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/from");
}

Test(paths, array_index_rules)
{
    check_ok("[1,2]", "[{\"op\":\"add\",\"path\":\"/2\",\"value\":3}]", "[1,2,3]");
    check_ok("[1,2]", "[{\"op\":\"add\",\"path\":\"/0\",\"value\":0}]", "[0,1,2]");
    check_ok("[]", "[{\"op\":\"add\",\"path\":\"/0\",\"value\":0}]", "[0]");
    check_fail("[1,2]", "[{\"op\":\"add\",\"path\":\"/3\",\"value\":3}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"remove\",\"path\":\"/2\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"replace\",\"path\":\"/2\",\"value\":0}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"add\",\"path\":\"/01\",\"value\":3}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"remove\",\"path\":\"/00\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"add\",\"path\":\"/x\",\"value\":3}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"add\",\"path\":\"/-1\",\"value\":3}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/path");
    check_fail("[1,2]", "[{\"op\":\"test\",\"path\":\"/01\",\"value\":2}]", ERR_CONFLICT,
               "test-failed", "/0/path");
}

Test(paths, index_error_detail)
{
    char *d = fail_detail("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/5\",\"value\":3}]");

    cr_assert_str_eq(d, "/l/5: index 5 is out of range for an array of 2 elements");
    free(d);
    d = fail_detail("{\"s\":\"x\"}", "[{\"op\":\"add\",\"path\":\"/s/a\",\"value\":3}]");
    cr_assert_str_eq(d, "parent of /s/a is a string, not an object or array");
    free(d);
    d = fail_detail("{\"s\":null}", "[{\"op\":\"add\",\"path\":\"/s/a\",\"value\":3}]");
    cr_assert_str_eq(d, "parent of /s/a is null, not an object or array");
    free(d);
    d = fail_detail("{\"a\":{}}", "[{\"op\":\"remove\",\"path\":\"/a/b\"}]");
    cr_assert_str_eq(d, "/a/b does not exist");
    free(d);
}

Test(paths, long_path_is_clipped_in_detail)
{
    char *name = xcalloc(1, 1001), *patch, *d;

    memset(name, 'x', 1000);
    patch = xasprintf("[{\"op\":\"remove\",\"path\":\"/%s/y\"}]", name);
    d = fail_detail("{}", patch);
    cr_assert(strstr(d, "...") != NULL, "%s", d);
    cr_assert(strlen(d) < 300);
    free(d);
    free(patch);
    free(name);
}

/* the whole document */

Test(root, add_and_replace_replace_the_document)
{
    check_ok("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1,2]}]", "[1,2]");
    check_ok("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":null}]", "null");
    check_ok("null", "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"x\":1}}]", "{\"x\":1}");
    check_ok("[1]", "[{\"op\":\"test\",\"path\":\"\",\"value\":[1.0]}]", "[1]");
}

Test(root, remove_root_is_unprocessable)
{
    check_fail("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", ERR_UNPROCESSABLE,
               "unprocessable", "/0/path");
}

Test(root, move_and_copy_involving_root)
{
    check_ok("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"\"}]", "{\"b\":1}");
    check_ok("{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"\"}]", "{\"b\":1}");
    check_ok("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"\",\"path\":\"/b\"}]",
             "{\"a\":1,\"b\":{\"a\":1}}");
    check_ok("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"\",\"path\":\"\"}]", "{\"a\":1}");
    check_fail("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"\",\"path\":\"/b\"}]", ERR_BAD_REQUEST,
               "bad-request", "/0/from");
}

/* move details */

Test(move, into_own_child_is_bad_request)
{
    check_fail("{\"a\":{\"b\":{}}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]",
               ERR_BAD_REQUEST, "bad-request", "/0/from");
    /* "/a" is a prefix of "/ab" as text but not as a pointer. */
    check_ok("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/ab\"}]", "{\"ab\":1}");
}

Test(move, onto_an_existing_member_restores_it)
{
    check_ok("{\"a\":1,\"b\":2}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]",
             "{\"b\":1}");
    check_ok("{\"a\":[1,{\"x\":2}]}", "[{\"op\":\"move\",\"from\":\"/a/1/x\",\"path\":\"/a\"}]",
             "{\"a\":2}");
    check_ok("{\"a\":{\"b\":{\"c\":1}}}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/a\"}]",
             "{\"a\":{\"c\":1}}");
}

Test(move, to_an_ancestor_array_slot)
{
    check_ok("{\"l\":[{\"x\":1},2]}", "[{\"op\":\"move\",\"from\":\"/l/0/x\",\"path\":\"/l/0\"}]",
             "{\"l\":[1,{},2]}");
}

Test(move, same_place_is_a_no_op)
{
    check_ok("{\"a\":1,\"b\":2}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]",
             "{\"a\":1,\"b\":2}");
    check_fail("{}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", ERR_UNPROCESSABLE,
               "path-not-found", "/0/from");
}

Test(move, missing_target_parent_keeps_document)
{
    check_fail("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/x/y\"}]",
               ERR_UNPROCESSABLE, "path-not-found", "/0/path");
}

Test(copy, deep_copies_the_value)
{
    json_object *d = J("{\"a\":{\"b\":1}}");
    json_object *p = J("[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
                       " {\"op\":\"replace\",\"path\":\"/c/b\",\"value\":2}]");

    cr_assert_eq(patch_apply(&d, p, NULL, NULL), ERR_OK);
    cr_assert_str_eq(jsonp_str(d), "{\"a\":{\"b\":1},\"c\":{\"b\":2}}");
    json_object_put(d);
    json_object_put(p);
}

Test(copy, onto_an_existing_member)
{
    check_ok("{\"a\":1,\"b\":[2]}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]",
             "{\"a\":1,\"b\":1}");
    check_ok("{\"a\":[1,2]}", "[{\"op\":\"copy\",\"from\":\"/a/1\",\"path\":\"/a/0\"}]",
             "{\"a\":[2,1,2]}");
}

/* the patch document itself */

Test(shape, patch_must_be_an_array_of_objects)
{
    check_fail("{}", "{\"op\":\"add\"}", ERR_BAD_REQUEST, "bad-request", "");
    check_fail("{}", "[{\"op\":\"test\",\"path\":\"\",\"value\":{}}, 1]", ERR_BAD_REQUEST,
               "bad-request", "/1");
    check_ok("{\"a\":1}", "[]", "{\"a\":1}");
}

Test(shape, op_member)
{
    check_fail("{}", "[{\"path\":\"/a\",\"value\":1}]", ERR_BAD_REQUEST, "bad-request", "/0/op");
    check_fail("{}", "[{\"op\":1,\"path\":\"/a\",\"value\":1}]", ERR_BAD_REQUEST, "bad-request",
               "/0/op");
    check_fail("{}", "[{\"op\":\"ADD\",\"path\":\"/a\",\"value\":1}]", ERR_BAD_REQUEST,
               "bad-request", "/0/op");
    check_fail("{}",
               "[{\"op\":\"test\",\"path\":\"\",\"value\":{}},"
               " {\"op\":\"insert\",\"path\":\"/a\",\"value\":1}]",
               ERR_BAD_REQUEST, "bad-request", "/1/op");
}

Test(shape, path_and_from_members)
{
    check_fail("{}", "[{\"op\":\"add\",\"value\":1}]", ERR_BAD_REQUEST, "bad-request", "/0/path");
    check_fail("{}", "[{\"op\":\"add\",\"path\":5,\"value\":1}]", ERR_BAD_REQUEST, "bad-request",
               "/0/path");
    check_fail("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", ERR_BAD_REQUEST,
               "bad-request", "/0/path");
    check_fail("{}", "[{\"op\":\"add\",\"path\":\"/~2\",\"value\":1}]", ERR_BAD_REQUEST,
               "bad-request", "/0/path");
    check_fail("{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/b\"}]", ERR_BAD_REQUEST, "bad-request",
               "/0/from");
    check_fail("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"x\",\"path\":\"/b\"}]", ERR_BAD_REQUEST,
               "bad-request", "/0/from");
}

Test(shape, value_member)
{
    check_fail("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", ERR_BAD_REQUEST, "bad-request",
               "/0/value");
    check_fail("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\"}]", ERR_BAD_REQUEST,
               "bad-request", "/0/value");
    check_fail("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\"}]", ERR_BAD_REQUEST, "bad-request",
               "/0/value");
    check_fail("{}", "[{\"op\":\"create\",\"path\":\"/a\"}]", ERR_BAD_REQUEST, "bad-request",
               "/0/value");
    /* A null value is present. */
    check_ok("{}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}");
    /* remove ignores a value it does not define (RFC 6902 section 4). */
    check_ok("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/a\",\"value\":7,\"from\":3}]", "{}");
}

Test(test_op, numbers_by_value_and_missing_paths)
{
    check_ok("{\"n\":1}", "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0}]", "{\"n\":1}");
    check_ok("{\"o\":{\"a\":1,\"b\":2}}",
             "[{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"b\":2,\"a\":1}}]",
             "{\"o\":{\"a\":1,\"b\":2}}");
    check_ok("{\"n\":null}", "[{\"op\":\"test\",\"path\":\"/n\",\"value\":null}]", "{\"n\":null}");
    check_fail("{\"n\":null}", "[{\"op\":\"test\",\"path\":\"/m\",\"value\":null}]", ERR_CONFLICT,
               "test-failed", "/0/path");
    check_fail("{\"l\":[1,2]}", "[{\"op\":\"test\",\"path\":\"/l\",\"value\":[2,1]}]", ERR_CONFLICT,
               "test-failed", "/0/value");
}

Test(values, inserted_values_are_copies_of_the_patch)
{
    json_object *d = J("{}"), *p = J("[{\"op\":\"add\",\"path\":\"/a\",\"value\":{\"k\":[1]}}]");

    cr_assert_eq(patch_apply(&d, p, NULL, NULL), ERR_OK);
    json_object_put(p);
    cr_assert_str_eq(jsonp_str(d), "{\"a\":{\"k\":[1]}}");
    json_object_put(d);
}

Test(values, big_numbers_survive_patch_and_inverse)
{
    check_ok("{\"n\":123456789012345678901234567890}",
             "[{\"op\":\"replace\",\"path\":\"/n\",\"value\":1.50},"
             " {\"op\":\"add\",\"path\":\"/m\",\"value\":1E+2}]",
             "{\"n\":1.50,\"m\":1E+2}");
}

/*
 * The random property: for any document and any valid operations, applying the
 * patch and then its inverse gives back the original, exactly.
 */

static uint64_t rng_state;

static uint32_t
rng(uint32_t n)
{
    /* xorshift64*: fixed seed, the same sequence on every run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static const char *const names[] = {"a", "b", "c", "~", "/", "x~1", "-", "0", ""};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static json_object *
random_value(int depth)
{
    uint32_t kind = rng(depth > 0 ? 9 : 6);
    json_object *v;
    uint32_t n, i;

    switch (kind) {
    case 0:
        return NULL;
    case 1:
        return json_object_new_boolean((json_bool)rng(2));
    case 2:
        return json_object_new_int64((int64_t)rng(7) - 3);
    case 3:
        return json_object_new_double_s(1.5, "1.50");
    case 4:
        return json_object_new_string(names[rng(NNAMES)]);
    case 5:
        return json_object_new_int64(INT64_MIN);
    case 6:
    case 7:
        v = json_object_new_object();
        n = rng(4);
        for (i = 0; i < n; i++)
            json_object_object_add(v, names[rng(NNAMES)], random_value(depth - 1));
        return v;
    default:
        v = json_object_new_array();
        n = rng(4);
        for (i = 0; i < n; i++)
            json_object_array_add(v, random_value(depth - 1));
        return v;
    }
}

struct paths {
    char **p;
    size_t n;
};

static void
paths_add(struct paths *ps, char *p)
{
    ps->p = xrealloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
    ps->p[ps->n++] = p;
}

static void
paths_free(struct paths *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++)
        free(ps->p[i]);
    free(ps->p);
    ps->p = NULL;
    ps->n = 0;
}

/* Every value's pointer, and every place a new value could go (the insert targets). */
static void
collect(json_object *v, const char *at, struct paths *values, struct paths *targets)
{
    size_t i, n;

    paths_add(values, xstrdup(at));
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, name, member)
        {
            char *p = ptr_join(at, name);
            collect(member, p, values, targets);
            paths_add(targets, p);
        }
        for (i = 0; i < 2; i++)
            paths_add(targets, ptr_join(at, names[rng(NNAMES)]));
    } else if (json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            char *p = ptr_join_index(at, i);
            collect(json_object_array_get_idx(v, i), p, values, targets);
            free(p);
        }
        for (i = 0; i <= n; i++)
            paths_add(targets, ptr_join_index(at, i));
        paths_add(targets, ptr_join(at, "-"));
    }
}

static int
is_proper_prefix(const char *a, const char *b)
{
    size_t n = strlen(a);

    return strlen(b) > n && strncmp(a, b, n) == 0 && b[n] == '/';
}

static json_object *
make_op(const char *op, const char *from, const char *path, json_object *value, int has_value)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "op", json_object_new_string(op));
    if (from != NULL)
        json_object_object_add(o, "from", json_object_new_string(from));
    json_object_object_add(o, "path", json_object_new_string(path));
    if (has_value)
        json_object_object_add(o, "value", value);
    return o;
}

/* One valid operation against `doc`, or NULL when the draw gave none. */
static json_object *
random_op(json_object *doc)
{
    struct paths values = {0}, targets = {0};
    json_object *op = NULL, *v;
    const char *a, *b;
    struct ptr p;

    collect(doc, "", &values, &targets);
    paths_add(&targets, xstrdup(""));
    a = values.p[rng((uint32_t)values.n)];
    b = targets.p[rng((uint32_t)targets.n)];
    switch (rng(7)) {
    case 0:
        op = make_op("add", NULL, b, random_value(2), 1);
        break;
    case 1:
        if (*a != '\0')
            op = make_op("remove", NULL, a, NULL, 0);
        break;
    case 2:
        op = make_op("replace", NULL, a, random_value(2), 1);
        break;
    case 3:
        if (*a != '\0' && !is_proper_prefix(a, b))
            op = make_op("move", a, b, NULL, 0);
        break;
    case 4:
        op = make_op("copy", a, b, NULL, 0);
        break;
    case 5:
        cr_assert_eq(ptr_parse(a, &p, NULL), ERR_OK);
        cr_assert(ptr_resolve(doc, &p, p.n, &v));
        ptr_free(&p);
        op = make_op("test", NULL, a, jsonp_copy(v), 1);
        break;
    default:
        /* create: only where nothing is, or into an array. */
        cr_assert_eq(ptr_parse(b, &p, NULL), ERR_OK);
        if (p.n > 0 && !ptr_resolve(doc, &p, p.n, &v))
            op = make_op("create", NULL, b, random_value(1), 1);
        else if (p.n > 0 && ptr_resolve(doc, &p, p.n - 1, &v) &&
                 json_object_is_type(v, json_type_array))
            op = make_op("create", NULL, b, random_value(1), 1);
        ptr_free(&p);
        break;
    }
    paths_free(&values);
    paths_free(&targets);
    return op;
}

Test(property, inverse_restores_original, .timeout = 120)
{
    struct err err = {0};
    int iter, k, nops, total = 0, skipped = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (iter = 0; iter < 4000; iter++) {
        json_object *doc = random_value(3), *orig = jsonp_copy(doc), *scratch = jsonp_copy(doc);
        json_object *patch = json_object_new_array(), *inv = NULL;
        char *before = jsonp_canonical(doc), *after;

        /* Build the patch op by op against a scratch document, so every op is valid. */
        nops = 1 + (int)rng(4);
        for (k = 0; k < nops; k++) {
            json_object *op = random_op(scratch), *one = json_object_new_array();
            enum err_code rc;
            if (op == NULL) {
                json_object_put(one);
                continue;
            }
            json_object_array_add(one, json_object_get(op));
            rc = patch_apply(&scratch, one, NULL, &err);
            /*
             * A move target drawn before the removal may be one past the end after it,
             * which RFC 6902 section 4.4 makes an error; such a draw is skipped.
             */
            if (rc != ERR_OK) {
                cr_assert_eq(rc, ERR_UNPROCESSABLE, "%s on %s: %s", jsonp_str(one),
                             jsonp_str(scratch), err.detail);
                cr_assert_str_eq(json_object_get_string(json_object_object_get(op, "op")), "move",
                                 "%s on %s: %s", jsonp_str(one), jsonp_str(scratch), err.detail);
                skipped++;
            } else {
                json_object_array_add(patch, json_object_get(op));
                total++;
            }
            json_object_put(op);
            json_object_put(one);
        }
        cr_assert_eq(patch_apply(&doc, patch, &inv, &err), ERR_OK, "%s: %s", jsonp_str(patch),
                     err.detail);
        assert_same(doc, scratch, "whole patch equals the ops one by one");
        apply_inverse(&doc, inv);
        after = jsonp_canonical(doc);
        cr_assert_str_eq(after, before, "patch %s, inverse %s", jsonp_str(patch), jsonp_str(inv));
        cr_assert(jsonp_equal(doc, orig));
        free(before);
        free(after);
        json_object_put(doc);
        json_object_put(orig);
        json_object_put(scratch);
        json_object_put(patch);
        json_object_put(inv);
    }
    cr_log_info("%d operations applied and inverted, %d move draws skipped", total, skipped);
    cr_assert_gt(total, 5000);
    cr_assert_lt(skipped, total / 10);
}

/* RFC 7396 section 2, written plainly, as the reference for the random merge check. */
static json_object *
merge_reference(json_object *target, json_object *patch)
{
    json_object *r;

    if (!json_object_is_type(patch, json_type_object)) {
        json_object_put(target);
        return jsonp_copy(patch);
    }
    if (!json_object_is_type(target, json_type_object)) {
        json_object_put(target);
        target = json_object_new_object();
    }
    json_object_object_foreach(patch, name, v)
    {
        if (v == NULL) {
            json_object_object_del(target, name);
        } else {
            json_object *cur = NULL;
            json_object_object_get_ex(target, name, &cur);
            r = merge_reference(json_object_get(cur), v);
            json_object_object_add(target, name, r);
        }
    }
    return target;
}

Test(property, merge_matches_rfc7396_and_inverts, .timeout = 120)
{
    struct err err = {0};
    int iter;

    rng_state = 0x0123456789abcdefULL;
    for (iter = 0; iter < 3000; iter++) {
        json_object *doc = random_value(3), *merge = random_value(3);
        json_object *want = merge_reference(jsonp_copy(doc), merge);
        json_object *fwd = NULL, *inv = NULL;
        char *before = jsonp_canonical(doc), *after;

        cr_assert_eq(patch_merge(&doc, merge, &fwd, &inv, &err), ERR_OK, "%s", err.detail);
        assert_same(doc, want, "merge result");
        apply_inverse(&doc, inv);
        after = jsonp_canonical(doc);
        cr_assert_str_eq(after, before, "merge %s, inverse %s", jsonp_str(merge), jsonp_str(inv));
        free(before);
        free(after);
        json_object_put(doc);
        json_object_put(merge);
        json_object_put(want);
        json_object_put(fwd);
        json_object_put(inv);
    }
}
