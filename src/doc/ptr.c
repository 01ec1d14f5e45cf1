/*
 * ptr.c: JSON Pointer (RFC 6901). Pointers are parsed once into unescaped tokens;
 * escaping on the way out is the exact inverse, so an escaped pointer is canonical.
 */
#include "doc/ptr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/sbuf.h"
#include "base/xalloc.h"

/* Unescapes one reference token s[0..n): "~1" is '/', "~0" is '~' (RFC 6901 section 4). */
static char *
unescape(const char *s, size_t n)
{
    char *t = xmalloc(n + 1), *o = t;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '~') {
            *o++ = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return t;
}

enum err_code
ptr_parse(const char *s, struct ptr *out, struct err *err)
{
    const char *c, *tok;
    size_t n = 0, i = 0;

    out->n = 0;
    out->tok = NULL;
    if (*s != '\0' && *s != '/')
        return err_fail(err, ERR_BAD_REQUEST, NULL,
                        "a JSON Pointer must be empty or start with '/' (RFC 6901 section 3)");
    /* RFC 6901 section 3: '~' only as the start of "~0" or "~1". */
    for (c = s; *c != '\0'; c++) {
        if (*c == '/')
            n++;
        else if (*c == '~' && c[1] != '0' && c[1] != '1')
            return err_fail(err, ERR_BAD_REQUEST, NULL,
                            "'~' in a JSON Pointer must be followed by '0' or '1' (byte %zu)",
                            (size_t)(c - s));
    }
    out->tok = xcalloc(n, sizeof(*out->tok));
    for (c = s; *c != '\0'; c = tok + strcspn(tok, "/")) {
        tok = c + 1;
        out->tok[i++] = unescape(tok, strcspn(tok, "/"));
    }
    out->n = n;
    return ERR_OK;
}

void
ptr_free(struct ptr *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->n; i++)
        free(p->tok[i]);
    free(p->tok);
    p->tok = NULL;
    p->n = 0;
}

int
ptr_index(const char *tok, size_t *idx)
{
    size_t v = 0;
    const char *c;

    /* RFC 6901 section 4: array-index = %x30 / ( %x31-39 *%x30-39 ). */
    if (*tok == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return 0;
    for (c = tok; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return 0;
        if (v > (SIZE_MAX - (size_t)(*c - '0')) / 10)
            return 0;
        v = v * 10 + (size_t)(*c - '0');
    }
    *idx = v;
    return 1;
}

int
ptr_resolve(json_object *doc, const struct ptr *p, size_t depth, json_object **out)
{
    json_object *cur = doc;
    size_t i, idx;

    for (i = 0; i < depth; i++) {
        switch (json_object_get_type(cur)) {
        case json_type_object:
            if (!json_object_object_get_ex(cur, p->tok[i], &cur))
                return 0;
            break;
        case json_type_array:
            /* "-" names the element after the last one, which never exists here. */
            if (!ptr_index(p->tok[i], &idx) || idx >= json_object_array_length(cur))
                return 0;
            cur = json_object_array_get_idx(cur, idx);
            break;
        default:
            return 0;
        }
    }
    *out = cur;
    return 1;
}

char *
ptr_join(const char *base, const char *token)
{
    struct sbuf b;
    const char *c;

    sbuf_init(&b);
    sbuf_adds(&b, base);
    sbuf_adds(&b, "/");
    for (c = token; *c != '\0'; c++) {
        if (*c == '~')
            sbuf_adds(&b, "~0");
        else if (*c == '/')
            sbuf_adds(&b, "~1");
        else
            sbuf_add(&b, c, 1);
    }
    return b.data;
}

char *
ptr_join_index(const char *base, size_t idx)
{
    struct sbuf b;

    sbuf_init(&b);
    sbuf_adds(&b, base);
    sbuf_add(&b, "/", 1);
    sbuf_add_decimal(&b, idx, 0);
    return b.data;
}
