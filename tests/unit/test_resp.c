/*
 * test_resp.c: response assembly in isolation: a JSON body with a member spliced in as
 * text, problem details, and the CGI serialisation.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "doc/jsonp.h"
#include "http/resp.h"

/* The body of `r` as a string (it is not NUL-terminated in the sbuf). */
static char *
body_of(const struct resp *r)
{
    return strndup(r->body.data ? r->body.data : "", r->body.len);
}

Test(resp, json_with_appends_the_text_as_the_last_member)
{
    struct resp r;
    json_object *o = json_object_new_object();
    char *b;

    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "version", json_object_new_int64(8));
    resp_init(&r);
    resp_json_with(&r, 200, o, "data", "{\"a\": [1, 2]}");
    b = body_of(&r);
    cr_assert_str_eq(b, "{\"success\":true,\"version\":8,\"data\":{\"a\": [1, 2]}}");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/json");
    free(b);
    json_object_put(o);
    resp_free(&r);
}

Test(resp, json_with_on_an_empty_object)
{
    struct resp r;
    json_object *o = json_object_new_object();
    char *b;

    resp_init(&r);
    resp_json_with(&r, 201, o, "data", "null");
    b = body_of(&r);
    cr_assert_str_eq(b, "{\"data\":null}");
    free(b);
    json_object_put(o);
    resp_free(&r);
}

Test(resp, json_with_replaces_an_earlier_body_and_parses_back)
{
    struct resp r;
    json_object *o = json_object_new_object(), *back = NULL, *v;
    struct jsonp_limits lim = {JSONP_DEFAULT_DEPTH, JSONP_DEFAULT_STRING};
    struct err err = {0};

    json_object_object_add(o, "id", json_object_new_int64(3));
    resp_init(&r);
    resp_json(&r, 200, o);
    resp_json_with(&r, 200, o, "data", "{\"x\": \"\\u00e9\"}");
    cr_assert_eq(jsonp_parse(r.body.data, r.body.len, &lim, &back, &err), ERR_OK, "%s", err.detail);
    cr_assert(json_object_object_get_ex(back, "data", &v));
    cr_assert_str_eq(json_object_get_string(json_object_object_get(v, "x")), "\xc3\xa9");
    json_object_put(back);
    json_object_put(o);
    resp_free(&r);
}

Test(resp, cgi_serialisation)
{
    struct resp r;
    struct sbuf out;
    json_object *o = json_object_new_object();
    char *s;

    resp_init(&r);
    resp_json_with(&r, 200, o, "data", "[]");
    resp_header(&r, "ETag", "\"%d\"", 4);
    sbuf_init(&out);
    resp_write(&r, &out);
    s = strndup(out.data, out.len);
    cr_assert_str_eq(s, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: 11\r\nETag: \"4\"\r\n\r\n{\"data\":[]}");
    free(s);
    sbuf_free(&out);
    r.omit_body = 1;
    sbuf_init(&out);
    resp_write(&r, &out);
    s = strndup(out.data, out.len);
    cr_assert(strstr(s, "Content-Length: 11\r\n") != NULL, "HEAD keeps the GET's length");
    cr_assert(strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0, "and sends no body: %s", s);
    free(s);
    sbuf_free(&out);
    json_object_put(o);
    resp_free(&r);
}

Test(resp, text_of_a_type)
{
    struct resp r;
    struct sbuf out;
    char *s;

    resp_init(&r);
    resp_json(&r, 200, NULL);
    resp_text(&r, 200, "text/event-stream", "id: 1\ndata: {}\n\n", 17);
    sbuf_init(&out);
    resp_write(&r, &out);
    s = strndup(out.data, out.len);
    cr_assert_str_eq(s, "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Content-Length: 17\r\n\r\nid: 1\ndata: {}\n\n");
    free(s);
    sbuf_free(&out);
    /* an empty body still names its type: nginx keeps it across X-Accel-Redirect */
    resp_text(&r, 200, "text/event-stream", "", 0);
    resp_header(&r, "X-Accel-Redirect", "/x");
    sbuf_init(&out);
    resp_write(&r, &out);
    s = strndup(out.data, out.len);
    cr_assert_str_eq(s, "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Content-Length: 0\r\nX-Accel-Redirect: /x\r\n\r\n");
    free(s);
    sbuf_free(&out);
    resp_free(&r);
}

/* The header lines of `r` as a string. */
static char *
headers_of(const struct resp *r)
{
    return strndup(r->headers.data ? r->headers.data : "", r->headers.len);
}

/* RFC 6750 section 3: a request without a token gets a challenge without an error code. */
Test(resp, a_missing_token_is_challenged_without_an_error)
{
    struct resp r;
    struct err err = {0};
    char *h;

    err_fail(&err, ERR_UNAUTHORIZED, NULL, "no token");
    resp_init(&r);
    resp_problem(&r, &err);
    h = headers_of(&r);
    cr_assert_eq(r.status, 401);
    cr_assert(strstr(h, "WWW-Authenticate: Bearer realm=\"actiond\"\r\n") != NULL, "%s", h);
    free(h);
    err_clear(&err);
    resp_free(&r);
}

/* RFC 6750 section 3.1: a token presented and refused gets error="invalid_token". */
Test(resp, a_refused_token_is_challenged_with_invalid_token)
{
    struct resp r;
    struct err err = {0};
    char *h, *b;

    err_fail(&err, ERR_UNAUTHORIZED, NULL, "the token was revoked");
    err_set_slug(&err, RESP_SLUG_INVALID_TOKEN);
    resp_init(&r);
    resp_problem(&r, &err);
    h = headers_of(&r);
    b = body_of(&r);
    cr_assert_eq(r.status, 401);
    cr_assert(
        strstr(h, "WWW-Authenticate: Bearer realm=\"actiond\", error=\"invalid_token\"\r\n") !=
            NULL,
        "%s", h);
    cr_assert(strstr(b, "urn:actiond:problem:invalid-token") != NULL, "%s", b);
    free(h);
    free(b);
}

Test(resp, a_refused_content_coding_names_the_accepted_one)
{
    struct resp r;
    struct err err = {0};
    char *body;

    resp_init(&r);
    err_fail(&err, ERR_UNSUPPORTED_MEDIA, NULL, "no content coding");
    resp_problem(&r, &err);
    cr_assert_null(strstr(r.headers.data, "Accept-Encoding"), "a media type problem has none");
    resp_reset(&r);
    err_set_slug(&err, RESP_SLUG_CONTENT_ENCODING);
    resp_problem(&r, &err);
    cr_assert_eq(r.status, 415);
    cr_assert_str_eq(r.content_type, "application/problem+json");
    cr_assert(strstr(r.headers.data, "Accept-Encoding: identity\r\n") != NULL);
    body = body_of(&r);
    cr_assert(strstr(body, "urn:actiond:problem:unsupported-content-encoding") != NULL);
    free(body);
    err_clear(&err);
    resp_free(&r);
}

/* A detail or pointer cut at its buffer's end is cut between characters, never inside
 * one: the problem body stays valid UTF-8 (found by tests/fuzz). */
Test(resp, a_long_detail_is_cut_between_characters)
{
    char name[1200];
    struct err err = {0};
    size_t i;

    for (i = 0; i + 2 < sizeof(name); i += 2)
        memcpy(name + i, "\xc3\xa9", 2); /* é, two bytes each */
    name[i] = '\0';
    for (i = 1; i <= 2; i++) {
        char *p = name + i - 1, *q = name;
        err_fail(&err, ERR_BAD_REQUEST, i == 1 ? p : q, "x%s", i == 1 ? name : name + 1);
        cr_assert(strlen(err.detail) < sizeof(err.detail));
        /* every byte that starts a character is followed by its continuation */
        for (q = err.detail; *q != '\0'; q++)
            if (((unsigned char)*q & 0xE0) == 0xC0)
                cr_assert(((unsigned char)q[1] & 0xC0) == 0x80, "cut inside a character");
        for (q = err.pointer; *q != '\0'; q++)
            if (((unsigned char)*q & 0xE0) == 0xC0)
                cr_assert(((unsigned char)q[1] & 0xC0) == 0x80, "pointer cut inside a character");
        err_clear(&err);
    }
}
