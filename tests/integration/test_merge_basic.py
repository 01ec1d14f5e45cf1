"""test_merge_basic.py: a smoke test of merging (docs/merge.md): disjoint keyframe
edits from one stale version both land; the same keyframe's x from one version does
not; a keyed update lands on its keyframe though an insert shifted the array."""

from client import ApiTestCase, assert_problem, request

KF = {"x": 50, "y": 50, "width": 640, "height": 360}


class MergeBasics(ApiTestCase):
    def clip_with_frames(self, *frames):
        clip_id, _ = self.create_clip()
        version = 1
        for f in frames:
            version = self.add_keyframe(clip_id, version, f)["version"]
        return clip_id, version

    def update(self, clip_id, frame, x, version, merge=True):
        body = {"action": "update_crop_keyframe", "target": {"frame": frame},
                "data": {"x": x}, "expected_version": version}
        if merge:
            body["on_conflict"] = "merge"
        return request("POST", f"/clips/{clip_id}/actions", body=body)

    def test_disjoint_keyframes_both_land(self):
        clip_id, v = self.clip_with_frames(100, 200)
        first = self.update(clip_id, 100, 1, v)
        self.assertEqual(first.status, 200, first)
        second = self.update(clip_id, 200, 2, v)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.body["based_on"], v)
        self.assertEqual(second.body["merged_over"], [v + 1])
        frames = {k["frame"]: k["x"] for k in self.keyframes(self.get_clip(clip_id)["data"])}
        self.assertEqual(frames, {100: 1, 200: 2})
        entry = self.log_entries(clip_id)[-1]
        self.assertEqual(entry["based_on"], v)
        self.assertEqual(entry["merged_over"], [v + 1])
        self.assertEqual(entry["touches"][0]["path"],
                         ["crop_keyframes", {"key": "frame", "value": 200}, "x"])

    def test_same_keyframe_conflicts_and_names_the_entry(self):
        clip_id, v = self.clip_with_frames(100)
        self.assertEqual(self.update(clip_id, 100, 1, v).status, 200)
        before = self.get_clip(clip_id)
        resp = self.update(clip_id, 100, 2, v)
        problem = assert_problem(resp, 409)
        self.assertTrue(problem["type"].endswith("merge-conflict"), problem)
        self.assertEqual(problem["conflicting_versions"], [v + 1])
        self.assert_unchanged(clip_id, before)

    def test_without_merge_a_stale_version_is_refused(self):
        clip_id, v = self.clip_with_frames(100, 200)
        self.assertEqual(self.update(clip_id, 100, 1, v).status, 200)
        problem = assert_problem(self.update(clip_id, 200, 2, v, merge=False), 409)
        self.assertTrue(problem["type"].endswith("stale-version"), problem)

    def test_shifted_positions_do_not_misdirect_a_keyed_update(self):
        clip_id, v = self.clip_with_frames(100, 200)
        self.add_keyframe(clip_id, v, 50)  # now at index 0: 100 and 200 shift right
        resp = self.update(clip_id, 100, 7, v)
        self.assertEqual(resp.status, 200, resp)
        frames = {k["frame"]: k["x"] for k in self.keyframes(self.get_clip(clip_id)["data"])}
        self.assertEqual(frames, {50: 50, 100: 7, 200: 50})

    def test_add_tag_always_merges(self):
        clip_id, _ = self.create_clip()
        body = self.act_ok(clip_id, {"action": "create_annotation", "expected_version": 1,
                                     "data": {"start_time": 1, "end_time": 2, "name": "a"}})
        ann = body["annotation_id"]
        self.add_keyframe(clip_id, 2, 10)
        resp = request("POST", f"/clips/{clip_id}/actions", body={
            "action": "add_tag", "target": {"annotation_id": ann}, "data": {"tag": "goal"},
            "expected_version": 2})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["merged_over"], [3])
