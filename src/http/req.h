/*
 * req.h: one HTTP request as the FastCGI parameters describe it (RFC 3875 names),
 * with the body read on demand under a size limit. Only the worker's accept loop
 * knows libfcgi; a request reads its body through a callback.
 */
#ifndef ACTIOND_REQ_H
#define ACTIOND_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define REQ_MAX_SEGMENTS 8

/* Reads up to n bytes into buf; returns the count, 0 at the end, -1 on error. */
typedef long (*req_reader)(void *ctx, char *buf, size_t n);

struct req {
    const char *method;        /* REQUEST_METHOD */
    const char *mount;         /* SCRIPT_NAME: where nginx mounts the API ("/api") */
    const char *path;          /* PATH_INFO: "/clips/12/actions" */
    const char *query;         /* QUERY_STRING, "" when none */
    const char *content_type;  /* NULL when absent */
    const char *authorization; /* the HTTP_* headers, NULL when absent */
    const char *if_match;
    const char *if_none_match;
    const char *idempotency_key;
    const char *last_event_id; /* where a live feed resumes (WHATWG HTML, server-sent events) */
    int has_content_length;
    uint64_t content_length;

    /* PATH_INFO split at "/": nseg segments, each NUL-terminated, owned. */
    size_t nseg;
    char *seg[REQ_MAX_SEGMENTS];
    int path_too_deep; /* more than REQ_MAX_SEGMENTS segments */

    req_reader reader;
    void *reader_ctx;
    char *body; /* owned; NULL until req_body */
    size_t body_len;
};

/*
 * Fills *r from the FastCGI environment `envp` ("NAME=value" strings, borrowed: they
 * must outlive *r), and refuses what strict HTTP does not allow (docs/api.md, "Strict
 * HTTP"): an unparseable CONTENT_LENGTH, or a path with a byte other than visible
 * ASCII, gives ERR_BAD_REQUEST; a path not written canonically (an empty or dot
 * segment, a slash at the end) ERR_NOT_FOUND; any Content-Encoding, or a charset
 * parameter other than utf-8, ERR_UNSUPPORTED_MEDIA (the former with the slug
 * RESP_SLUG_CONTENT_ENCODING). On failure *r is still filled as far as it could be,
 * and the caller releases it with req_free as on success.
 */
enum err_code req_init(struct req *r, char **envp, req_reader reader, void *reader_ctx,
                       struct err *err);

/* Releases what *r owns. Accepts a zeroed struct. */
void req_free(struct req *r);

/*
 * Reads the whole body (once; later calls return the same). More than `max` bytes
 * declared or received: ERR_TOO_LARGE, checked against CONTENT_LENGTH before reading.
 * A body shorter than declared: ERR_BAD_REQUEST.
 */
enum err_code req_body(struct req *r, size_t max, struct err *err);

/*
 * 1 when the media type of Content-Type is `type` (case-insensitive, parameters such
 * as charset ignored), else 0.
 */
int req_content_type_is(const struct req *r, const char *type);

/*
 * Looks up query parameter `name` as a decimal integer in [min, max].
 * Returns 0 when absent (*out untouched), 1 when present and valid, and
 * ERR_BAD_REQUEST (via err, returning -1) when present but invalid.
 */
int req_query_int(const struct req *r, const char *name, int64_t min, int64_t max, int64_t *out,
                  struct err *err);

/*
 * Finds query parameter `name`: returns 1 and points *value at its (undecoded) text,
 * *len bytes long, or returns 0 when absent.
 */
int req_query_param(const struct req *r, const char *name, const char **value, size_t *len);

/*
 * Parses an entity-tag list (If-Match / If-None-Match, RFC 9110 section 8.8.3).
 * Returns 1 when `header` is "*", else whether it lists the tag "<version>":
 * with `weak` the W/ prefix is ignored (weak comparison), without it a weak tag never
 * matches (strong comparison). A malformed list matches nothing.
 */
int req_etag_matches(const char *header, int64_t version, int weak);

/*
 * Whether an If-None-Match list names the entity tag whose opaque text is `opaque`,
 * by the weak comparison (RFC 9110 section 13.1.2): W/ is ignored. "*" names any; a
 * NULL or malformed list none.
 */
int req_etag_list_has(const char *header, const char *opaque);

/* 1 when an If-Match or If-None-Match value is the wildcard "*". */
int req_etag_is_any(const char *header);

/*
 * The versions named by the strong entity tags of a list, in order, at most `max`
 * into `out`; returns how many. Weak tags and tags that are not a version (digits
 * without a leading zero) name none. A malformed list names none at all.
 */
size_t req_etag_versions(const char *header, int64_t *out, size_t max);

/*
 * The version N when `header` is exactly one entity tag "N" (with `weak`, W/"N" as
 * well), else 0: what a request can be checked against before the resource is read.
 */
int64_t req_etag_version(const char *header, int weak);

/*
 * Extracts the token of "Authorization: Bearer <token>" (RFC 6750 section 2.1) into a
 * new string (caller frees), or NULL when the header is absent or malformed.
 */
char *req_bearer_token(const char *authorization);

/*
 * The Idempotency-Key header as a new string (caller frees): an RFC 8941 sf-string
 * ("\"abc\"") is unquoted; a bare token is taken as is. NULL when absent; ERR_BAD_REQUEST
 * when empty, over `max` bytes, or with characters outside printable ASCII.
 */
enum err_code req_idempotency_key(const struct req *r, size_t max, char **out, struct err *err);

#endif
