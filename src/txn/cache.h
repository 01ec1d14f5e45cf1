/*
 * cache.h: the documents a worker process last wrote, kept so that the next action on
 * one of them is compiled without reading the row first: the write itself checks that
 * the row is still at the kept version (store_write_at), one database round trip
 * instead of two. An entry is a guess, never an answer: nothing is served from here.
 * Per process, bounded in bytes; the least recently used entry goes first.
 */
#ifndef ACTIOND_CACHE_H
#define ACTIOND_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct cache;

/* A cache of at most `max_bytes` (entries and their text); NULL when max_bytes is 0,
 * which every function below accepts as an empty cache. Free with cache_free. */
struct cache *cache_new(size_t max_bytes);

void cache_free(struct cache *c);

/*
 * Keeps resource row->id at row->version: a copy of the row's columns (row->data and
 * row->data_text are not read) and of `text`, the document's JSON text of `len` bytes.
 * Replaces what was kept for the id; an entry larger than the whole budget is not kept.
 */
void cache_put(struct cache *c, const struct store_row *row, const char *text, size_t len);

/*
 * When resource `id` of `type` is kept at `version` (at any version when 0): fills *out with copies
 * of its columns, the document's text in out->data_text (out->data stays NULL), and returns 1.
 * Otherwise returns 0 and leaves *out zeroed. Release *out with store_row_clear.
 */
int cache_get(struct cache *c, const char *type, int64_t id, int64_t version,
              struct store_row *out);

/* Forgets resource `id`, if kept. */
void cache_drop(struct cache *c, int64_t id);

/* Entries kept and the bytes they take (for tests and diagnostics). */
size_t cache_count(const struct cache *c);
size_t cache_bytes(const struct cache *c);

#endif
