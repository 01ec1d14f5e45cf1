/*
 * xalloc.h: allocation that cannot fail.
 * Out-of-memory policy: actiond aborts. A worker that cannot allocate is killed,
 * its open transaction rolls back with the connection, and the prefork parent
 * starts a new one; no caller checks for NULL from these functions.
 */
#ifndef ACTIOND_XALLOC_H
#define ACTIOND_XALLOC_H

#include <stddef.h>

/* Reports exhaustion and aborts: for allocations made by libraries on our behalf. */
void xalloc_die(void) __attribute__((noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
