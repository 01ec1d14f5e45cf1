/*
 * sbuf.h: a growable, always NUL-terminated byte buffer. Its storage comes from
 * xalloc.h, so appending never fails (actiond aborts on exhaustion).
 */
#ifndef ACTIOND_SBUF_H
#define ACTIOND_SBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growable, always NUL-terminated byte buffer. */
struct sbuf {
    char *data;
    size_t len;
    size_t cap;
};

void sbuf_init(struct sbuf *b);
/* Makes room for `extra` more bytes and the terminator; sbuf_add's slow path. */
void sbuf_reserve(struct sbuf *b, size_t extra);

/* Inline because serialising a document calls it for every token. */
static inline void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap)
        sbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes `v` in decimal to `out` (room for 20 digits, no terminator); returns the length. */
size_t sbuf_fmt_decimal(char *out, uint64_t v);
/* Appends `magnitude` in decimal, after a '-' when `negative`: documents and SQL
 * parameters are full of integers, and snprintf costs several times as much. */
void sbuf_add_decimal(struct sbuf *b, uint64_t magnitude, int negative);
void sbuf_add_int64(struct sbuf *b, int64_t v);
void sbuf_reset(struct sbuf *b);
/* Empties `b` for reuse, keeping its storage unless that grew beyond `keep` bytes. */
void sbuf_recycle(struct sbuf *b, size_t keep);
/* Frees the storage; the buffer may be reused after sbuf_init. Accepts NULL. */
void sbuf_free(struct sbuf *b);

#endif
