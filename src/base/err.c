/*
 * err.c: recording failures, and the single table that maps an err_code to its
 * HTTP status, title and default problem type slug.
 */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *title;
    const char *slug;
} code_table[] = {
    [ERR_OK] = {200, "OK", "ok"},
    [ERR_BAD_REQUEST] = {400, "Bad Request", "bad-request"},
    [ERR_UNAUTHORIZED] = {401, "Unauthorized", "unauthorized"},
    [ERR_FORBIDDEN] = {403, "Forbidden", "forbidden"},
    [ERR_NOT_FOUND] = {404, "Not Found", "not-found"},
    [ERR_METHOD_NOT_ALLOWED] = {405, "Method Not Allowed", "method-not-allowed"},
    [ERR_NOT_ACCEPTABLE] = {406, "Not Acceptable", "not-acceptable"},
    [ERR_CONFLICT] = {409, "Conflict", "conflict"},
    [ERR_GONE] = {410, "Gone", "gone"},
    [ERR_PRECONDITION_FAILED] = {412, "Precondition Failed", "precondition-failed"},
    [ERR_TOO_LARGE] = {413, "Content Too Large", "too-large"},
    [ERR_UNSUPPORTED_MEDIA] = {415, "Unsupported Media Type", "unsupported-media-type"},
    [ERR_UNPROCESSABLE] = {422, "Unprocessable Content", "unprocessable"},
    [ERR_PRECONDITION_REQUIRED] = {428, "Precondition Required", "precondition-required"},
    [ERR_UNAVAILABLE] = {503, "Service Unavailable", "database-unavailable"},
    [ERR_INTERNAL] = {500, "Internal Server Error", "internal"},
};

int
err_code_status(enum err_code code)
{
    return code_table[code].status;
}

const char *
err_code_title(enum err_code code)
{
    return code_table[code].title;
}

const char *
err_code_slug(enum err_code code)
{
    return code_table[code].slug;
}

/*
 * Ends `s`, which filled a buffer of `size` bytes, at a UTF-8 character boundary: a
 * detail or pointer cut in the middle of a character would make the whole problem body
 * invalid UTF-8.
 */
static void
cut_at_character(char *s, size_t size)
{
    size_t n = strlen(s), start, need;
    unsigned char lead;

    if (n + 1 < size || n == 0)
        return;
    start = n;
    while (start > 0 && n - start < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return;
    lead = (unsigned char)s[start - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (start - 1) < need)
        s[start - 1] = '\0';
}

enum err_code
err_failv(struct err *err, enum err_code code, const char *pointer, const char *fmt, va_list ap)
{
    char detail[ERR_DETAIL_MAX];

    if (err == NULL)
        return code;
    /* formatted apart first: an argument may be err's own detail */
    vsnprintf(detail, sizeof(detail), fmt, ap);
    err->code = code;
    snprintf(err->slug, sizeof(err->slug), "%s", err_code_slug(code));
    cut_at_character(detail, sizeof(detail));
    memcpy(err->detail, detail, sizeof(detail));
    err->has_pointer = pointer != NULL;
    snprintf(err->pointer, sizeof(err->pointer), "%s", pointer ? pointer : "");
    cut_at_character(err->pointer, sizeof(err->pointer));
    return code;
}

enum err_code
err_fail(struct err *err, enum err_code code, const char *pointer, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_failv(err, code, pointer, fmt, ap);
    va_end(ap);
    return code;
}

enum err_code
err_fail_slug(struct err *err, enum err_code code, const char *slug, const char *pointer,
              const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_failv(err, code, pointer, fmt, ap);
    va_end(ap);
    if (slug != NULL)
        err_set_slug(err, slug);
    return code;
}

void
err_set_slug(struct err *err, const char *slug)
{
    if (err != NULL)
        snprintf(err->slug, sizeof(err->slug), "%s", slug);
}

void
err_put(struct err *err, const char *key, json_object *val)
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
err_prefix_pointer(struct err *err, const char *prefix)
{
    char joined[ERR_POINTER_MAX];

    if (err == NULL || !err->has_pointer)
        return;
    snprintf(joined, sizeof(joined), "%s%s", prefix, err->pointer);
    memcpy(err->pointer, joined, sizeof(joined));
}

void
err_clear(struct err *err)
{
    if (err == NULL)
        return;
    json_object_put(err->extra);
    memset(err, 0, sizeof(*err));
}
