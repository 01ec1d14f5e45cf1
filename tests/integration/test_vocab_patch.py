"""test_vocab_patch.py: PATCH on `documents` resources (docs/api.md, "PATCH").

Every example of RFC 6902 Appendix A (A.1 to A.16) and of RFC 7396 Appendix A (and the
example of RFC 7396 section 3) is run through the API: POST /documents {"data":
<original>}, then PATCH with If-Match and the patch's media type. A success must leave
exactly the RFC's result (and one new version); an error must answer the status
docs/api.md and src/doc/patch.h give it (400 malformed, 409 failed test or create on an
existing value, 422 missing path) and leave the document and version untouched.

Then the rest of the PATCH contract: the `create` extension, all or nothing, RFC 6901
escaping (~0, ~1) and the "-" index, a missing parent, 428/412 preconditions, 415 with
Accept-Patch, Accept-Patch on GET, documents holding any JSON value, and the log."""

import multiprocessing
import unittest

from vocab_util import (ACCEPT_PATCH_TYPES, JSON_PATCH, MERGE_PATCH, Raw, VocabTestCase,
                        assert_problem, etag, json_equal, media_types, patch_apply, request)

TYPE = "documents"

# RFC 6902 Appendix A, transcribed: (section, title, document, patch, result or the
# HTTP status of the error). A.13's patch is raw text: its duplicate "op" member
# cannot be written as a Python dict.
RFC6902 = [
    ("A.1", "Adding an Object Member",
     {"foo": "bar"},
     [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ("A.2", "Adding an Array Element",
     {"foo": ["bar", "baz"]},
     [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3", "Removing an Object Member",
     {"baz": "qux", "foo": "bar"},
     [{"op": "remove", "path": "/baz"}],
     {"foo": "bar"}),
    ("A.4", "Removing an Array Element",
     {"foo": ["bar", "qux", "baz"]},
     [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ("A.5", "Replacing a Value",
     {"baz": "qux", "foo": "bar"},
     [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", "Moving a Value",
     {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", "Moving an Array Element",
     {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", "Testing a Value: Success",
     {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"},
      {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.9", "Testing a Value: Error",
     {"baz": "qux"},
     [{"op": "test", "path": "/baz", "value": "bar"}],
     409),
    ("A.10", "Adding a Nested Member Object",
     {"foo": "bar"},
     [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", "Ignoring Unrecognized Elements",
     {"foo": "bar"},
     [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}),
    ("A.12", "Adding to a Nonexistent Target",
     {"foo": "bar"},
     [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     422),
    ("A.13", "Invalid JSON Patch Document",
     {"foo": "bar"},
     Raw('[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]'),
     400),
    ("A.14", "~ Escape Ordering",
     {"/": 9, "~1": 10},
     [{"op": "test", "path": "/~01", "value": 10}],
     {"/": 9, "~1": 10}),
    ("A.15", "Comparing Strings and Numbers",
     {"/": 9, "~1": 10},
     [{"op": "test", "path": "/~01", "value": "10"}],
     409),
    ("A.16", "Adding an Array Value",
     {"foo": ["bar"]},
     [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
]

# RFC 7396 Appendix A, transcribed: (original, patch, result).
RFC7396 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]

# RFC 7396 section 3, the example in the text.
RFC7396_SECTION3 = (
    {"title": "Goodbye!",
     "author": {"givenName": "John", "familyName": "Doe"},
     "tags": ["example", "sample"],
     "content": "This will be unchanged"},
    {"title": "Hello!",
     "phoneNumber": "+01-234-567-8910",
     "author": {"familyName": None},
     "tags": ["example"]},
    {"title": "Hello!",
     "author": {"givenName": "John"},
     "tags": ["example"],
     "content": "This will be unchanged",
     "phoneNumber": "+01-234-567-8910"},
)

ANY_VALUES = [{"k": [1, {"n": None}]}, [1, "two", [3]], "a string", 42, 2.5, True, False,
              None, [], {}]


class PatchCase(VocabTestCase):
    def new_document(self, data):
        doc = self.create(TYPE, data)
        self.assertEqual(doc["data"], data)
        self.assertEqual(doc["version"], 1)
        return doc

    def expect_result(self, data, patch, result, content_type=JSON_PATCH, what=""):
        doc = self.new_document(data)
        resp = self.patch(TYPE, doc["id"], patch, content_type=content_type, version=1)
        self.assertEqual(resp.status, 200, f"{what}: {resp!r}")
        self.assertIs(resp.body.get("success"), True, resp)
        # a patch that changes nothing writes nothing: no version, no entry
        version = 1 if json_equal(result, data) else 2
        self.assertEqual(resp.body["version"], version)
        self.assertEqual(resp.body.get("unchanged", False), version == 1, resp.body)
        self.assertEqual(resp.header("ETag"), etag(version))
        self.assertIn("no-store", resp.header("Cache-Control") or "")
        self.assertEqual(resp.body["data"], result, what)
        after = self.read(TYPE, doc["id"])
        self.assertEqual(after["data"], result, what)
        self.assertEqual(after["version"], version)
        # logged as one entry carrying the patch; the log replays to the result
        entries = self.log(TYPE, doc["id"])
        self.assertEqual(len(entries), version)
        if version == 1:
            return
        expected_name = "json_patch" if content_type == JSON_PATCH else "merge_patch"
        self.assertEqual(entries[1]["action"], expected_name)
        if not isinstance(patch, Raw):
            self.assertEqual(entries[1]["data"], patch)
        created = patch_apply(None, entries[0]["forward"])
        self.assertTrue(json_equal(created, data), created)
        replayed = patch_apply(created, entries[1]["forward"])
        self.assertTrue(json_equal(replayed, result), replayed)
        self.assertTrue(json_equal(patch_apply(replayed, entries[1]["inverse"]), data))
        return doc["id"]

    def expect_error(self, data, patch, status, content_type=JSON_PATCH, pointer=None,
                     version=1):
        doc = self.new_document(data)
        resp = self.patch(TYPE, doc["id"], patch, content_type=content_type, version=version)
        problem = assert_problem(resp, status, pointer)
        self.assert_same(TYPE, doc["id"], doc)
        return problem


class Rfc6902AppendixA(PatchCase):
    def test_every_example(self):
        self.assertEqual([e[0] for e in RFC6902], [f"A.{i}" for i in range(1, 17)])
        for section, title, data, patch, outcome in RFC6902:
            with self.subTest(section=section, title=title):
                if isinstance(outcome, int):
                    self.expect_error(data, patch, outcome)
                else:
                    self.expect_result(data, patch, outcome, what=f"{section} {title}")

    def test_a9_and_a15_name_the_failed_test(self):
        for section in ("A.9", "A.15"):
            data, patch = next((e[2], e[3]) for e in RFC6902 if e[0] == section)
            problem = self.expect_error(data, patch, 409)
            self.assertTrue(problem["type"].endswith("test-failed"), problem)
            self.assertTrue(problem.get("pointer", "").startswith("/0"), problem)

    def test_a12_is_a_clear_missing_path_error(self):
        problem = self.expect_error({"foo": "bar"},
                                    [{"op": "add", "path": "/baz/bat", "value": "qux"}], 422,
                                    pointer="/0/path")
        self.assertTrue(problem["type"].endswith("path-not-found"), problem)
        self.assertIn("/baz/bat", problem["detail"])


class Rfc7396AppendixA(PatchCase):
    def test_every_example(self):
        for original, patch, result in RFC7396:
            with self.subTest(original=original, patch=patch):
                self.expect_result(original, patch, result, content_type=MERGE_PATCH,
                                   what=f"{original} + {patch}")

    def test_section_3_example(self):
        original, patch, result = RFC7396_SECTION3
        self.expect_result(original, patch, result, content_type=MERGE_PATCH)

    def test_merge_patch_on_every_kind_of_value(self):
        for value in ANY_VALUES:
            with self.subTest(value=value):
                self.expect_result(value, {"k": 1}, {"k": 1}, content_type=MERGE_PATCH)
                self.expect_result(value, [value], [value], content_type=MERGE_PATCH)

    def test_a_merge_patch_that_changes_nothing(self):
        self.expect_result({"a": 1}, {"b": None}, {"a": 1}, content_type=MERGE_PATCH)
        self.expect_result({"a": 1}, {}, {"a": 1}, content_type=MERGE_PATCH)


class CreateOp(PatchCase):
    def test_create_adds_when_absent(self):
        self.expect_result({"a": 1}, [{"op": "create", "path": "/b", "value": {"c": 2}}],
                           {"a": 1, "b": {"c": 2}})

    def test_create_appends_with_dash(self):
        self.expect_result({"l": [1]}, [{"op": "create", "path": "/l/-", "value": 2}],
                           {"l": [1, 2]})

    def test_create_on_a_present_value_is_409(self):
        for data, path in (({"a": 1}, "/a"), ({"a": None}, "/a"), ({"a": {"b": False}}, "/a/b"),
                           ({"a": 1}, "")):
            with self.subTest(path=path, data=data):
                problem = self.expect_error(data, [{"op": "create", "path": path, "value": 2}],
                                            409, pointer="/0/path")
                self.assertTrue(problem["type"].endswith("already-exists"), problem)

    def test_create_with_a_missing_parent(self):
        problem = self.expect_error({}, [{"op": "create", "path": "/a/b", "value": 1}], 422,
                                    pointer="/0/path")
        self.assertIn("/a/b", problem["detail"])

    def test_create_after_a_remove_in_the_same_patch(self):
        self.expect_result({"a": 1}, [{"op": "remove", "path": "/a"},
                                      {"op": "create", "path": "/a", "value": 2}], {"a": 2})


class AllOrNothing(PatchCase):
    def test_a_late_failure_undoes_the_earlier_operations(self):
        data = {"a": 1, "list": [1, 2, 3], "o": {"k": "v"}}
        failing = [
            ([{"op": "add", "path": "/b", "value": 2},
              {"op": "remove", "path": "/list/0"},
              {"op": "test", "path": "/a", "value": 2}], 409, "/2/value"),
            ([{"op": "replace", "path": "/o/k", "value": "w"},
              {"op": "move", "from": "/list", "path": "/o/list"},
              {"op": "remove", "path": "/missing"}], 422, "/2/path"),
            ([{"op": "copy", "from": "/o", "path": "/p"},
              {"op": "create", "path": "/a", "value": 5}], 409, "/1/path"),
            ([{"op": "remove", "path": "/a"},
              {"op": "bogus", "path": "/a"}], 400, "/1/op"),
            ([{"op": "add", "path": "/z", "value": 1},
              {"op": "add", "path": "/list/9", "value": 1}], 422, "/1/path"),
        ]
        for patch, status, pointer in failing:
            with self.subTest(patch=patch):
                self.expect_error(data, patch, status, pointer=pointer)

    def test_operations_see_the_earlier_ones(self):
        self.expect_result({"a": {"b": 1}},
                           [{"op": "copy", "from": "/a", "path": "/c"},
                            {"op": "replace", "path": "/c/b", "value": 2},
                            {"op": "test", "path": "/a/b", "value": 1},
                            {"op": "move", "from": "/c", "path": "/a/c"}],
                           {"a": {"b": 1, "c": {"b": 2}}})


class Pointers(PatchCase):
    def test_tilde_escapes(self):
        self.expect_result({"a/b": 1, "m~n": 2, "~1": 3},
                           [{"op": "replace", "path": "/a~1b", "value": 10},
                            {"op": "replace", "path": "/m~0n", "value": 20},
                            {"op": "replace", "path": "/~01", "value": 30},
                            {"op": "add", "path": "/c~1d~0e", "value": 4},
                            {"op": "move", "from": "/a~1b", "path": "/~0~1"}],
                           {"m~n": 20, "~1": 30, "c/d~e": 4, "~/": 10})

    def test_empty_member_name(self):
        self.expect_result({"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2})
        self.expect_result({"a": 1}, [{"op": "add", "path": "/", "value": 3}], {"a": 1, "": 3})
        self.expect_result({"": {"": 1}}, [{"op": "replace", "path": "//", "value": 2}],
                           {"": {"": 2}})

    def test_bad_escapes_and_pointers_are_400(self):
        for path in ("/a~2", "/a~", "a", "#/a"):
            with self.subTest(path=path):
                self.expect_error({"a": 1}, [{"op": "add", "path": path, "value": 1}], 400,
                                  pointer="/0/path")

    def test_dash_appends(self):
        self.expect_result({"l": [1, 2]}, [{"op": "add", "path": "/l/-", "value": 3}],
                           {"l": [1, 2, 3]})
        self.expect_result({"l": [1, 2], "m": []},
                           [{"op": "move", "from": "/l/0", "path": "/m/-"},
                            {"op": "copy", "from": "/l/0", "path": "/m/-"}],
                           {"l": [2], "m": [1, 2]})
        self.expect_result([1], [{"op": "add", "path": "/-", "value": [2]}], [1, [2]])

    def test_dash_names_no_element(self):
        for op in ({"op": "remove", "path": "/l/-"},
                   {"op": "replace", "path": "/l/-", "value": 1},
                   {"op": "move", "from": "/l/-", "path": "/x"},
                   {"op": "copy", "from": "/l/-", "path": "/x"},
                   {"op": "add", "path": "/l/-/x", "value": 1}):
            with self.subTest(op=op):
                self.expect_error({"l": [1, 2]}, [op], 422)

    def test_test_of_dash_fails(self):
        # there is no value at "-": the test cannot succeed (a failed test, or a missing
        # path: both are refusals that change nothing)
        doc = self.new_document({"l": [1, 2]})
        resp = self.patch(TYPE, doc["id"], [{"op": "test", "path": "/l/-", "value": 2}],
                          version=1)
        self.assertIn(resp.status, (409, 422), resp)
        assert_problem(resp, resp.status)
        self.assert_same(TYPE, doc["id"], doc)

    def test_array_indexes(self):
        self.expect_result({"l": [1, 2]}, [{"op": "add", "path": "/l/2", "value": 3}],
                           {"l": [1, 2, 3]})
        self.expect_result({"l": [1, 2]}, [{"op": "add", "path": "/l/0", "value": 0}],
                           {"l": [0, 1, 2]})
        for path in ("/l/3", "/l/01", "/l/-1", "/l/x", "/l/1e0"):
            with self.subTest(path=path):
                self.expect_error({"l": [1, 2]}, [{"op": "add", "path": path, "value": 1}], 422,
                                  pointer="/0/path")
        self.expect_error({"l": [1, 2]}, [{"op": "remove", "path": "/l/2"}], 422,
                          pointer="/0/path")

    def test_missing_parents_are_clear_errors(self):
        cases = [
            ({"a": 1}, [{"op": "add", "path": "/x/y", "value": 1}], "/0/path", "/x/y"),
            ({"a": 1}, [{"op": "add", "path": "/a/y", "value": 1}], "/0/path", "/a/y"),
            ({"a": {}}, [{"op": "add", "path": "/a/b/c/d", "value": 1}], "/0/path", "/a/b/c/d"),
            ({"a": 1}, [{"op": "remove", "path": "/b"}], "/0/path", "/b"),
            ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], "/0/path", "/b"),
            ({"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}], "/0/from", "/b"),
            ({"a": 1}, [{"op": "copy", "from": "/b/c", "path": "/c"}], "/0/from", "/b/c"),
            ({"a": 1}, [{"op": "move", "from": "/a", "path": "/q/r"}], "/0/path", "/q/r"),
            ("text", [{"op": "add", "path": "/a", "value": 1}], "/0/path", "/a"),
        ]
        for data, patch, pointer, path in cases:
            with self.subTest(patch=patch):
                problem = self.expect_error(data, patch, 422, pointer=pointer)
                self.assertTrue(problem["type"].endswith("path-not-found"), problem)
                self.assertIn(path, problem["detail"])


class Semantics(PatchCase):
    def test_test_compares_json_values(self):
        self.expect_result({"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}], {"n": 1})
        self.expect_result({"o": {"x": 1, "y": [1, {"z": None}]}},
                           [{"op": "test", "path": "/o", "value": {"y": [1, {"z": None}],
                                                                  "x": 1}}],
                           {"o": {"x": 1, "y": [1, {"z": None}]}})
        self.expect_result({"e": ""}, [{"op": "test", "path": "", "value": {"e": ""}}],
                           {"e": ""})
        for value in ([2, 1], {"x": 1}, None, False, 0, "1"):
            with self.subTest(value=value):
                self.expect_error({"a": [1, 2], "n": 1}, [
                    {"op": "test", "path": "/a" if isinstance(value, list) else "/n",
                     "value": value}], 409)

    def test_move_into_itself_is_refused(self):
        self.expect_error({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], 400,
                          pointer="/0/from")
        self.expect_result({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a"}],
                           {"a": {"b": 1}})

    def test_whole_document(self):
        self.expect_result({"a": 1}, [{"op": "replace", "path": "", "value": [1, 2]}], [1, 2])
        self.expect_result({"a": 1}, [{"op": "add", "path": "", "value": "s"}], "s")
        self.expect_result(None, [{"op": "replace", "path": "", "value": {"x": None}}],
                           {"x": None})

    def test_malformed_operations_are_400_with_pointer(self):
        cases = [
            ({"op": "add", "path": "/a"}, "/0/value"),
            ({"op": "replace", "path": "/a"}, "/0/value"),
            ({"op": "test", "path": "/a"}, "/0/value"),
            ({"path": "/a", "value": 1}, "/0/op"),
            ({"op": 1, "path": "/a", "value": 1}, "/0/op"),
            ({"op": "delete", "path": "/a"}, "/0/op"),
            ({"op": "add", "value": 1}, "/0/path"),
            ({"op": "add", "path": 5, "value": 1}, "/0/path"),
            ({"op": "move", "path": "/b"}, "/0/from"),
            ({"op": "copy", "path": "/b", "from": 1}, "/0/from"),
        ]
        for op, pointer in cases:
            with self.subTest(op=op):
                self.expect_error({"a": 1}, [op], 400, pointer=pointer)
        for body in ({"op": "add", "path": "/a", "value": 1}, "x", 5, None, [1], [[]]):
            with self.subTest(body=body):
                doc = self.new_document({"a": 1})
                resp = self.patch(TYPE, doc["id"], body, version=1)
                assert_problem(resp, 400)
                self.assert_same(TYPE, doc["id"], doc)

    def test_malformed_json_is_400(self):
        for raw in ("[", "[{\"op\": \"add\", \"path\": \"/a\", \"value\": 1},]", "nul"):
            with self.subTest(raw=raw):
                self.expect_error({"a": 1}, Raw(raw), 400)
                self.expect_error({"a": 1}, Raw(raw), 400, content_type=MERGE_PATCH)

    def test_empty_patch(self):
        doc = self.new_document({"a": 1})
        resp = self.patch(TYPE, doc["id"], [], version=1)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.read(TYPE, doc["id"])["data"], {"a": 1})


class Preconditions(PatchCase):
    PATCHES = ((JSON_PATCH, [{"op": "add", "path": "/b", "value": 2}]),
               (MERGE_PATCH, {"b": 2}))

    def test_428_without_if_match(self):
        for ctype, body in self.PATCHES:
            with self.subTest(ctype=ctype):
                problem = self.expect_error({"a": 1}, body, 428, content_type=ctype,
                                            version=None)
                self.assertEqual(problem.get("current_version"), 1)

    def test_if_match_star_is_not_a_version(self):
        for ctype, body in self.PATCHES:
            with self.subTest(ctype=ctype):
                doc = self.new_document({"a": 1})
                resp = self.patch(TYPE, doc["id"], body, content_type=ctype,
                                  headers={"If-Match": "*"})
                assert_problem(resp, 428)
                self.assert_same(TYPE, doc["id"], doc)

    def test_412_when_stale_or_weak(self):
        for ctype, body in self.PATCHES:
            for tag in ('"2"', 'W/"1"', '"0"', '"x"'):
                with self.subTest(ctype=ctype, tag=tag):
                    doc = self.new_document({"a": 1})
                    resp = self.patch(TYPE, doc["id"], body, content_type=ctype,
                                      headers={"If-Match": tag})
                    problem = assert_problem(resp, 412)
                    self.assertEqual(problem.get("current_version"), 1)
                    self.assert_same(TYPE, doc["id"], doc)

    def test_a_second_patch_with_the_old_tag_is_412(self):
        doc = self.new_document({"a": 1})
        first = self.patch(TYPE, doc["id"], {"a": 2}, content_type=MERGE_PATCH, version=1)
        self.assertEqual(first.status, 200, first)
        stale = self.patch(TYPE, doc["id"], {"a": 3}, content_type=MERGE_PATCH, version=1)
        assert_problem(stale, 412)
        self.assertEqual(self.read(TYPE, doc["id"])["data"], {"a": 2})

    def test_if_match_list_with_the_current_version(self):
        doc = self.new_document({"a": 1})
        resp = self.patch(TYPE, doc["id"], {"a": 2}, content_type=MERGE_PATCH,
                          headers={"If-Match": '"7", "1"'})
        self.assertEqual(resp.status, 200, resp)


class MediaTypes(PatchCase):
    def test_415_names_the_patch_formats(self):
        for ctype in ("application/json", "text/plain", "application/patch+json", None):
            with self.subTest(ctype=ctype):
                doc = self.new_document({"a": 1})
                resp = request("PATCH", f"/{TYPE}/{doc['id']}",
                               body=[{"op": "add", "path": "/b", "value": 2}],
                               content_type=ctype, headers={"If-Match": etag(1)})
                assert_problem(resp, 415)
                self.assertEqual(media_types(resp.header("Accept-Patch")), ACCEPT_PATCH_TYPES)
                self.assert_same(TYPE, doc["id"], doc)

    def test_media_type_parameters_and_case(self):
        doc = self.new_document({"a": 1})
        resp = self.patch(TYPE, doc["id"], {"b": 2},
                          content_type="Application/Merge-Patch+JSON; charset=utf-8", version=1)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["data"], {"a": 1, "b": 2})

    def test_a_json_patch_sent_as_merge_patch_is_a_merge(self):
        # an array as a merge patch replaces the whole document (RFC 7396)
        patch = [{"op": "add", "path": "/b", "value": 2}]
        self.expect_result({"a": 1}, patch, patch, content_type=MERGE_PATCH)

    def test_get_advertises_accept_patch(self):
        for type_, data in ((TYPE, [1]), ("clips", None), ("analysis_jobs", None)):
            with self.subTest(type=type_):
                created = self.create(type_, data, with_data=data is not None)
                resp = request("GET", f"/{type_}/{created['id']}")
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(media_types(resp.header("Accept-Patch")), ACCEPT_PATCH_TYPES)


class AnyValue(PatchCase):
    def test_documents_hold_any_json_value(self):
        for value in ANY_VALUES:
            with self.subTest(value=value):
                doc = self.new_document(value)
                self.assertEqual(self.read(TYPE, doc["id"])["data"], value)
                self.assertEqual(self.log(TYPE, doc["id"])[0]["forward"][0]["value"], value)

    def test_json_patch_on_scalars(self):
        for value in ("a string", 42, True, None):
            with self.subTest(value=value):
                self.expect_result(value, [{"op": "test", "path": "", "value": value},
                                           {"op": "replace", "path": "", "value": {"v": value}}],
                                   {"v": value})

    def test_a_typed_document_stays_an_object(self):
        """docs/catalog.md: a type without any_document always holds an object; a PATCH
        that would leave anything else fails (422) and changes nothing."""
        for ctype, body in ((MERGE_PATCH, [1]), (MERGE_PATCH, None),
                            (JSON_PATCH, [{"op": "replace", "path": "", "value": [1]}]),
                            (JSON_PATCH, [{"op": "add", "path": "", "value": "text"}])):
            with self.subTest(ctype=ctype, body=body):
                clip = self.create("clips", with_data=False)
                resp = self.patch("clips", clip["id"], body, content_type=ctype, version=1)
                assert_problem(resp, 422)
                self.assert_same("clips", clip["id"], clip)

    def test_a_typed_document_is_patched_like_any_other(self):
        clip = self.create("clips", with_data=False)
        resp = self.patch("clips", clip["id"],
                          [{"op": "replace", "path": "/effect_type", "value": "sepia"}],
                          version=1)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["data"]["effect_type"], "sepia")


def _racer(doc_id, n, queue):
    try:
        resp = request("PATCH", f"/{TYPE}/{doc_id}", body={"writer": n},
                       content_type=MERGE_PATCH, headers={"If-Match": etag(1)})
        queue.put((n, resp.status))
    except Exception as exc:  # reported by the parent
        queue.put((n, repr(exc)))


class Race(PatchCase):
    def test_one_tag_one_winner(self):
        """8 processes PATCH one document with the same If-Match: exactly one applies,
        every other one answers 412, and nothing is lost or applied twice."""
        doc = self.new_document({"writer": None})
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_racer, args=(doc["id"], n, queue)) for n in range(8)]
        for p in procs:
            p.start()
        outcomes = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        winners = [n for n, status in outcomes if status == 200]
        self.assertEqual(len(winners), 1, outcomes)
        self.assertEqual(sorted(status for _, status in outcomes), [200] + [412] * 7, outcomes)
        now = self.read(TYPE, doc["id"])
        self.assertEqual((now["version"], now["data"]), (2, {"writer": winners[0]}))
        self.assertEqual(len(self.log(TYPE, doc["id"])), 2)


class Deleted(PatchCase):
    def test_patch_of_a_deleted_document_is_410(self):
        doc = self.new_document({"a": 1})
        resp = request("DELETE", f"/{TYPE}/{doc['id']}", headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 204, resp)
        for ctype, body in Preconditions.PATCHES:
            assert_problem(self.patch(TYPE, doc["id"], body, content_type=ctype, version=2), 410)

    def test_patch_of_a_missing_document_is_404(self):
        assert_problem(self.patch(TYPE, 999999999, [], version=1), 404)


if __name__ == "__main__":
    unittest.main()
