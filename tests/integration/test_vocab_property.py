"""test_vocab_property.py: a property test of PATCH.

With a fixed seed and a bounded number of iterations: random JSON documents and random
valid JSON Patches (add, remove, replace, move, copy, test, and create, on paths that
exist, with member names that need ~0/~1 escaping and the "-" index) are applied
through the API and with the reference implementation in vocab_util.py (written from
RFC 6902); the documents must be equal. Random invalid patches (a valid prefix, then
an operation on a missing member or parent, or a failing test) must answer what the
reference says (422 or 409) and leave the document and its version untouched.

The seed and the iteration count can be changed with ACTIOND_PROPERTY_SEED and
ACTIOND_PROPERTY_ITERATIONS; a failure prints the seed, the document and the patch."""

import copy
import json
import os
import random
import unittest

from vocab_util import (PatchError, VocabTestCase, assert_problem, json_equal,
                        patch_apply)

TYPE = "documents"
SEED = int(os.environ.get("ACTIOND_PROPERTY_SEED", "20261123"))
ITERATIONS = int(os.environ.get("ACTIOND_PROPERTY_ITERATIONS", "200"))
INVALID_ITERATIONS = max(1, ITERATIONS // 2)

KEYS = ["a", "b", "c", "id", "name", "a/b", "m~n", "~1", "~01", "", " ", "ü", "é/~", "-", "0"]
STRINGS = ["", "x", "hello", "ü€😀", "line\nbreak", "quote\"", "back\\slash", "~/", "10"]


def escape(token):
    return token.replace("~", "~0").replace("/", "~1")


def pointer(tokens):
    return "".join("/" + escape(str(t)) for t in tokens)


class Gen:
    """Random JSON values, paths and operations from one random.Random."""

    def __init__(self, rng):
        self.rng = rng

    def scalar(self):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.randint(-1000, 1000)
        if r < 0.45:
            return round(self.rng.uniform(-100, 100), 2)
        if r < 0.75:
            return self.rng.choice(STRINGS)
        return self.rng.choice([True, False, None])

    def value(self, depth=0):
        r = self.rng.random()
        if depth >= 3 or r < 0.45:
            return self.scalar()
        if r < 0.75:
            keys = self.rng.sample(KEYS, self.rng.randint(0, 4))
            return {k: self.value(depth + 1) for k in keys}
        return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]

    def document(self):
        r = self.rng.random()
        if r < 0.75:
            keys = self.rng.sample(KEYS, self.rng.randint(1, 6))
            return {k: self.value(1) for k in keys}
        if r < 0.9:
            return [self.value(1) for _ in range(self.rng.randint(0, 5))]
        return self.scalar()

    @staticmethod
    def paths(doc, prefix=()):
        """Every location in doc: (tokens, value)."""
        out = [(list(prefix), doc)]
        if isinstance(doc, dict):
            for k, v in doc.items():
                out += Gen.paths(v, prefix + (k,))
        elif isinstance(doc, list):
            for i, v in enumerate(doc):
                out += Gen.paths(v, prefix + (i,))
        return out

    def place(self, doc):
        """A place where a new value can go: (tokens) under an existing container."""
        containers = [(p, v) for p, v in self.paths(doc) if isinstance(v, (dict, list))]
        if not containers:
            return None
        tokens, node = self.rng.choice(containers)
        if isinstance(node, dict):
            return tokens + [self.rng.choice(KEYS)]
        choice = self.rng.randint(0, len(node) + 1)
        return tokens + ["-" if choice == len(node) + 1 else str(choice)]

    def valid_op(self, doc):
        """A random operation that the reference applies to doc without error."""
        existing = self.paths(doc)
        inner = [(p, v) for p, v in existing if p]
        for _ in range(50):
            kind = self.rng.choice(["add", "add", "remove", "replace", "move", "copy", "test",
                                    "create"])
            op = {"op": kind}
            if kind in ("add", "create"):
                place = self.place(doc)
                if place is None:
                    continue
                op["path"] = pointer(place)
                op["value"] = self.value(1)
            elif kind in ("remove", "replace"):
                if not inner or (kind == "replace" and self.rng.random() < 0.05):
                    op["path"] = ""
                else:
                    op["path"] = pointer(self.rng.choice(inner)[0])
                if kind == "remove" and op["path"] == "":
                    continue
                if kind == "replace":
                    op["value"] = self.value(1)
            elif kind in ("move", "copy"):
                if not inner:
                    continue
                op["from"] = pointer(self.rng.choice(inner)[0])
                place = self.place(doc)
                if place is None:
                    continue
                op["path"] = pointer(place)
            else:  # test, with the value that is there (sometimes an equal number form)
                tokens, value = self.rng.choice(existing)
                if isinstance(value, int) and not isinstance(value, bool) \
                        and self.rng.random() < 0.3:
                    value = float(value)
                op["path"] = pointer(tokens)
                op["value"] = copy.deepcopy(value)
            if self.rng.random() < 0.05:
                op["comment"] = "members an operation does not define are ignored"
            try:
                patch_apply(doc, [op])
            except PatchError:
                continue
            return op
        return {"op": "test", "path": "", "value": copy.deepcopy(doc)}

    def valid_patch(self, doc):
        patch, now = [], doc
        for _ in range(self.rng.randint(1, 5)):
            op = self.valid_op(now)
            now = patch_apply(now, [op])
            patch.append(op)
        return patch, now

    def invalid_op(self, doc):
        """An operation the reference refuses with 409 or 422 (never 400)."""
        missing = "missing-member"
        while True:
            kind = self.rng.choice(["remove", "replace", "move", "copy", "add_parent",
                                    "test", "test_missing_parent"])
            objects = [p for p, v in self.paths(doc) if isinstance(v, dict)]
            base = self.rng.choice(objects) if objects else None
            if kind == "test":
                tokens, value = self.rng.choice(self.paths(doc))
                different = self.value(1)
                if json_equal(different, value):
                    continue
                op = {"op": "test", "path": pointer(tokens), "value": different}
            elif base is None:
                op = {"op": "add", "path": pointer([missing, "x"]), "value": 1}
            elif kind == "remove":
                op = {"op": "remove", "path": pointer(base + [missing])}
            elif kind == "replace":
                op = {"op": "replace", "path": pointer(base + [missing]), "value": 1}
            elif kind == "move":
                op = {"op": "move", "from": pointer(base + [missing]),
                      "path": pointer(base + ["z"])}
            elif kind == "copy":
                op = {"op": "copy", "from": pointer(base + [missing, "y"]),
                      "path": pointer(base + ["z"])}
            elif kind == "add_parent":
                op = {"op": "add", "path": pointer(base + [missing, "child"]), "value": [1]}
            else:
                op = {"op": "test", "path": pointer(base + [missing, "deeper"]), "value": None}
            try:
                patch_apply(doc, [op])
            except PatchError as exc:
                if exc.status in (409, 422):
                    return op, exc.status
            # it applied after all (the member existed): try another


class Property(VocabTestCase):
    def new_document(self, data):
        doc = self.create(TYPE, data)
        self.assertTrue(json_equal(doc["data"], data), (doc["data"], data))
        return doc

    def describe(self, i, data, patch):
        return (f"seed {SEED}, iteration {i}\n  document: {json.dumps(data)}\n"
                f"  patch: {json.dumps(patch)}")

    def test_valid_patches_agree_with_the_reference(self):
        gen = Gen(random.Random(SEED))
        for i in range(ITERATIONS):
            data = gen.document()
            patch, expected = gen.valid_patch(data)
            doc = self.new_document(data)
            resp = self.patch(TYPE, doc["id"], patch, version=1)
            what = self.describe(i, data, patch)
            self.assertEqual(resp.status, 200, f"{what}\n  got {resp!r}")
            # a patch that changes nothing may write nothing; one that changes something
            # always takes a version
            if resp.body["version"] == 1:
                self.assertTrue(json_equal(expected, data), what)
                self.assertIs(resp.body.get("unchanged"), True, what)
            else:
                self.assertEqual(resp.body["version"], 2, what)
            self.assertTrue(json_equal(resp.body["data"], expected),
                            f"{what}\n  server: {json.dumps(resp.body['data'])}\n"
                            f"  reference: {json.dumps(expected)}")
            stored = self.read(TYPE, doc["id"])
            self.assertTrue(json_equal(stored["data"], expected),
                            f"{what}\n  stored: {json.dumps(stored['data'])}")
            if resp.body["version"] == 1:
                continue
            # the inverse the log keeps restores the original
            entry = self.log(TYPE, doc["id"], since=1)[0]
            self.assertTrue(json_equal(patch_apply(stored["data"], entry["inverse"]), data),
                            f"{what}\n  inverse: {json.dumps(entry['inverse'])}")

    def test_invalid_patches_change_nothing(self):
        gen = Gen(random.Random(SEED + 1))
        for i in range(INVALID_ITERATIONS):
            data = gen.document()
            prefix, middle = gen.valid_patch(data) if gen.rng.random() < 0.7 else ([], data)
            bad, status = gen.invalid_op(middle)
            patch = prefix + [bad]
            # the reference agrees the whole patch fails, at the bad operation
            with self.assertRaises(PatchError):
                patch_apply(data, patch)
            doc = self.new_document(data)
            resp = self.patch(TYPE, doc["id"], patch, version=1)
            what = self.describe(i, data, patch)
            self.assertEqual(resp.status, status, f"{what}\n  got {resp!r}")
            problem = assert_problem(resp, status)
            self.assertTrue(problem.get("pointer", "").startswith(f"/{len(prefix)}"),
                            f"{what}\n  {problem}")
            now = self.read(TYPE, doc["id"])
            self.assertEqual(now["version"], 1, what)
            self.assertTrue(json_equal(now["data"], data), what)
            self.assertEqual(len(self.log(TYPE, doc["id"])), 1, what)


class Reference(unittest.TestCase):
    """The reference itself, on cases whose answers are known by heart."""

    def test_known_cases(self):
        self.assertEqual(patch_apply({"a": [1, 2]}, [{"op": "move", "from": "/a/0",
                                                      "path": "/a/-"}]), {"a": [2, 1]})
        self.assertEqual(patch_apply({"~": 1}, [{"op": "copy", "from": "/~0",
                                                 "path": "/~1"}]), {"~": 1, "/": 1})
        self.assertTrue(json_equal(1, 1.0))
        self.assertFalse(json_equal(True, 1))
        self.assertFalse(json_equal({"a": 0}, {"a": False}))
        for patch, status in (([{"op": "remove", "path": "/x"}], 422),
                              ([{"op": "test", "path": "/a", "value": 2}], 409),
                              ([{"op": "create", "path": "/a", "value": 2}], 409),
                              ([{"op": "add", "path": "/a/b", "value": 2}], 422),
                              ([{"op": "add", "path": "/a~2", "value": 2}], 400),
                              ([{"op": "move", "from": "/a", "path": "/a/b"}], 400)):
            with self.assertRaises(PatchError) as caught:
                patch_apply({"a": 1}, patch)
            self.assertEqual(caught.exception.status, status, patch)


if __name__ == "__main__":
    unittest.main()
