/*
 * err.h: the one error vocabulary of actiond. Every module reports failure as an
 * ad_code plus a struct err; resp.c turns a code into an HTTP status in one place.
 */
#ifndef ACTIOND_ERR_H
#define ACTIOND_ERR_H

#include <stdarg.h>
#include <json-c/json.h>

enum err_code {
    ERR_OK = 0,
    ERR_BAD_REQUEST,           /* 400: malformed or wrongly shaped input */
    ERR_UNAUTHORIZED,          /* 401 */
    ERR_FORBIDDEN,             /* 403 */
    ERR_NOT_FOUND,             /* 404: unknown resource, type or action */
    ERR_METHOD_NOT_ALLOWED,    /* 405 */
    ERR_NOT_ACCEPTABLE,        /* 406 */
    ERR_CONFLICT,              /* 409: stale version, illegal transition, failed test... */
    ERR_GONE,                  /* 410: deleted resource */
    ERR_PRECONDITION_FAILED,   /* 412: If-Match did not match */
    ERR_TOO_LARGE,             /* 413 */
    ERR_UNSUPPORTED_MEDIA,     /* 415 */
    ERR_UNPROCESSABLE,         /* 422: well formed but cannot apply */
    ERR_PRECONDITION_REQUIRED, /* 428 */
    ERR_UNAVAILABLE,           /* 503: database unavailable */
    ERR_INTERNAL               /* 500 */
};

#define ERR_DETAIL_MAX 512
#define ERR_POINTER_MAX 512
#define ERR_SLUG_MAX 64

/*
 * A failure with what the client needs to act on it. `slug` names the problem type
 * (docs/api.md lists them); `pointer` is the RFC 6901 pointer of the offending member
 * of the request body ("" when none); `extra` holds further problem members
 * (current_version, allowed_actions, links, failed_index...), owned by the error.
 */
struct err {
    enum err_code code;
    char slug[ERR_SLUG_MAX];
    char detail[ERR_DETAIL_MAX];
    char pointer[ERR_POINTER_MAX];
    int has_pointer;
    json_object *extra;
};

/*
 * Records a failure and returns its code, so callers can write
 * `return err_fail(err, ERR_BAD_REQUEST, "/data/x", "x must be a number")`.
 * The slug is the code's default until err_set_slug names another; `pointer` is NULL
 * when there is none.
 * A NULL err is allowed and only returns the code.
 */
enum err_code err_fail(struct err *err, enum err_code code, const char *pointer, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* err_fail with a va_list. */
enum err_code err_failv(struct err *err, enum err_code code, const char *pointer, const char *fmt,
                        va_list ap) __attribute__((format(printf, 4, 0)));

/* err_fail, then err_set_slug (`slug` NULL keeps the code's default). */
enum err_code err_fail_slug(struct err *err, enum err_code code, const char *slug,
                            const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Sets the problem type slug of an already recorded failure. */
void err_set_slug(struct err *err, const char *slug);

/* Adds member `key` to the problem body; takes ownership of `val`. */
void err_put(struct err *err, const char *key, json_object *val);

/* Prefixes the recorded pointer with `prefix` (e.g. "/actions/3"). */
void err_prefix_pointer(struct err *err, const char *prefix);

/* Releases `extra` and resets the error to ERR_OK. Accepts NULL. */
void err_clear(struct err *err);

/* The default slug and title of a code ("stale-version" / "Conflict" ...). */
const char *err_code_slug(enum err_code code);
const char *err_code_title(enum err_code code);
int err_code_status(enum err_code code);

#endif
