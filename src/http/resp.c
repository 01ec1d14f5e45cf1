/*
 * resp.c: response assembly. Every response leaves through resp_write as one buffer,
 * so a worker makes one write per request.
 */
#include "http/resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doc/jsonp.h"

void
resp_init(struct resp *r)
{
    r->status = 200;
    sbuf_init(&r->headers);
    sbuf_init(&r->body);
    r->content_type = NULL;
    r->omit_body = 0;
}

void
resp_reset(struct resp *r)
{
    r->status = 200;
    sbuf_recycle(&r->headers, RESP_KEEP_BYTES);
    sbuf_recycle(&r->body, RESP_KEEP_BYTES);
    r->content_type = NULL;
    r->omit_body = 0;
}

void
resp_free(struct resp *r)
{
    sbuf_free(&r->headers);
    sbuf_free(&r->body);
}

void
resp_header(struct resp *r, const char *name, const char *fmt, ...)
{
    char value[1024];
    const char *v = fmt;
    va_list ap;

    /* most values are constants: format only when there is something to format */
    if (strchr(fmt, '%') != NULL) {
        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        v = value;
    }
    sbuf_adds(&r->headers, name);
    sbuf_add(&r->headers, ": ", 2);
    sbuf_adds(&r->headers, v);
    sbuf_add(&r->headers, "\r\n", 2);
}

void
resp_json(struct resp *r, int status, json_object *body)
{
    r->status = status;
    r->content_type = "application/json";
    sbuf_reset(&r->body);
    jsonp_write(&r->body, body);
}

void
resp_json_with(struct resp *r, int status, json_object *body, const char *name,
               const char *json_text)
{
    r->status = status;
    r->content_type = "application/json";
    sbuf_reset(&r->body);
    jsonp_write_with(&r->body, body, name, json_text);
}

void
resp_text(struct resp *r, int status, const char *content_type, const char *data, size_t len)
{
    r->status = status;
    r->content_type = content_type;
    sbuf_reset(&r->body);
    if (len > 0)
        sbuf_add(&r->body, data, len);
}

void
resp_empty(struct resp *r, int status)
{
    r->status = status;
    r->content_type = NULL;
    sbuf_reset(&r->body);
}

void
resp_problem(struct resp *r, const struct err *err)
{
    enum err_code code = err->code == ERR_OK ? ERR_INTERNAL : err->code;
    int status = err_code_status(code);
    json_object *p = json_object_new_object();
    char type[ERR_SLUG_MAX + 32];

    snprintf(type, sizeof(type), "urn:actiond:problem:%s",
             err->slug[0] ? err->slug : err_code_slug(code));
    json_object_object_add(p, "type", json_object_new_string(type));
    json_object_object_add(p, "title", json_object_new_string(err_code_title(code)));
    json_object_object_add(p, "status", json_object_new_int(status));
    json_object_object_add(
        p, "detail", json_object_new_string(err->detail[0] ? err->detail : err_code_title(code)));
    if (err->has_pointer)
        json_object_object_add(p, "pointer", json_object_new_string(err->pointer));
    if (err->extra != NULL) {
        json_object_object_foreach(err->extra, key, val)
        {
            json_object_object_add(p, key, json_object_get(val));
        }
    }
    r->status = status;
    r->content_type = "application/problem+json";
    sbuf_reset(&r->body);
    jsonp_write(&r->body, p);
    json_object_put(p);
    if (code == ERR_UNAVAILABLE)
        resp_header(r, "Retry-After", "1");
    if (code == ERR_UNAUTHORIZED && strcmp(err->slug, RESP_SLUG_INVALID_TOKEN) == 0)
        resp_header(r, "WWW-Authenticate", "Bearer realm=\"actiond\", error=\"invalid_token\"");
    else if (code == ERR_UNAUTHORIZED)
        resp_header(r, "WWW-Authenticate", "Bearer realm=\"actiond\"");
    if (code == ERR_UNSUPPORTED_MEDIA && strcmp(err->slug, RESP_SLUG_CONTENT_ENCODING) == 0)
        resp_header(r, "Accept-Encoding", "identity");
    resp_header(r, "Cache-Control", "no-store");
}

const char *
resp_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

void
resp_write(const struct resp *r, struct sbuf *out)
{
    sbuf_adds(out, "Status: ");
    sbuf_add_int64(out, r->status);
    sbuf_add(out, " ", 1);
    sbuf_adds(out, resp_reason(r->status));
    sbuf_add(out, "\r\n", 2);
    if (r->content_type != NULL) {
        sbuf_adds(out, "Content-Type: ");
        sbuf_adds(out, r->content_type);
        sbuf_adds(out, "\r\nContent-Length: ");
        sbuf_add_decimal(out, r->body.len, 0);
        sbuf_add(out, "\r\n", 2);
    }
    if (r->headers.len > 0)
        sbuf_add(out, r->headers.data, r->headers.len);
    sbuf_adds(out, "\r\n");
    if (r->content_type != NULL && r->body.len > 0 && !r->omit_body)
        sbuf_add(out, r->body.data, r->body.len);
}
