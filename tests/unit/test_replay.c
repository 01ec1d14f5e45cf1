/*
 * test_replay.c: rebuilding a resource from log entries and comparing it with the
 * stored row (src/doc/replay.c), without a database: the order of versions, the hash
 * chain links, patches that do not apply, state and deletion, and where two
 * documents first differ.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/jsonp.h"
#include "doc/replay.h"

#define GENESIS "0000"

static json_object *
J(const char *text)
{
    json_object *v = NULL;
    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &v, NULL), ERR_OK, "%s", text);
    return v;
}

/* An entry whose hash matches its content and links to `prev`. */
static struct replay_entry
entry(int64_t version, const char *action, const char *forward, const char *prev, const char *hash)
{
    struct replay_entry e;

    memset(&e, 0, sizeof(e));
    e.version = version;
    e.action = action;
    e.actor = "alice";
    e.applied_at = "2026-01-02T03:04:05.000006+00:00";
    e.forward = forward;
    e.forward_len = strlen(forward);
    e.prev_hash = prev;
    e.hash = hash;
    e.content_hash = hash;
    e.hash_version = 2;
    return e;
}

static struct replay_stored
stored(int64_t version, const char *data, const char *state, int deleted)
{
    struct replay_stored s;

    memset(&s, 0, sizeof(s));
    s.version = version;
    s.data = data;
    s.data_len = strlen(data);
    s.state = state;
    s.deleted = deleted;
    s.owner = "alice";
    return s;
}

/* Feeds the usual three entries: create {"a":1}, set /a to 2, add /b. */
static void
three(struct replay *r)
{
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"a\":1}}]", GENESIS, "h1");
    struct replay_entry e2 =
        entry(2, "set_a", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]", "h1", "h2");
    struct replay_entry e3 =
        entry(3, "add_b", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":[1,2]}]", "h2", "h3");

    replay_begin(r, GENESIS);
    cr_assert(replay_step(r, &e1), "%s", r->why);
    cr_assert(replay_step(r, &e2), "%s", r->why);
    cr_assert(replay_step(r, &e3), "%s", r->why);
}

Test(replay, a_consistent_log_matches_the_stored_row)
{
    struct replay r;
    struct replay_stored s = stored(3, "{\"b\": [1, 2.0], \"a\": 2}", NULL, 0);

    three(&r);
    cr_assert(replay_end(&r, &s), "%s", r.why);
    cr_assert_null(r.why);
    replay_clear(&r);
}

Test(replay, the_log_must_start_at_version_1)
{
    struct replay r;
    struct replay_entry e = entry(2, "create", "[]", GENESIS, "h");

    replay_begin(&r, GENESIS);
    cr_assert_not(replay_step(&r, &e));
    cr_assert(strstr(r.why, "the log starts at version 2 (create by alice at ") != NULL, "%s",
              r.why);
    replay_clear(&r);
}

Test(replay, a_gap_in_the_versions_is_named)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e3 = entry(3, "x", "[]", "h1", "h3");

    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert_not(replay_step(&r, &e3));
    cr_assert(strstr(r.why, "version 3 (x by alice") == r.why, "%s", r.why);
    cr_assert(strstr(r.why, "follows version 1") != NULL, "%s", r.why);
    replay_clear(&r);
}

Test(replay, version_1_must_chain_to_the_genesis_value)
{
    struct replay r;
    struct replay_entry e = entry(1, "create", "[]", "ffff", "h1");

    replay_begin(&r, GENESIS);
    cr_assert_not(replay_step(&r, &e));
    cr_assert(strstr(r.why, "prev_hash is not the genesis value") != NULL, "%s", r.why);
    replay_clear(&r);
}

Test(replay, a_broken_link_names_the_entry_and_its_predecessor)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 = entry(2, "x", "[]", "rehashed", "h2");

    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert_not(replay_step(&r, &e2));
    cr_assert(strstr(r.why, "version 2 (x by alice at 2026-01-02T03:04:05.000006+00:00): "
                            "prev_hash does not match the hash of version 1") == r.why,
              "%s", r.why);
    replay_clear(&r);
}

Test(replay, an_edited_entry_does_not_match_its_hash)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 = entry(2, "update_crop_keyframe", "[]", "h1", "h2");

    e2.content_hash = "something else";
    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert_not(replay_step(&r, &e2));
    cr_assert_str_eq(r.why, "version 2 (update_crop_keyframe by alice at "
                            "2026-01-02T03:04:05.000006+00:00): hash does not match its content"
                            " (hash version 2)");
    replay_clear(&r);
}

Test(replay, an_entry_of_an_unknown_hash_version_is_named)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");

    e1.content_hash = NULL;
    e1.hash_version = 7;
    replay_begin(&r, GENESIS);
    cr_assert_not(replay_step(&r, &e1));
    cr_assert_str_eq(r.why, "version 1 (create by alice at 2026-01-02T03:04:05.000006+00:00):"
                            " has hash version 7, which no hash function computes");
    replay_clear(&r);
}

Test(replay, the_first_divergence_is_kept)
{
    struct replay r;
    struct replay_entry e1 = entry(1, "create", "[]", "wrong", "h1");
    struct replay_entry e5 = entry(5, "x", "[]", "h4", "h5");
    struct replay_stored s = stored(1, "null", NULL, 0);

    replay_begin(&r, GENESIS);
    cr_assert_not(replay_step(&r, &e1));
    cr_assert_not(replay_step(&r, &e5));
    cr_assert_not(replay_end(&r, &s));
    cr_assert(strstr(r.why, "version 1 (") == r.why, "%s", r.why);
    replay_clear(&r);
}

Test(replay, a_patch_that_does_not_apply_is_a_divergence)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 =
        entry(2, "x", "[{\"op\":\"remove\",\"path\":\"/missing\"}]", "h1", "h2");

    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert_not(replay_step(&r, &e2));
    cr_assert(strstr(r.why, "version 2 (x by alice") == r.why, "%s", r.why);
    cr_assert(strstr(r.why, "forward patch does not apply") != NULL, "%s", r.why);
    replay_clear(&r);
}

Test(replay, the_last_recorded_state_is_compared)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 = entry(2, "suspend", "[]", "h1", "h2");
    struct replay_entry e3 = entry(3, "note", "[]", "h2", "h3");
    struct replay_stored good = stored(3, "{}", "suspended", 0);
    struct replay_stored bad = stored(3, "{}", "running", 0);

    e1.state = "queued";
    e2.state = "suspended";
    /* e3 records no state: the state stays what e2 left */
    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert(replay_step(&r, &e2));
    cr_assert(replay_step(&r, &e3));
    cr_assert(replay_end(&r, &good), "%s", r.why);
    cr_assert_not(replay_end(&r, &bad));
    cr_assert_str_eq(r.why, "state differs: stored \"running\", replayed \"suspended\"");
    replay_clear(&r);
}

Test(replay, no_state_in_the_log_means_no_state_stored)
{
    struct replay r;
    struct replay_stored s = stored(3, "{\"a\":2,\"b\":[1,2]}", "queued", 0);

    three(&r);
    cr_assert_not(replay_end(&r, &s));
    cr_assert_str_eq(r.why, "state differs: stored \"queued\", replayed none");
    replay_clear(&r);
}

Test(replay, deletion_must_agree_with_deleted_at)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 = entry(2, "delete", "[]", "h1", "h2");
    struct replay_stored deleted = stored(2, "{}", NULL, 1);
    struct replay_stored live = stored(2, "{}", NULL, 0);

    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1));
    cr_assert(replay_step(&r, &e2));
    cr_assert(replay_end(&r, &deleted), "%s", r.why);
    cr_assert_not(replay_end(&r, &live));
    cr_assert_str_eq(r.why, "the log deletes it at version 2, but deleted_at is not set");
    replay_clear(&r);

    three(&r);
    deleted = stored(3, "{\"a\":2,\"b\":[1,2]}", NULL, 1);
    cr_assert_not(replay_end(&r, &deleted));
    cr_assert_str_eq(r.why, "deleted_at is set, but the log has no delete");
    replay_clear(&r);
}

Test(replay, the_stored_version_must_be_the_last_logged)
{
    struct replay r;
    struct replay_stored s = stored(4, "{\"a\":2,\"b\":[1,2]}", NULL, 0);

    three(&r);
    cr_assert_not(replay_end(&r, &s));
    cr_assert_str_eq(r.why, "stored version 4, but the log ends at version 3");
    replay_clear(&r);
}

Test(replay, a_resource_without_entries_diverges)
{
    struct replay r;
    struct replay_stored s = stored(1, "{}", NULL, 0);

    replay_begin(&r, GENESIS);
    cr_assert_not(replay_end(&r, &s));
    cr_assert_str_eq(r.why, "has no log entries");
    replay_clear(&r);
}

Test(replay, a_data_difference_names_its_pointer)
{
    struct replay r;
    struct replay_stored s = stored(3, "{\"a\":2,\"b\":[1,5]}", NULL, 0);

    three(&r);
    cr_assert_not(replay_end(&r, &s));
    cr_assert_str_eq(r.why, "data differs at /b/1: stored 5, replayed 2");
    replay_clear(&r);
}

static void
assert_diff(const char *a, const char *b, const char *expect)
{
    json_object *ja = J(a), *jb = J(b);
    char *d = replay_diff(ja, jb);

    if (expect == NULL)
        cr_assert_null(d, "%s vs %s gave %s", a, b, d);
    else
        cr_assert_str_eq(d, expect);
    free(d);
    json_object_put(ja);
    json_object_put(jb);
}

Test(replay_diff, equal_documents_have_no_difference)
{
    assert_diff("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", "{\"c\":\"x\",\"a\":[1.0,{\"b\":null}]}",
                NULL);
    assert_diff("null", "null", NULL);
}

Test(replay_diff, scalars_differ_where_they_are)
{
    assert_diff("{\"crop_keyframes\":[{\"x\":1},{\"x\":60}]}",
                "{\"crop_keyframes\":[{\"x\":1},{\"x\":50}]}",
                "at /crop_keyframes/1/x: stored 60, replayed 50");
    assert_diff("1", "\"1\"", "at the document root: stored 1, replayed \"1\"");
}

Test(replay_diff, members_are_visited_in_name_order)
{
    assert_diff("{\"b\":1,\"a\":1}", "{\"b\":2,\"a\":2}", "at /a: stored 1, replayed 2");
}

Test(replay_diff, a_missing_member_or_element_is_absent)
{
    assert_diff("{\"a\":1}", "{\"a\":1,\"z\":true}", "at /z: stored (absent), replayed true");
    assert_diff("{\"a\":1,\"m\":[]}", "{\"a\":1}", "at /m: stored [], replayed (absent)");
    assert_diff("[1,2]", "[1,2,3]", "at /2: stored (absent), replayed 3");
    assert_diff("[1,2,{}]", "[1,2]", "at /2: stored {}, replayed (absent)");
}

Test(replay_diff, pointer_tokens_are_escaped)
{
    assert_diff("{\"a/b\":{\"~\":1}}", "{\"a/b\":{\"~\":2}}", "at /a~1b/~0: stored 1, replayed 2");
}

Test(replay_diff, long_values_are_shortened)
{
    char big[300], text[320];
    json_object *a, *b;
    char *d;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(text, sizeof(text), "{\"s\":\"%s\"}", big);
    a = J(text);
    b = J("{\"s\":\"short\"}");
    d = replay_diff(a, b);
    cr_assert_not_null(d);
    cr_assert(strstr(d, "...") != NULL, "%s", d);
    cr_assert(strlen(d) < 150, "%s", d);
    free(d);
    json_object_put(a);
    json_object_put(b);
}

/* An entry with data (a grant, a transfer) by `actor`. */
static struct replay_entry
entry_with(int64_t version, const char *action, const char *actor, const char *data,
           const char *prev, const char *hash)
{
    struct replay_entry e = entry(version, action, "[]", prev, hash);

    e.actor = actor;
    e.data = data;
    e.data_len = strlen(data);
    return e;
}

Test(replay, grants_and_transfers_are_replayed_and_compared)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_entry e2 =
        entry_with(2, "share", "alice", "{\"actor\":\"bob\",\"role\":\"editor\"}", "h1", "h2");
    struct replay_entry e3 =
        entry_with(3, "share", "alice", "{\"actor\":\"*\",\"role\":\"reader\"}", "h2", "h3");
    struct replay_entry e4 = entry_with(4, "unshare", "alice", "{\"actor\":\"*\"}", "h3", "h4");
    struct replay_entry e5 =
        entry_with(5, "transfer", "actionctl", "{\"owner\":\"bob\"}", "h4", "h5");
    struct replay_stored s = stored(5, "{}", NULL, 0);

    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1), "%s", r.why);
    cr_assert(replay_step(&r, &e2), "%s", r.why);
    cr_assert(replay_step(&r, &e3), "%s", r.why);
    cr_assert(replay_step(&r, &e4), "%s", r.why);
    cr_assert(replay_step(&r, &e5), "%s", r.why);
    /* bob owns it now, and his grant went with the transfer */
    s.owner = "bob";
    cr_assert(replay_end(&r, &s), "%s", r.why);
    replay_clear(&r);

    /* a grant the log does not account for is a divergence */
    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1), "%s", r.why);
    cr_assert(replay_step(&r, &e2), "%s", r.why);
    s = stored(2, "{}", NULL, 0);
    s.access = "{\"bob\":\"editor\",\"eve\":\"editor\"}";
    s.access_len = strlen(s.access);
    cr_assert_not(replay_end(&r, &s));
    cr_assert(strstr(r.why, "grants differ") != NULL, "%s", r.why);
    replay_clear(&r);

    /* and so is an owner it does not */
    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1), "%s", r.why);
    s = stored(1, "{}", NULL, 0);
    s.owner = "mallory";
    cr_assert_not(replay_end(&r, &s));
    cr_assert(strstr(r.why, "owner differs") != NULL, "%s", r.why);
    replay_clear(&r);
}

Test(replay, grants_given_at_creation_count)
{
    struct replay r;
    struct replay_entry e1 =
        entry(1, "create", "[{\"op\":\"add\",\"path\":\"\",\"value\":{}}]", GENESIS, "h1");
    struct replay_stored s = stored(1, "{}", NULL, 0);

    e1.data = "{\"access\":{\"bob\":\"reader\"}}";
    e1.data_len = strlen(e1.data);
    s.access = "{\"bob\":\"reader\"}";
    s.access_len = strlen(s.access);
    replay_begin(&r, GENESIS);
    cr_assert(replay_step(&r, &e1), "%s", r.why);
    cr_assert(replay_end(&r, &s), "%s", r.why);
    replay_clear(&r);
}
