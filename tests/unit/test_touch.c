/*
 * test_touch.c: semantic touch sets of catalog actions (keyed, not positional) and the
 * overlap rule of docs/merge.md, against the shipped catalog.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "doc/action.h"
#include "doc/catalog.h"
#include "doc/jsonp.h"
#include "doc/touch.h"

static struct catalog *cat;
static const struct catalog_type *clips;

static void
setup(void)
{
    struct err err = {0};

    cat = catalog_load(TEST_SRCDIR "/catalog/default.json", &err);
    cr_assert_not_null(cat, "%s", err.detail);
    clips = catalog_find_type(cat, "clips");
}

static void
teardown(void)
{
    catalog_free(cat);
}

static json_object *
J(const char *text)
{
    json_object *v = NULL;
    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &v, NULL), ERR_OK, "%s", text);
    return v;
}

/* The touches of an envelope given as JSON text, with `result` as the effect's result. */
static json_object *
touches_of(const char *envelope, const char *result)
{
    json_object *body = J(envelope), *t;
    struct action_request ar = {0};
    struct action_effect eff = {0};

    cr_assert_eq(action_parse(body, &ar, NULL), ERR_OK);
    eff.result = result ? J(result) : NULL;
    t = touch_action(clips, &ar.items[0], &eff);
    action_effect_clear(&eff);
    action_request_free(&ar);
    json_object_put(body);
    return t;
}

static int
overlap(const char *a, const char *b)
{
    json_object *ta = touches_of(a, NULL), *tb = touches_of(b, NULL);
    int r = touch_overlap(ta, tb);
    json_object_put(ta);
    json_object_put(tb);
    return r;
}

#define UPD(frame, member)                                                                         \
    "{\"action\":\"update_crop_keyframe\",\"target\":{\"frame\":" #frame "},\"data\":{\"" member   \
    "\":1}}"
#define ADD(frame)                                                                                 \
    "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":" #frame                                \
    ",\"x\":1,\"y\":1,\"width\":1,\"height\":1}}"

TestSuite(touch, .init = setup, .fini = teardown);

Test(touch, keyed_paths_name_the_element_not_its_position)
{
    json_object *t = touches_of(UPD(100, "x"), NULL);

    cr_assert_str_eq(jsonp_str(t), "[{\"op\":\"w\",\"path\":[\"crop_keyframes\",{\"key\":"
                                   "\"frame\",\"value\":100},\"x\"]}]");
    json_object_put(t);
}

Test(touch, different_keyframes_and_fields_are_disjoint)
{
    cr_assert_not(overlap(UPD(100, "x"), UPD(200, "x")));
    cr_assert_not(overlap(UPD(100, "x"), UPD(100, "y")));
    cr_assert_not(overlap(UPD(100, "x"), ADD(200)));
    cr_assert_not(overlap(ADD(100), ADD(200)));
}

Test(touch, same_field_same_element_and_membership_overlap)
{
    cr_assert(overlap(UPD(100, "x"), UPD(100, "x")));
    cr_assert(overlap(ADD(100), ADD(100)));
    cr_assert(overlap(UPD(100, "x"), "{\"action\":\"delete_crop_keyframe\",\"target\":"
                                     "{\"frame\":100}}"));
    cr_assert(overlap("{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":100},"
                      "\"data\":{\"new_frame\":300}}",
                      ADD(300)));
}

Test(touch, set_additions_commute)
{
    const char *tag1 = "{\"action\":\"add_tag\",\"target\":{\"annotation_id\":1},"
                       "\"data\":{\"tag\":\"goal\"}}";
    const char *tag2 = "{\"action\":\"add_tag\",\"target\":{\"annotation_id\":1},"
                       "\"data\":{\"tag\":\"save\"}}";

    cr_assert_not(overlap(tag1, tag2));
    cr_assert_not(overlap(tag1, tag1));
    cr_assert(overlap(tag1, "{\"action\":\"update_annotation\",\"target\":"
                            "{\"annotation_id\":1},\"data\":{\"tags\":[]}}"));
}

Test(touch, generated_ids_are_their_own_element)
{
    json_object *a = touches_of("{\"action\":\"create_annotation\",\"data\":{\"start_time\":1,"
                                "\"end_time\":2,\"name\":\"a\"}}",
                                "{\"annotation_id\":4}");
    json_object *b = touches_of("{\"action\":\"create_annotation\",\"data\":{\"start_time\":1,"
                                "\"end_time\":2,\"name\":\"b\"}}",
                                "{\"annotation_id\":5}");

    cr_assert_not(touch_overlap(a, b));
    json_object_put(a);
    json_object_put(b);
}

Test(touch, patches_widen_positions_to_the_array)
{
    json_object *p1 = J("[{\"op\":\"replace\",\"path\":\"/crop_keyframes/0/x\",\"value\":1}]");
    json_object *p2 = J("[{\"op\":\"replace\",\"path\":\"/trim_range\",\"value\":1}]");
    json_object *p3 = J("[{\"op\":\"test\",\"path\":\"/trim_range\",\"value\":1}]");
    json_object *t1 = touch_patch(p1, NULL), *t2 = touch_patch(p2, NULL),
                *t3 = touch_patch(p3, NULL);
    json_object *kf = touches_of(UPD(100, "x"), NULL);

    cr_assert(touch_overlap(t1, kf), "a position touches the whole array");
    cr_assert_not(touch_overlap(t2, kf));
    cr_assert(touch_overlap(t3, t2), "a read of a written value overlaps");
    cr_assert_not(touch_overlap(t3, t3), "reads do not overlap reads");
    cr_assert(touch_overlap(t1, NULL), "an entry without touches overlaps everything");
    json_object_put(p1);
    json_object_put(p2);
    json_object_put(p3);
    json_object_put(t1);
    json_object_put(t2);
    json_object_put(t3);
    json_object_put(kf);
}

Test(touch, only_arrays_in_the_document_cut_a_path)
{
    json_object *doc = J("{\"m\":{\"3\":0,\"4\":0},\"a\":[1,2]}");
    json_object *p3 = J("[{\"op\":\"replace\",\"path\":\"/m/3\",\"value\":1}]");
    json_object *p4 = J("[{\"op\":\"replace\",\"path\":\"/m/4\",\"value\":1}]");
    json_object *pa = J("[{\"op\":\"replace\",\"path\":\"/a/1\",\"value\":1}]");
    json_object *pb = J("[{\"op\":\"add\",\"path\":\"/a/0\",\"value\":1}]");
    json_object *t3 = touch_patch(p3, doc), *t4 = touch_patch(p4, doc);
    json_object *ta = touch_patch(pa, doc), *tb = touch_patch(pb, doc);

    cr_assert_not(touch_overlap(t3, t4), "members named by digits are not positions");
    cr_assert(touch_overlap(ta, tb), "positions in an array stand for the array");
    cr_assert_str_eq(jsonp_str(ta), "[{\"op\":\"w\",\"path\":[\"a\"]}]");
    json_object_put(doc);
    json_object_put(p3);
    json_object_put(p4);
    json_object_put(pa);
    json_object_put(pb);
    json_object_put(t3);
    json_object_put(t4);
    json_object_put(ta);
    json_object_put(tb);
}

Test(touch, state_changes_overlap_each_other_only)
{
    json_object *s1 = json_object_new_array(), *s2 = json_object_new_array();
    json_object *kf = touches_of(UPD(100, "x"), NULL);

    touch_add_state(s1);
    touch_add_state(s2);
    cr_assert(touch_overlap(s1, s2));
    cr_assert_not(touch_overlap(s1, kf));
    json_object_put(s1);
    json_object_put(s2);
    json_object_put(kf);
}

/* The overlap rule as the definition reads, pair by pair: the reference the index
 * (touch_overlap) must agree with. */
static int
reference_token_equal(json_object *a, json_object *b)
{
    json_object *ka, *kb, *va = NULL, *vb = NULL;

    if (json_object_is_type(a, json_type_string) || json_object_is_type(b, json_type_string))
        return json_object_is_type(a, json_type_string) &&
               json_object_is_type(b, json_type_string) &&
               strcmp(json_object_get_string(a), json_object_get_string(b)) == 0;
    if (!json_object_object_get_ex(a, "key", &ka) || !json_object_object_get_ex(b, "key", &kb) ||
        strcmp(json_object_get_string(ka), json_object_get_string(kb)) != 0)
        return 0;
    json_object_object_get_ex(a, "value", &va);
    json_object_object_get_ex(b, "value", &vb);
    return jsonp_equal(va, vb);
}

static int
reference_one(json_object *x, json_object *y)
{
    json_object *ox, *oy, *px, *py;
    const char *a, *b;
    int sx, sy;
    size_t i, n;

    if (!json_object_object_get_ex(x, "op", &ox) || !json_object_object_get_ex(y, "op", &oy))
        return 1;
    a = json_object_get_string(ox);
    b = json_object_get_string(oy);
    if ((strcmp(a, "r") == 0 && strcmp(b, "r") == 0) ||
        (strcmp(a, "add") == 0 && strcmp(b, "add") == 0))
        return 0;
    sx = json_object_object_get_ex(x, "state", NULL);
    sy = json_object_object_get_ex(y, "state", NULL);
    if (sx || sy)
        return sx && sy;
    if (!json_object_object_get_ex(x, "path", &px) || !json_object_object_get_ex(y, "path", &py))
        return 1;
    n = json_object_array_length(px) < json_object_array_length(py) ? json_object_array_length(px)
                                                                    : json_object_array_length(py);
    for (i = 0; i < n; i++)
        if (!reference_token_equal(json_object_array_get_idx(px, i),
                                   json_object_array_get_idx(py, i)))
            return 0;
    return 1;
}

static int
reference_overlap(json_object *ours, json_object *theirs)
{
    size_t i, j;

    if (ours == NULL || theirs == NULL)
        return 1;
    for (i = 0; i < json_object_array_length(ours); i++)
        for (j = 0; j < json_object_array_length(theirs); j++)
            if (reference_one(json_object_array_get_idx(ours, i),
                              json_object_array_get_idx(theirs, j)))
                return 1;
    return 0;
}

/* A random touch from a small alphabet, so that paths often share prefixes and keyed
 * values often compare equal across representations (1 and 1.0). */
static json_object *
random_touch(unsigned *seed)
{
    static const char *const ops[] = {"r", "w", "add", "w"};
    static const char *const tokens[] = {"\"a\"",
                                         "\"b\"",
                                         "{\"key\":\"frame\",\"value\":1}",
                                         "{\"key\":\"frame\",\"value\":1.0}",
                                         "{\"key\":\"frame\",\"value\":2}",
                                         "{\"key\":\"id\",\"value\":\"x\"}",
                                         "{\"key\":\"id\",\"value\":[1]}"};
    json_object *t = json_object_new_object(), *path;
    int kind = rand_r(seed) % 20;
    int i, n;

    if (kind != 0)
        json_object_object_add(t, "op", json_object_new_string(ops[rand_r(seed) % 4]));
    if (kind == 1) {
        json_object_object_add(t, "state", json_object_new_boolean(1));
        return t;
    }
    if (kind == 2)
        return t; /* no path: the whole document */
    path = json_object_new_array();
    n = rand_r(seed) % 4;
    for (i = 0; i < n; i++) {
        const char *text = tokens[rand_r(seed) % 7];
        json_object_array_add(path, J(text));
    }
    json_object_object_add(t, "path", path);
    return t;
}

static json_object *
random_set(unsigned *seed)
{
    json_object *set;
    int i, n = rand_r(seed) % 5;

    if (rand_r(seed) % 25 == 0)
        return NULL;
    set = json_object_new_array();
    for (i = 0; i < n; i++)
        json_object_array_add(set, random_touch(seed));
    return set;
}

Test(touch, the_index_agrees_with_the_pairwise_rule)
{
    unsigned seed = 20261208;
    int round;

    for (round = 0; round < 20000; round++) {
        json_object *ours = random_set(&seed), *theirs = random_set(&seed);
        int want = reference_overlap(ours, theirs);
        int got = touch_overlap(ours, theirs);
        cr_assert_eq(got, want, "ours %s theirs %s: index %d, rule %d", jsonp_str(ours),
                     jsonp_str(theirs), got, want);
        json_object_put(ours);
        json_object_put(theirs);
    }
}

/* RFC 6902 section 4: a member an operation does not define is ignored, "from" of an add
 * included, even when it is null (found by tests/fuzz/fuzz_touch: it crashed the worker). */
Test(touch, from_counts_only_for_move_and_copy)
{
    json_object *p = J("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1,\"from\":null},"
                       "{\"op\":\"remove\",\"path\":\"/y\",\"from\":\"/z\"},"
                       "{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]");
    json_object *t = touch_patch(p, NULL);

    cr_assert_str_eq(jsonp_str(t),
                     "[{\"op\":\"w\",\"path\":[\"x\"]},{\"op\":\"w\",\"path\":[\"y\"]},"
                     "{\"op\":\"w\",\"path\":[\"b\"]},{\"op\":\"r\",\"path\":[\"a\"]}]");
    json_object_put(p);
    json_object_put(t);
}
