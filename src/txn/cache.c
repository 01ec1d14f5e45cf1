/*
 * cache.c: a hash table of resource ids over one allocation per entry (the columns and
 * the document's text packed behind it), threaded on a doubly linked list in the order
 * of use, so a hit, an insertion and an eviction each cost O(1).
 */
#include "txn/cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "doc/jsonp.h"

#define CACHE_MIN_BUCKETS 64

struct entry {
    struct entry *chain;  /* next in the bucket */
    struct entry *newer;  /* towards the most recently used */
    struct entry *older;  /* towards the least recently used */
    size_t bytes;         /* what this entry counts against the budget */
    struct store_row row; /* strings point into `text` below; data is NULL */
    size_t len;           /* of the document's text, row.data_text */
    char text[];          /* the document's text, then type, state, owner, times */
};

struct cache {
    size_t max_bytes, bytes, count;
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    struct entry *newest, *oldest;
};

struct cache *
cache_new(size_t max_bytes)
{
    struct cache *c;

    if (max_bytes == 0)
        return NULL;
    c = xcalloc(1, sizeof(*c));
    c->max_bytes = max_bytes;
    c->nbuckets = CACHE_MIN_BUCKETS;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    return c;
}

void
cache_free(struct cache *c)
{
    struct entry *e, *next;

    if (c == NULL)
        return;
    for (e = c->newest; e != NULL; e = next) {
        next = e->older;
        json_object_put(e->row.access);
        free(e);
    }
    free(c->buckets);
    free(c);
}

static size_t
bucket_of(const struct cache *c, int64_t id)
{
    /* Fibonacci hashing: consecutive ids (an identity column) spread over the table */
    return (size_t)(((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (c->nbuckets - 1);
}

static struct entry **
slot_of(struct cache *c, int64_t id)
{
    struct entry **p = &c->buckets[bucket_of(c, id)];

    while (*p != NULL && (*p)->row.id != id)
        p = &(*p)->chain;
    return p;
}

static void
unlink_lru(struct cache *c, struct entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void
push_newest(struct cache *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest != NULL)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

/* Removes the entry `*slot` points at from the table and the list, and frees it. */
static void
remove_at(struct cache *c, struct entry **slot)
{
    struct entry *e = *slot;

    *slot = e->chain;
    unlink_lru(c, e);
    c->bytes -= e->bytes;
    c->count--;
    json_object_put(e->row.access);
    free(e);
}

/* Doubles the table when it holds more entries than buckets, keeping chains short. */
static void
maybe_grow(struct cache *c)
{
    struct entry **old = c->buckets;
    size_t i, n = c->nbuckets;

    if (c->count < c->nbuckets)
        return;
    c->nbuckets = n * 2;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    for (i = 0; i < n; i++) {
        struct entry *e = old[i], *next;
        for (; e != NULL; e = next) {
            size_t b = bucket_of(c, e->row.id);
            next = e->chain;
            e->chain = c->buckets[b];
            c->buckets[b] = e;
        }
    }
    free(old);
}

/* Copies `s` (NULL stays NULL) to *at and advances it. */
static char *
pack(char **at, const char *s)
{
    char *p = *at;
    size_t n;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    memcpy(p, s, n);
    *at += n;
    return p;
}

static size_t
len0(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

void
cache_put(struct cache *c, const struct store_row *row, const char *text, size_t len)
{
    struct entry **slot, *e;
    size_t strings, bytes;
    char *at;

    if (c == NULL)
        return;
    slot = slot_of(c, row->id);
    if (*slot != NULL)
        remove_at(c, slot);
    strings = len + 1 + len0(row->type) + len0(row->state) + len0(row->owner) +
              len0(row->created_at) + len0(row->updated_at);
    bytes = sizeof(*e) + strings + sizeof(struct entry *); /* and its share of the table */
    /* the grants are kept as a copy of their own, counted by their text */
    if (row->access != NULL)
        bytes += strlen(json_object_to_json_string(row->access));
    if (bytes > c->max_bytes)
        return;
    while (c->bytes + bytes > c->max_bytes)
        remove_at(c, slot_of(c, c->oldest->row.id));

    e = xmalloc(sizeof(*e) + strings);
    e->bytes = bytes;
    e->row = *row;
    e->row.data = NULL;
    e->row.access = jsonp_copy(row->access);
    e->len = len;
    memcpy(e->text, text, len);
    e->text[len] = '\0';
    e->row.data_text = e->text;
    at = e->text + len + 1;
    e->row.type = pack(&at, row->type);
    e->row.state = pack(&at, row->state);
    e->row.owner = pack(&at, row->owner);
    e->row.created_at = pack(&at, row->created_at);
    e->row.updated_at = pack(&at, row->updated_at);

    e->chain = c->buckets[bucket_of(c, row->id)];
    c->buckets[bucket_of(c, row->id)] = e;
    push_newest(c, e);
    c->bytes += bytes;
    c->count++;
    maybe_grow(c);
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

int
cache_get(struct cache *c, const char *type, int64_t id, int64_t version, struct store_row *out)
{
    struct entry *e;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return 0;
    e = *slot_of(c, id);
    if (e == NULL || (version != 0 && e->row.version != version) || e->row.type == NULL ||
        strcmp(e->row.type, type) != 0)
        return 0;
    unlink_lru(c, e);
    push_newest(c, e);
    *out = e->row;
    out->data_text = xstrndup(e->text, e->len);
    out->type = xstrdup(e->row.type);
    out->state = dup_or_null(e->row.state);
    out->owner = dup_or_null(e->row.owner);
    out->created_at = dup_or_null(e->row.created_at);
    out->updated_at = dup_or_null(e->row.updated_at);
    out->access = jsonp_copy(e->row.access);
    return 1;
}

void
cache_drop(struct cache *c, int64_t id)
{
    struct entry **slot;

    if (c == NULL)
        return;
    slot = slot_of(c, id);
    if (*slot != NULL)
        remove_at(c, slot);
}

size_t
cache_count(const struct cache *c)
{
    return c != NULL ? c->count : 0;
}

size_t
cache_bytes(const struct cache *c)
{
    return c != NULL ? c->bytes : 0;
}
