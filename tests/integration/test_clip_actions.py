"""test_clip_actions.py: the clip keyframe actions of the shipped catalog, sent with the
payloads a client writes (plus expected_version), and what each one does to the
document. Keyframes stay sorted by frame."""

import unittest

from client import BOB_EDITS, TOKEN_BOB, ApiTestCase, at_path, find_list, find_object, utc_micros

ADD = {"action": "add_crop_keyframe",
       "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}
UPDATE = {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}}
DELETE = {"action": "delete_crop_keyframe", "target": {"frame": 100}}
MOVE = {"action": "move_crop_keyframe", "target": {"frame": 100},
        "data": {"new_frame": 120}}
TRIM = {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}}


def at(envelope, version):
    return dict(envelope, expected_version=version)


class ClipExamples(ApiTestCase):
    def apply(self, clip_id, envelope, version):
        """Applies envelope at `version`; checks the answer and that a read agrees."""
        body = self.act_ok(clip_id, at(envelope, version))
        self.assertEqual(body["version"], version + 1)
        self.assertEqual(body["action"], envelope["action"])
        clip = self.get_clip(clip_id)
        self.assertEqual(clip["version"], version + 1)
        # the action's transaction stamped both
        self.assertEqual(utc_micros(self, body["applied_at"]), utc_micros(self, clip["updated_at"]))
        # the stored text is the answer's, members in the same order (sql/006)
        self.assertEqual(list(body["data"].items()), list(clip["data"].items()))
        return clip["data"]

    def frames(self, doc):
        return [k["frame"] for k in self.keyframes(doc)]

    def test_add(self):
        clip_id, _ = self.create_clip()
        doc = self.apply(clip_id, ADD, 1)
        self.assertEqual(self.keyframes(doc),
                         [{"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}])

    def test_update_changes_only_what_it_names(self):
        clip_id, _ = self.create_clip()
        self.apply(clip_id, ADD, 1)
        doc = self.apply(clip_id, UPDATE, 2)
        self.assertEqual(self.keyframes(doc),
                         [{"frame": 100, "x": 60, "y": 50, "width": 640, "height": 360}])

    def test_delete(self):
        clip_id, _ = self.create_clip()
        path, _ = find_list(self.apply(clip_id, ADD, 1), "frame")
        doc = self.apply(clip_id, DELETE, 2)
        self.assertEqual(at_path(doc, path), [])

    def test_move(self):
        clip_id, _ = self.create_clip()
        self.apply(clip_id, ADD, 1)
        doc = self.apply(clip_id, MOVE, 2)
        self.assertEqual(self.keyframes(doc),
                         [{"frame": 120, "x": 50, "y": 50, "width": 640, "height": 360}])

    def test_set_trim_range(self):
        clip_id, _ = self.create_clip()
        doc = self.apply(clip_id, TRIM, 1)
        trim = find_object(doc, lambda o: o.get("start") == 1.0 and o.get("end") == 5.0)
        self.assertIsNotNone(trim, doc)
        doc = self.apply(clip_id, {"action": "set_trim_range",
                                   "data": {"start": 2.5, "end": 3.0}}, 2)
        self.assertIsNone(find_object(doc, lambda o: o.get("start") == 1.0), doc)
        self.assertIsNotNone(find_object(doc, lambda o: o.get("start") == 2.5
                                         and o.get("end") == 3.0), doc)

    def test_the_whole_sequence(self):
        clip_id, created = self.create_clip()
        initial = created.body["data"]
        doc = self.apply(clip_id, ADD, 1)
        doc = self.apply(clip_id, UPDATE, 2)
        doc = self.apply(clip_id, MOVE, 3)
        self.assertEqual(self.frames(doc), [120])
        doc = self.apply(clip_id, ADD, 4)
        self.assertEqual(self.frames(doc), [100, 120])
        doc = self.apply(clip_id, DELETE, 5)
        self.assertEqual(self.frames(doc), [120])
        doc = self.apply(clip_id, TRIM, 6)
        entries = self.log_entries(clip_id)
        self.assertEqual([e["action"] for e in entries],
                         ["create", "add_crop_keyframe", "update_crop_keyframe",
                          "move_crop_keyframe", "add_crop_keyframe", "delete_crop_keyframe",
                          "set_trim_range"])
        self.assertEqual(entries[2]["target"], {"frame": 100})
        self.assertEqual(entries[2]["data"], {"x": 60})
        # the sequence left no other trace in the document
        for key in initial:
            self.assertIn(key, doc)

    def test_keyframes_stay_sorted(self):
        clip_id, _ = self.create_clip()
        version = 1
        for frame in (500, 20, 300, 10, 400, 30):
            self.add_keyframe(clip_id, version, frame, x=frame)
            version += 1
        doc = self.get_clip(clip_id)["data"]
        self.assertEqual(self.frames(doc), [10, 20, 30, 300, 400, 500])
        # every keyframe kept its own values
        self.assertTrue(all(k["x"] == k["frame"] for k in self.keyframes(doc)))
        # a move re-sorts
        self.act_ok(clip_id, {"action": "move_crop_keyframe", "target": {"frame": 10},
                              "data": {"new_frame": 350}, "expected_version": version})
        doc = self.get_clip(clip_id)["data"]
        self.assertEqual(self.frames(doc), [20, 30, 300, 350, 400, 500])
        self.assertEqual(self.keyframes(doc)[3]["x"], 10)

    def test_bob_edits_alices_clip_and_is_the_actor(self):
        clip_id, _ = self.create_clip({"access": BOB_EDITS})
        self.act_ok(clip_id, at(ADD, 1), token=TOKEN_BOB)
        entries = self.log_entries(clip_id)
        self.assertEqual([e["actor"] for e in entries], ["alice", "bob"])
        self.assertEqual(self.get_clip(clip_id)["owner"], "alice")


if __name__ == "__main__":
    unittest.main()
