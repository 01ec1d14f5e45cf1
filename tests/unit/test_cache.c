/*
 * test_cache.c: the per-process document cache (cache.h): hits only at the kept
 * version and type, copies that outlive the entry, replacement, eviction of the least
 * recently used entry within the byte budget, and growth of the table.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "txn/cache.h"

/* A row as the store returns it, with owned strings. */
static struct store_row
row_of(int64_t id, int64_t version, const char *state)
{
    struct store_row r = {0};

    r.id = id;
    r.type = strdup("clips");
    r.version = version;
    r.state = state != NULL ? strdup(state) : NULL;
    r.owner = strdup("alice");
    r.created_at = strdup("2026-12-02T10:00:00.000000+00:00");
    r.updated_at = strdup("2026-12-02T11:00:00.000000+00:00");
    r.undo_top = version;
    return r;
}

static void
put(struct cache *c, int64_t id, int64_t version, const char *text)
{
    struct store_row r = row_of(id, version, "draft");

    cache_put(c, &r, text, strlen(text));
    store_row_clear(&r);
}

Test(cache, zero_budget_is_no_cache)
{
    struct store_row out;

    cr_assert_null(cache_new(0));
    put(NULL, 1, 1, "{}");
    cr_assert_eq(cache_get(NULL, "clips", 1, 1, &out), 0);
    cache_drop(NULL, 1);
    cr_assert_eq(cache_count(NULL), 0);
    cache_free(NULL);
}

Test(cache, hit_only_at_the_kept_version_and_type)
{
    struct cache *c = cache_new(1 << 20);
    struct store_row out;

    put(c, 7, 3, "{\"a\":1}");
    cr_assert_eq(cache_get(c, "clips", 7, 2, &out), 0);
    cr_assert_eq(cache_get(c, "clips", 7, 4, &out), 0);
    cr_assert_eq(cache_get(c, "projects", 7, 3, &out), 0);
    cr_assert_eq(cache_get(c, "clips", 8, 3, &out), 0);
    cr_assert_null(out.type);

    cr_assert_eq(cache_get(c, "clips", 7, 3, &out), 1);
    cr_assert_eq(out.id, 7);
    cr_assert_eq(out.version, 3);
    cr_assert_eq(out.undo_top, 3);
    cr_assert_str_eq(out.data_text, "{\"a\":1}");
    cr_assert_str_eq(out.state, "draft");
    cr_assert_str_eq(out.owner, "alice");
    cr_assert_str_eq(out.updated_at, "2026-12-02T11:00:00.000000+00:00");
    cr_assert_null(out.data);
    store_row_clear(&out);

    /* version 0: whatever version is kept */
    cr_assert_eq(cache_get(c, "clips", 7, 0, &out), 1);
    cr_assert_eq(out.version, 3);
    store_row_clear(&out);
    cache_free(c);
}

Test(cache, copies_outlive_the_entry_and_null_state_stays_null)
{
    struct cache *c = cache_new(1 << 20);
    struct store_row r = row_of(1, 1, NULL), out;

    cache_put(c, &r, "[1,2]", 5);
    store_row_clear(&r);
    cr_assert_eq(cache_get(c, "clips", 1, 1, &out), 1);
    cache_drop(c, 1);
    cr_assert_eq(cache_count(c), 0);
    cr_assert_eq(cache_bytes(c), 0);
    cr_assert_null(out.state);
    cr_assert_str_eq(out.data_text, "[1,2]");
    store_row_clear(&out);
    cache_free(c);
}

Test(cache, put_replaces_the_kept_version)
{
    struct cache *c = cache_new(1 << 20);
    struct store_row out;

    put(c, 5, 1, "{\"v\":1}");
    put(c, 5, 2, "{\"v\":2}");
    cr_assert_eq(cache_count(c), 1);
    cr_assert_eq(cache_get(c, "clips", 5, 1, &out), 0);
    cr_assert_eq(cache_get(c, "clips", 5, 2, &out), 1);
    cr_assert_str_eq(out.data_text, "{\"v\":2}");
    store_row_clear(&out);
    cache_free(c);
}

Test(cache, evicts_the_least_recently_used_within_the_budget)
{
    char text[1000];
    struct cache *c;
    struct store_row out;
    size_t one;

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    c = cache_new(1 << 20);
    put(c, 1, 1, text);
    one = cache_bytes(c);
    cache_free(c);

    c = cache_new(3 * one); /* room for exactly three */
    put(c, 1, 1, text);
    put(c, 2, 1, text);
    put(c, 3, 1, text);
    cr_assert_eq(cache_count(c), 3);
    cr_assert_eq(cache_get(c, "clips", 1, 1, &out), 1); /* 1 is now the most recent */
    store_row_clear(&out);
    put(c, 4, 1, text); /* evicts 2 */
    cr_assert_eq(cache_count(c), 3);
    cr_assert_leq(cache_bytes(c), 3 * one);
    cr_assert_eq(cache_get(c, "clips", 2, 1, &out), 0);
    cr_assert_eq(cache_get(c, "clips", 1, 1, &out), 1);
    store_row_clear(&out);
    cr_assert_eq(cache_get(c, "clips", 3, 1, &out), 1);
    store_row_clear(&out);
    cr_assert_eq(cache_get(c, "clips", 4, 1, &out), 1);
    store_row_clear(&out);
    cache_free(c);
}

Test(cache, an_entry_larger_than_the_budget_is_not_kept)
{
    char text[4096];
    struct cache *c = cache_new(2048);
    struct store_row out;

    put(c, 1, 1, "{}");
    memset(text, 'y', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    put(c, 1, 2, text); /* drops version 1 and keeps nothing */
    cr_assert_eq(cache_count(c), 0);
    cr_assert_eq(cache_get(c, "clips", 1, 0, &out), 0);
    put(c, 2, 1, "{}");
    cr_assert_eq(cache_count(c), 1);
    cache_free(c);
}

Test(cache, many_entries_grow_the_table_and_all_stay_reachable)
{
    struct cache *c = cache_new(64 << 20);
    struct store_row out;
    char text[32];
    int64_t id;

    for (id = 1; id <= 5000; id++) {
        snprintf(text, sizeof(text), "{\"id\":%lld}", (long long)id);
        put(c, id * 3, id, text);
    }
    cr_assert_eq(cache_count(c), 5000);
    for (id = 1; id <= 5000; id++) {
        snprintf(text, sizeof(text), "{\"id\":%lld}", (long long)id);
        cr_assert_eq(cache_get(c, "clips", id * 3, id, &out), 1, "id %lld", (long long)id);
        cr_assert_str_eq(out.data_text, text);
        store_row_clear(&out);
    }
    for (id = 1; id <= 5000; id += 2)
        cache_drop(c, id * 3);
    cr_assert_eq(cache_count(c), 2500);
    cr_assert_eq(cache_get(c, "clips", 3, 1, &out), 0);
    cr_assert_eq(cache_get(c, "clips", 6, 2, &out), 1);
    store_row_clear(&out);
    cache_free(c);
}
