/*
 * req.c: turns FastCGI parameters into a struct req, refuses what strict HTTP does not
 * allow (a path written other than canonically, a content coding, a charset other than
 * UTF-8), reads the body under its limit, and parses the few header grammars actiond
 * needs (entity tags, bearer tokens, idempotency keys, integer query parameters).
 */
#include "http/req.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"
#include "http/resp.h"

static const char *env_get(char **envp, const char *name);
static void split_path(struct req *r);
static enum err_code check_path(const char *path, struct err *err);
static enum err_code check_content(const char *content_type, const char *content_encoding,
                                   struct err *err);
static const char *skip_ows(const char *p);

static const char *
env_get(char **envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static void
split_path(struct req *r)
{
    const char *p = r->path;

    while (*p != '\0') {
        const char *start, *end;
        if (*p == '/') {
            p++;
            continue;
        }
        start = p;
        end = strchr(start, '/');
        if (end == NULL)
            end = start + strlen(start);
        if (r->nseg == REQ_MAX_SEGMENTS) {
            r->path_too_deep = 1;
            return;
        }
        r->seg[r->nseg++] = xstrndup(start, (size_t)(end - start));
        p = end;
    }
}

static const char *
skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/*
 * A path names a resource only as written canonically: "/" and then segments joined
 * by single slashes, none empty, none "." or "..", no slash at the end ("/" alone is
 * the mount). Every byte is a visible ASCII character: a URI holds nothing else
 * (RFC 3986 section 2), and what is not canonical names nothing (404), so that one
 * resource has one path and a front end that normalises differently cannot make two.
 */
static enum err_code
check_path(const char *path, struct err *err)
{
    const char *p;

    for (p = path; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return err_fail(err, ERR_BAD_REQUEST, NULL,
                            "the path holds a byte a URI cannot hold; only visible ASCII "
                            "characters are allowed");
    if (path[0] == '\0' || strcmp(path, "/") == 0)
        return ERR_OK;
    if (path[0] != '/')
        return err_fail(err, ERR_NOT_FOUND, NULL, "the path does not start with /");
    for (p = path; *p == '/';) {
        const char *seg = p + 1;
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return err_fail(err, ERR_NOT_FOUND, NULL,
                            "no resource has this path: paths have no empty or dot segments "
                            "and no slash at the end");
        p = seg + n;
    }
    return ERR_OK;
}

/*
 * The body is JSON as sent: no content coding (RFC 9110 section 8.4; an empty
 * Content-Encoding lists none) and no charset but UTF-8 (RFC 8259 section 8.1), the
 * parameter compared case-insensitively and quoted or not (RFC 9110 section 5.6.6).
 * Either refusal is a 415; client text is not echoed (it need not be UTF-8).
 */
static enum err_code
check_content(const char *content_type, const char *content_encoding, struct err *err)
{
    const char *p;

    if (content_encoding != NULL && *skip_ows(content_encoding) != '\0') {
        err_fail(err, ERR_UNSUPPORTED_MEDIA, NULL,
                 "no content coding is accepted: send the body without Content-Encoding");
        err_set_slug(err, RESP_SLUG_CONTENT_ENCODING);
        return ERR_UNSUPPORTED_MEDIA;
    }
    p = content_type != NULL ? strchr(content_type, ';') : NULL;
    while (p != NULL) {
        const char *name = skip_ows(p + 1), *value, *end;
        size_t nlen = strcspn(name, "=; \t");
        int is_charset = nlen == 7 && strncasecmp(name, "charset", 7) == 0;
        p = skip_ows(name + nlen);
        if (*p != '=') {
            /* a parameter without a value: malformed, and not a charset we accept */
            if (is_charset)
                goto bad_charset;
            p = strchr(p, ';');
            continue;
        }
        value = skip_ows(p + 1);
        if (*value == '"') {
            /* quoted-string: ends at the first unescaped quote */
            for (end = value + 1; *end != '\0' && *end != '"'; end++)
                if (*end == '\\' && end[1] != '\0')
                    end++;
            if (*end != '"') {
                /* unterminated: nothing after it can be read as a parameter */
                if (is_charset)
                    goto bad_charset;
                break;
            }
            p = strchr(end + 1, ';');
            value++;
        } else {
            end = value + strcspn(value, "; \t");
            p = strchr(end, ';');
        }
        if (is_charset && !(end - value == 5 && strncasecmp(value, "utf-8", 5) == 0))
            goto bad_charset;
    }
    return ERR_OK;
bad_charset:
    return err_fail(err, ERR_UNSUPPORTED_MEDIA, NULL,
                    "the only charset accepted is utf-8: JSON is UTF-8 (RFC 8259 section 8.1)");
}

enum err_code
req_init(struct req *r, char **envp, req_reader reader, void *reader_ctx, struct err *err)
{
    const char *cl;
    enum err_code rc;

    memset(r, 0, sizeof(*r));
    r->reader = reader;
    r->reader_ctx = reader_ctx;
    r->method = env_get(envp, "REQUEST_METHOD");
    if (r->method == NULL)
        r->method = "GET";
    r->mount = env_get(envp, "SCRIPT_NAME");
    if (r->mount == NULL)
        r->mount = "";
    r->path = env_get(envp, "PATH_INFO");
    if (r->path == NULL)
        r->path = "/";
    r->query = env_get(envp, "QUERY_STRING");
    if (r->query == NULL)
        r->query = "";
    r->content_type = env_get(envp, "CONTENT_TYPE");
    if (r->content_type != NULL && *r->content_type == '\0')
        r->content_type = NULL;
    r->authorization = env_get(envp, "HTTP_AUTHORIZATION");
    r->if_match = env_get(envp, "HTTP_IF_MATCH");
    r->if_none_match = env_get(envp, "HTTP_IF_NONE_MATCH");
    r->idempotency_key = env_get(envp, "HTTP_IDEMPOTENCY_KEY");
    r->last_event_id = env_get(envp, "HTTP_LAST_EVENT_ID");
    split_path(r);

    cl = env_get(envp, "CONTENT_LENGTH");
    if (cl != NULL && *cl != '\0') {
        char *end;
        unsigned long long v;
        if (!isdigit((unsigned char)*cl))
            return err_fail(err, ERR_BAD_REQUEST, NULL, "Content-Length is not a number");
        errno = 0;
        v = strtoull(cl, &end, 10);
        if (errno != 0 || *end != '\0')
            return err_fail(err, ERR_BAD_REQUEST, NULL, "Content-Length is not a number");
        r->has_content_length = 1;
        r->content_length = v;
    }
    rc = check_path(r->path, err);
    if (rc != ERR_OK)
        return rc;
    return check_content(r->content_type, env_get(envp, "HTTP_CONTENT_ENCODING"), err);
}

void
req_free(struct req *r)
{
    size_t i;

    for (i = 0; i < r->nseg; i++)
        free(r->seg[i]);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

enum err_code
req_body(struct req *r, size_t max, struct err *err)
{
    size_t want, got = 0;

    if (r->body != NULL)
        return ERR_OK;
    if (!r->has_content_length || r->content_length == 0) {
        r->body = xstrdup("");
        r->body_len = 0;
        return ERR_OK;
    }
    if (r->content_length > max)
        return err_fail(err, ERR_TOO_LARGE, NULL, "the body is %llu bytes; the limit is %zu",
                        (unsigned long long)r->content_length, max);
    want = (size_t)r->content_length;
    r->body = xmalloc(want + 1);
    while (got < want) {
        long n = r->reader(r->reader_ctx, r->body + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    r->body[got] = '\0';
    r->body_len = got;
    if (got < want)
        return err_fail(err, ERR_BAD_REQUEST, NULL, "the body ended after %zu of %zu bytes", got,
                        want);
    return ERR_OK;
}

int
req_content_type_is(const struct req *r, const char *type)
{
    size_t n = strlen(type);
    const char *ct = r->content_type;

    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int
req_query_param(const struct req *r, const char *name, const char **value, size_t *len)
{
    size_t n = strlen(name);
    const char *p = r->query;

    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        if (plen > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            *value = p + n + 1;
            *len = plen - n - 1;
            return 1;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return 0;
}

int
req_query_int(const struct req *r, const char *name, int64_t min, int64_t max, int64_t *out,
              struct err *err)
{
    const char *v;
    size_t vlen, i;
    int64_t acc = 0;

    if (!req_query_param(r, name, &v, &vlen))
        return 0;
    if (vlen == 0 || vlen > 18)
        goto invalid;
    for (i = 0; i < vlen; i++) {
        if (!isdigit((unsigned char)v[i]))
            goto invalid;
        acc = acc * 10 + (v[i] - '0');
    }
    if (acc < min || acc > max)
        goto invalid;
    *out = acc;
    return 1;
invalid:
    err_fail(err, ERR_BAD_REQUEST, NULL, "query parameter %s must be an integer from %lld to %lld",
             name, (long long)min, (long long)max);
    err_put(err, "parameter", json_object_new_string(name));
    return -1;
}

/* The version an entity tag's opaque text names: 1 to 18 digits, no leading zero (the
 * form the server writes, so that a strong comparison is a comparison of versions);
 * 0 when it names none. */
static int64_t
tag_version(const char *tag, size_t n)
{
    int64_t v = 0;
    size_t i;

    if (n == 0 || n > 18 || tag[0] == '0')
        return 0;
    for (i = 0; i < n; i++) {
        if (tag[i] < '0' || tag[i] > '9')
            return 0;
        v = v * 10 + (tag[i] - '0');
    }
    return v;
}

int
req_etag_is_any(const char *header)
{
    while (*header == ' ' || *header == '\t')
        header++;
    return header[0] == '*' && header[strspn(header + 1, " \t") + 1] == '\0';
}

int64_t
req_etag_version(const char *header, int weak)
{
    size_t n;

    while (*header == ' ' || *header == '\t')
        header++;
    if (weak && header[0] == 'W' && header[1] == '/')
        header += 2;
    n = strlen(header);
    while (n > 0 && (header[n - 1] == ' ' || header[n - 1] == '\t'))
        n--;
    if (n < 3 || header[0] != '"' || header[n - 1] != '"')
        return 0;
    return tag_version(header + 1, n - 2);
}

/*
 * Walks an entity-tag list, calling `each` with every tag's opaque text and whether it
 * is weak, until `each` returns nonzero. Returns -1 when the list is malformed, else
 * what the last call returned (0 when there was none).
 */
static int
each_etag(const char *header, int (*each)(const char *tag, size_t n, int weak, void *arg),
          void *arg)
{
    const char *p = header;
    int stop = 0;

    while (*p != '\0' && !stop) {
        int is_weak = 0;
        const char *tag, *close;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        if (*p != '"')
            return -1;
        tag = p + 1;
        close = strchr(tag, '"');
        if (close == NULL)
            return -1;
        stop = each(tag, (size_t)(close - tag), is_weak, arg);
        p = close + 1;
    }
    return stop;
}

struct etag_match {
    int64_t version;
    int weak;
};

static int
tag_matches(const char *tag, size_t n, int weak, void *arg)
{
    const struct etag_match *m = arg;

    return (m->weak || !weak) && tag_version(tag, n) == m->version;
}

int
req_etag_matches(const char *header, int64_t version, int weak)
{
    struct etag_match m = {version, weak};

    if (header == NULL)
        return 0;
    if (req_etag_is_any(header))
        return 1;
    return version > 0 && each_etag(header, tag_matches, &m) == 1;
}

static int
tag_is(const char *tag, size_t n, int weak, void *arg)
{
    (void)weak;
    return n == strlen(arg) && memcmp(tag, arg, n) == 0;
}

int
req_etag_list_has(const char *header, const char *opaque)
{
    if (header == NULL)
        return 0;
    if (req_etag_is_any(header))
        return 1;
    return each_etag(header, tag_is, (void *)opaque) == 1;
}

struct etag_list {
    int64_t *out;
    size_t max;
    size_t n;
};

static int
collect_tag(const char *tag, size_t n, int weak, void *arg)
{
    struct etag_list *l = arg;
    int64_t v = weak ? 0 : tag_version(tag, n);

    if (v > 0 && l->n < l->max)
        l->out[l->n++] = v;
    return 0;
}

size_t
req_etag_versions(const char *header, int64_t *out, size_t max)
{
    struct etag_list l = {out, max, 0};

    if (each_etag(header, collect_tag, &l) < 0)
        return 0;
    return l.n;
}

char *
req_bearer_token(const char *authorization)
{
    const char *p = authorization, *start;

    if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return NULL;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    start = p;
    /* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
    while (isalnum((unsigned char)*p) || (*p != '\0' && strchr("-._~+/", *p) != NULL))
        p++;
    while (*p == '=')
        p++;
    if (p == start || p - start > 512)
        return NULL;
    {
        const char *end = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return NULL;
        return xstrndup(start, (size_t)(end - start));
    }
}

enum err_code
req_idempotency_key(const struct req *r, size_t max, char **out, struct err *err)
{
    const char *v = r->idempotency_key, *end;
    size_t len, i;

    *out = NULL;
    if (v == NULL)
        return ERR_OK;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end - v >= 2 && *v == '"' && end[-1] == '"') {
        v++;
        end--;
    }
    len = (size_t)(end - v);
    if (len == 0 || len > max)
        return err_fail(err, ERR_BAD_REQUEST, NULL, "Idempotency-Key must be 1 to %zu characters",
                        max);
    for (i = 0; i < len; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
            return err_fail(err, ERR_BAD_REQUEST, NULL,
                            "Idempotency-Key may hold printable ASCII only, without quotes "
                            "or backslashes");
    *out = xstrndup(v, len);
    return ERR_OK;
}
