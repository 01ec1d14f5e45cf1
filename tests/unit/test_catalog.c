/*
 * test_catalog.c: the shipped catalog loads and declares the shipped types, and
 * every class of invalid catalog is refused with the JSON Pointer of the culprit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "doc/catalog.h"
#include "doc/jsonp.h"

static struct catalog *cat;

static void
setup(void)
{
    struct err err = {0};

    cat = catalog_load(TEST_SRCDIR "/catalog/default.json", &err);
    cr_assert_not_null(cat, "%s", err.detail);
}

static void
teardown(void)
{
    catalog_free(cat);
}

TestSuite(shipped, .init = setup, .fini = teardown);

static void
assert_json(json_object *v, const char *want)
{
    cr_assert_str_eq(jsonp_str(v), want);
}

static const struct catalog_action *
action(const char *type, const char *name)
{
    const struct catalog_type *t = catalog_find_type(cat, type);

    cr_assert_not_null(t, "%s", type);
    return catalog_type_action(t, name);
}

Test(shipped, declares_the_shipped_types)
{
    cr_assert_not_null(catalog_find_type(cat, "clips"));
    cr_assert_not_null(catalog_find_type(cat, "analysis_jobs"));
    cr_assert_not_null(catalog_find_type(cat, "articles"));
    cr_assert_not_null(catalog_find_type(cat, "dashboards"));
    cr_assert_not_null(catalog_find_type(cat, "documents"));
    cr_assert_null(catalog_find_type(cat, "nope"));
    cr_assert_str_eq(catalog_type_name(catalog_find_type(cat, "clips")), "clips");
}

Test(shipped, clips_have_every_reference_action)
{
    static const char *const names[] = {
        "add_crop_keyframe", "update_crop_keyframe", "delete_crop_keyframe", "move_crop_keyframe",
        "set_trim_range",    "create_region",        "delete_region",        "add_region_keyframe",
        "set_effect_type",   "create_annotation",    "update_annotation",    "add_tag"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct catalog_action *a = action("clips", names[i]);

        cr_assert_not_null(a, "%s", names[i]);
        cr_assert_eq(catalog_action_kind(a), CATALOG_EDIT);
        cr_assert_str_eq(catalog_action_name(a), names[i]);
        /* document edits need a precondition, add_tag does not */
        cr_assert_eq(catalog_action_needs_precondition(a), strcmp(names[i], "add_tag") != 0, "%s",
                     names[i]);
    }
}

Test(shipped, clips_start_empty)
{
    const struct catalog_type *t = catalog_find_type(cat, "clips");

    assert_json(catalog_type_initial(t),
                "{\"crop_keyframes\":[],\"trim_range\":null,\"regions\":[],"
                "\"effect_type\":null,\"annotations\":[]}");
    cr_assert_null(catalog_type_initial_state(t));
    cr_assert_eq(catalog_type_any_document(t), 0);
}

Test(shipped, analysis_jobs_have_a_state_machine)
{
    const struct catalog_type *t = catalog_find_type(cat, "analysis_jobs");
    const struct catalog_action *suspend = catalog_type_action(t, "suspend");

    cr_assert_str_eq(catalog_type_initial_state(t), "queued");
    cr_assert_eq(catalog_action_kind(suspend), CATALOG_TRANSITION);
    cr_assert_eq(catalog_action_needs_precondition(suspend), 0);
    cr_assert_str_eq(catalog_action_to_state(suspend), "suspended");
    cr_assert(catalog_action_allowed_from(suspend, "running"));
    cr_assert_not(catalog_action_allowed_from(suspend, "done"));
    cr_assert_not(catalog_action_allowed_from(suspend, NULL));
    cr_assert_not_null(catalog_type_action(t, "resume"));
    cr_assert_not_null(catalog_type_action(t, "retry"));
    cr_assert_not_null(catalog_type_action(t, "amend"));
    /* the example of an unknown verb: deliberately not declared */
    cr_assert_null(catalog_type_action(t, "complete"));
}

Test(shipped, allowed_actions_follow_the_state)
{
    static const struct {
        const char *state, *want;
    } cases[] = {
        {"queued", "[\"set_input\",\"set_parameters\",\"suspend\",\"amend\",\"start\",\"fail\"]"},
        {"running", "[\"set_input\",\"set_parameters\",\"suspend\",\"fail\",\"finish\"]"},
        {"suspended", "[\"set_input\",\"set_parameters\",\"resume\",\"amend\"]"},
        {"failed", "[\"set_input\",\"set_parameters\",\"retry\",\"amend\"]"},
        {"done", "[\"set_input\",\"set_parameters\"]"},
    };
    const struct catalog_type *t = catalog_find_type(cat, "analysis_jobs");
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *allowed = catalog_type_allowed(t, cases[i].state);

        cr_assert_str_eq(jsonp_str(allowed), cases[i].want, "%s", cases[i].state);
        json_object_put(allowed);
    }
}

Test(shipped, verbs_are_transitions_and_duplicate)
{
    json_object *v = catalog_type_verbs(catalog_find_type(cat, "analysis_jobs"), "suspended");

    assert_json(v, "[\"resume\",\"amend\"]");
    json_object_put(v);
    v = catalog_type_verbs(catalog_find_type(cat, "dashboards"), NULL);
    assert_json(v, "[\"duplicate\"]");
    json_object_put(v);
    v = catalog_type_allowed(catalog_find_type(cat, "dashboards"), NULL);
    assert_json(v, "[\"set_title\",\"set_widgets\",\"add_widget\",\"update_widget\","
                   "\"remove_widget\",\"duplicate\"]");
    json_object_put(v);
    cr_assert_eq(catalog_action_kind(action("dashboards", "duplicate")), CATALOG_DUPLICATE);
    cr_assert_null(catalog_action_to_state(action("dashboards", "duplicate")));
}

Test(shipped, articles_need_a_precondition)
{
    cr_assert(catalog_action_needs_precondition(action("articles", "set_title")));
    cr_assert(catalog_action_needs_precondition(action("articles", "set_body")));
    assert_json(catalog_type_initial(catalog_find_type(cat, "articles")),
                "{\"title\":\"\",\"body\":\"\"}");
}

Test(shipped, documents_take_any_value)
{
    const struct catalog_type *t = catalog_find_type(cat, "documents");
    json_object *v = catalog_type_allowed(t, NULL);

    cr_assert(catalog_type_any_document(t));
    assert_json(v, "[]");
    json_object_put(v);
}

/*
 * Builds a catalog from `text` (JSON) and expects it refused with a detail starting
 * "test.json: " followed by `want` (the pointer, ": ", and the start of the message).
 */
static void
refused(const char *text, const char *want)
{
    struct err err = {0};
    json_object *root = NULL;
    struct catalog *c;
    char prefix[ERR_DETAIL_MAX];

    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &root, &err), ERR_OK, "%s", err.detail);
    c = catalog_from_json(root, "test.json", &err);
    json_object_put(root);
    catalog_free(c);
    cr_assert_null(c, "accepted: %s", text);
    cr_assert_eq(err.code, ERR_BAD_REQUEST);
    snprintf(prefix, sizeof(prefix), "test.json: %s", want);
    cr_assert(strncmp(err.detail, prefix, strlen(prefix)) == 0, "got \"%s\", want \"%s...\"",
              err.detail, prefix);
}

/* A type "t" whose actions member is `actions`. */
#define T(actions) "{\"types\":{\"t\":{\"initial\":{\"l\":[]},\"actions\":{" actions "}}}}"
/* A type "j" whose states member is `states`. */
#define J(states) "{\"types\":{\"j\":{\"initial\":{},\"states\":" states "}}}"
#define SET_X                                                                                      \
    "\"data\":{\"x\":\"integer\"},\"steps\":[{\"op\":\"set\",\"path\":\"/x\","                     \
    "\"value_from\":\"/x\"}]"

TestSuite(invalid);

Test(invalid, a_minimal_catalog_is_accepted)
{
    struct err err = {0};
    json_object *root = NULL;
    struct catalog *c;
    const char *text = T("\"a\":{" SET_X "}");

    cr_assert_eq(jsonp_parse(text, strlen(text), NULL, &root, &err), ERR_OK);
    c = catalog_from_json(root, "test.json", &err);
    cr_assert_not_null(c, "%s", err.detail);
    catalog_free(c);
    json_object_put(root);
}

Test(invalid, the_root_and_its_members)
{
    refused("[]", "the catalog must be a JSON object");
    refused("{}", "/types: missing (required)");
    refused("{\"types\":{},\"x\":1}", "/x: unknown member");
    refused("{\"types\":{}}", "/types: the catalog declares no types");
    refused("{\"types\":[]}", "/types: must be an object");
}

Test(invalid, type_names_and_members)
{
    refused("{\"types\":{\"Clips\":{\"initial\":{}}}}", "/types/Clips: invalid name");
    refused("{\"types\":{\"healthz\":{\"initial\":{}}}}",
            "/types/healthz: \"healthz\" is reserved");
    refused("{\"types\":{\"t\":{\"initial\":{},\"foo\":1}}}", "/types/t/foo: unknown member");
    refused("{\"types\":{\"t\":{}}}", "/types/t/initial: missing (required)");
    refused("{\"types\":{\"t\":{\"initial\":[]}}}", "/types/t/initial: must be an object");
    refused("{\"types\":{\"t\":{\"initial\":{},\"any_document\":1}}}",
            "/types/t/any_document: must be a boolean");
}

Test(invalid, action_names)
{
    refused(T("\"Bad\":{" SET_X "}"), "/types/t/actions/Bad: invalid name");
    refused(T("\"undo\":{" SET_X "}"), "/types/t/actions/undo: \"undo\" is reserved");
    refused(T("\"create\":{" SET_X "}"), "/types/t/actions/create: \"create\" is reserved");
    refused("{\"types\":{\"t\":{\"initial\":{},\"actions\":{\"copy\":{" SET_X "}},"
            "\"verbs\":{\"copy\":{\"op\":\"duplicate\"}}}}}",
            "/types/t/verbs/copy: \"copy\" is already declared");
}

Test(invalid, action_members)
{
    refused(T("\"a\":{" SET_X ",\"when\":1}"), "/types/t/actions/a/when: unknown member");
    refused(T("\"a\":{\"data\":{\"x\":\"integer\"}}"), "/types/t/actions/a/steps: missing");
    refused(T("\"a\":{\"data\":{\"x\":\"integer\"},\"steps\":[]}"),
            "/types/t/actions/a/steps: an action needs at least one step");
    refused(T("\"a\":{\"precondition\":\"maybe\"," SET_X "}"),
            "/types/t/actions/a/precondition: must be \"required\" or \"none\"");
    refused(T("\"a\":{\"data\":{\"x\":\"integr\"},\"steps\":[{\"op\":\"set\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/data/x: unknown type \"integr\"");
    refused(
        T("\"a\":{\"data\":{\"x-y\":\"integer\"},\"steps\":[{\"op\":\"set\",\"path\":\"/x\"}]}"),
        "/types/t/actions/a/data/x-y: invalid member name");
    refused(T("\"a\":{\"target\":\"integer\",\"steps\":[{\"op\":\"remove\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/target: must be an object of member types");
}

Test(invalid, steps)
{
    refused(T("\"a\":{\"steps\":[{\"op\":\"frobnicate\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/steps/0/op: unknown operation \"frobnicate\"");
    refused(T("\"a\":{\"steps\":[{\"path\":\"/x\"}]}"), "/types/t/actions/a/steps/0/op: missing");
    refused(T("\"a\":{\"steps\":[{\"op\":\"remove\",\"path\":\"/x\",\"value\":1}]}"),
            "/types/t/actions/a/steps/0/value: unknown member");
    refused(T("\"a\":{\"steps\":[{\"op\":\"remove\",\"path\":\"x\"}]}"),
            "/types/t/actions/a/steps/0/path: not a JSON Pointer");
    refused(T("\"a\":{\"steps\":[{\"op\":\"remove\",\"path\":\"/x/~2\"}]}"),
            "/types/t/actions/a/steps/0/path: not a JSON Pointer");
    refused(T("\"a\":{\"steps\":[{\"op\":\"remove\",\"path\":\"\"}]}"),
            "/types/t/actions/a/steps/0/path: remove cannot remove the whole document");
    refused(T("\"a\":{\"data\":\"any\",\"steps\":[{\"op\":\"set\",\"path\":\"/l/-\"}]}"),
            "/types/t/actions/a/steps/0/path: \"-\" names no element here");
    refused(T("\"a\":{\"steps\":[{\"op\":\"set\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/steps/0: set writes a value from data, but the action declares "
            "no data");
    refused(T("\"a\":{\"data\":\"object\",\"steps\":[{\"op\":\"merge\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/steps/0: merge needs the action's data declared as an object");
    refused(T("\"a\":{\"data\":{\"x\":\"any\"},\"steps\":[{\"op\":\"set\",\"path\":\"/x\","
              "\"value_from\":\"/y\"}]}"),
            "/types/t/actions/a/steps/0/value_from: \"/y\" names no member");
    refused(T("\"a\":{\"data\":{\"x\":\"any\"},\"steps\":[{\"op\":\"set\",\"path\":\"/x\","
              "\"value_from\":\"/x/y\"}]}"),
            "/types/t/actions/a/steps/0/value_from: must be \"\" (the whole data) or \"/member\"");
}

Test(invalid, selectors)
{
    refused(T("\"a\":{\"steps\":[{\"op\":\"remove\",\"path\":\"/l/{frame}\"}]}"),
            "/types/t/actions/a/steps/0/path: selector {frame} is not a member of the action's "
            "target");
    refused(T("\"a\":{\"target\":{\"frame\":\"integer?\"},"
              "\"steps\":[{\"op\":\"remove\",\"path\":\"/l/{frame}\"}]}"),
            "/types/t/actions/a/steps/0/path: selector {frame} names an optional target member");
    refused(T("\"a\":{\"target\":{\"frame\":\"integer\"},"
              "\"steps\":[{\"op\":\"remove\",\"path\":\"/l/{frame\"}]}"),
            "/types/t/actions/a/steps/0/path: malformed selector \"{frame\"");
    refused(T("\"a\":{\"target\":{\"frame\":\"integer\",\"extra\":\"string\"},"
              "\"steps\":[{\"op\":\"remove\",\"path\":\"/l/{frame}\"}]}"),
            "/types/t/actions/a/target/extra: no step path selects by this member");
}

Test(invalid, sorted_operations)
{
    refused(T("\"a\":{\"data\":{\"f\":\"integer\"},\"steps\":[{\"op\":\"insert_sorted\","
              "\"path\":\"/l\"}]}"),
            "/types/t/actions/a/steps/0/key: missing");
    refused(T("\"a\":{\"data\":{\"f\":\"integer\"},\"steps\":[{\"op\":\"insert_sorted\","
              "\"path\":\"/l\",\"key\":\"g\"}]}"),
            "/types/t/actions/a/steps/0/key: \"g\" must be a required data member");
    refused(T("\"a\":{\"data\":{\"f\":\"object\"},\"steps\":[{\"op\":\"insert_sorted\","
              "\"path\":\"/l\",\"key\":\"f\"}]}"),
            "/types/t/actions/a/steps/0/key: \"f\" must be a required data member declared "
            "integer, number or string");
    refused(T("\"a\":{\"data\":{\"n\":\"integer\"},\"steps\":[{\"op\":\"rekey\","
              "\"path\":\"/l\",\"key\":\"f\",\"value_from\":\"/n\"}]}"),
            "/types/t/actions/a/steps/0/path: rekey needs a path ending in a {selector}");
    refused(T("\"a\":{\"target\":{\"f\":\"integer\"},\"data\":{\"n\":\"integer\"},"
              "\"steps\":[{\"op\":\"rekey\",\"path\":\"/l/{f}\",\"key\":\"f\"}]}"),
            "/types/t/actions/a/steps/0/value_from: missing");
    refused(T("\"a\":{\"target\":{\"f\":\"integer\"},\"data\":{\"n\":\"object\"},"
              "\"steps\":[{\"op\":\"rekey\",\"path\":\"/l/{f}\",\"key\":\"f\","
              "\"value_from\":\"/n\"}]}"),
            "/types/t/actions/a/steps/0/value_from: data member \"n\" is a sort key");
}

Test(invalid, append_ids)
{
    refused(T("\"a\":{\"data\":{\"id\":\"integer\"},\"steps\":[{\"op\":\"append\","
              "\"path\":\"/l\",\"id\":{\"member\":\"id\",\"kind\":\"serial\"}}]}"),
            "/types/t/actions/a/steps/0/id/member: \"id\" is assigned by the server");
    refused(T("\"a\":{\"data\":{\"x\":\"integer\"},\"steps\":[{\"op\":\"append\","
              "\"path\":\"/l\",\"id\":{\"member\":\"id\",\"kind\":\"random\"}}]}"),
            "/types/t/actions/a/steps/0/id/kind: must be \"uuid\" or \"serial\"");
    refused(T("\"a\":{\"data\":{\"x\":\"integer\"},\"steps\":[{\"op\":\"append\","
              "\"path\":\"/l\",\"id\":{\"member\":\"id\",\"kind\":\"uuid\",\"start\":1}}]}"),
            "/types/t/actions/a/steps/0/id/start: unknown member");
    refused(T("\"a\":{\"data\":{\"x\":\"integer\"},\"steps\":[{\"op\":\"append\","
              "\"path\":\"/l\",\"id\":{\"member\":\"id\",\"kind\":\"uuid\"},"
              "\"defaults\":{\"id\":1}}]}"),
            "/types/t/actions/a/steps/0/defaults/id: \"id\" is assigned by the server");
}

Test(invalid, state_machines)
{
    refused(J("{\"all\":[\"a\"],\"initial\":\"a\"}"), "/types/j/states/transitions: missing");
    refused(J("{\"all\":[\"a\"],\"initial\":\"b\",\"transitions\":{}}"),
            "/types/j/states/initial: \"b\" is not listed in \"all\"");
    refused(J("{\"all\":[\"a\",\"Queued\"],\"initial\":\"a\",\"transitions\":{}}"),
            "/types/j/states/all/1: invalid name");
    refused(J("{\"all\":[\"a\",\"a\"],\"initial\":\"a\",\"transitions\":{}}"),
            "/types/j/states/all/1: \"a\" is listed twice");
    refused(J("{\"all\":[\"a\"],\"initial\":\"a\",\"transitions\":{\"go\":{\"from\":[\"a\"],"
              "\"to\":\"nowhere\"}}}"),
            "/types/j/states/transitions/go/to: \"nowhere\" is not a declared state");
    refused(J("{\"all\":[\"a\",\"b\"],\"initial\":\"a\",\"transitions\":{\"go\":{"
              "\"from\":[\"a\",\"c\"],\"to\":\"b\"}}}"),
            "/types/j/states/transitions/go/from/1: \"c\" is not a declared state");
    refused(J("{\"all\":[\"a\"],\"initial\":\"a\",\"transitions\":{\"go\":{\"from\":[],"
              "\"to\":\"a\"}}}"),
            "/types/j/states/transitions/go/from: a transition needs at least one source state");
    refused(J("{\"all\":[\"a\"],\"initial\":\"a\",\"transitions\":{\"redo\":{\"from\":[\"a\"],"
              "\"to\":\"a\"}}}"),
            "/types/j/states/transitions/redo: \"redo\" is reserved");
    refused("{\"types\":{\"j\":{\"initial\":{},\"actions\":{\"go\":{" SET_X "}},"
            "\"states\":{\"all\":[\"a\"],\"initial\":\"a\",\"transitions\":{\"go\":{"
            "\"from\":[\"a\"],\"to\":\"a\"}}}}}}",
            "/types/j/states/transitions/go: \"go\" is already declared");
}

Test(invalid, verbs)
{
    refused("{\"types\":{\"t\":{\"initial\":{},\"verbs\":{\"copy\":{\"op\":\"clone\"}}}}}",
            "/types/t/verbs/copy/op: unknown verb operation \"clone\"");
    refused("{\"types\":{\"t\":{\"initial\":{},\"verbs\":{\"copy\":{}}}}}",
            "/types/t/verbs/copy/op: missing");
}

/* An action "a" of type "t" whose data member x is declared `decl`. */
#define X(decl)                                                                                    \
    T("\"a\":{\"data\":{\"x\":" decl "},\"steps\":[{\"op\":\"set\",\"path\":\"/x\","               \
      "\"value_from\":\"/x\"}]}")
/* An action "a" of type "t" with data members s and e, and `rules`. */
#define R(rules)                                                                                   \
    T("\"a\":{\"data\":{\"s\":\"number\",\"e\":\"integer|null?\",\"n\":\"string\"},"               \
      "\"rules\":" rules ",\"steps\":[{\"op\":\"set\",\"path\":\"/x\"}]}")

Test(invalid, constraints_are_accepted)
{
    static const char *const texts[] = {
        X("{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000000}"),
        X("{\"type\":\"number?\",\"exclusive_minimum\":0,\"exclusive_maximum\":1,"
          "\"description\":\"a fraction\"}"),
        X("{\"type\":\"number\",\"minimum\":-9007199254740991,\"maximum\":9007199254740991}"),
        X("{\"type\":\"number\",\"minimum\":5,\"maximum\":5}"),
        X("{\"type\":\"string|null\",\"min_length\":1,\"max_length\":1}"),
        X("{\"type\":\"integer|string\",\"minimum\":1,\"max_length\":0}"),
        X("{\"type\":\"any\"}"),
        R("[{\"less\":[\"s\",\"e\"]},{\"less_or_equal\":[\"e\",\"s\"]}]"),
        R("[]"),
    };
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct err err = {0};
        json_object *root = NULL;
        struct catalog *c;

        cr_assert_eq(jsonp_parse(texts[i], strlen(texts[i]), NULL, &root, &err), ERR_OK);
        c = catalog_from_json(root, "test.json", &err);
        cr_assert_not_null(c, "%s: %s", texts[i], err.detail);
        catalog_free(c);
        json_object_put(root);
    }
}

Test(invalid, member_declarations)
{
    refused(X("1"), "/types/t/actions/a/data/x: must be a type string");
    refused(X("[\"integer\"]"), "/types/t/actions/a/data/x: must be a type string");
    refused(X("{\"minimum\":0}"), "/types/t/actions/a/data/x/type: missing (required)");
    refused(X("{\"type\":1}"), "/types/t/actions/a/data/x/type: must be a string");
    refused(X("{\"type\":\"integr\"}"), "/types/t/actions/a/data/x/type: unknown type \"integr\"");
    refused(X("{\"type\":\"integer\",\"min\":0}"), "/types/t/actions/a/data/x/min: unknown member");
    refused(X("{\"type\":\"integer\",\"maxLength\":3}"),
            "/types/t/actions/a/data/x/maxLength: unknown member");
    refused(X("{\"type\":\"integer\",\"description\":false}"),
            "/types/t/actions/a/data/x/description: must be a string");
    refused(T("\"a\":{\"target\":{\"f\":{\"type\":\"integer\",\"minimum\":\"0\"}},"
              "\"steps\":[{\"op\":\"remove\",\"path\":\"/l/{f}\"}]}"),
            "/types/t/actions/a/target/f/minimum: must be a number");
}

Test(invalid, bounds)
{
    refused(X("{\"type\":\"integer\",\"minimum\":\"0\"}"),
            "/types/t/actions/a/data/x/minimum: must be a number");
    refused(X("{\"type\":\"number\",\"maximum\":null}"),
            "/types/t/actions/a/data/x/maximum: must be a number");
    refused(X("{\"type\":\"string\",\"minimum\":0}"),
            "/types/t/actions/a/data/x/minimum: bounds need a member declared integer or number, "
            "not string");
    refused(X("{\"type\":\"any\",\"maximum\":0}"),
            "/types/t/actions/a/data/x/maximum: bounds need a member declared integer or number, "
            "not any");
    refused(X("{\"type\":\"integer\",\"minimum\":-9007199254740992}"),
            "/types/t/actions/a/data/x/minimum: must lie within "
            "-9007199254740991..9007199254740991");
    refused(X("{\"type\":\"number\",\"maximum\":1e300}"),
            "/types/t/actions/a/data/x/maximum: must lie within");
    refused(X("{\"type\":\"integer\",\"exclusive_maximum\":9223372036854775807}"),
            "/types/t/actions/a/data/x/exclusive_maximum: must lie within");
    refused(X("{\"type\":\"integer\",\"minimum\":0,\"exclusive_minimum\":0}"),
            "/types/t/actions/a/data/x/exclusive_minimum: declare minimum or exclusive_minimum, "
            "not both");
    refused(X("{\"type\":\"integer\",\"maximum\":0,\"exclusive_maximum\":0}"),
            "/types/t/actions/a/data/x/exclusive_maximum: declare maximum or exclusive_maximum, "
            "not both");
    refused(X("{\"type\":\"integer\",\"minimum\":9,\"maximum\":-5}"),
            "/types/t/actions/a/data/x/maximum: no value lies within minimum 9 and maximum -5");
    refused(X("{\"type\":\"number\",\"exclusive_minimum\":1,\"maximum\":1}"),
            "/types/t/actions/a/data/x/maximum: no value lies within exclusive_minimum 1 and "
            "maximum 1");
    refused(X("{\"type\":\"number\",\"minimum\":0.5,\"exclusive_maximum\":0.5}"),
            "/types/t/actions/a/data/x/exclusive_maximum: no value lies within minimum 0.5 and "
            "exclusive_maximum 0.5");
}

Test(invalid, lengths)
{
    refused(X("{\"type\":\"string\",\"max_length\":-1}"),
            "/types/t/actions/a/data/x/max_length: must be an integer from 0 to "
            "9007199254740991");
    refused(X("{\"type\":\"string\",\"max_length\":2.5}"),
            "/types/t/actions/a/data/x/max_length: must be an integer");
    refused(X("{\"type\":\"string\",\"min_length\":\"1\"}"),
            "/types/t/actions/a/data/x/min_length: must be an integer");
    refused(X("{\"type\":\"string\",\"max_length\":9007199254740992}"),
            "/types/t/actions/a/data/x/max_length: must be an integer");
    refused(X("{\"type\":\"integer\",\"max_length\":3}"),
            "/types/t/actions/a/data/x/max_length: lengths need a member declared string, not "
            "integer");
    refused(X("{\"type\":\"string\",\"min_length\":4,\"max_length\":3}"),
            "/types/t/actions/a/data/x/max_length: no length lies within min_length 4 and "
            "max_length 3");
}

Test(invalid, rules)
{
    refused(R("{\"less\":[\"s\",\"e\"]}"), "/types/t/actions/a/rules: must be an array of rules");
    refused(
        T("\"a\":{\"data\":\"number\",\"rules\":[],\"steps\":[{\"op\":\"set\",\"path\":\"/x\"}]}"),
        "/types/t/actions/a/rules: rules compare data members: declare data as an object");
    refused(T("\"a\":{\"rules\":[],\"steps\":[{\"op\":\"remove\",\"path\":\"/x\"}]}"),
            "/types/t/actions/a/rules: rules compare data members");
    refused(R("[[\"s\",\"e\"]]"),
            "/types/t/actions/a/rules/0: must be {\"less\": [first, second]}");
    refused(R("[{}]"), "/types/t/actions/a/rules/0: must be {\"less\"");
    refused(R("[{\"less\":[\"s\",\"e\"],\"less_or_equal\":[\"s\",\"e\"]}]"),
            "/types/t/actions/a/rules/0: must be {\"less\"");
    refused(R("[{\"less\":[\"s\",\"e\"]},{\"greater\":[\"s\",\"e\"]}]"),
            "/types/t/actions/a/rules/1/greater: unknown rule \"greater\" (less or less_or_equal)");
    refused(R("[{\"less\":[\"s\"]}]"),
            "/types/t/actions/a/rules/0/less: must name two data members: [first, second]");
    refused(R("[{\"less\":[\"s\",\"e\",\"s\"]}]"),
            "/types/t/actions/a/rules/0/less: must name two data members");
    refused(R("[{\"less\":\"s<e\"}]"),
            "/types/t/actions/a/rules/0/less: must name two data members");
    refused(R("[{\"less_or_equal\":[\"s\",1]}]"),
            "/types/t/actions/a/rules/0/less_or_equal/1: must be the name of a data member");
    refused(R("[{\"less\":[\"start\",\"e\"]}]"),
            "/types/t/actions/a/rules/0/less/0: \"start\" names no member of the action's data");
    refused(R("[{\"less\":[\"s\",\"end\"]}]"),
            "/types/t/actions/a/rules/0/less/1: \"end\" names no member of the action's data");
    refused(R("[{\"less\":[\"s\",\"n\"]}]"),
            "/types/t/actions/a/rules/0/less/1: data member \"n\" is string: rules compare "
            "integers or numbers");
    refused(R("[{\"less\":[\"s\",\"s\"]}]"),
            "/types/t/actions/a/rules/0/less/1: compares \"s\" with itself");
    /* a rule names data, not target */
    refused(T("\"a\":{\"target\":{\"f\":\"integer\"},\"data\":{\"s\":\"number\"},"
              "\"rules\":[{\"less\":[\"f\",\"s\"]}],"
              "\"steps\":[{\"op\":\"set\",\"path\":\"/l/{f}\",\"value_from\":\"/s\"}]}"),
            "/types/t/actions/a/rules/0/less/0: \"f\" names no member of the action's data");
    /* transitions declare no data, so no rules */
    refused(J("{\"all\":[\"a\"],\"initial\":\"a\",\"transitions\":{\"go\":{\"from\":[\"a\"],"
              "\"to\":\"a\",\"rules\":[]}}}"),
            "/types/j/states/transitions/go/rules: unknown member");
}

Test(invalid, pointer_tokens_are_escaped_in_messages)
{
    refused("{\"types\":{\"t\":{\"initial\":{},\"a/b~c\":1}}}", "/types/t/a~1b~0c: unknown member");
}

/* Writes `text` to a fresh temporary file and returns its name (static storage). */
static const char *
temp_file(const char *text)
{
    static char name[] = "/tmp/test_catalog_XXXXXX";
    int fd;

    strcpy(name, "/tmp/test_catalog_XXXXXX");
    fd = mkstemp(name);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return name;
}

Test(invalid, duplicate_names_in_the_file_are_refused)
{
    struct err err = {0};
    const char *path = temp_file("{\"types\":{\"t\":{\"initial\":{}},\"t\":{\"initial\":{}}}}");
    char prefix[256];

    cr_assert_null(catalog_load(path, &err));
    snprintf(prefix, sizeof(prefix), "%s: ", path);
    cr_assert(strncmp(err.detail, prefix, strlen(prefix)) == 0, "%s", err.detail);
    cr_assert_not_null(strstr(err.detail, "duplicate"), "%s", err.detail);
    unlink(path);
}

Test(invalid, load_names_the_file)
{
    struct err err = {0};
    const char *path = temp_file("{\"types\":{\"t\":{\"initial\":{},\"x\":1}}}");
    char want[256];

    cr_assert_null(catalog_load(path, &err));
    snprintf(want, sizeof(want), "%s: /types/t/x: unknown member", path);
    cr_assert_str_eq(err.detail, want);
    unlink(path);
}

Test(invalid, a_missing_file_is_an_internal_error)
{
    struct err err = {0};

    cr_assert_null(catalog_load("/nonexistent/catalog.json", &err));
    cr_assert_eq(err.code, ERR_INTERNAL);
    cr_assert_not_null(strstr(err.detail, "/nonexistent/catalog.json"));
}
