"""test_vocab_catalog.py: catalog validation (docs/catalog.md). `actiond --check-catalog FILE`
accepts the shipped catalog (exit 0) and refuses a broken one with exit 1 and a message
naming the file and the JSON Pointer (RFC 6901) of what is wrong; a worker refuses to
start on a broken catalog with the same message.

The binary comes from $ACTIOND_BIN or $ACTIOND_BUILD_DIR/actiond (tests/integration/run
exports ACTIOND_BUILD_DIR). Each broken catalog is the shipped one with one change."""

import copy
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from vocab_util import DEFAULT_CATALOG, actiond_binary, clean_env, load_catalog


def run(args, timeout=30):
    return subprocess.run([actiond_binary()] + args, capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), check=False)


def message(proc):
    return proc.stderr + proc.stdout


def set_in(cat, tokens, value):
    node = cat
    for t in tokens[:-1]:
        node = node[t]
    node[tokens[-1]] = value


def delete_in(cat, tokens):
    node = cat
    for t in tokens[:-1]:
        node = node[t]
    del node[tokens[-1]]


# (name, how to break the catalog, the JSON Pointer the message must name)
BROKEN = [
    ("unknown op",
     lambda c: set_in(c, ["types", "clips", "actions", "move_crop_keyframe", "steps", 0, "op"],
                      "rekee"),
     "/types/clips/actions/move_crop_keyframe/steps/0/op"),
    ("selector not in target",
     lambda c: set_in(c, ["types", "clips", "actions", "update_crop_keyframe", "steps", 0,
                          "path"], "/crop_keyframes/{fram}"),
     "/types/clips/actions/update_crop_keyframe/steps/0/path"),
    ("selector on an optional target member",
     lambda c: set_in(c, ["types", "clips", "actions", "delete_crop_keyframe", "target"],
                      {"frame": "integer?"}),
     "/types/clips/actions/delete_crop_keyframe"),
    ("transition to an undeclared state",
     lambda c: set_in(c, ["types", "analysis_jobs", "states", "transitions", "resume", "to"],
                      "paused"),
     "/types/analysis_jobs/states/transitions/resume/to"),
    ("transition from an undeclared state",
     lambda c: set_in(c, ["types", "analysis_jobs", "states", "transitions", "retry", "from"],
                      ["failed", "broken"]),
     "/types/analysis_jobs/states/transitions/retry/from"),
    ("initial state not declared",
     lambda c: set_in(c, ["types", "analysis_jobs", "states", "initial"], "waiting"),
     "/types/analysis_jobs/states/initial"),
    ("unknown member of a type",
     lambda c: set_in(c, ["types", "articles", "colour"], "red"),
     "/types/articles/colour"),
    ("unknown member of a step",
     lambda c: set_in(c, ["types", "articles", "actions", "set_title", "steps", 0, "to"], "/x"),
     "/types/articles/actions/set_title/steps/0/to"),
    ("unknown member at the top",
     lambda c: set_in(c, ["typez"], {}),
     "/typez"),
    ("unknown member type",
     lambda c: set_in(c, ["types", "clips", "actions", "set_trim_range", "data", "start"],
                      "numbr"),
     "/types/clips/actions/set_trim_range/data/start"),
    ("unknown verb operation",
     lambda c: set_in(c, ["types", "dashboards", "verbs", "duplicate", "op"], "clone"),
     "/types/dashboards/verbs/duplicate/op"),
    ("action and transition share a name",
     lambda c: set_in(c, ["types", "analysis_jobs", "actions", "suspend"],
                      {"data": {"input": "any"},
                       "steps": [{"op": "set", "path": "/input", "value_from": "/input"}]}),
     "/types/analysis_jobs"),
    ("reserved action name",
     lambda c: set_in(c, ["types", "articles", "actions", "undo"],
                      {"data": {"title": "string"},
                       "steps": [{"op": "set", "path": "/title", "value_from": "/title"}]}),
     "/types/articles/actions/undo"),
    ("bad precondition",
     lambda c: set_in(c, ["types", "clips", "actions", "add_tag", "precondition"], "maybe"),
     "/types/clips/actions/add_tag/precondition"),
    ("no steps",
     lambda c: set_in(c, ["types", "articles", "actions", "set_body", "steps"], []),
     "/types/articles/actions/set_body/steps"),
    ("value_from an undeclared member",
     lambda c: set_in(c, ["types", "articles", "actions", "set_body", "steps", 0, "value_from"],
                      "/text"),
     "/types/articles/actions/set_body/steps/0/value_from"),
    ("missing initial document",
     lambda c: delete_in(c, ["types", "articles", "initial"]),
     "/types/articles"),
    ("a type name that cannot be a path segment",
     lambda c: set_in(c, ["types", "Bad-Name"], copy.deepcopy(c["types"]["articles"])),
     "/types/Bad-Name"),
    ("minimum above maximum",
     lambda c: set_in(c, ["types", "clips", "actions", "set_trim_range", "data", "end"],
                      {"type": "number", "minimum": 9, "maximum": -5}),
     "/types/clips/actions/set_trim_range/data/end/maximum"),
    ("unknown constraint",
     lambda c: set_in(c, ["types", "clips", "actions", "add_crop_keyframe", "data", "width",
                          "min"], 1),
     "/types/clips/actions/add_crop_keyframe/data/width/min"),
    ("bounds on a string member",
     lambda c: set_in(c, ["types", "articles", "actions", "set_title", "data", "title"],
                      {"type": "string", "maximum": 10}),
     "/types/articles/actions/set_title/data/title/maximum"),
    ("a bound beyond what JavaScript holds exactly",
     lambda c: set_in(c, ["types", "clips", "actions", "move_crop_keyframe", "data",
                          "new_frame", "maximum"], 2 ** 63 - 1),
     "/types/clips/actions/move_crop_keyframe/data/new_frame/maximum"),
    ("a rule naming an undeclared member",
     lambda c: set_in(c, ["types", "clips", "actions", "set_trim_range", "rules"],
                      [{"less": ["start", "stop"]}]),
     "/types/clips/actions/set_trim_range/rules/0/less/1"),
    ("an unknown rule",
     lambda c: set_in(c, ["types", "clips", "actions", "create_region", "rules", 0],
                      {"before": ["start_time", "end_time"]}),
     "/types/clips/actions/create_region/rules/0/before"),
]

# A member written twice in one object: JSON that a Python dict cannot hold, so it is
# made by text. (name, text to find in the shipped file, what to put instead, pointer)
DUPLICATE_KEYS = [
    ("duplicate member in a type",
     '"initial": {"title": "", "body": ""},',
     '"initial": {"title": "", "body": ""},\n      "initial": {},',
     "/types/articles/initial"),
    ("duplicate action",
     '"set_body": {',
     '"set_body": {"steps": [{"op": "remove", "path": "/body"}]},\n        "set_body": {',
     "/types/articles/actions/set_body"),
]


class CheckCatalog(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-catalog-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def assert_refused(self, path, pointer):
        proc = run(["--check-catalog", path])
        text = message(proc)
        self.assertEqual(proc.returncode, 1, text)
        self.assertIn(os.path.basename(path), text)
        self.assertIn(path, text, "the message names the file as given")
        self.assertIn(pointer, text, f"the message names the JSON Pointer {pointer}")
        return text

    def test_the_shipped_catalog_is_valid(self):
        proc = run(["--check-catalog", DEFAULT_CATALOG])
        self.assertEqual(proc.returncode, 0, message(proc))
        self.assertIn(DEFAULT_CATALOG, proc.stdout + proc.stderr)

    def test_a_new_type_needs_no_code(self):
        cat = load_catalog()
        cat["types"]["notes"] = {
            "initial": {"text": "", "labels": []},
            "states": {"all": ["draft", "published"], "initial": "draft",
                       "transitions": {"publish": {"from": ["draft"], "to": "published"}}},
            "actions": {
                "set_text": {"data": {"text": "string"},
                             "steps": [{"op": "set", "path": "/text", "value_from": "/text"}]},
                "label": {"precondition": "none", "data": {"label": "string"},
                          "steps": [{"op": "add_to_set", "path": "/labels",
                                     "value_from": "/label"}]}},
            "verbs": {"duplicate": {"op": "duplicate"}},
        }
        proc = run(["--check-catalog", self.write("notes.json", json.dumps(cat))])
        self.assertEqual(proc.returncode, 0, message(proc))

    def test_broken_catalogs_are_refused_with_file_and_pointer(self):
        for name, breaker, pointer in BROKEN:
            with self.subTest(name=name):
                cat = load_catalog()
                breaker(cat)
                path = self.write(name.replace(" ", "_") + ".json", json.dumps(cat, indent=1))
                self.assert_refused(path, pointer)

    def test_duplicate_member_names_are_refused_with_file_and_pointer(self):
        with open(DEFAULT_CATALOG, encoding="utf-8") as f:
            shipped = f.read()
        for name, find, replace, pointer in DUPLICATE_KEYS:
            with self.subTest(name=name):
                self.assertIn(find, shipped)
                path = self.write(name.replace(" ", "_") + ".json",
                                  shipped.replace(find, replace, 1))
                text = self.assert_refused(path, pointer)
                self.assertIn("duplicate", text.lower())

    def test_files_that_are_not_catalogs(self):
        for name, text in (("empty.json", ""), ("truncated.json", '{"types": {'),
                           ("array.json", "[]"), ("no_types.json", "{}"),
                           ("empty_types.json", '{"types": {}}')):
            with self.subTest(name=name):
                path = self.write(name, text)
                proc = run(["--check-catalog", path])
                self.assertEqual(proc.returncode, 1, message(proc))
                self.assertIn(path, message(proc))
        missing = os.path.join(self.dir, "missing.json")
        proc = run(["--check-catalog", missing])
        self.assertNotEqual(proc.returncode, 0, message(proc))
        self.assertIn(missing, message(proc))

    def test_a_worker_refuses_to_start_on_a_broken_catalog(self):
        cat = load_catalog()
        BROKEN[0][1](cat)
        path = self.write("worker.json", json.dumps(cat))
        sock = os.path.join(self.dir, "s.sock")
        # --workers 0 serves in-process, so a worker that wrongly started is killed
        # with its process when the timeout ends the run
        proc = run(["--listen", sock, "--workers", "0", "--catalog", path,
                    "--database", os.environ.get("ACTIOND_APP_DATABASE_URL", "postgresql:///x")],
                   timeout=30)
        self.assertEqual(proc.returncode, 1, message(proc))
        self.assertIn(path, message(proc))
        self.assertIn(BROKEN[0][2], message(proc))
        self.assertFalse(os.path.exists(sock), "a refused worker must not listen")


if __name__ == "__main__":
    unittest.main()
