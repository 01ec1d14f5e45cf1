/*
 * fuzz_req.c: a request as FastCGI parameters describe it (req.c). The input is the
 * values of REQUEST_METHOD, SCRIPT_NAME, PATH_INFO, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, HTTP_AUTHORIZATION, HTTP_IF_MATCH, HTTP_IF_NONE_MATCH and
 * HTTP_IDEMPOTENCY_KEY, NUL-separated (an empty value is an absent parameter, as nginx
 * leaves it out), then the body, read in chunks under a small limit. Every question the
 * API asks of a request is asked; a body read must honour the limit and CONTENT_LENGTH.
 */
#include "fuzz.h"

#include "http/req.h"

#define BODY_MAX 1024

static const char *const names[] = {"REQUEST_METHOD",      "SCRIPT_NAME",   "PATH_INFO",
                                    "QUERY_STRING",        "CONTENT_TYPE",  "CONTENT_LENGTH",
                                    "HTTP_AUTHORIZATION",  "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                                    "HTTP_IDEMPOTENCY_KEY"};
#define NPARAMS (sizeof(names) / sizeof(names[0]))

/* The body as the web server hands it over: in pieces of up to 7 bytes. */
struct feed {
    const uint8_t *data;
    size_t len, pos;
};

static long
feed_read(void *ctx, char *buf, size_t n)
{
    struct feed *f = ctx;

    if (n > f->len - f->pos)
        n = f->len - f->pos;
    if (n > 7)
        n = 7;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

/* The header grammars, on a value that may be absent. */
static void
headers(const struct req *r)
{
    struct err err = {0};
    char *token, *key = NULL;

    (void)req_etag_matches(r->if_match, 7, 0);
    (void)req_etag_matches(r->if_none_match, 7, 1);
    if (r->if_match != NULL) {
        (void)req_etag_version(r->if_match, 0);
        (void)req_etag_version(r->if_match, 1);
    }
    token = req_bearer_token(r->authorization);
    FUZZ_CHECK(token == NULL || (token[0] != '\0' && strlen(token) <= 512));
    free(token);
    if (req_idempotency_key(r, 200, &key, &err) == ERR_OK)
        FUZZ_CHECK(key == NULL || (key[0] != '\0' && strlen(key) <= 200));
    else
        FUZZ_CHECK(key == NULL && err.code == ERR_BAD_REQUEST);
    free(key);
    err_clear(&err);
}

static void
query(const struct req *r)
{
    static const char *const params[] = {"limit", "after", "since", ""};
    struct err err = {0};
    const char *value;
    int64_t v;
    size_t i, len;
    int got;

    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        got = req_query_int(r, params[i], 1, 1000, &v, &err);
        FUZZ_CHECK(got != 1 || (v >= 1 && v <= 1000));
        if (req_query_param(r, params[i], &value, &len))
            FUZZ_CHECK(value >= r->query && value + len <= r->query + strlen(r->query));
        err_clear(&err);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *env[NPARAMS + 1], *owned[NPARAMS] = {0};
    struct err err = {0};
    struct feed body;
    struct req r;
    const char *value;
    size_t len, i, n = 0;

    for (i = 0; i < NPARAMS; i++) {
        fuzz_take(&data, &size, &value, &len);
        if (len == 0)
            continue;
        owned[i] = malloc(strlen(names[i]) + len + 2);
        sprintf(owned[i], "%s=%.*s", names[i], (int)len, value);
        env[n++] = owned[i];
    }
    env[n] = NULL;
    body.data = data;
    body.len = size;
    body.pos = 0;
    if (req_init(&r, env, feed_read, &body, &err) == ERR_OK) {
        FUZZ_CHECK(r.method != NULL && r.path != NULL && r.query != NULL);
        FUZZ_CHECK(r.nseg <= REQ_MAX_SEGMENTS);
        for (i = 0; i < r.nseg; i++)
            FUZZ_CHECK(r.seg[i][0] != '\0' && strchr(r.seg[i], '/') == NULL);
        (void)req_content_type_is(&r, "application/json");
        (void)req_content_type_is(&r, "application/merge-patch+json");
        headers(&r);
        query(&r);
        switch (req_body(&r, BODY_MAX, &err)) {
        case ERR_OK:
            FUZZ_CHECK(r.body != NULL && r.body_len <= BODY_MAX && r.body[r.body_len] == '\0');
            FUZZ_CHECK(!r.has_content_length || r.body_len == r.content_length);
            break;
        case ERR_TOO_LARGE:
            FUZZ_CHECK(r.content_length > BODY_MAX && body.pos == 0);
            break;
        default:
            FUZZ_CHECK(err.code == ERR_BAD_REQUEST && r.body_len < r.content_length);
            break;
        }
    }
    req_free(&r);
    err_clear(&err);
    for (i = 0; i < NPARAMS; i++)
        free(owned[i]);
    return 0;
}
