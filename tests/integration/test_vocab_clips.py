"""test_vocab_clips.py: every clip action of the shipped catalog, with the payloads a
client writes (plus expected_version where the catalog requires one), what each does
to the document, and each error case: a target that does not exist (422
with the pointer), a duplicate key (422), wrong types (400 with the pointer), a missing
precondition (428), an unknown action (404 with allowed_actions and their links).
Every refusal changes nothing."""

import copy
import unittest

from client import TOKEN_BOB
from vocab_util import VocabTestCase, assert_problem, load_catalog

CATALOG = load_catalog()
CLIP_ACTIONS = CATALOG["types"]["clips"]["actions"]

# The twelve reference payloads for clips, one per action, as a client writes them.
# "xxx" and 123 stand for the ids create_region and create_annotation return; the tests
# put the returned ids in their place. add_region_keyframe's data is chosen here.
ADD_CROP = {"action": "add_crop_keyframe",
            "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}
UPDATE_CROP = {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}}
DELETE_CROP = {"action": "delete_crop_keyframe", "target": {"frame": 100}}
MOVE_CROP = {"action": "move_crop_keyframe", "target": {"frame": 100},
             "data": {"new_frame": 120}}
SET_TRIM = {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}}
CREATE_REGION = {"action": "create_region", "data": {"start_time": 0, "end_time": 2.0}}
DELETE_REGION = {"action": "delete_region", "target": {"region_id": "xxx"}}
ADD_REGION_KEYFRAME = {"action": "add_region_keyframe", "target": {"region_id": "xxx"},
                       "data": {"frame": 10, "x": 5, "y": 5, "width": 320, "height": 180}}
SET_EFFECT = {"action": "set_effect_type", "data": {"effect_type": "brightness_boost"}}
CREATE_ANNOTATION = {"action": "create_annotation",
                     "data": {"start_time": 10, "end_time": 15, "name": "Play"}}
UPDATE_ANNOTATION = {"action": "update_annotation", "target": {"annotation_id": 123},
                     "data": {"rating": 5}}
ADD_TAG = {"action": "add_tag", "target": {"annotation_id": 123}, "data": {"tag": "goal"}}

EXAMPLES = [ADD_CROP, UPDATE_CROP, DELETE_CROP, MOVE_CROP, SET_TRIM, CREATE_REGION,
            DELETE_REGION, ADD_REGION_KEYFRAME, SET_EFFECT, CREATE_ANNOTATION,
            UPDATE_ANNOTATION, ADD_TAG]


def needs_precondition(name):
    return CLIP_ACTIONS[name].get("precondition", "required") == "required"


def with_ids(envelope, region_id=None, annotation_id=None):
    """The example with the placeholder ids replaced by real ones."""
    out = copy.deepcopy(envelope)
    target = out.get("target") or {}
    if "region_id" in target and region_id is not None:
        target["region_id"] = region_id
    if "annotation_id" in target and annotation_id is not None:
        target["annotation_id"] = annotation_id
    return out


class ClipCase(VocabTestCase):
    def new_clip(self):
        clip = self.create("clips", with_data=False)
        self.assertEqual(clip["version"], 1)
        return clip["id"]

    def apply(self, clip_id, envelope, version):
        """Sends the example as written, adding expected_version only where the catalog
        requires a precondition; checks the answer and that a read agrees with it."""
        env = copy.deepcopy(envelope)
        if needs_precondition(env["action"]):
            env["expected_version"] = version
        body = self.send_ok("clips", clip_id, env)
        self.assertEqual(body["version"], version + 1, body)
        self.assertEqual(body["action"], envelope["action"], body)
        self.assertIsInstance(body["applied_at"], str, body)
        clip = self.read("clips", clip_id)
        self.assertEqual(clip["version"], version + 1)
        self.assertEqual(body["data"], clip["data"])
        return body, clip["data"]

    def frames(self, keyframes):
        return [k["frame"] for k in keyframes]


class TheExamples(ClipCase):
    """Each reference payload, exactly as written, in an order where each one applies."""

    def test_the_catalog_requires_a_precondition_except_for_add_tag(self):
        # the premise of how the examples are sent below
        for envelope in EXAMPLES:
            self.assertIn(envelope["action"], CLIP_ACTIONS)
        self.assertFalse(needs_precondition("add_tag"))
        for envelope in EXAMPLES:
            if envelope["action"] != "add_tag":
                self.assertTrue(needs_precondition(envelope["action"]), envelope)

    def test_all_twelve_in_one_session(self):
        clip_id = self.new_clip()
        v = 1
        _, doc = self.apply(clip_id, ADD_CROP, v); v += 1
        self.assertEqual(doc["crop_keyframes"],
                         [{"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}])
        _, doc = self.apply(clip_id, UPDATE_CROP, v); v += 1
        self.assertEqual(doc["crop_keyframes"],
                         [{"frame": 100, "x": 60, "y": 50, "width": 640, "height": 360}])
        _, doc = self.apply(clip_id, DELETE_CROP, v); v += 1
        self.assertEqual(doc["crop_keyframes"], [])
        _, doc = self.apply(clip_id, ADD_CROP, v); v += 1
        _, doc = self.apply(clip_id, MOVE_CROP, v); v += 1
        self.assertEqual(doc["crop_keyframes"],
                         [{"frame": 120, "x": 50, "y": 50, "width": 640, "height": 360}])
        _, doc = self.apply(clip_id, SET_TRIM, v); v += 1
        self.assertEqual(doc["trim_range"], {"start": 1.0, "end": 5.0})

        body, doc = self.apply(clip_id, CREATE_REGION, v); v += 1
        region_id = body.get("region_id")
        self.assertIsInstance(region_id, str, body)
        self.assertTrue(region_id, body)
        self.assertEqual(len(doc["regions"]), 1)
        region = doc["regions"][0]
        self.assertEqual(region["region_id"], region_id)
        self.assertEqual((region["start_time"], region["end_time"]), (0, 2.0))
        self.assertEqual(region["keyframes"], [])

        _, doc = self.apply(clip_id, with_ids(ADD_REGION_KEYFRAME, region_id=region_id), v)
        v += 1
        self.assertEqual(doc["regions"][0]["keyframes"],
                         [{"frame": 10, "x": 5, "y": 5, "width": 320, "height": 180}])
        _, doc = self.apply(clip_id, with_ids(DELETE_REGION, region_id=region_id), v); v += 1
        self.assertEqual(doc["regions"], [])

        _, doc = self.apply(clip_id, SET_EFFECT, v); v += 1
        self.assertEqual(doc["effect_type"], "brightness_boost")

        body, doc = self.apply(clip_id, CREATE_ANNOTATION, v); v += 1
        annotation_id = body.get("annotation_id")
        self.assertIsNotNone(annotation_id, body)
        self.assertEqual(len(doc["annotations"]), 1)
        note = doc["annotations"][0]
        self.assertEqual(note["annotation_id"], annotation_id)
        self.assertEqual((note["start_time"], note["end_time"], note["name"]), (10, 15, "Play"))

        _, doc = self.apply(clip_id, with_ids(UPDATE_ANNOTATION, annotation_id=annotation_id), v)
        v += 1
        self.assertEqual(doc["annotations"][0]["rating"], 5)
        self.assertEqual(doc["annotations"][0]["name"], "Play")
        _, doc = self.apply(clip_id, with_ids(ADD_TAG, annotation_id=annotation_id), v); v += 1
        self.assertEqual(doc["annotations"][0]["tags"], ["goal"])

        # the log names every example in order, with the target and data as sent
        entries = self.log("clips", clip_id)
        self.assertEqual([e["version"] for e in entries], list(range(1, v + 1)))
        self.assertEqual([e["action"] for e in entries[1:]],
                         ["add_crop_keyframe", "update_crop_keyframe", "delete_crop_keyframe",
                          "add_crop_keyframe", "move_crop_keyframe", "set_trim_range",
                          "create_region", "add_region_keyframe", "delete_region",
                          "set_effect_type", "create_annotation", "update_annotation",
                          "add_tag"])
        self.assertEqual(entries[2]["target"], {"frame": 100})
        self.assertEqual(entries[2]["data"], {"x": 60})
        self.assertEqual(entries[-1]["target"], {"annotation_id": annotation_id})
        self.assertEqual(entries[-1]["data"], {"tag": "goal"})

    def test_each_example_on_a_fresh_clip(self):
        """Each line on its own, after only what it needs, so one failure does not hide
        the others."""
        for envelope in EXAMPLES:
            with self.subTest(action=envelope["action"]):
                clip_id = self.new_clip()
                v = 1
                region_id = annotation_id = None
                name = envelope["action"]
                if name in ("update_crop_keyframe", "delete_crop_keyframe",
                            "move_crop_keyframe"):
                    self.apply(clip_id, ADD_CROP, v); v += 1
                if name in ("delete_region", "add_region_keyframe"):
                    body, _ = self.apply(clip_id, CREATE_REGION, v); v += 1
                    region_id = body["region_id"]
                if name in ("update_annotation", "add_tag"):
                    body, _ = self.apply(clip_id, CREATE_ANNOTATION, v); v += 1
                    annotation_id = body["annotation_id"]
                self.apply(clip_id, with_ids(envelope, region_id, annotation_id), v)


class Keyframes(ClipCase):
    def test_crop_keyframes_stay_sorted_by_frame(self):
        clip_id = self.new_clip()
        v = 1
        for frame in (300, 100, 200, 50, 250):
            env = copy.deepcopy(ADD_CROP)
            env["data"]["frame"] = frame
            env["data"]["x"] = frame
            _, doc = self.apply(clip_id, env, v); v += 1
            frames = self.frames(doc["crop_keyframes"])
            self.assertEqual(frames, sorted(frames))
        self.assertEqual(self.frames(doc["crop_keyframes"]), [50, 100, 200, 250, 300])
        # a move re-sorts and keeps the keyframe's values
        _, doc = self.apply(clip_id, MOVE_CROP, v); v += 1
        self.assertEqual(self.frames(doc["crop_keyframes"]), [50, 120, 200, 250, 300])
        self.assertEqual(doc["crop_keyframes"][1]["x"], 100)
        env = {"action": "move_crop_keyframe", "target": {"frame": 50},
               "data": {"new_frame": 1000}}
        _, doc = self.apply(clip_id, env, v); v += 1
        self.assertEqual(self.frames(doc["crop_keyframes"]), [120, 200, 250, 300, 1000])
        self.assertEqual(doc["crop_keyframes"][-1]["x"], 50)

    def test_region_keyframes_go_into_their_own_region_sorted(self):
        clip_id = self.new_clip()
        v = 1
        first, _ = self.apply(clip_id, CREATE_REGION, v); v += 1
        second, _ = self.apply(clip_id, {"action": "create_region",
                                         "data": {"start_time": 3, "end_time": 4.5}}, v)
        v += 1
        self.assertNotEqual(first["region_id"], second["region_id"])
        for frame in (30, 10, 20):
            env = with_ids(ADD_REGION_KEYFRAME, region_id=second["region_id"])
            env["data"]["frame"] = frame
            _, doc = self.apply(clip_id, env, v); v += 1
        env = with_ids(ADD_REGION_KEYFRAME, region_id=first["region_id"])
        env["data"] = {"frame": 7}
        _, doc = self.apply(clip_id, env, v); v += 1
        by_id = {r["region_id"]: r for r in doc["regions"]}
        self.assertEqual(self.frames(by_id[second["region_id"]]["keyframes"]), [10, 20, 30])
        self.assertEqual(by_id[first["region_id"]]["keyframes"], [{"frame": 7}])
        # the crop keyframes are not where region keyframes go
        self.assertEqual(doc["crop_keyframes"], [])


class ReturnedIds(ClipCase):
    def test_region_ids_are_returned_and_used(self):
        clip_id = self.new_clip()
        a, _ = self.apply(clip_id, CREATE_REGION, 1)
        b, doc = self.apply(clip_id, CREATE_REGION, 2)
        self.assertNotEqual(a["region_id"], b["region_id"])
        self.assertEqual([r["region_id"] for r in doc["regions"]],
                         [a["region_id"], b["region_id"]])
        _, doc = self.apply(clip_id, with_ids(DELETE_REGION, region_id=a["region_id"]), 3)
        self.assertEqual([r["region_id"] for r in doc["regions"]], [b["region_id"]])
        # the log keeps the id the server chose
        entries = self.log("clips", clip_id)
        self.assertEqual(entries[3]["target"], {"region_id": a["region_id"]})

    def test_annotation_ids_are_returned_and_used(self):
        clip_id = self.new_clip()
        a, _ = self.apply(clip_id, CREATE_ANNOTATION, 1)
        b, _ = self.apply(clip_id, {"action": "create_annotation",
                                    "data": {"start_time": 20, "end_time": 25,
                                             "name": "Save"}}, 2)
        self.assertNotEqual(a["annotation_id"], b["annotation_id"])
        _, doc = self.apply(clip_id, with_ids(UPDATE_ANNOTATION, annotation_id=b["annotation_id"]),
                            3)
        by_id = {n["annotation_id"]: n for n in doc["annotations"]}
        self.assertEqual(by_id[b["annotation_id"]]["rating"], 5)
        self.assertNotIn("rating", by_id[a["annotation_id"]])
        _, doc = self.apply(clip_id, with_ids(ADD_TAG, annotation_id=a["annotation_id"]), 4)
        by_id = {n["annotation_id"]: n for n in doc["annotations"]}
        self.assertEqual(by_id[a["annotation_id"]]["tags"], ["goal"])
        self.assertEqual(by_id[b["annotation_id"]]["tags"], [])

    def test_a_client_cannot_choose_the_id(self):
        clip_id = self.new_clip()
        before = self.read("clips", clip_id)
        env = copy.deepcopy(CREATE_REGION)
        env["data"]["region_id"] = "mine"
        env["expected_version"] = 1
        assert_problem(self.send("clips", clip_id, env), 400, "/data/region_id")
        env = copy.deepcopy(CREATE_ANNOTATION)
        env["data"]["annotation_id"] = 99
        env["expected_version"] = 1
        assert_problem(self.send("clips", clip_id, env), 400, "/data/annotation_id")
        self.assert_same("clips", clip_id, before)


class Tags(ClipCase):
    def setUp(self):
        # bob edits it too
        self.clip_id = self.create("clips", with_data=False, access={"bob": "editor"})["id"]
        body, _ = self.apply(self.clip_id, CREATE_ANNOTATION, 1)
        self.annotation_id = body["annotation_id"]
        self.tag = with_ids(ADD_TAG, annotation_id=self.annotation_id)

    def test_add_tag_needs_no_precondition(self):
        self.assertNotIn("expected_version", self.tag)
        body = self.send_ok("clips", self.clip_id, self.tag)
        self.assertEqual(body["data"]["annotations"][0]["tags"], ["goal"])

    def test_add_tag_twice_is_a_successful_no_op(self):
        self.send_ok("clips", self.clip_id, self.tag)
        before = self.read("clips", self.clip_id)
        again = self.send_ok("clips", self.clip_id, self.tag)
        self.assertIs(again["success"], True)
        self.assertEqual(again["data"], before["data"])
        after = self.read("clips", self.clip_id)
        self.assertEqual(after["data"], before["data"])
        self.assertEqual(after["data"]["annotations"][0]["tags"], ["goal"])
        # a no-op changes nothing in the document: the log entry (if any) has no patch
        entries = self.log("clips", self.clip_id, since=before["version"])
        for entry in entries:
            self.assertEqual(entry["forward"], [], entry)

    def test_add_tag_is_a_set(self):
        for tag in ("goal", "save", "goal", "assist", "save"):
            env = dict(self.tag, data={"tag": tag})
            self.send_ok("clips", self.clip_id, env)
        doc = self.read("clips", self.clip_id)["data"]
        self.assertEqual(doc["annotations"][0]["tags"], ["goal", "save", "assist"])

    def test_add_tag_commutes_between_two_writers(self):
        # neither writer needs to know the other's version
        self.send_ok("clips", self.clip_id, dict(self.tag, data={"tag": "a"}))
        self.send_ok("clips", self.clip_id, dict(self.tag, data={"tag": "b"}), token=TOKEN_BOB)
        doc = self.read("clips", self.clip_id)["data"]
        self.assertEqual(sorted(doc["annotations"][0]["tags"]), ["a", "b"])


class Errors(ClipCase):
    """Every refusal answers the right problem and leaves the clip as it was."""

    def setUp(self):
        self.clip_id = self.new_clip()
        self.apply(self.clip_id, ADD_CROP, 1)
        env = copy.deepcopy(ADD_CROP)
        env["data"]["frame"] = 200
        self.apply(self.clip_id, env, 2)
        body, _ = self.apply(self.clip_id, CREATE_REGION, 3)
        self.region_id = body["region_id"]
        env = with_ids(ADD_REGION_KEYFRAME, region_id=self.region_id)
        self.apply(self.clip_id, env, 4)
        body, _ = self.apply(self.clip_id, CREATE_ANNOTATION, 5)
        self.annotation_id = body["annotation_id"]
        self.before = self.read("clips", self.clip_id)
        self.version = self.before["version"]

    def refuse(self, envelope, status, pointer=None, precondition=True):
        env = copy.deepcopy(envelope)
        if precondition and "expected_version" not in env:
            env["expected_version"] = self.version
        problem = assert_problem(self.send("clips", self.clip_id, env), status, pointer)
        self.assert_same("clips", self.clip_id, self.before)
        return problem

    # --- 422: a target that does not exist --------------------------------------------

    def test_target_not_found(self):
        missing_region = "00000000-0000-4000-8000-000000000000"
        cases = [
            (UPDATE_CROP | {"target": {"frame": 7}}, "/target/frame"),
            (DELETE_CROP | {"target": {"frame": 7}}, "/target/frame"),
            (MOVE_CROP | {"target": {"frame": 7}}, "/target/frame"),
            (DELETE_REGION, "/target/region_id"),                      # the "xxx" above
            (with_ids(DELETE_REGION, region_id=missing_region), "/target/region_id"),
            (ADD_REGION_KEYFRAME, "/target/region_id"),
            (UPDATE_ANNOTATION, "/target/annotation_id"),              # the 123 above
            (ADD_TAG, "/target/annotation_id"),
            ({"action": "delete_region_keyframe",
              "target": {"region_id": self.region_id, "frame": 11}}, "/target/frame"),
            ({"action": "delete_region_keyframe",
              "target": {"region_id": "xxx", "frame": 10}}, "/target/region_id"),
        ]
        for envelope, pointer in cases:
            with self.subTest(envelope=envelope):
                self.refuse(envelope, 422, pointer)

    def test_add_tag_to_a_missing_annotation_without_precondition(self):
        self.refuse(ADD_TAG, 422, "/target/annotation_id", precondition=False)

    # --- 422: a duplicate key ---------------------------------------------------------

    def test_duplicate_keys(self):
        cases = [
            (ADD_CROP, "/data/frame"),
            (MOVE_CROP | {"data": {"new_frame": 200}}, "/data/new_frame"),
            (with_ids(ADD_REGION_KEYFRAME, region_id=self.region_id), "/data/frame"),
        ]
        for envelope, pointer in cases:
            with self.subTest(envelope=envelope):
                self.refuse(envelope, 422, pointer)

    # --- 400: wrong types, missing and unknown members --------------------------------

    def test_wrong_types(self):
        def data(envelope, **members):
            env = copy.deepcopy(envelope)
            env["data"].update(members)
            return env

        cases = [
            (data(ADD_CROP, frame="100"), "/data/frame"),
            (data(ADD_CROP, frame=100.5), "/data/frame"),
            (data(ADD_CROP, frame=300, x="50"), "/data/x"),
            (data(ADD_CROP, frame=300, width=None), "/data/width"),
            (UPDATE_CROP | {"target": {"frame": "100"}}, "/target/frame"),
            (data(UPDATE_CROP, x=[60]), "/data/x"),
            (data(MOVE_CROP, new_frame="120"), "/data/new_frame"),
            (data(SET_TRIM, start="1.0"), "/data/start"),
            (data(CREATE_REGION, start_time="0"), "/data/start_time"),
            (DELETE_REGION | {"target": {"region_id": 5}}, "/target/region_id"),
            (data(SET_EFFECT, effect_type=5), "/data/effect_type"),
            (data(CREATE_ANNOTATION, name=7), "/data/name"),
            (UPDATE_ANNOTATION | {"target": {"annotation_id": "123"}},
             "/target/annotation_id"),
            (data(UPDATE_ANNOTATION, rating="5"), "/data/rating"),
            (with_ids(ADD_TAG, annotation_id=self.annotation_id) | {"data": {"tag": 5}},
             "/data/tag"),
        ]
        for envelope, pointer in cases:
            with self.subTest(envelope=envelope):
                self.refuse(envelope, 400, pointer)

    def test_missing_and_unknown_members(self):
        add = copy.deepcopy(ADD_CROP)
        del add["data"]["height"]
        cases = [
            (add, "/data/height"),
            (UPDATE_CROP | {"target": {}}, "/target/frame"),
            (ADD_CROP | {"data": dict(ADD_CROP["data"], frame=300, z=1)}, "/data/z"),
            (SET_TRIM | {"target": {"frame": 100}}, "/target"),
            (DELETE_CROP | {"data": {"x": 1}}, "/data"),
            (UPDATE_CROP | {"colour": "red"}, "/colour"),
            (with_ids(ADD_TAG, annotation_id=self.annotation_id) | {"data": {}}, "/data/tag"),
        ]
        for envelope, pointer in cases:
            with self.subTest(envelope=envelope):
                self.refuse(envelope, 400, pointer)

    # --- 428 ---------------------------------------------------------------------------

    def test_every_edit_needs_a_precondition(self):
        ids = {"region_id": self.region_id, "annotation_id": self.annotation_id}
        for envelope in EXAMPLES:
            if not needs_precondition(envelope["action"]):
                continue
            with self.subTest(action=envelope["action"]):
                env = with_ids(envelope, **ids)
                problem = self.refuse(env, 428, precondition=False)
                self.assertEqual(problem.get("current_version"), self.version, problem)

    # --- 404 ---------------------------------------------------------------------------

    def test_unknown_action(self):
        problem = self.refuse({"action": "add_crop_keyframes", "data": ADD_CROP["data"]}, 404,
                              "/action")
        allowed = self.assert_links_to_each(problem, "clips", self.clip_id)
        self.assertEqual(sorted(allowed), sorted(CLIP_ACTIONS))
        for name in allowed:
            self.assertTrue(problem["links"][name]["href"].endswith(
                f"/clips/{self.clip_id}/actions"), problem["links"][name])

    def test_unknown_action_without_precondition_is_still_404(self):
        # the name is checked before the precondition
        self.refuse({"action": "complete"}, 404, "/action", precondition=False)


if __name__ == "__main__":
    unittest.main()
