/*
 * sbuf.c: the growable byte buffer that responses, documents and SQL parameters are
 * built in, and the decimal formatting they share.
 */
#define _GNU_SOURCE /* vsnprintf with a NULL buffer */
#include "base/sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/xalloc.h"

void
sbuf_init(struct sbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
sbuf_reserve(struct sbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void
sbuf_adds(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

size_t
sbuf_fmt_decimal(char *out, uint64_t v)
{
    /* UINT64_MAX is 20 digits */
    char num[20], *p = num + sizeof(num);
    size_t n;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    n = (size_t)(num + sizeof(num) - p);
    memcpy(out, p, n);
    return n;
}

void
sbuf_add_decimal(struct sbuf *b, uint64_t magnitude, int negative)
{
    /* the digits go straight into the buffer: a '-' and at most 20 of them */
    if (b->len + 21 >= b->cap)
        sbuf_reserve(b, 21);
    if (negative)
        b->data[b->len++] = '-';
    b->len += sbuf_fmt_decimal(b->data + b->len, magnitude);
    b->data[b->len] = '\0';
}

void
sbuf_add_int64(struct sbuf *b, int64_t v)
{
    if (v < 0)
        sbuf_add_decimal(b, (uint64_t)0 - (uint64_t)v, 1);
    else
        sbuf_add_decimal(b, (uint64_t)v, 0);
}

void
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void
sbuf_recycle(struct sbuf *b, size_t keep)
{
    if (b->cap > keep)
        sbuf_free(b);
    else
        sbuf_reset(b);
}

void
sbuf_free(struct sbuf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    sbuf_init(b);
}
