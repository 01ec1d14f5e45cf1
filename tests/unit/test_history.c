/*
 * test_history.c: the overlap rule of undo (which paths collide) and the cancelling of
 * undo/redo pairs among later log entries, in isolation from the store.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "doc/history.h"
#include "doc/jsonp.h"

static json_object *
J(const char *text)
{
    json_object *v = NULL;
    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &v, NULL), ERR_OK, "%s", text);
    return v;
}

static int
overlap(const char *ours, const char *theirs)
{
    json_object *a = J(ours), *b = J(theirs);
    int r = history_patches_overlap(a, b);
    json_object_put(a);
    json_object_put(b);
    return r;
}

Test(history, equal_ancestor_and_descendant_paths_overlap)
{
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":1}]",
                      "[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":2}]"));
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":1}]",
                      "[{\"op\":\"remove\",\"path\":\"/a\"}]"));
    cr_assert(overlap("[{\"op\":\"remove\",\"path\":\"/a\"}]",
                      "[{\"op\":\"add\",\"path\":\"/a/b/c\",\"value\":1}]"));
    cr_assert(overlap("[{\"op\":\"add\",\"path\":\"\",\"value\":1}]",
                      "[{\"op\":\"add\",\"path\":\"/z\",\"value\":1}]"));
}

Test(history, siblings_do_not_overlap)
{
    cr_assert_not(overlap("[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":1}]",
                          "[{\"op\":\"replace\",\"path\":\"/a/c\",\"value\":2}]"));
    cr_assert_not(overlap("[{\"op\":\"replace\",\"path\":\"/ab\",\"value\":1}]",
                          "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]"));
}

Test(history, positions_stand_for_the_whole_array)
{
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/k/0/x\",\"value\":1}]",
                      "[{\"op\":\"add\",\"path\":\"/k/3\",\"value\":{}}]"));
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/k/0/x\",\"value\":1}]",
                      "[{\"op\":\"add\",\"path\":\"/k/-\",\"value\":{}}]"));
    cr_assert_not(overlap("[{\"op\":\"replace\",\"path\":\"/k/0/x\",\"value\":1}]",
                          "[{\"op\":\"add\",\"path\":\"/other/0\",\"value\":{}}]"));
}

Test(history, their_tests_are_reads_ours_count)
{
    cr_assert_not(overlap("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]",
                          "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]"));
    cr_assert(overlap("[{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]",
                      "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"));
    cr_assert(overlap("[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]",
                      "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"));
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]",
                      "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]"));
}

static struct store_logent
entry(int64_t version, const char *action, int64_t reverts, const char *forward)
{
    struct store_logent e = {0};
    e.version = version;
    e.action = (char *)action;
    e.reverts = reverts;
    e.forward = J(forward);
    return e;
}

Test(history, undo_redo_pairs_cancel)
{
    /* 6 changed /a, 7 undid 6, 8 redid 7: one effect on /a stands */
    struct store_logent later[3] = {
        entry(6, "update", 0, "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"),
        entry(7, "undo", 6, "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":0}]"),
        entry(8, "redo", 7, "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"),
    };
    json_object *ours = J("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":5}]");
    const struct store_logent *hit = history_first_conflict(later, 3, ours);
    size_t i;

    cr_assert_not_null(hit);
    cr_assert_eq(hit->version, 6);
    /* without the redo, the change and its undo cancel */
    cr_assert_null(history_first_conflict(later, 2, ours));
    /* an undo of something older than the range keeps its effect */
    later[1].reverts = 3;
    cr_assert_eq(history_first_conflict(later + 1, 1, ours)->version, 7);
    for (i = 0; i < 3; i++)
        json_object_put(later[i].forward);
    json_object_put(ours);
}

Test(history, undo_patches_reverse_the_unit)
{
    struct store_logent unit[2] = {0};
    json_object *fwd, *inv;

    unit[0].forward = J("[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]");
    unit[0].inverse = J("[{\"op\":\"remove\",\"path\":\"/a\"}]");
    unit[1].forward = J("[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]");
    unit[1].inverse = J("[{\"op\":\"remove\",\"path\":\"/b\"}]");
    history_undo_patches(unit, 2, &fwd, &inv);
    cr_assert_str_eq(jsonp_str(fwd),
                     "[{\"op\":\"remove\",\"path\":\"/b\"},{\"op\":\"remove\",\"path\":\"/a\"}]");
    cr_assert_str_eq(jsonp_str(inv), "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1},"
                                     "{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]");
    json_object_put(fwd);
    json_object_put(inv);
    json_object_put(unit[0].forward);
    json_object_put(unit[0].inverse);
    json_object_put(unit[1].forward);
    json_object_put(unit[1].inverse);
}

/* Only the tokens before the first array position are compared; those after it are
 * parsed too and freed with the rest (a leak of theirs was found by the sanitized
 * integration suite). */
Test(history, paths_cut_at_an_array_position_compare_only_the_tokens_before_it)
{
    cr_assert(overlap("[{\"op\":\"replace\",\"path\":\"/annotations/0/tags/x\",\"value\":1}]",
                      "[{\"op\":\"replace\",\"path\":\"/annotations/1/name\",\"value\":2}]"));
    cr_assert(!overlap("[{\"op\":\"replace\",\"path\":\"/a/0/b/c\",\"value\":1}]",
                       "[{\"op\":\"replace\",\"path\":\"/z/-/y\",\"value\":2}]"));
}

/* A logged patch may carry "from" on an operation that has none (RFC 6902 ignores it),
 * null included: a redo compares such a patch as its own (found by tests/fuzz). */
Test(history, from_counts_only_for_move_and_copy)
{
    cr_assert_not(overlap("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1,\"from\":null}]",
                          "[{\"op\":\"replace\",\"path\":\"/y\",\"value\":1}]"));
    cr_assert_not(overlap("[{\"op\":\"test\",\"path\":\"/x\",\"value\":1,\"from\":\"/y\"}]",
                          "[{\"op\":\"replace\",\"path\":\"/y\",\"value\":1}]"));
    cr_assert(overlap("[{\"op\":\"copy\",\"from\":\"/y\",\"path\":\"/x\"}]",
                      "[{\"op\":\"replace\",\"path\":\"/y\",\"value\":1}]"));
}
