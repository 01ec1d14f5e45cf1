/*
 * test_touch.c: semantic touch sets of catalog actions (keyed, not positional) and the
 * overlap rule of docs/merge.md, against the shipped catalog.
 */
#include <criterion/criterion.h>
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
