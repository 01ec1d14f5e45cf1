/*
 * resp.h: the response being built for one request: status, headers and body, and
 * its CGI serialisation ("Status:" line, headers, blank line, body). Problem details
 * (RFC 9457) are made here from an ad_error, the one place a code becomes a status.
 */
#ifndef ACTIOND_RESP_H
#define ACTIOND_RESP_H

#include <json-c/json.h>

#include "base/err.h"
#include "base/sbuf.h"
#include "base/xalloc.h"

struct resp {
    int status;
    struct sbuf headers; /* "Name: value\r\n" lines */
    struct sbuf body;
    const char *content_type; /* static string, or NULL for no body */
    int omit_body;            /* a HEAD request: headers as for GET, no body */
};

void resp_init(struct resp *r);
/*
 * Makes `r` as resp_init does, reusing its buffers: a worker keeps one resp for its
 * life, so a typical answer allocates nothing here. Buffers that grew beyond
 * RESP_KEEP_BYTES (a long log page) are released instead of kept.
 */
void resp_reset(struct resp *r);
void resp_free(struct resp *r);

#define RESP_KEEP_BYTES (64 * 1024)

/* Adds a header line. Values come from the server, never verbatim from a client. */
void resp_header(struct resp *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets status and an application/json body serialised from `body` (borrowed). */
void resp_json(struct resp *r, int status, json_object *body);

/*
 * Like resp_json for an object `body`, with one more member `name` (a plain ASCII name)
 * last, whose value is `json_text`, valid JSON text written as it is: a document the
 * caller has serialised already, or read from the database, is not serialised again.
 */
void resp_json_with(struct resp *r, int status, json_object *body, const char *name,
                    const char *json_text);

/* Sets status and a body of `content_type` (a static string): `len` bytes of `data`,
 * copied. An empty body still names its type (a redirection to nchan keeps it). */
void resp_text(struct resp *r, int status, const char *content_type, const char *data, size_t len);

/* Sets a status with no body (204, 304). */
void resp_empty(struct resp *r, int status);

/* The problem type of a body sent with a content coding, which the worker refuses. */
#define RESP_SLUG_CONTENT_ENCODING "unsupported-content-encoding"

/*
 * The problem slug of a 401 for a bearer token that was presented and refused
 * (unknown, revoked, expired, malformed): its challenge carries error="invalid_token"
 * (RFC 6750 section 3.1). Other 401s have no token at all, and their challenge no error.
 */
#define RESP_SLUG_INVALID_TOKEN "invalid-token"

/*
 * Sets an application/problem+json response from `err`: type urn:actiond:problem:<slug>,
 * title, status, detail, pointer when there is one, then err->extra's members.
 * A 503 gets Retry-After; a 401 gets WWW-Authenticate (RFC 6750 section 3), with
 * error="invalid_token" for the slug RESP_SLUG_INVALID_TOKEN; a refused content coding
 * gets Accept-Encoding: identity (RFC 9110 section 15.5.16). Cache-Control: no-store.
 */
void resp_problem(struct resp *r, const struct err *err);

/* The reason phrase of an HTTP status (RFC 9110 section 15). */
const char *resp_reason(int status);

/* Serialises the response as a CGI response (RFC 3875 section 6) into `out`. */
void resp_write(const struct resp *r, struct sbuf *out);

#endif
