/*
 * test_ptr.c: JSON Pointer parsing, resolution and escaping, checked against the
 * examples of RFC 6901 section 5.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/ptr.h"

/* The example document of RFC 6901 section 5. */
static const char rfc_doc[] = "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
                              "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, "
                              "\" \": 7, \"m~n\": 8}";

static json_object *
parse(const char *s)
{
    struct err err = {0};
    json_object *v = NULL;

    cr_assert_eq(jsonp_parse(s, strlen(s), NULL, &v, &err), ERR_OK, "%s", err.detail);
    return v;
}

/* Resolves `pointer` fully against `doc`; asserts success; returns a borrowed value. */
static json_object *
resolve(json_object *doc, const char *pointer)
{
    struct err err = {0};
    struct ptr p;
    json_object *v = NULL;

    cr_assert_eq(ptr_parse(pointer, &p, &err), ERR_OK, "%s: %s", pointer, err.detail);
    cr_assert(ptr_resolve(doc, &p, p.n, &v), "%s did not resolve", pointer);
    ptr_free(&p);
    return v;
}

static int
resolves(json_object *doc, const char *pointer)
{
    struct ptr p;
    json_object *v;
    int r;

    cr_assert_eq(ptr_parse(pointer, &p, NULL), ERR_OK, "%s", pointer);
    r = ptr_resolve(doc, &p, p.n, &v);
    ptr_free(&p);
    return r;
}

static void
expect_int(json_object *doc, const char *pointer, int64_t want)
{
    json_object *v = resolve(doc, pointer);

    cr_assert(json_object_is_type(v, json_type_int), "%s", pointer);
    cr_assert_eq(json_object_get_int64(v), want, "%s", pointer);
}

Test(ptr, rfc6901_section5_examples)
{
    json_object *doc = parse(rfc_doc);

    cr_assert_eq(resolve(doc, ""), doc);
    cr_assert_str_eq(jsonp_str(resolve(doc, "/foo")), "[\"bar\",\"baz\"]");
    cr_assert_str_eq(json_object_get_string(resolve(doc, "/foo/0")), "bar");
    expect_int(doc, "/", 0);
    expect_int(doc, "/a~1b", 1);
    expect_int(doc, "/c%d", 2);
    expect_int(doc, "/e^f", 3);
    expect_int(doc, "/g|h", 4);
    expect_int(doc, "/i\\j", 5);
    expect_int(doc, "/k\"l", 6);
    expect_int(doc, "/ ", 7);
    expect_int(doc, "/m~0n", 8);
    json_object_put(doc);
}

Test(ptr, parse_unescapes_tokens)
{
    struct ptr p;

    cr_assert_eq(ptr_parse("/a~1b/m~0n/~01/~10//", &p, NULL), ERR_OK);
    cr_assert_eq(p.n, 6);
    cr_assert_str_eq(p.tok[0], "a/b");
    cr_assert_str_eq(p.tok[1], "m~n");
    /* RFC 6901 section 4: "~01" is "~1"; turning ~0 into ~ first would wrongly give "/". */
    cr_assert_str_eq(p.tok[2], "~1");
    cr_assert_str_eq(p.tok[3], "/0");
    cr_assert_str_eq(p.tok[4], "");
    cr_assert_str_eq(p.tok[5], "");
    ptr_free(&p);
    cr_assert_eq(ptr_parse("", &p, NULL), ERR_OK);
    cr_assert_eq(p.n, 0);
    ptr_free(&p);
}

Test(ptr, invalid_pointers_rejected)
{
    static const char *const bad[] = {"a",   "foo/bar", "#/foo", "/~",
                                      "/~2", "/a~",     "/~a/b", "/x/~/y"};
    struct err err = {0};
    struct ptr p;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(ptr_parse(bad[i], &p, &err), ERR_BAD_REQUEST, "accepted %s", bad[i]);
        cr_assert_eq(p.n, 0);
        cr_assert(strlen(err.detail) > 0);
        ptr_free(&p);
    }
}

Test(ptr, array_index_syntax)
{
    size_t idx = 99;

    cr_assert(ptr_index("0", &idx));
    cr_assert_eq(idx, 0);
    cr_assert(ptr_index("10", &idx));
    cr_assert_eq(idx, 10);
    cr_assert(ptr_index("18446744073709551615", &idx));
    cr_assert_eq(idx, SIZE_MAX);
    cr_assert_not(ptr_index("18446744073709551616", &idx));
    cr_assert_not(ptr_index("01", &idx));
    cr_assert_not(ptr_index("00", &idx));
    cr_assert_not(ptr_index("-", &idx));
    cr_assert_not(ptr_index("", &idx));
    cr_assert_not(ptr_index("-1", &idx));
    cr_assert_not(ptr_index("+1", &idx));
    cr_assert_not(ptr_index("1a", &idx));
    cr_assert_not(ptr_index(" 1", &idx));
}

Test(ptr, unresolvable_pointers)
{
    json_object *doc = parse("{\"a\":[10,{\"b\":null}],\"s\":\"str\",\"n\":null}");

    cr_assert(resolves(doc, "/a/1/b"));
    cr_assert_null(resolve(doc, "/a/1/b"));
    cr_assert_null(resolve(doc, "/n"));
    cr_assert_not(resolves(doc, "/x"));
    cr_assert_not(resolves(doc, "/a/2"));
    cr_assert_not(resolves(doc, "/a/-"));
    cr_assert_not(resolves(doc, "/a/01"));
    cr_assert_not(resolves(doc, "/a/x"));
    cr_assert_not(resolves(doc, "/s/0"));
    cr_assert_not(resolves(doc, "/n/x"));
    cr_assert_not(resolves(doc, "/a/1/b/c"));
    cr_assert_not(resolves(doc, "/a/0/0"));
    json_object_put(doc);
}

Test(ptr, object_members_named_like_indices)
{
    json_object *doc = parse("{\"01\":1,\"-\":2,\"0\":3}");

    expect_int(doc, "/01", 1);
    expect_int(doc, "/-", 2);
    expect_int(doc, "/0", 3);
    json_object_put(doc);
}

Test(ptr, resolve_prefix_depth)
{
    json_object *doc = parse("{\"a\":{\"b\":[1,2]}}");
    json_object *v = NULL;
    struct ptr p;

    cr_assert_eq(ptr_parse("/a/b/1", &p, NULL), ERR_OK);
    cr_assert(ptr_resolve(doc, &p, 0, &v));
    cr_assert_eq(v, doc);
    cr_assert(ptr_resolve(doc, &p, 2, &v));
    cr_assert_str_eq(jsonp_str(v), "[1,2]");
    cr_assert(ptr_resolve(doc, &p, 3, &v));
    cr_assert_eq(json_object_get_int(v), 2);
    ptr_free(&p);
    json_object_put(doc);
}

Test(ptr, join_escapes_tokens)
{
    char *s = ptr_join("/a", "b/c~d");

    cr_assert_str_eq(s, "/a/b~1c~0d");
    free(s);
    s = ptr_join("", "");
    cr_assert_str_eq(s, "/");
    free(s);
    s = ptr_join("", "~1");
    cr_assert_str_eq(s, "/~01");
    free(s);
    s = ptr_join_index("/list", 12);
    cr_assert_str_eq(s, "/list/12");
    free(s);
    s = ptr_join_index("", 0);
    cr_assert_str_eq(s, "/0");
    free(s);
}

Test(ptr, join_then_parse_roundtrips)
{
    static const char *const names[] = {"", "~", "/", "~0", "~1", "a/b~c", "//~~"};
    struct ptr p;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *s = ptr_join("/x", names[i]);
        cr_assert_eq(ptr_parse(s, &p, NULL), ERR_OK, "%s", s);
        cr_assert_eq(p.n, 2);
        cr_assert_str_eq(p.tok[1], names[i]);
        ptr_free(&p);
        free(s);
    }
}

Test(ptr, free_accepts_null_and_zeroed)
{
    struct ptr p = {0};

    ptr_free(NULL);
    ptr_free(&p);
    ptr_free(&p);
}
