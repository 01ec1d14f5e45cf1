/*
 * test_jsonp.c: the strict JSON reader against valid and hostile input, and the
 * shared helpers (serialisation, canonical form, equality, copy).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "base/xalloc.h"

static json_object *
parse_ok_len(const char *s, size_t len, const struct jsonp_limits *lim)
{
    struct err err = {0};
    json_object *v = NULL;
    enum err_code rc = jsonp_parse(s, len, lim, &v, &err);

    cr_assert_eq(rc, ERR_OK, "parse failed: %s", err.detail);
    return v;
}

static json_object *
parse_ok(const char *s)
{
    return parse_ok_len(s, strlen(s), NULL);
}

static json_object *
parse_ok_lim(const char *s, const struct jsonp_limits *lim)
{
    return parse_ok_len(s, strlen(s), lim);
}

/* Asserts a 400 whose detail contains `want`, and that nothing was returned. */
static void
parse_bad_len(const char *s, size_t len, const struct jsonp_limits *lim, const char *want)
{
    struct err err = {0};
    json_object *v = (json_object *)&err; /* must be reset to NULL */
    enum err_code rc = jsonp_parse(s, len, lim, &v, &err);

    cr_assert_eq(rc, ERR_BAD_REQUEST, "accepted %.*s", (int)len, s);
    cr_assert_null(v);
    cr_assert_eq(err.code, ERR_BAD_REQUEST);
    cr_assert(strstr(err.detail, want) != NULL, "detail \"%s\" lacks \"%s\"", err.detail, want);
    cr_assert(strncmp(err.detail, "invalid JSON at byte ", 21) == 0, "%s", err.detail);
    err_clear(&err);
}

static void
parse_bad(const char *s, const char *want)
{
    parse_bad_len(s, strlen(s), NULL, want);
}

static void
parse_bad_lim(const char *s, const struct jsonp_limits *lim, const char *want)
{
    parse_bad_len(s, strlen(s), lim, want);
}

/* jsonp_write's text for `v`, which must be json-c's (jsonp_str) byte for byte. */
static void
assert_write_matches(json_object *v)
{
    struct sbuf b;

    sbuf_init(&b);
    sbuf_adds(&b, "<");
    jsonp_write(&b, v);
    cr_assert_str_eq(b.data + 1, jsonp_str(v));
    sbuf_free(&b);
}

/* Parses and serialises back, compactly, both ways. */
static void
roundtrip(const char *in, const char *out)
{
    json_object *v = parse_ok(in);

    cr_assert_str_eq(jsonp_str(v), out);
    assert_write_matches(v);
    json_object_put(v);
}

/* A string of `n` copies of `unit`, then `tail`. */
static char *
repeat(const char *unit, size_t n, const char *tail)
{
    struct sbuf b;
    size_t i;

    sbuf_init(&b);
    for (i = 0; i < n; i++)
        sbuf_adds(&b, unit);
    sbuf_adds(&b, tail);
    return b.data;
}

Test(jsonp, scalars_of_every_type)
{
    json_object *v;

    v = parse_ok("\"hi\"");
    cr_assert(json_object_is_type(v, json_type_string));
    cr_assert_str_eq(json_object_get_string(v), "hi");
    json_object_put(v);
    v = parse_ok("42");
    cr_assert(json_object_is_type(v, json_type_int));
    cr_assert_eq(json_object_get_int64(v), 42);
    json_object_put(v);
    v = parse_ok("-1.5");
    cr_assert(json_object_is_type(v, json_type_double));
    cr_assert_float_eq(json_object_get_double(v), -1.5, 1e-12);
    json_object_put(v);
    v = parse_ok("true");
    cr_assert(json_object_get_boolean(v));
    json_object_put(v);
    v = parse_ok("false");
    cr_assert(json_object_is_type(v, json_type_boolean));
    cr_assert_not(json_object_get_boolean(v));
    json_object_put(v);
    cr_assert_null(parse_ok("null"));
    cr_assert_null(parse_ok(" \t\r\n null \n"));
}

Test(jsonp, containers_keep_member_order)
{
    roundtrip("{\"z\":1,\"a\":[true,false,null,{}],\"m\":{\"y\":[],\"b\":\"x\"}}",
              "{\"z\":1,\"a\":[true,false,null,{}],\"m\":{\"y\":[],\"b\":\"x\"}}");
    roundtrip(" [ 1 , [ ] , { } , \"\" ] ", "[1,[],{},\"\"]");
    roundtrip("{}", "{}");
    roundtrip("[]", "[]");
    roundtrip("[null]", "[null]");
    roundtrip("{\"\":null}", "{\"\":null}");
}

Test(jsonp, string_escapes)
{
    json_object *v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\"");

    cr_assert_str_eq(json_object_get_string(v), "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac");
    json_object_put(v);
}

Test(jsonp, surrogate_pair_is_combined)
{
    json_object *v = parse_ok("\"\\ud834\\udd1e\"");

    cr_assert_str_eq(json_object_get_string(v), "\xf0\x9d\x84\x9e");
    json_object_put(v);
}

Test(jsonp, raw_utf8_accepted)
{
    json_object *v =
        parse_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");

    cr_assert_eq(json_object_get_string_len(v), 16);
    json_object_put(v);
}

Test(jsonp, invalid_utf8_rejected)
{
    parse_bad("\"\xc0\x80\"", "invalid UTF-8 byte 0xc0");         /* overlong NUL */
    parse_bad("\"\xc1\xbf\"", "invalid UTF-8 byte 0xc1");         /* overlong 2-byte */
    parse_bad("\"\xe0\x80\xaf\"", "invalid UTF-8 byte 0xe0");     /* overlong 3-byte */
    parse_bad("\"\xf0\x80\x80\xaf\"", "invalid UTF-8 byte 0xf0"); /* overlong 4-byte */
    parse_bad("\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xed");     /* U+D800 encoded */
    parse_bad("\"\xed\xbf\xbf\"", "invalid UTF-8 byte 0xed");     /* U+DFFF encoded */
    parse_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8 byte 0xf4"); /* U+110000 */
    parse_bad("\"\xf5\x80\x80\x80\"", "invalid UTF-8 byte 0xf5");
    parse_bad("\"\xff\"", "invalid UTF-8 byte 0xff");
    parse_bad("\"\x80\"", "invalid UTF-8 byte 0x80");       /* lone continuation */
    parse_bad("\"\xe2\x82\"", "invalid UTF-8 byte 0xe2");   /* truncated before the quote */
    parse_bad("\"\xe2\x82", "invalid UTF-8 byte 0xe2");     /* truncated at end of input */
    parse_bad("\"\xf0\x9d\x84", "invalid UTF-8 byte 0xf0"); /* truncated 4-byte */
    parse_bad("\"a\xc3(\"", "invalid UTF-8 byte 0xc3");     /* bad continuation */
}

Test(jsonp, invalid_utf8_in_member_name_rejected)
{
    parse_bad("{\"\xc3\":1}", "at byte 2: invalid UTF-8 byte 0xc3");
}

Test(jsonp, non_ascii_outside_strings_is_hex_escaped)
{
    parse_bad("\xef\xbb\xbf{}", "at byte 0: unexpected byte 0xef"); /* a BOM */
    parse_bad("[1,\xc3\xa9]", "at byte 3: unexpected byte 0xc3");
}

Test(jsonp, nul_bytes_rejected)
{
    parse_bad_len("\"a\0b\"", 5, NULL, "at byte 2: NUL byte in string");
    parse_bad_len("[1,\0]", 5, NULL, "at byte 3: NUL byte");
    parse_bad_len("{}\0", 3, NULL, "at byte 2: NUL byte");
    parse_bad_len("\0", 1, NULL, "at byte 0: NUL byte");
}

Test(jsonp, escaped_nul_rejected)
{
    parse_bad("\"a\\u0000\"", "at byte 2: \\u0000 is not allowed");
    parse_bad("{\"\\u0000\":1}", "\\u0000 is not allowed");
}

Test(jsonp, lone_surrogate_escapes_rejected)
{
    parse_bad("\"\\ud800\"", "unpaired high surrogate \\ud800");
    parse_bad("\"\\udbff x\"", "unpaired high surrogate");
    parse_bad("\"\\ud800\\u0041\"", "unpaired high surrogate");
    parse_bad("\"\\ud800\\ud800\"", "unpaired high surrogate");
    parse_bad("\"\\udc00\"", "unpaired low surrogate \\udc00");
    parse_bad("\"\\udfff\\ud800\"", "unpaired low surrogate");
    parse_bad("\"\\ud800", "unpaired high surrogate");
}

Test(jsonp, bad_escapes_rejected)
{
    parse_bad("\"\\x\"", "at byte 1: invalid escape sequence");
    parse_bad("\"\\u12\"", "\\u must be followed by 4 hex digits");
    parse_bad("\"\\u12g4\"", "\\u must be followed by 4 hex digits");
    parse_bad("\"\\", "unterminated string");
    parse_bad("\"abc", "at byte 0: unterminated string");
}

Test(jsonp, raw_control_characters_rejected)
{
    parse_bad("\"a\nb\"", "at byte 2: unescaped control character 0x0a");
    parse_bad("\"\x1f\"", "unescaped control character 0x1f");
}

Test(jsonp, deep_array_nesting_rejected_without_crash)
{
    char *s = repeat("[", 10000, "");

    parse_bad(s, "at byte 64: nesting deeper than 64 levels");
    free(s);
}

Test(jsonp, deep_object_nesting_rejected_without_crash)
{
    char *s = repeat("{\"a\":", 10000, "1");

    parse_bad(s, "nesting deeper than 64 levels");
    free(s);
}

Test(jsonp, deep_nesting_under_a_raised_limit_accepted)
{
    struct jsonp_limits lim = {.max_depth = 5000, .max_string = 16};
    char *open = repeat("[", 5000, "");
    char *both = repeat("]", 5000, "");
    char *s = xasprintf("%s%s", open, both);
    json_object *v = parse_ok_lim(s, &lim);

    /* Kept moderate: json-c itself releases nested arrays by recursion. */
    cr_assert(json_object_is_type(v, json_type_array));
    json_object_put(v);
    free(s);
    free(open);
    free(both);
}

Test(jsonp, depth_exactly_at_limit_accepted)
{
    char *open = repeat("[", 64, "1");
    char *s = repeat("]", 64, "");
    char *doc = xasprintf("%s%s", open, s);
    char *over = xasprintf("[%s]", doc);
    json_object *v = parse_ok(doc);

    json_object_put(v);
    parse_bad(over, "at byte 64: nesting deeper than 64 levels");
    free(open);
    free(s);
    free(doc);
    free(over);
}

Test(jsonp, custom_depth_limit)
{
    struct jsonp_limits lim = {.max_depth = 2, .max_string = 100};
    json_object *v = parse_ok_lim("{\"a\":[1]}", &lim);

    json_object_put(v);
    parse_bad_lim("{\"a\":[[]]}", &lim, "at byte 6: nesting deeper than 2 levels");
    parse_bad_lim("{\"a\":{\"b\":{}}}", &lim, "nesting deeper than 2 levels");
}

Test(jsonp, huge_exponent_rejected)
{
    parse_bad("1e400", "at byte 0: number out of range");
    parse_bad("[-1e400]", "at byte 1: number out of range");
    parse_bad("{\"a\":1.5e99999}", "at byte 5: number out of range");
}

Test(jsonp, tiny_number_kept_as_written)
{
    roundtrip("[1e-400]", "[1e-400]");
}

Test(jsonp, big_integer_kept_as_written)
{
    json_object *v = parse_ok("123456789012345678901234567890");

    cr_assert(json_object_is_type(v, json_type_double));
    cr_assert_str_eq(jsonp_str(v), "123456789012345678901234567890");
    json_object_put(v);
    roundtrip("[9223372036854775808]", "[9223372036854775808]");
    roundtrip("[-9223372036854775809]", "[-9223372036854775809]");
}

Test(jsonp, int64_limits_are_integers)
{
    json_object *v = parse_ok("-9223372036854775808");

    cr_assert(json_object_is_type(v, json_type_int));
    cr_assert_eq(json_object_get_int64(v), INT64_MIN);
    cr_assert_str_eq(jsonp_str(v), "-9223372036854775808");
    json_object_put(v);
    v = parse_ok("9223372036854775807");
    cr_assert(json_object_is_type(v, json_type_int));
    cr_assert_eq(json_object_get_int64(v), INT64_MAX);
    json_object_put(v);
}

/* 18 digits are read without strtoll, 19 and more with it: both sides of the switch */
Test(jsonp, integers_either_side_of_18_digits)
{
    static const struct {
        const char *text;
        int64_t value;
    } cases[] = {
        {"0", 0},
        {"-0", 0},
        {"7", 7},
        {"-7", -7},
        {"999999999999999999", 999999999999999999LL},
        {"-999999999999999999", -999999999999999999LL},
        {"1000000000000000000", 1000000000000000000LL},
        {"-1000000000000000000", -1000000000000000000LL},
        {"9223372036854775806", INT64_MAX - 1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *v = parse_ok(cases[i].text);

        cr_assert(json_object_is_type(v, json_type_int), "%s", cases[i].text);
        cr_assert_eq(json_object_get_int64(v), cases[i].value, "%s", cases[i].text);
        json_object_put(v);
    }
    roundtrip("[-12,0,345,-999999999999999999,1000000000000000000]",
              "[-12,0,345,-999999999999999999,1000000000000000000]");
}

Test(jsonp, fractions_and_exponents_kept_as_written)
{
    roundtrip("[1.50,1E+2,-0.0,2e-3,0.1]", "[1.50,1E+2,-0.0,2e-3,0.1]");
}

Test(jsonp, malformed_numbers_rejected)
{
    parse_bad("01", "at byte 1: unexpected character '1'");
    parse_bad("[1.]", "at byte 3: unexpected character ']'");
    parse_bad(".5", "at byte 0: unexpected character '.'");
    parse_bad("-", "at byte 1: unexpected end of input");
    parse_bad("+1", "unexpected character '+'");
    parse_bad("1e", "at byte 2: unexpected end of input");
    parse_bad("1e+", "unexpected end of input");
    parse_bad("0x10", "at byte 1: unexpected character 'x'");
    parse_bad("-a", "at byte 1: unexpected character 'a'");
    parse_bad("NaN", "unexpected character 'N'");
    parse_bad("Infinity", "unexpected character 'I'");
}

Test(jsonp, duplicate_member_names_rejected)
{
    parse_bad("{\"a\":1,\"a\":2}", "at byte 7: duplicate member name \"a\"");
    parse_bad("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate member name \"b\"");
    /* The same name spelled with an escape is the same name. */
    parse_bad("{\"a\":1,\"\\u0061\":2}", "duplicate member name \"a\"");
}

Test(jsonp, same_name_in_different_objects_accepted)
{
    roundtrip("{\"a\":{\"a\":1},\"b\":[{\"a\":2},{\"a\":3}]}",
              "{\"a\":{\"a\":1},\"b\":[{\"a\":2},{\"a\":3}]}");
}

Test(jsonp, trailing_garbage_rejected)
{
    parse_bad("{} x", "at byte 3: unexpected character 'x'");
    parse_bad("1 2", "at byte 2: unexpected character '2'");
    parse_bad("[1]]", "at byte 3: unexpected character ']'");
    parse_bad("nullx", "at byte 4: unexpected character 'x'");
    parse_bad("\"a\"\"b\"", "at byte 3");
}

Test(jsonp, empty_input_rejected)
{
    parse_bad_len("", 0, NULL, "at byte 0: unexpected end of input");
    parse_bad("   \n", "at byte 4: unexpected end of input");
}

Test(jsonp, structural_errors_name_the_byte)
{
    parse_bad("{\"a\": 1, \"b\": 2 x}", "invalid JSON at byte 16: unexpected character 'x'");
    parse_bad("{\"a\" 1}", "at byte 5: unexpected character '1'");
    parse_bad("{1:2}", "at byte 1: unexpected character '1'");
    parse_bad("{\"a\":1,}", "at byte 7: unexpected character '}'");
    parse_bad("[1,]", "at byte 3: unexpected character ']'");
    parse_bad("[1", "at byte 2: unexpected end of input");
    parse_bad("{\"a\":1", "at byte 6: unexpected end of input");
    parse_bad("[tru]", "at byte 1: unexpected character 't'");
    parse_bad("[nul", "at byte 1");
    parse_bad("'a'", "unexpected character '''");
    parse_bad("[1 2]", "at byte 3: unexpected character '2'");
}

Test(jsonp, strings_over_the_limit_rejected)
{
    struct jsonp_limits lim = {.max_depth = 8, .max_string = 4};
    json_object *v;

    v = parse_ok_lim("[\"abcd\",\"\\u00e9\\u00e9\"]", &lim);
    json_object_put(v);
    parse_bad_lim("\"abcde\"", &lim, "at byte 0: string longer than 4 bytes");
    parse_bad_lim("[\"abc\\n\\n\"]", &lim, "at byte 1: string longer than 4 bytes");
    parse_bad_lim("{\"abcde\":1}", &lim, "string longer than 4 bytes");
    /* Three 2-byte characters decode to 6 bytes. */
    parse_bad_lim("\"\\u00e9\\u00e9\\u00e9\"", &lim, "string longer than 4 bytes");
}

Test(jsonp, default_string_limit)
{
    char *ok = repeat("a", JSONP_DEFAULT_STRING, "");
    char *s = xasprintf("\"%s\"", ok);
    char *big = xasprintf("\"%sa\"", ok);
    json_object *v = parse_ok(s);

    json_object_put(v);
    parse_bad(big, "string longer than 262144 bytes");
    free(ok);
    free(s);
    free(big);
}

Test(jsonp, str_of_null_and_no_slash_escape)
{
    json_object *v = parse_ok("{\"u\":\"a/b\",\"n\":null}");

    cr_assert_str_eq(jsonp_str(NULL), "null");
    cr_assert_str_eq(jsonp_str(v), "{\"u\":\"a/b\",\"n\":null}");
    json_object_put(v);
}

Test(jsonp, write_matches_json_c_for_every_value)
{
    char bytes[129];
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    int c;

    /* every ASCII byte, NUL included, in a value and in a member name (bytes + 1, which
     * the terminator at bytes[128] ends) */
    for (c = 0; c < 128; c++)
        bytes[c] = (char)c;
    bytes[128] = '\0';
    json_object_array_add(a, json_object_new_string_len(bytes, 128));
    json_object_object_add(o, bytes + 1, json_object_new_string("\xc3\xa9\xe2\x82\xac/\x7f"));
    json_object_array_add(a, json_object_new_int64(INT64_MIN));
    json_object_array_add(a, json_object_new_int64(INT64_MAX));
    json_object_array_add(a, json_object_new_uint64(UINT64_MAX));
    json_object_array_add(a, json_object_new_int64(0));
    json_object_array_add(a, json_object_new_double(0.1));
    json_object_array_add(a, json_object_new_double(1.0));
    json_object_array_add(a, json_object_new_double(-2.5e300));
    json_object_array_add(a, json_object_new_double_s(1.5, "1.50"));
    json_object_array_add(a, json_object_new_boolean(1));
    json_object_array_add(a, json_object_new_boolean(0));
    json_object_array_add(a, NULL);
    json_object_array_add(a, json_object_new_object());
    json_object_array_add(a, json_object_new_array());
    json_object_object_add(o, "", json_object_new_string(""));
    json_object_object_add(o, "n", NULL);
    json_object_object_add(o, "list", a);
    assert_write_matches(o);
    assert_write_matches(a);
    assert_write_matches(NULL);
    json_object_put(o);
    roundtrip("{\"a\":[{},[],{\"b\":[[]]}],\"c\":12345678901234567890123,\"d\":-0.0}",
              "{\"a\":[{},[],{\"b\":[[]]}],\"c\":12345678901234567890123,\"d\":-0.0}");
}

Test(jsonp, write_with_splices_one_member_last)
{
    json_object *empty = json_object_new_object(), *o = parse_ok("{\"a\":[1]}");
    struct sbuf b;

    sbuf_init(&b);
    jsonp_write_with(&b, empty, "d\"q", "{\"x\": 1}");
    cr_assert_str_eq(b.data, "{\"d\\\"q\":{\"x\": 1}}");
    sbuf_reset(&b);
    jsonp_write_with(&b, o, "data", "null");
    cr_assert_str_eq(b.data, "{\"a\":[1],\"data\":null}");
    sbuf_reset(&b);
    jsonp_write_with(&b, o, NULL, "ignored");
    cr_assert_str_eq(b.data, "{\"a\":[1]}");
    sbuf_free(&b);
    json_object_put(empty);
    json_object_put(o);
}

Test(jsonp, canonical_sorts_members_at_every_level)
{
    json_object *v = parse_ok("{\"b\":{\"z\":1,\"y\":[{\"d\":1,\"c\":2}]},\"a\":null,\"B\":true}");
    char *c = jsonp_canonical(v);

    cr_assert_str_eq(c, "{\"B\":true,\"a\":null,\"b\":{\"y\":[{\"c\":2,\"d\":1}],\"z\":1}}");
    free(c);
    json_object_put(v);
}

Test(jsonp, canonical_escapes_like_json_c)
{
    json_object *v = parse_ok("{\"q\\\"\\n/\":\"\\t\\u00e9/\",\"n\":1.50}");
    char *c = jsonp_canonical(v);

    cr_assert_str_eq(c, "{\"n\":1.50,\"q\\\"\\n/\":\"\\t\xc3\xa9/\"}");
    free(c);
    json_object_put(v);
    c = jsonp_canonical(NULL);
    cr_assert_str_eq(c, "null");
    free(c);
}

Test(jsonp, canonical_equal_for_reordered_documents)
{
    json_object *a = parse_ok("{\"x\":[1,{\"p\":1,\"q\":2}],\"y\":\"s\"}");
    json_object *b = parse_ok("{\"y\":\"s\",\"x\":[1,{\"q\":2,\"p\":1}]}");
    char *ca = jsonp_canonical(a), *cb = jsonp_canonical(b);

    cr_assert_str_eq(ca, cb);
    free(ca);
    free(cb);
    json_object_put(a);
    json_object_put(b);
}

/* jsonp_equal on two parsed texts. */
static int
eq(const char *a, const char *b)
{
    json_object *x = parse_ok(a), *y = parse_ok(b);
    int r = jsonp_equal(x, y);

    cr_assert_eq(r, jsonp_equal(y, x), "equality is not symmetric for %s, %s", a, b);
    json_object_put(x);
    json_object_put(y);
    return r;
}

Test(jsonp, equality_numbers_by_value)
{
    cr_assert(eq("1", "1.0"));
    cr_assert(eq("1", "1e0"));
    cr_assert(eq("100", "1E2"));
    cr_assert(eq("0", "-0.0"));
    cr_assert(eq("1.5", "15e-1"));
    cr_assert(eq("-9223372036854775808", "-9223372036854775808"));
    cr_assert(eq("-9223372036854775808", "-9223372036854775808.0"));
    cr_assert_not(eq("1", "1.5"));
    cr_assert_not(eq("1", "2"));
    cr_assert_not(eq("9223372036854775807", "-9223372036854775808"));
    /* by the decimal value as written, never rounded through a double */
    cr_assert(eq("9223372036854775807", "9223372036854775807.0"));
    cr_assert_not(eq("9223372036854775807", "9223372036854775808.0"));
    cr_assert_not(eq("9007199254740993", "9007199254740992.0"));
    cr_assert(eq("9007199254740992", "9007199254740992.0"));
    cr_assert_not(eq("111111111111111111111111111111", "111111111111111111111111111112"));
    cr_assert(eq("111111111111111111111111111111", "1.11111111111111111111111111111e29"));
    cr_assert_not(eq("0.1000000000000000000001", "0.1"));
    cr_assert(eq("0.10", "1e-1"));
}

Test(jsonp, equality_types_and_containers)
{
    cr_assert(eq("null", "null"));
    cr_assert(eq("\"a\"", "\"a\""));
    cr_assert(eq("true", "true"));
    cr_assert_not(eq("true", "false"));
    cr_assert_not(eq("true", "1"));
    cr_assert_not(eq("\"10\"", "10"));
    cr_assert_not(eq("null", "0"));
    cr_assert_not(eq("null", "{}"));
    cr_assert_not(eq("\"a\"", "\"ab\""));
    cr_assert(eq("{\"a\":1,\"b\":[1,2]}", "{\"b\":[1.0,2],\"a\":1}"));
    cr_assert_not(eq("{\"a\":1}", "{\"a\":1,\"b\":2}"));
    cr_assert_not(eq("{\"a\":1}", "{\"b\":1}"));
    cr_assert_not(eq("{\"a\":null}", "{}"));
    cr_assert_not(eq("[1,2]", "[2,1]"));
    cr_assert_not(eq("[1]", "[1,1]"));
    cr_assert(eq("[]", "[]"));
    cr_assert_not(eq("[]", "{}"));
    cr_assert(eq("[[{\"x\":[null]}]]", "[[{\"x\":[null]}]]"));
}

Test(jsonp, equality_with_uint64_values)
{
    json_object *u = json_object_new_uint64(UINT64_MAX);
    json_object *u2 = json_object_new_uint64(UINT64_MAX - 1);
    json_object *i = json_object_new_int64(INT64_MAX);

    cr_assert(jsonp_equal(u, u));
    cr_assert_not(jsonp_equal(u, u2));
    cr_assert_not(jsonp_equal(u, i));
    json_object_put(u);
    json_object_put(u2);
    json_object_put(i);
}

Test(jsonp, copy_preserves_double_text)
{
    json_object *v =
        parse_ok("{\"a\":[1.50,1E+2,123456789012345678901234567890,-0.0],\"b\":\"s\"}");
    json_object *c = jsonp_copy(v);

    cr_assert_neq(c, v);
    cr_assert_str_eq(jsonp_str(c),
                     "{\"a\":[1.50,1E+2,123456789012345678901234567890,-0.0],\"b\":\"s\"}");
    cr_assert(jsonp_equal(c, v));
    /* The copy is independent of the original. */
    json_object_object_add(v, "b", json_object_new_int(1));
    cr_assert_str_eq(json_object_get_string(json_object_object_get(c, "b")), "s");
    json_object_put(v);
    cr_assert_str_eq(jsonp_str(c),
                     "{\"a\":[1.50,1E+2,123456789012345678901234567890,-0.0],\"b\":\"s\"}");
    json_object_put(c);
    cr_assert_null(jsonp_copy(NULL));
}

/* The hash table entry of member `name` of object `o`: its key, and who owns it. */
static struct lh_entry *
member_entry(json_object *o, const char *name)
{
    struct lh_entry *e = lh_table_lookup_entry(json_object_get_object(o), name);

    cr_assert_not_null(e, "no member %s", name);
    return e;
}

Test(jsonp, short_member_names_are_shared)
{
    json_object *a = parse_ok("{\"frame\":1,\"x\":2}");
    json_object *b = parse_ok("[{\"x\":3,\"frame\":4}]");
    json_object *inner = json_object_array_get_idx(b, 0);
    struct sbuf text;

    cr_assert(member_entry(a, "frame")->k_is_constant);
    cr_assert_eq(member_entry(a, "frame")->k, member_entry(inner, "frame")->k);
    cr_assert_eq(member_entry(a, "x")->k, member_entry(inner, "x")->k);
    /* the shared name outlives the objects that used it */
    json_object_object_del(inner, "frame");
    json_object_put(a);
    a = parse_ok("{\"frame\":5}");
    sbuf_init(&text);
    jsonp_write(&text, a);
    cr_assert_str_eq(text.data, "{\"frame\":5}");
    sbuf_free(&text);
    json_object_put(a);
    json_object_put(b);
}

Test(jsonp, long_or_too_many_member_names_are_copies)
{
    char name[40], body[64];
    json_object *many[1100], *o;
    size_t i;

    memset(name, 'n', 33);
    name[33] = '\0';
    snprintf(body, sizeof(body), "{\"%s\":true}", name);
    o = parse_ok(body);
    cr_assert_not(member_entry(o, name)->k_is_constant);
    json_object_put(o);
    /* the process keeps a bounded number of names; past it objects own their names */
    for (i = 0; i < 1100; i++) {
        snprintf(body, sizeof(body), "{\"name%zu\":%zu}", i, i);
        many[i] = parse_ok(body);
    }
    cr_assert(member_entry(many[5], "name5")->k_is_constant);
    cr_assert_not(member_entry(many[1099], "name1099")->k_is_constant);
    for (i = 0; i < 1100; i++) {
        snprintf(name, sizeof(name), "name%zu", i);
        cr_assert_eq(json_object_get_int64(json_object_object_get(many[i], name)), (int64_t)i);
        json_object_put(many[i]);
    }
}

Test(jsonp, small_integers_are_shared)
{
    json_object *a = parse_ok("[640, 640, 0, -0, 4095, 4096, 4096, -1, -1]");
    json_object *b = parse_ok("{\"width\": 640}");
    size_t i;

    cr_assert_eq(json_object_array_get_idx(a, 0), json_object_array_get_idx(a, 1));
    cr_assert_eq(json_object_array_get_idx(a, 0), json_object_object_get(b, "width"));
    cr_assert_eq(json_object_array_get_idx(a, 2), json_object_array_get_idx(a, 3));
    cr_assert_neq(json_object_array_get_idx(a, 5), json_object_array_get_idx(a, 6));
    cr_assert_neq(json_object_array_get_idx(a, 7), json_object_array_get_idx(a, 8));
    /* a shared value outlives each document that held it */
    json_object_array_del_idx(a, 0, 1);
    json_object_put(b);
    cr_assert_eq(json_object_get_int64(json_object_array_get_idx(a, 0)), 640);
    for (i = 0; i < json_object_array_length(a); i++)
        cr_assert_eq(json_object_get_type(json_object_array_get_idx(a, i)), json_type_int);
    cr_assert_eq(json_object_get_int64(json_object_array_get_idx(a, 3)), 4095);
    cr_assert_eq(json_object_get_int64(json_object_array_get_idx(a, 6)), -1);
    json_object_put(a);
}

Test(jsonp, type_names)
{
    json_object *v = parse_ok("[{},[],\"s\",1,1.5,true,null]");
    static const char *const want[] = {"object", "array",   "string", "number",
                                       "number", "boolean", "null"};
    size_t i;

    for (i = 0; i < 7; i++)
        cr_assert_str_eq(jsonp_type_name(json_object_array_get_idx(v, i)), want[i]);
    cr_assert_str_eq(jsonp_type_name(NULL), "null");
    json_object_put(v);
}
