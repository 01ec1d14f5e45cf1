/*
 * test_action.c: the action envelope and the action compiler, driven by the shipped
 * catalog with every reference clip payload exactly as a client writes it.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "doc/action.h"
#include "doc/catalog.h"
#include "doc/jsonp.h"
#include "doc/patch.h"

static struct catalog *cat;
static const struct catalog_type *clips;

static void
setup(void)
{
    struct err err = {0};

    cat = catalog_load(TEST_SRCDIR "/catalog/default.json", &err);
    cr_assert_not_null(cat, "%s", err.detail);
    clips = catalog_find_type(cat, "clips");
    cr_assert_not_null(clips);
}

static void
teardown(void)
{
    catalog_free(cat);
}

TestSuite(action, .init = setup, .fini = teardown);

static json_object *
parse(const char *text)
{
    struct err err = {0};
    json_object *v = NULL;

    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &v, &err), ERR_OK, "%s: %s", text,
                 err.detail);
    return v;
}

/* Asserts that two documents serialise identically (canonical member order). */
static void
assert_same(json_object *a, json_object *b)
{
    char *x = jsonp_canonical(a), *y = jsonp_canonical(b);

    cr_assert_str_eq(x, y);
    free(x);
    free(y);
}

static void
assert_doc(json_object *doc, const char *want)
{
    json_object *w = parse(want);

    assert_same(doc, w);
    json_object_put(w);
}

/*
 * Parses `body` (one action), applies it to *doc of type `t` in `state` and returns the
 * code. On success it checks that the inverse restores the previous document exactly
 * and that the forward patch replays the change; on failure that *doc is unchanged.
 */
static enum err_code
run(const struct catalog_type *t, const char *state, json_object **doc, const char *body,
    struct action_effect *eff, struct err *err)
{
    struct err perr = {0};
    struct action_request req;
    json_object *b = parse(body), *before = jsonp_copy(*doc), *copy;
    enum err_code rc;

    cr_assert_eq(action_parse(b, &req, &perr), ERR_OK, "%s: %s", body, perr.detail);
    cr_assert_eq(req.n, 1);
    rc = action_apply(t, &req.items[0], state, "", doc, eff, err);
    if (rc == ERR_OK) {
        copy = jsonp_copy(*doc);
        cr_assert_eq(patch_apply(&copy, eff->inverse, NULL, &perr), ERR_OK, "%s", perr.detail);
        assert_same(copy, before);
        json_object_put(copy);
        copy = jsonp_copy(before);
        cr_assert_eq(patch_apply(&copy, eff->forward, NULL, &perr), ERR_OK, "%s", perr.detail);
        assert_same(copy, *doc);
        json_object_put(copy);
    } else {
        assert_same(*doc, before);
    }
    json_object_put(before);
    json_object_put(b);
    action_request_free(&req);
    return rc;
}

/* Applies `body` expecting success; returns nothing, the effect is cleared. */
static void
ok(const struct catalog_type *t, json_object **doc, const char *body)
{
    struct action_effect eff;
    struct err err = {0};

    cr_assert_eq(run(t, NULL, doc, body, &eff, &err), ERR_OK, "%s: %s", body, err.detail);
    action_effect_clear(&eff);
}

/* Applies `body` expecting failure with `code`, `slug` and `pointer`. */
static void
fails(const struct catalog_type *t, json_object **doc, const char *body, enum err_code code,
      const char *slug, const char *pointer)
{
    struct action_effect eff;
    struct err err = {0};

    cr_assert_eq(run(t, NULL, doc, body, &eff, &err), code, "%s: %s", body, err.detail);
    cr_assert_str_eq(err.slug, slug);
    cr_assert_str_eq(err.pointer, pointer, "%s: %s", body, err.detail);
    cr_assert_null(eff.forward);
    err_clear(&err);
}

static json_object *
clip(void)
{
    return jsonp_copy(catalog_type_initial(clips));
}

/* Expects `body` to be refused by action_parse with a 400 at `pointer`. */
static void
bad_envelope(const char *body, const char *pointer)
{
    struct action_request req;
    struct err err = {0};
    json_object *b = parse(body);

    cr_assert_eq(action_parse(b, &req, &err), ERR_BAD_REQUEST, "%s", body);
    cr_assert_str_eq(err.pointer, pointer, "%s: %s", body, err.detail);
    cr_assert_eq(req.n, 0);
    cr_assert_null(req.items);
    json_object_put(b);
}

#define KF(f) "{\"frame\":" #f ",\"x\":50,\"y\":50,\"width\":640,\"height\":360}"

Test(action, add_crop_keyframe_as_written)
{
    json_object *doc = clip();

    ok(clips, &doc,
       "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":100,\"x\":50,\"y\":50,\"width\":640,"
       "\"height\":360}}");
    assert_doc(doc, "{\"crop_keyframes\":[" KF(100) "],\"trim_range\":null,\"regions\":[],"
                                                    "\"effect_type\":null,\"annotations\":[]}");
    json_object_put(doc);
}

Test(action, crop_keyframes_stay_sorted_by_frame)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(150) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(20) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(120) "}");
    assert_doc(json_object_object_get(doc, "crop_keyframes"),
               "[" KF(20) "," KF(100) "," KF(120) "," KF(150) "]");
    json_object_put(doc);
}

Test(action, add_crop_keyframe_on_an_existing_frame_is_422)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    fails(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}", ERR_UNPROCESSABLE,
          "duplicate-key", "/data/frame");
    json_object_put(doc);
}

Test(action, update_crop_keyframe_as_written_leaves_other_fields)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    ok(clips, &doc,
       "{\"action\":\"update_crop_keyframe\",\"target\":{\"frame\":100},\"data\":{\"x\":60}}");
    assert_doc(json_object_object_get(doc, "crop_keyframes"),
               "[{\"frame\":100,\"x\":60,\"y\":50,\"width\":640,\"height\":360}]");
    json_object_put(doc);
}

Test(action, update_of_a_missing_frame_is_422_at_target_frame)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    fails(clips, &doc,
          "{\"action\":\"update_crop_keyframe\",\"target\":{\"frame\":99},\"data\":{\"x\":60}}",
          ERR_UNPROCESSABLE, "target-not-found", "/target/frame");
    json_object_put(doc);
}

Test(action, delete_crop_keyframe_as_written)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(50) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    ok(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{\"frame\":100}}");
    assert_doc(json_object_object_get(doc, "crop_keyframes"), "[" KF(50) "]");
    fails(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{\"frame\":100}}",
          ERR_UNPROCESSABLE, "target-not-found", "/target/frame");
    json_object_put(doc);
}

Test(action, move_crop_keyframe_as_written_resorts)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(50) "}");
    ok(clips, &doc,
       "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":100,\"x\":1,\"y\":2,\"width\":3,"
       "\"height\":4}}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(110) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(150) "}");
    ok(clips, &doc,
       "{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":100},\"data\":{\"new_frame\":120}"
       "}");
    assert_doc(json_object_object_get(doc, "crop_keyframes"),
               "[" KF(50) "," KF(110) ",{\"frame\":120,\"x\":1,\"y\":2,\"width\":3,\"height\":4},"
                                      "" KF(150) "]");
    /* and back before the first one */
    ok(clips, &doc,
       "{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":120},\"data\":{\"new_frame\":10}"
       "}");
    assert_doc(json_object_object_get(doc, "crop_keyframes"),
               "[{\"frame\":10,\"x\":1,\"y\":2,\"width\":3,\"height\":4}," KF(50) "," KF(
                   110) ","
                        "" KF(150) "]");
    json_object_put(doc);
}

Test(action, move_crop_keyframe_in_place_changes_only_the_frame)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    cr_assert_eq(run(clips, NULL, &doc,
                     "{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":100},"
                     "\"data\":{\"new_frame\":101}}",
                     &eff, &err),
                 ERR_OK);
    assert_doc(eff.forward,
               "[{\"op\":\"replace\",\"path\":\"/crop_keyframes/0/frame\",\"value\":101}]");
    action_effect_clear(&eff);
    json_object_put(doc);
}

Test(action, move_crop_keyframe_onto_an_existing_frame_is_422)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(100) "}");
    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(120) "}");
    fails(clips, &doc,
          "{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":100},"
          "\"data\":{\"new_frame\":120}}",
          ERR_UNPROCESSABLE, "duplicate-key", "/data/new_frame");
    json_object_put(doc);
}

Test(action, set_trim_range_as_written)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"set_trim_range\",\"data\":{\"start\":1.0,\"end\":5.0}}");
    assert_doc(json_object_object_get(doc, "trim_range"), "{\"start\":1.0,\"end\":5.0}");
    json_object_put(doc);
}

/* Creates a region with the reference payload and returns its id (caller frees). */
static char *
create_region(json_object **doc)
{
    static const char *uuid_re =
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";
    struct action_effect eff;
    struct err err = {0};
    json_object *id;
    regex_t re;
    char *out;

    cr_assert_eq(run(clips, NULL, doc,
                     "{\"action\":\"create_region\",\"data\":{\"start_time\":0,\"end_time\":2.0}}",
                     &eff, &err),
                 ERR_OK, "%s", err.detail);
    cr_assert(json_object_object_get_ex(eff.result, "region_id", &id));
    cr_assert_eq(regcomp(&re, uuid_re, REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regexec(&re, json_object_get_string(id), 0, NULL, 0), 0, "%s",
                 json_object_get_string(id));
    regfree(&re);
    out = strdup(json_object_get_string(id));
    action_effect_clear(&eff);
    return out;
}

Test(action, create_region_as_written_returns_a_uuid)
{
    json_object *doc = clip(), *want;
    char *id = create_region(&doc);
    char buf[256];

    snprintf(buf, sizeof(buf),
             "[{\"region_id\":\"%s\",\"start_time\":0,\"end_time\":2.0,\"keyframes\":[]}]", id);
    want = parse(buf);
    assert_same(json_object_object_get(doc, "regions"), want);
    json_object_put(want);
    free(id);
    json_object_put(doc);
}

Test(action, create_region_refuses_a_client_region_id)
{
    json_object *doc = clip();

    fails(clips, &doc,
          "{\"action\":\"create_region\",\"data\":{\"region_id\":\"x\",\"start_time\":0,"
          "\"end_time\":2.0}}",
          ERR_BAD_REQUEST, "bad-request", "/data/region_id");
    json_object_put(doc);
}

Test(action, delete_region_as_written)
{
    json_object *doc = parse("{\"crop_keyframes\":[],\"trim_range\":null,\"effect_type\":null,"
                             "\"annotations\":[],\"regions\":[{\"region_id\":\"xxx\","
                             "\"start_time\":0,\"end_time\":1,\"keyframes\":[]}]}");

    ok(clips, &doc, "{\"action\":\"delete_region\",\"target\":{\"region_id\":\"xxx\"}}");
    assert_doc(json_object_object_get(doc, "regions"), "[]");
    fails(clips, &doc, "{\"action\":\"delete_region\",\"target\":{\"region_id\":\"xxx\"}}",
          ERR_UNPROCESSABLE, "target-not-found", "/target/region_id");
    json_object_put(doc);
}

Test(action, add_region_keyframe_into_a_created_region)
{
    json_object *doc = clip(), *kfs;
    char *id = create_region(&doc);
    char body[256];

    snprintf(body, sizeof(body),
             "{\"action\":\"add_region_keyframe\",\"target\":{\"region_id\":\"%s\"},"
             "\"data\":{\"frame\":30,\"x\":1.5}}",
             id);
    ok(clips, &doc, body);
    snprintf(body, sizeof(body),
             "{\"action\":\"add_region_keyframe\",\"target\":{\"region_id\":\"%s\"},"
             "\"data\":{\"frame\":10,\"params\":{\"gain\":2}}}",
             id);
    ok(clips, &doc, body);
    kfs = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(doc, "regions"), 0), "keyframes");
    assert_doc(kfs, "[{\"frame\":10,\"params\":{\"gain\":2}},{\"frame\":30,\"x\":1.5}]");
    fails(clips, &doc,
          "{\"action\":\"add_region_keyframe\",\"target\":{\"region_id\":\"xxx\"},"
          "\"data\":{\"frame\":1}}",
          ERR_UNPROCESSABLE, "target-not-found", "/target/region_id");
    free(id);
    json_object_put(doc);
}

Test(action, set_effect_type_as_written)
{
    json_object *doc = clip();

    ok(clips, &doc,
       "{\"action\":\"set_effect_type\",\"data\":{\"effect_type\":\"brightness_boost\"}}");
    assert_doc(json_object_object_get(doc, "effect_type"), "\"brightness_boost\"");
    ok(clips, &doc, "{\"action\":\"set_effect_type\",\"data\":{\"effect_type\":null}}");
    cr_assert_null(json_object_object_get(doc, "effect_type"));
    json_object_put(doc);
}

Test(action, create_annotation_as_written_returns_1_then_2)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();
    const char *body =
        "{\"action\":\"create_annotation\",\"data\":{\"start_time\":10,\"end_time\":15,"
        "\"name\":\"Play\"}}";

    cr_assert_eq(run(clips, NULL, &doc, body, &eff, &err), ERR_OK, "%s", err.detail);
    assert_doc(eff.result, "{\"annotation_id\":1}");
    action_effect_clear(&eff);
    cr_assert_eq(run(clips, NULL, &doc, body, &eff, &err), ERR_OK, "%s", err.detail);
    assert_doc(eff.result, "{\"annotation_id\":2}");
    action_effect_clear(&eff);
    assert_doc(json_object_object_get(doc, "annotations"),
               "[{\"annotation_id\":1,\"start_time\":10,\"end_time\":15,\"name\":\"Play\","
               "\"tags\":[]},{\"annotation_id\":2,\"start_time\":10,\"end_time\":15,"
               "\"name\":\"Play\",\"tags\":[]}]");
    json_object_put(doc);
}

static json_object *
clip_with_annotation_123(void)
{
    return parse("{\"crop_keyframes\":[],\"trim_range\":null,\"regions\":[],"
                 "\"effect_type\":null,\"annotations\":[{\"annotation_id\":123,"
                 "\"start_time\":10,\"end_time\":15,\"name\":\"Play\",\"tags\":[]}]}");
}

Test(action, update_annotation_as_written)
{
    json_object *doc = clip_with_annotation_123();

    ok(clips, &doc,
       "{\"action\":\"update_annotation\",\"target\":{\"annotation_id\":123},"
       "\"data\":{\"rating\":5}}");
    assert_doc(json_object_object_get(doc, "annotations"),
               "[{\"annotation_id\":123,\"start_time\":10,\"end_time\":15,\"name\":\"Play\","
               "\"tags\":[],\"rating\":5}]");
    json_object_put(doc);
}

Test(action, create_annotation_continues_after_the_largest_id)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip_with_annotation_123();

    cr_assert_eq(run(clips, NULL, &doc,
                     "{\"action\":\"create_annotation\",\"data\":{\"start_time\":1,"
                     "\"end_time\":2,\"name\":\"x\",\"tags\":[\"a\"]}}",
                     &eff, &err),
                 ERR_OK, "%s", err.detail);
    assert_doc(eff.result, "{\"annotation_id\":124}");
    assert_doc(json_object_array_get_idx(json_object_object_get(doc, "annotations"), 1),
               "{\"annotation_id\":124,\"start_time\":1,\"end_time\":2,\"name\":\"x\","
               "\"tags\":[\"a\"]}");
    action_effect_clear(&eff);
    json_object_put(doc);
}

Test(action, add_tag_as_written_twice_is_a_no_op_the_second_time)
{
    const char *body =
        "{\"action\":\"add_tag\",\"target\":{\"annotation_id\":123},\"data\":{\"tag\":\"goal\"}}";
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip_with_annotation_123();

    ok(clips, &doc, body);
    cr_assert_eq(run(clips, NULL, &doc, body, &eff, &err), ERR_OK, "%s", err.detail);
    cr_assert_eq(json_object_array_length(eff.forward), 0);
    cr_assert_eq(json_object_array_length(eff.inverse), 0);
    cr_assert_null(eff.result);
    action_effect_clear(&eff);
    assert_doc(
        json_object_object_get(
            json_object_array_get_idx(json_object_object_get(doc, "annotations"), 0), "tags"),
        "[\"goal\"]");
    json_object_put(doc);
}

Test(action, add_tag_creates_a_missing_tags_array)
{
    json_object *doc = parse("{\"annotations\":[{\"annotation_id\":1}]}");

    ok(clips, &doc,
       "{\"action\":\"add_tag\",\"target\":{\"annotation_id\":1},\"data\":{\"tag\":\"goal\"}}");
    assert_doc(doc, "{\"annotations\":[{\"annotation_id\":1,\"tags\":[\"goal\"]}]}");
    json_object_put(doc);
}

Test(action, data_members_are_checked)
{
    json_object *doc = clip();

    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":1,\"x\":1,\"y\":1,\"width\":1,"
          "\"height\":1,\"z\":1}}",
          ERR_BAD_REQUEST, "bad-request", "/data/z");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":1.5,\"x\":1,\"y\":1,"
          "\"width\":1,\"height\":1}}",
          ERR_BAD_REQUEST, "bad-request", "/data/frame");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":1,\"x\":\"1\",\"y\":1,"
          "\"width\":1,\"height\":1}}",
          ERR_BAD_REQUEST, "bad-request", "/data/x");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"x\":1,\"y\":1,\"width\":1,"
          "\"height\":1}}",
          ERR_BAD_REQUEST, "bad-request", "/data/frame");
    fails(clips, &doc, "{\"action\":\"add_crop_keyframe\"}", ERR_BAD_REQUEST, "bad-request",
          "/data/frame");
    fails(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":[1]}", ERR_BAD_REQUEST,
          "bad-request", "/data");
    json_object_put(doc);
}

Test(action, target_and_data_only_where_declared)
{
    json_object *doc = clip();

    fails(clips, &doc,
          "{\"action\":\"set_trim_range\",\"target\":{\"frame\":1},"
          "\"data\":{\"start\":1,\"end\":2}}",
          ERR_BAD_REQUEST, "bad-request", "/target");
    fails(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{\"frame\":1},\"data\":{}}",
          ERR_BAD_REQUEST, "bad-request", "/data");
    fails(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{}}", ERR_BAD_REQUEST,
          "bad-request", "/target/frame");
    fails(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{\"frame\":\"1\"}}",
          ERR_BAD_REQUEST, "bad-request", "/target/frame");
    json_object_put(doc);
}

Test(action, data_null_is_no_data)
{
    json_object *doc = clip();

    ok(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(1) "}");
    ok(clips, &doc, "{\"action\":\"delete_crop_keyframe\",\"target\":{\"frame\":1},\"data\":null}");
    fails(clips, &doc, "{\"action\":\"set_trim_range\",\"data\":null}", ERR_BAD_REQUEST,
          "bad-request", "/data/start");
    json_object_put(doc);
}

Test(action, error_pointers_carry_the_batch_prefix)
{
    struct action_request req;
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();
    json_object *body = parse("{\"actions\":[{\"action\":\"set_trim_range\",\"data\":{\"start\":1,"
                              "\"end\":2}},{\"action\":\"add_crop_keyframe\",\"data\":{}}]}");

    cr_assert_eq(action_parse(body, &req, &err), ERR_OK, "%s", err.detail);
    cr_assert_eq(action_apply(clips, &req.items[1], NULL, "/actions/1", &doc, &eff, &err),
                 ERR_BAD_REQUEST);
    cr_assert_str_eq(err.pointer, "/actions/1/data/frame");
    action_request_free(&req);
    json_object_put(body);
    json_object_put(doc);
}

Test(action, values_outside_their_bounds_are_422_out_of_range)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();

    /* the nonsense of the report that asked for bounds; each leaves the document alone */
    fails(clips, &doc, "{\"action\":\"set_trim_range\",\"data\":{\"start\":9,\"end\":-5}}",
          ERR_UNPROCESSABLE, "out-of-range", "/data/end");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":1,\"x\":1,\"y\":1,\"width\":-4,"
          "\"height\":3}}",
          ERR_UNPROCESSABLE, "out-of-range", "/data/width");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":1,\"x\":1e308,\"y\":1,"
          "\"width\":4,\"height\":3}}",
          ERR_UNPROCESSABLE, "out-of-range", "/data/x");
    fails(clips, &doc,
          "{\"action\":\"add_crop_keyframe\",\"data\":{\"frame\":-9223372036854775808,\"x\":1,"
          "\"y\":1,\"width\":4,\"height\":3}}",
          ERR_UNPROCESSABLE, "out-of-range", "/data/frame");
    /* the detail says which bound */
    cr_assert_eq(run(clips, NULL, &doc,
                     "{\"action\":\"move_crop_keyframe\",\"target\":{\"frame\":1},"
                     "\"data\":{\"new_frame\":10000001}}",
                     &eff, &err),
                 ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.detail, "must be at most 10000000");
    err_clear(&err);
    cr_assert_eq(run(clips, NULL, &doc,
                     "{\"action\":\"set_trim_range\",\"data\":{\"start\":-0.25,\"end\":1}}", &eff,
                     &err),
                 ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.detail, "must be at least 0");
    err_clear(&err);
    json_object_put(doc);
}

Test(action, a_broken_rule_is_422_invalid_range_at_its_second_member)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();

    cr_assert_eq(run(clips, NULL, &doc,
                     "{\"action\":\"set_trim_range\",\"data\":{\"start\":9,\"end\":5.5}}", &eff,
                     &err),
                 ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.slug, "invalid-range");
    cr_assert_str_eq(err.pointer, "/data/end");
    cr_assert_str_eq(err.detail, "end (5.5) must be greater than start (9)");
    err_clear(&err);
    fails(clips, &doc,
          "{\"action\":\"create_annotation\",\"data\":{\"start_time\":2,\"end_time\":1,"
          "\"name\":\"n\"}}",
          ERR_UNPROCESSABLE, "invalid-range", "/data/end_time");
    ok(clips, &doc,
       "{\"action\":\"create_annotation\",\"data\":{\"start_time\":2,\"end_time\":2,"
       "\"name\":\"n\"}}");
    json_object_put(doc);
}

Test(action, a_type_error_comes_before_any_value_out_of_range)
{
    json_object *doc = clip();

    fails(clips, &doc, "{\"action\":\"set_trim_range\",\"data\":{\"start\":-1,\"end\":\"5\"}}",
          ERR_BAD_REQUEST, "bad-request", "/data/end");
    json_object_put(doc);
}

Test(action, constraint_pointers_carry_the_batch_prefix)
{
    struct action_request req;
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip();
    json_object *body = parse("{\"actions\":[{\"action\":\"set_trim_range\",\"data\":{\"start\":1,"
                              "\"end\":2}},{\"action\":\"set_trim_range\",\"data\":{\"start\":3,"
                              "\"end\":2}},{\"action\":\"update_crop_keyframe\",\"target\":"
                              "{\"frame\":1},\"data\":{\"height\":0}}]}");

    cr_assert_eq(action_parse(body, &req, &err), ERR_OK, "%s", err.detail);
    cr_assert_eq(action_apply(clips, &req.items[1], NULL, "/actions/1", &doc, &eff, &err),
                 ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.pointer, "/actions/1/data/end");
    err_clear(&err);
    cr_assert_eq(action_apply(clips, &req.items[2], NULL, "/actions/2", &doc, &eff, &err),
                 ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.pointer, "/actions/2/data/height");
    cr_assert_str_eq(err.slug, "out-of-range");
    err_clear(&err);
    action_request_free(&req);
    json_object_put(body);
    json_object_put(doc);
}

Test(action, unknown_action_is_404_with_allowed_actions)
{
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = clip(), *allowed;

    cr_assert_eq(run(clips, NULL, &doc, "{\"action\":\"frobnicate\"}", &eff, &err), ERR_NOT_FOUND);
    cr_assert_str_eq(err.slug, "unknown-action");
    cr_assert_str_eq(err.pointer, "/action");
    cr_assert(json_object_object_get_ex(err.extra, "allowed_actions", &allowed));
    cr_assert_eq(json_object_array_length(allowed), 15);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(allowed, 0)),
                     "add_crop_keyframe");
    err_clear(&err);
    json_object_put(doc);
}

Test(action, duplicate_verb_is_not_an_action)
{
    const struct catalog_type *t = catalog_find_type(cat, "dashboards");
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = jsonp_copy(catalog_type_initial(t));

    cr_assert_eq(run(t, NULL, &doc, "{\"action\":\"duplicate\"}", &eff, &err), ERR_NOT_FOUND);
    cr_assert_str_eq(err.slug, "verb-not-an-action");
    cr_assert_str_eq(err.pointer, "/action");
    cr_assert_not_null(json_object_object_get(err.extra, "allowed_actions"));
    err_clear(&err);
    json_object_put(doc);
}

Test(action, dashboard_widgets_get_serial_ids)
{
    const struct catalog_type *t = catalog_find_type(cat, "dashboards");
    json_object *doc = jsonp_copy(catalog_type_initial(t));

    ok(t, &doc, "{\"action\":\"add_widget\",\"data\":{\"kind\":\"chart\"}}");
    ok(t, &doc,
       "{\"action\":\"add_widget\",\"data\":{\"kind\":\"table\",\"config\":{\"rows\":5}}}");
    ok(t, &doc,
       "{\"action\":\"update_widget\",\"target\":{\"widget_id\":1},"
       "\"data\":{\"config\":{\"type\":\"bar\"}}}");
    ok(t, &doc, "{\"action\":\"set_title\",\"data\":{\"title\":\"Sales\"}}");
    assert_doc(doc, "{\"title\":\"Sales\",\"widgets\":[{\"widget_id\":1,\"kind\":\"chart\","
                    "\"config\":{\"type\":\"bar\"}},{\"widget_id\":2,\"kind\":\"table\","
                    "\"config\":{\"rows\":5}}]}");
    json_object_put(doc);
}

Test(action, transitions_follow_the_state_machine)
{
    const struct catalog_type *t = catalog_find_type(cat, "analysis_jobs");
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = jsonp_copy(catalog_type_initial(t)), *allowed;

    cr_assert_eq(run(t, "queued", &doc, "{\"action\":\"suspend\"}", &eff, &err), ERR_OK);
    cr_assert_str_eq(eff.new_state, "suspended");
    cr_assert_eq(json_object_array_length(eff.forward), 0);
    cr_assert_eq(json_object_array_length(eff.inverse), 0);
    action_effect_clear(&eff);

    cr_assert_eq(run(t, "suspended", &doc, "{\"action\":\"resume\"}", &eff, &err), ERR_OK);
    cr_assert_str_eq(eff.new_state, "queued");
    action_effect_clear(&eff);

    cr_assert_eq(run(t, "queued", &doc, "{\"action\":\"retry\"}", &eff, &err), ERR_CONFLICT);
    cr_assert_str_eq(err.slug, "transition-not-allowed");
    cr_assert(json_object_object_get_ex(err.extra, "allowed_actions", &allowed));
    assert_doc(allowed,
               "[\"set_input\",\"set_parameters\",\"suspend\",\"amend\",\"start\",\"fail\"]");
    cr_assert_null(eff.new_state);
    err_clear(&err);

    cr_assert_eq(run(t, "failed", &doc, "{\"action\":\"retry\"}", &eff, &err), ERR_OK);
    cr_assert_str_eq(eff.new_state, "queued");
    action_effect_clear(&eff);

    cr_assert_eq(run(t, "failed", &doc, "{\"action\":\"amend\"}", &eff, &err), ERR_OK);
    cr_assert_str_eq(eff.new_state, "queued");
    action_effect_clear(&eff);
    json_object_put(doc);
}

Test(action, complete_is_an_unknown_verb)
{
    const struct catalog_type *t = catalog_find_type(cat, "analysis_jobs");
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = jsonp_copy(catalog_type_initial(t));

    cr_assert_eq(run(t, "running", &doc, "{\"action\":\"complete\"}", &eff, &err), ERR_NOT_FOUND);
    cr_assert_str_eq(err.slug, "unknown-action");
    err_clear(&err);
    json_object_put(doc);
}

Test(action, transitions_take_no_data)
{
    const struct catalog_type *t = catalog_find_type(cat, "analysis_jobs");
    json_object *doc = jsonp_copy(catalog_type_initial(t));

    fails(t, &doc, "{\"action\":\"suspend\",\"data\":{\"why\":1}}", ERR_BAD_REQUEST, "bad-request",
          "/data");
    json_object_put(doc);
}

Test(action, article_edits_replace_text)
{
    const struct catalog_type *t = catalog_find_type(cat, "articles");
    json_object *doc = jsonp_copy(catalog_type_initial(t));

    ok(t, &doc, "{\"action\":\"set_title\",\"data\":{\"title\":\"Hello\"}}");
    ok(t, &doc, "{\"action\":\"set_body\",\"data\":{\"body\":\"World\"}}");
    assert_doc(doc, "{\"title\":\"Hello\",\"body\":\"World\"}");
    json_object_put(doc);
}

/* A catalog built for the compiler's corner cases. */
static const struct catalog_type *
scratch_type(struct catalog **c)
{
    struct err err = {0};
    json_object *root = parse(
        "{\"types\":{\"t\":{\"initial\":{\"a\":0,\"list\":[]},\"actions\":{"
        "\"two_steps\":{\"data\":{\"a\":\"integer\",\"item\":\"object\"},\"steps\":["
        "{\"op\":\"set\",\"path\":\"/a\",\"value_from\":\"/a\"},"
        "{\"op\":\"insert_sorted\",\"path\":\"/list\",\"key\":\"k\",\"value_from\":\"/item\"}]},"
        "\"replace_all\":{\"data\":\"any\",\"steps\":[{\"op\":\"set\",\"path\":\"\"}]},"
        "\"maybe\":{\"data\":{\"a\":\"integer?\"},\"steps\":["
        "{\"op\":\"set\",\"path\":\"/a\",\"value_from\":\"/a\"}]},"
        "\"push\":{\"data\":\"any\",\"steps\":[{\"op\":\"append\",\"path\":\"/list\","
        "\"id\":{\"member\":\"n\",\"kind\":\"serial\"}}]}}}}}");

    *c = catalog_from_json(root, "scratch", &err);
    json_object_put(root);
    cr_assert_not_null(*c, "%s", err.detail);
    return catalog_find_type(*c, "t");
}

Test(action, multi_step_actions_are_all_or_nothing)
{
    struct catalog *c;
    const struct catalog_type *t = scratch_type(&c);
    json_object *doc = parse("{\"a\":0,\"list\":[{\"k\":1}]}");

    ok(t, &doc, "{\"action\":\"two_steps\",\"data\":{\"a\":5,\"item\":{\"k\":2}}}");
    assert_doc(doc, "{\"a\":5,\"list\":[{\"k\":1},{\"k\":2}]}");
    /* the second step fails after the first applied: the first is undone */
    fails(t, &doc, "{\"action\":\"two_steps\",\"data\":{\"a\":7,\"item\":{\"k\":1}}}",
          ERR_UNPROCESSABLE, "duplicate-key", "/data/item/k");
    fails(t, &doc, "{\"action\":\"two_steps\",\"data\":{\"a\":7,\"item\":{\"j\":1}}}",
          ERR_BAD_REQUEST, "bad-request", "/data/item/k");
    assert_doc(doc, "{\"a\":5,\"list\":[{\"k\":1},{\"k\":2}]}");
    json_object_put(doc);
    catalog_free(c);
}

Test(action, an_object_document_stays_an_object)
{
    struct catalog *c;
    const struct catalog_type *t = scratch_type(&c);
    json_object *doc = parse("{\"a\":0,\"list\":[]}");

    fails(t, &doc, "{\"action\":\"replace_all\",\"data\":[1]}", ERR_UNPROCESSABLE, "invalid-value",
          "");
    ok(t, &doc, "{\"action\":\"replace_all\",\"data\":{\"b\":1}}");
    assert_doc(doc, "{\"b\":1}");
    json_object_put(doc);
    catalog_free(c);
}

Test(action, an_absent_optional_value_skips_its_step)
{
    struct catalog *c;
    const struct catalog_type *t = scratch_type(&c);
    struct action_effect eff;
    struct err err = {0};
    json_object *doc = parse("{\"a\":3,\"list\":[]}");

    cr_assert_eq(run(t, NULL, &doc, "{\"action\":\"maybe\"}", &eff, &err), ERR_OK);
    cr_assert_eq(json_object_array_length(eff.forward), 0);
    action_effect_clear(&eff);
    ok(t, &doc, "{\"action\":\"maybe\",\"data\":{\"a\":4}}");
    assert_doc(doc, "{\"a\":4,\"list\":[]}");
    json_object_put(doc);
    catalog_free(c);
}

Test(action, append_checks_values_of_any_type)
{
    struct catalog *c;
    const struct catalog_type *t = scratch_type(&c);
    json_object *doc = parse("{\"a\":0,\"list\":[{\"n\":9223372036854775807}]}");

    fails(t, &doc, "{\"action\":\"push\",\"data\":5}", ERR_BAD_REQUEST, "bad-request", "/data");
    fails(t, &doc, "{\"action\":\"push\",\"data\":{\"n\":1}}", ERR_BAD_REQUEST, "bad-request",
          "/data/n");
    fails(t, &doc, "{\"action\":\"push\",\"data\":{}}", ERR_UNPROCESSABLE, "invalid-value", "");
    fails(t, &doc, "{\"action\":\"push\"}", ERR_BAD_REQUEST, "bad-request", "/data");
    json_object_put(doc);
    catalog_free(c);
}

Test(action, a_missing_path_is_422)
{
    json_object *doc = parse("{\"annotations\":[]}");

    fails(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(1) "}", ERR_UNPROCESSABLE,
          "path-not-found", "");
    json_object_put(doc);
    doc = parse("{\"crop_keyframes\":{}}");
    fails(clips, &doc, "{\"action\":\"add_crop_keyframe\",\"data\":" KF(1) "}", ERR_UNPROCESSABLE,
          "wrong-type", "");
    json_object_put(doc);
}

Test(envelope, a_single_action_parses)
{
    struct action_request req;
    struct err err = {0};
    json_object *b = parse("{\"action\":\"update_crop_keyframe\",\"target\":{\"frame\":100},"
                           "\"data\":{\"x\":60},\"expected_version\":7,"
                           "\"id\":\"c0a8012e-7f3b-4a8e-9d3c-1f2e3d4c5b6a\"}");

    cr_assert_eq(action_parse(b, &req, &err), ERR_OK, "%s", err.detail);
    cr_assert_eq(req.n, 1);
    cr_assert_eq(req.batch, 0);
    cr_assert_str_eq(req.items[0].name, "update_crop_keyframe");
    assert_doc(req.items[0].target, "{\"frame\":100}");
    assert_doc(req.items[0].data, "{\"x\":60}");
    cr_assert(req.has_expected_version);
    cr_assert_eq(req.expected_version, 7);
    cr_assert_str_eq(req.id, "c0a8012e-7f3b-4a8e-9d3c-1f2e3d4c5b6a");
    action_request_free(&req);
    json_object_put(b);
}

Test(envelope, a_batch_parses)
{
    struct action_request req;
    struct err err = {0};
    json_object *b = parse("{\"expected_version\":7,\"actions\":[{\"action\":\"a\"},"
                           "{\"action\":\"b\",\"data\":1}]}");

    cr_assert_eq(action_parse(b, &req, &err), ERR_OK, "%s", err.detail);
    cr_assert_eq(req.n, 2);
    cr_assert(req.batch);
    cr_assert_str_eq(req.items[1].name, "b");
    cr_assert_eq(json_object_get_int(req.items[1].data), 1);
    cr_assert_null(req.items[0].data);
    cr_assert_null(req.id);
    action_request_free(&req);
    json_object_put(b);
}

Test(envelope, unknown_members_are_400)
{
    bad_envelope("{\"action\":\"a\",\"foo\":1}", "/foo");
    bad_envelope("{\"action\":\"a\",\"a/b\":1}", "/a~1b");
    bad_envelope("{\"actions\":[{\"action\":\"a\"}],\"action\":\"a\"}", "/action");
    bad_envelope("{\"actions\":[{\"action\":\"a\",\"expected_version\":1}]}",
                 "/actions/0/expected_version");
}

Test(envelope, wrong_types_are_400)
{
    bad_envelope("[]", "");
    bad_envelope("{}", "/action");
    bad_envelope("{\"action\":1}", "/action");
    bad_envelope("{\"action\":\"\"}", "/action");
    bad_envelope("{\"action\":\"a\",\"target\":[1]}", "/target");
    bad_envelope("{\"action\":\"a\",\"target\":null}", "/target");
}

Test(envelope, expected_version_is_an_integer_from_1)
{
    bad_envelope("{\"action\":\"a\",\"expected_version\":\"7\"}", "/expected_version");
    bad_envelope("{\"action\":\"a\",\"expected_version\":7.5}", "/expected_version");
    bad_envelope("{\"action\":\"a\",\"expected_version\":0}", "/expected_version");
    bad_envelope("{\"action\":\"a\",\"expected_version\":-3}", "/expected_version");
    bad_envelope("{\"action\":\"a\",\"expected_version\":null}", "/expected_version");
}

Test(envelope, id_is_a_bounded_printable_string)
{
    char body[400];

    bad_envelope("{\"action\":\"a\",\"id\":\"\"}", "/id");
    bad_envelope("{\"action\":\"a\",\"id\":7}", "/id");
    bad_envelope("{\"action\":\"a\",\"id\":\"a\\nb\"}", "/id");
    snprintf(body, sizeof(body), "{\"action\":\"a\",\"id\":\"%0*d\"}", ACTION_MAX_ID + 1, 0);
    bad_envelope(body, "/id");
}

Test(envelope, batch_shape_is_checked)
{
    char body[4096];
    size_t i, len;

    bad_envelope("{\"actions\":[]}", "/actions");
    bad_envelope("{\"actions\":{}}", "/actions");
    bad_envelope("{\"actions\":[{\"action\":\"a\"},7]}", "/actions/1");
    bad_envelope("{\"actions\":[{\"action\":\"a\"},{\"data\":1}]}", "/actions/1/action");
    len = (size_t)snprintf(body, sizeof(body), "{\"actions\":[");
    for (i = 0; i <= ACTION_MAX_BATCH; i++)
        len +=
            (size_t)snprintf(body + len, sizeof(body) - len, "%s{\"action\":\"a\"}", i ? "," : "");
    snprintf(body + len, sizeof(body) - len, "]}");
    bad_envelope(body, "/actions");
}
