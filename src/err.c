/*
 * err.c: recording failures, and the single table that maps an ad_code to its
 * HTTP status, title and default problem type slug.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *title;
    const char *slug;
} code_table[] = {
    [AD_OK] = {200, "OK", "ok"},
    [AD_BAD_REQUEST] = {400, "Bad Request", "bad-request"},
    [AD_UNAUTHORIZED] = {401, "Unauthorized", "unauthorized"},
    [AD_FORBIDDEN] = {403, "Forbidden", "forbidden"},
    [AD_NOT_FOUND] = {404, "Not Found", "not-found"},
    [AD_METHOD_NOT_ALLOWED] = {405, "Method Not Allowed", "method-not-allowed"},
    [AD_NOT_ACCEPTABLE] = {406, "Not Acceptable", "not-acceptable"},
    [AD_CONFLICT] = {409, "Conflict", "conflict"},
    [AD_GONE] = {410, "Gone", "gone"},
    [AD_PRECONDITION_FAILED] = {412, "Precondition Failed", "precondition-failed"},
    [AD_TOO_LARGE] = {413, "Content Too Large", "too-large"},
    [AD_UNSUPPORTED_MEDIA] = {415, "Unsupported Media Type", "unsupported-media-type"},
    [AD_UNPROCESSABLE] = {422, "Unprocessable Content", "unprocessable"},
    [AD_PRECONDITION_REQUIRED] = {428, "Precondition Required", "precondition-required"},
    [AD_UNAVAILABLE] = {503, "Service Unavailable", "database-unavailable"},
    [AD_INTERNAL] = {500, "Internal Server Error", "internal"},
};

int
ad_code_status(enum ad_code code)
{
    return code_table[code].status;
}

const char *
ad_code_title(enum ad_code code)
{
    return code_table[code].title;
}

const char *
ad_code_slug(enum ad_code code)
{
    return code_table[code].slug;
}

enum ad_code
ad_fail(struct ad_error *err, enum ad_code code, const char *pointer, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    snprintf(err->slug, sizeof(err->slug), "%s", ad_code_slug(code));
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    err->has_pointer = pointer != NULL;
    snprintf(err->pointer, sizeof(err->pointer), "%s", pointer ? pointer : "");
    return code;
}

void
ad_error_slug(struct ad_error *err, const char *slug)
{
    if (err != NULL)
        snprintf(err->slug, sizeof(err->slug), "%s", slug);
}

void
ad_error_put(struct ad_error *err, const char *key, json_object *val)
{
    if (err == NULL) {
        json_object_put(val);
        return;
    }
    if (err->extra == NULL)
        err->extra = json_object_new_object();
    json_object_object_add(err->extra, key, val);
}

void
ad_error_prefix_pointer(struct ad_error *err, const char *prefix)
{
    char joined[AD_POINTER_MAX];

    if (err == NULL || !err->has_pointer)
        return;
    snprintf(joined, sizeof(joined), "%s%s", prefix, err->pointer);
    memcpy(err->pointer, joined, sizeof(joined));
}

void
ad_error_clear(struct ad_error *err)
{
    if (err == NULL)
        return;
    json_object_put(err->extra);
    memset(err, 0, sizeof(*err));
}
