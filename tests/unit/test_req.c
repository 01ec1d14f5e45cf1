/*
 * test_req.c: the request parser in isolation: FastCGI parameters, body limits,
 * entity-tag lists, bearer tokens, idempotency keys and query integers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/req.h"

struct feed {
    const char *data;
    size_t len, pos, chunk;
};

static long
feed_read(void *ctx, char *buf, size_t n)
{
    struct feed *f = ctx;
    size_t left = f->len - f->pos;

    if (n > left)
        n = left;
    if (f->chunk && n > f->chunk)
        n = f->chunk;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

Test(req, parses_params_and_segments)
{
    char *env[] = {"REQUEST_METHOD=POST",
                   "SCRIPT_NAME=/api",
                   "PATH_INFO=/clips/12/actions",
                   "QUERY_STRING=since=3&limit=10",
                   "CONTENT_TYPE=application/json; charset=utf-8",
                   "CONTENT_LENGTH=0",
                   "HTTP_IF_MATCH=\"7\"",
                   NULL};
    struct req r;
    struct err err = {0};
    int64_t v = 0;

    cr_assert_eq(req_init(&r, env, feed_read, NULL, &err), ERR_OK);
    cr_assert_str_eq(r.method, "POST");
    cr_assert_str_eq(r.mount, "/api");
    cr_assert_eq(r.nseg, 3);
    cr_assert_str_eq(r.seg[0], "clips");
    cr_assert_str_eq(r.seg[1], "12");
    cr_assert_str_eq(r.seg[2], "actions");
    cr_assert(req_content_type_is(&r, "application/json"));
    cr_assert_not(req_content_type_is(&r, "application/json-patch+json"));
    cr_assert_eq(req_query_int(&r, "since", 0, 100, &v, &err), 1);
    cr_assert_eq(v, 3);
    cr_assert_eq(req_query_int(&r, "limit", 0, 100, &v, &err), 1);
    cr_assert_eq(v, 10);
    cr_assert_eq(req_query_int(&r, "after", 0, 100, &v, &err), 0);
    req_free(&r);
    err_clear(&err);
}

Test(req, rejects_bad_query_integers)
{
    const char *bad[] = {"limit=", "limit=-1", "limit=1x", "limit=101",
                         "limit=99999999999999999999"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char q[64];
        char *env[] = {q, NULL};
        struct req r;
        struct err err = {0};
        int64_t v;
        snprintf(q, sizeof(q), "QUERY_STRING=%s", bad[i]);
        cr_assert_eq(req_init(&r, env, feed_read, NULL, &err), ERR_OK);
        cr_assert_eq(req_query_int(&r, "limit", 0, 100, &v, &err), -1, "%s", bad[i]);
        cr_assert_eq(err.code, ERR_BAD_REQUEST);
        req_free(&r);
        err_clear(&err);
    }
}

Test(req, too_many_segments_flagged)
{
    char *env[] = {"PATH_INFO=/a/b/c/d/e/f/g/h/i/j", NULL};
    struct req r;

    cr_assert_eq(req_init(&r, env, feed_read, NULL, NULL), ERR_OK);
    cr_assert(r.path_too_deep);
    req_free(&r);
}

Test(req, body_over_limit_refused_before_reading)
{
    char *env[] = {"CONTENT_LENGTH=2000", NULL};
    struct feed f = {"", 0, 0, 0};
    struct req r;
    struct err err = {0};

    cr_assert_eq(req_init(&r, env, feed_read, &f, &err), ERR_OK);
    cr_assert_eq(req_body(&r, 1000, &err), ERR_TOO_LARGE);
    cr_assert_eq(f.pos, 0);
    req_free(&r);
    err_clear(&err);
}

Test(req, body_read_in_chunks_and_short_body_refused)
{
    char *env[] = {"CONTENT_LENGTH=11", NULL};
    struct feed whole = {"hello world", 11, 0, 3};
    struct feed shorter = {"hello", 5, 0, 0};
    struct req r;
    struct err err = {0};

    cr_assert_eq(req_init(&r, env, feed_read, &whole, &err), ERR_OK);
    cr_assert_eq(req_body(&r, 100, &err), ERR_OK);
    cr_assert_eq(r.body_len, 11);
    cr_assert_str_eq(r.body, "hello world");
    req_free(&r);

    cr_assert_eq(req_init(&r, env, feed_read, &shorter, &err), ERR_OK);
    cr_assert_eq(req_body(&r, 100, &err), ERR_BAD_REQUEST);
    req_free(&r);
    err_clear(&err);
}

Test(req, bad_content_length)
{
    char *env[] = {"CONTENT_LENGTH=-5", NULL};
    char *env2[] = {"CONTENT_LENGTH=12abc", NULL};
    struct req r;
    struct err err = {0};

    cr_assert_eq(req_init(&r, env, feed_read, NULL, &err), ERR_BAD_REQUEST);
    req_free(&r);
    cr_assert_eq(req_init(&r, env2, feed_read, NULL, &err), ERR_BAD_REQUEST);
    req_free(&r);
    err_clear(&err);
}

Test(req, etag_comparison)
{
    cr_assert(req_etag_matches("\"7\"", 7, 0));
    cr_assert_not(req_etag_matches("\"7\"", 8, 0));
    cr_assert(req_etag_matches("\"3\", \"7\"", 7, 0));
    cr_assert_not(req_etag_matches("W/\"7\"", 7, 0), "strong comparison ignores weak tags");
    cr_assert(req_etag_matches("W/\"7\"", 7, 1), "weak comparison accepts them");
    cr_assert(req_etag_matches("*", 7, 0));
    cr_assert(req_etag_matches(" * ", 7, 0));
    cr_assert_not(req_etag_matches("7", 7, 0), "unquoted is malformed");
    cr_assert_not(req_etag_matches("\"7", 7, 0));
    cr_assert_not(req_etag_matches("\"17\"", 7, 0));
    cr_assert_not(req_etag_matches("", 7, 0));
}

Test(req, opaque_etag_in_a_list)
{
    cr_assert(req_etag_list_has("\"c0ffee\"", "c0ffee"));
    cr_assert(req_etag_list_has("W/\"c0ffee\"", "c0ffee"), "If-None-Match compares weakly");
    cr_assert(req_etag_list_has("\"x\", \"c0ffee\"", "c0ffee"));
    cr_assert(req_etag_list_has("*", "c0ffee"));
    cr_assert_not(req_etag_list_has("\"c0ffe\"", "c0ffee"));
    cr_assert_not(req_etag_list_has("\"c0ffeee\"", "c0ffee"));
    cr_assert_not(req_etag_list_has("c0ffee", "c0ffee"), "unquoted is malformed");
    cr_assert_not(req_etag_list_has(NULL, "c0ffee"));
    cr_assert_not(req_etag_list_has("", "c0ffee"));
}

Test(req, single_etag_version)
{
    cr_assert_eq(req_etag_version("\"7\"", 0), 7);
    cr_assert_eq(req_etag_version(" \"123\"\t", 0), 123);
    cr_assert_eq(req_etag_version("W/\"7\"", 0), 0, "a weak tag is no strong version");
    cr_assert_eq(req_etag_version("W/\"7\"", 1), 7);
    cr_assert_eq(req_etag_version("\"3\", \"7\"", 1), 0, "a list names no single version");
    cr_assert_eq(req_etag_version("*", 1), 0);
    cr_assert_eq(req_etag_version("\"7", 1), 0);
    cr_assert_eq(req_etag_version("\"\"", 1), 0);
    cr_assert_eq(req_etag_version("\"x7\"", 1), 0);
    cr_assert_eq(req_etag_version("\"1234567890123456789\"", 1), 0, "19 digits are refused");
    cr_assert_eq(req_etag_version("\"123456789012345678\"", 1), 123456789012345678LL);
}

Test(req, bearer_tokens)
{
    char *t = req_bearer_token("Bearer adt_0123abc");

    cr_assert_str_eq(t, "adt_0123abc");
    free(t);
    t = req_bearer_token("bearer  abc==");
    cr_assert_str_eq(t, "abc==");
    free(t);
    cr_assert_null(req_bearer_token(NULL));
    cr_assert_null(req_bearer_token("Basic abc"));
    cr_assert_null(req_bearer_token("Bearer"));
    cr_assert_null(req_bearer_token("Bearer a b"));
    cr_assert_null(req_bearer_token("Bearerabc"));
}

Test(req, idempotency_keys)
{
    char *env1[] = {"HTTP_IDEMPOTENCY_KEY=\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", NULL};
    char *env2[] = {"HTTP_IDEMPOTENCY_KEY=plain-key", NULL};
    char *env3[] = {"HTTP_IDEMPOTENCY_KEY=\"\"", NULL};
    struct req r;
    struct err err = {0};
    char *key;

    req_init(&r, env1, feed_read, NULL, &err);
    cr_assert_eq(req_idempotency_key(&r, 200, &key, &err), ERR_OK);
    cr_assert_str_eq(key, "8e03978e-40d5-43e8-bc93-6894a57f9324");
    free(key);
    req_free(&r);
    req_init(&r, env2, feed_read, NULL, &err);
    cr_assert_eq(req_idempotency_key(&r, 200, &key, &err), ERR_OK);
    cr_assert_str_eq(key, "plain-key");
    free(key);
    cr_assert_eq(req_idempotency_key(&r, 4, &key, &err), ERR_BAD_REQUEST);
    req_free(&r);
    req_init(&r, env3, feed_read, NULL, &err);
    cr_assert_eq(req_idempotency_key(&r, 200, &key, &err), ERR_BAD_REQUEST);
    req_free(&r);
    err_clear(&err);
}

/* req_init on PATH_INFO `path` and optional CONTENT_TYPE / HTTP_CONTENT_ENCODING. */
static enum err_code
init_with(const char *path, const char *ctype, const char *coding, struct err *err)
{
    char p[256], c[256], e[256];
    char *env[4] = {p, NULL, NULL, NULL};
    size_t n = 1;
    struct req r;
    enum err_code rc;

    snprintf(p, sizeof(p), "PATH_INFO=%s", path);
    if (ctype != NULL) {
        snprintf(c, sizeof(c), "CONTENT_TYPE=%s", ctype);
        env[n++] = c;
    }
    if (coding != NULL) {
        snprintf(e, sizeof(e), "HTTP_CONTENT_ENCODING=%s", coding);
        env[n++] = e;
    }
    rc = req_init(&r, env, feed_read, NULL, err);
    req_free(&r);
    return rc;
}

Test(req, canonical_paths_pass)
{
    const char *good[] = {"/", "", "/clips", "/clips/1", "/clips/1/actions", "/a/.b/c..", "/..."};
    struct err err = {0};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(init_with(good[i], NULL, NULL, &err), ERR_OK, "%s", good[i]);
}

Test(req, non_canonical_paths_name_nothing)
{
    const char *bad[] = {"//clips/1", "/clips//1",  "/clips/1/",  "/clips/./1",
                         "/clips/..", "/./clips/1", "/clips/1/.", "clips/1"};
    struct err err = {0};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(init_with(bad[i], NULL, NULL, &err), ERR_NOT_FOUND, "%s", bad[i]);
        err_clear(&err);
    }
}

Test(req, bytes_outside_visible_ascii_in_the_path_are_refused)
{
    const char *bad[] = {"/clips/\xff", "/clips/1\x01", "/cl ips", "/clips/\x7f"};
    struct err err = {0};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(init_with(bad[i], NULL, NULL, &err), ERR_BAD_REQUEST, "%zu", i);
        err_clear(&err);
    }
}

Test(req, charset_utf8_or_none)
{
    const char *good[] = {"application/json",
                          "application/json; charset=utf-8",
                          "application/json;charset=UTF-8",
                          "application/json; charset=\"utf-8\"",
                          "application/json; foo=bar; CharSet=Utf-8",
                          "application/json; foo=\"a;charset=latin1\""};
    const char *bad[] = {
        "application/json; charset=latin1",  "application/json; charset=iso-8859-1",
        "application/json; charset=utf-16",  "application/json; charset=utf-8; charset=latin1",
        "application/json; charset=\"utf-8", "application/json; charset",
        "application/json; charset=",        "application/merge-patch+json; charset=utf8"};
    struct err err = {0};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(init_with("/clips", good[i], NULL, &err), ERR_OK, "%s", good[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(init_with("/clips", bad[i], NULL, &err), ERR_UNSUPPORTED_MEDIA, "%s", bad[i]);
        cr_assert_str_eq(err.slug, "unsupported-media-type");
        err_clear(&err);
    }
}

Test(req, any_content_coding_is_refused)
{
    const char *bad[] = {"gzip", "identity", "br", "deflate, gzip", " x"};
    struct err err = {0};
    size_t i;

    cr_assert_eq(init_with("/clips", NULL, "", &err), ERR_OK, "an empty list names none");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(init_with("/clips", NULL, bad[i], &err), ERR_UNSUPPORTED_MEDIA, "%s", bad[i]);
        cr_assert_str_eq(err.slug, "unsupported-content-encoding");
        err_clear(&err);
    }
}
