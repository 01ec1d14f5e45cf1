/*
 * err.h: the one error vocabulary of actiond. Every module reports failure as an
 * ad_code plus a struct ad_error; resp.c turns a code into an HTTP status in one place.
 */
#ifndef ACTIOND_ERR_H
#define ACTIOND_ERR_H

#include <json-c/json.h>

enum ad_code {
    AD_OK = 0,
    AD_BAD_REQUEST,           /* 400: malformed or wrongly shaped input */
    AD_UNAUTHORIZED,          /* 401 */
    AD_FORBIDDEN,             /* 403 */
    AD_NOT_FOUND,             /* 404: unknown resource, type or action */
    AD_METHOD_NOT_ALLOWED,    /* 405 */
    AD_NOT_ACCEPTABLE,        /* 406 */
    AD_CONFLICT,              /* 409: stale version, illegal transition, failed test... */
    AD_GONE,                  /* 410: deleted resource */
    AD_PRECONDITION_FAILED,   /* 412: If-Match did not match */
    AD_TOO_LARGE,             /* 413 */
    AD_UNSUPPORTED_MEDIA,     /* 415 */
    AD_UNPROCESSABLE,         /* 422: well formed but cannot apply */
    AD_PRECONDITION_REQUIRED, /* 428 */
    AD_UNAVAILABLE,           /* 503: database unavailable */
    AD_INTERNAL               /* 500 */
};

#define AD_DETAIL_MAX 512
#define AD_POINTER_MAX 512
#define AD_SLUG_MAX 64

/*
 * A failure with what the client needs to act on it. `slug` names the problem type
 * (docs/api.md lists them); `pointer` is the RFC 6901 pointer of the offending member
 * of the request body ("" when none); `extra` holds further problem members
 * (current_version, allowed_actions, links, failed_index...), owned by the error.
 */
struct ad_error {
    enum ad_code code;
    char slug[AD_SLUG_MAX];
    char detail[AD_DETAIL_MAX];
    char pointer[AD_POINTER_MAX];
    int has_pointer;
    json_object *extra;
};

/*
 * Records a failure and returns its code, so callers can write
 * `return ad_fail(err, AD_BAD_REQUEST, "/data/x", "x must be a number")`.
 * `slug` may be NULL for the code's default; `pointer` NULL when there is none.
 * A NULL err is allowed and only returns the code.
 */
enum ad_code ad_fail(struct ad_error *err, enum ad_code code, const char *pointer, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* Sets the problem type slug of an already recorded failure. */
void ad_error_slug(struct ad_error *err, const char *slug);

/* Adds member `key` to the problem body; takes ownership of `val`. */
void ad_error_put(struct ad_error *err, const char *key, json_object *val);

/* Prefixes the recorded pointer with `prefix` (e.g. "/actions/3"). */
void ad_error_prefix_pointer(struct ad_error *err, const char *prefix);

/* Releases `extra` and resets the error to AD_OK. Accepts NULL. */
void ad_error_clear(struct ad_error *err);

/* The default slug and title of a code ("stale-version" / "Conflict" ...). */
const char *ad_code_slug(enum ad_code code);
const char *ad_code_title(enum ad_code code);
int ad_code_status(enum ad_code code);

#endif
