"""test_merge.py: merging instead of rejecting (docs/merge.md). With "on_conflict": "merge" a
stale expected_version (or If-Match) still applies when nothing applied since touched
what the action touches, and answers 409 merge-conflict, changing nothing, when
something did. Touches are semantic: a keyframe is named by its frame, not by where it
sits in the array; a JSON Patch position stands for its whole array; a transition
touches the state. add_tag merges without being asked. The log shows every entry's
touches and, for a merged one, what it was based on and merged over."""

import json
import unittest

from client import (BOB_EDITS, TOKEN_BOB, ApiTestCase, assert_problem, etag, href, link_href,
                    request)
from merge_util import (STALE_VERSION, apply_action, check_merge_conflict,
                        check_merged, not_merged)

KEYFRAME = {"x": 50, "y": 50, "width": 640, "height": 360}


def kf(frame, **values):
    return dict(KEYFRAME, frame=frame, **values)


def update(frame, **values):
    return {"action": "update_crop_keyframe", "target": {"frame": frame}, "data": values}


def move(frame, new_frame):
    return {"action": "move_crop_keyframe", "target": {"frame": frame},
            "data": {"new_frame": new_frame}}


def add(frame, **values):
    return {"action": "add_crop_keyframe", "data": kf(frame, **values)}


def delete(frame):
    return {"action": "delete_crop_keyframe", "target": {"frame": frame}}


def trim(start, end):
    return {"action": "set_trim_range", "data": {"start": start, "end": end}}


def effect(name):
    return {"action": "set_effect_type", "data": {"effect_type": name}}


class MergeCase(ApiTestCase):
    """A clip at version 4 holding keyframes 100, 200 and 300 (self.clip, self.base)."""

    def setUp(self):
        self.clip, _ = self.create_clip({"access": BOB_EDITS})
        for version, frame in ((1, 100), (2, 200), (3, 300)):
            self.add_keyframe(self.clip, version, frame)
        self.base = 4
        self.start = self.get_clip(self.clip)

    # --- sending ----------------------------------------------------------------------

    def send(self, envelope, version, on_conflict="merge", token=None, clip=None,
             headers=None):
        body = dict(envelope)
        if version is not None:
            body["expected_version"] = version
        if on_conflict is not None:
            body["on_conflict"] = on_conflict
        kwargs = {} if token is None else {"token": token}
        return self.act(clip or self.clip, body, headers=headers, **kwargs)

    def ok(self, envelope, version, **kw):
        resp = self.send(envelope, version, **kw)
        self.assertEqual(resp.status, 200, f"{envelope} at {version} -> {resp!r}")
        self.assertIs(resp.body.get("success"), True, resp)
        return resp.body

    def frame(self, doc, frame):
        found = [k for k in self.keyframes(doc) if k["frame"] == frame]
        self.assertEqual(len(found), 1, doc)
        return found[0]

    def frames(self, doc):
        return [k["frame"] for k in self.keyframes(doc)]

    def model(self, *envelopes, doc=None):
        """The start document (or `doc`) after `envelopes`, by the Python model."""
        doc = self.start["data"] if doc is None else doc
        for e in envelopes:
            doc = apply_action(doc, e["action"], e.get("target"), e.get("data"))
        return doc

    def assert_doc(self, expected, version):
        clip = self.get_clip(self.clip)
        self.assertEqual(clip["version"], version)
        self.assertEqual(clip["data"], expected)
        return clip

    def entry(self, version, clip=None):
        entries = self.log_entries(clip or self.clip, since=version - 1, limit=1)
        self.assertEqual(entries[0]["version"], version, entries)
        return entries[0]


class Keyframes(MergeCase):
    def test_different_keyframes_from_the_same_version_both_apply(self):
        first = update(100, x=1)
        second = move(300, 350)
        body = self.ok(first, 4)
        self.assertEqual(body["version"], 5)
        self.assertTrue(not_merged(body), body)
        body = self.ok(second, 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)
        self.assertEqual(body["action"], "move_crop_keyframe")
        expected = self.model(first, second)
        self.assertEqual(body["data"], expected)
        doc = self.assert_doc(expected, 6)["data"]
        self.assertEqual(self.frames(doc), [100, 200, 350])
        self.assertEqual(self.frame(doc, 100)["x"], 1)

    def test_two_stale_moves_of_different_keyframes(self):
        # both clients saw version 4; a third change landed before either
        self.ok(trim(0.5, 2.0), 4)
        body = self.ok(move(100, 150), 4)
        check_merged(self, body, 4, [5], 6)
        body = self.ok(move(300, 250), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5, 6], 7)
        expected = self.model(trim(0.5, 2.0), move(100, 150), move(300, 250))
        doc = self.assert_doc(expected, 7)["data"]
        self.assertEqual(self.frames(doc), [150, 200, 250])

    def test_same_keyframe_same_field_conflicts(self):
        self.ok(update(100, x=1), 4)
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=2), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 5, [5], since=4)
        self.assert_unchanged(self.clip, before)
        self.assertEqual(self.frame(before["data"], 100)["x"], 1)

    def test_same_keyframe_other_field_merges(self):
        # update touches only the members it sets
        self.ok(update(100, x=1), 4)
        body = self.ok(update(100, y=2, width=3), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)
        doc = self.assert_doc(self.model(update(100, x=1), update(100, y=2, width=3)), 6)
        self.assertEqual(self.frame(doc["data"], 100),
                         {"frame": 100, "x": 1, "y": 2, "width": 3, "height": 360})

    def test_conflicting_versions_name_only_the_overlapping_entries(self):
        self.ok(trim(0.0, 1.0), 4)            # 5: disjoint
        self.ok(update(100, x=7), 5)          # 6: same field
        self.ok(effect("blur"), 6)            # 7: disjoint
        self.ok(update(200, x=8), 7)          # 8: another keyframe
        self.ok(move(100, 120), 8)            # 9: the keyframe itself
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=1), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 9, [6, 9], since=4)
        self.assert_unchanged(self.clip, before)

    def test_update_after_move_or_delete_conflicts(self):
        for since, change in ((move(100, 150), "move"), (delete(100), "delete")):
            with self.subTest(change=change):
                self.setUp()
                self.ok(since, 4)
                before = self.get_clip(self.clip)
                resp = self.send(update(100, x=3), 4, token=TOKEN_BOB)
                check_merge_conflict(self, resp, 5, [5], since=4)
                self.assert_unchanged(self.clip, before)

    def test_move_onto_a_frame_someone_added_conflicts(self):
        self.ok(add(150), 4)
        before = self.get_clip(self.clip)
        resp = self.send(move(100, 150), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 5, [5], since=4)
        self.assert_unchanged(self.clip, before)

    def test_two_adds_of_different_frames_merge(self):
        self.ok(add(250, x=1), 4)
        body = self.ok(add(50, x=2), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)
        doc = self.assert_doc(self.model(add(250, x=1), add(50, x=2)), 6)["data"]
        self.assertEqual(self.frames(doc), [50, 100, 200, 250, 300])

    def test_two_adds_of_the_same_frame_conflict_rather_than_fail(self):
        # membership of key 250 was touched: a merge conflict, not a 422 duplicate-key
        self.ok(add(250, x=1), 4)
        before = self.get_clip(self.clip)
        resp = self.send(add(250, x=2), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 5, [5], since=4)
        self.assert_unchanged(self.clip, before)

    def test_add_then_delete_of_a_frame_still_conflicts_with_its_add(self):
        self.ok(add(250, x=1), 4)
        self.ok(delete(250), 5)
        before = self.get_clip(self.clip)
        resp = self.send(add(250, x=2), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 6, [5, 6], since=4)
        self.assert_unchanged(self.clip, before)

    def test_insert_before_does_not_redirect_a_keyed_update(self):
        # keyframe 100 is at position 0 at version 4 and at position 1 after the add
        self.ok(add(50, x=-1), 4)
        body = self.ok(update(100, x=77), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)
        doc = self.assert_doc(self.model(add(50, x=-1), update(100, x=77)), 6)["data"]
        self.assertEqual(self.frame(doc, 50)["x"], -1)
        self.assertEqual(self.frame(doc, 100)["x"], 77)
        self.assertEqual(self.frame(doc, 200)["x"], 50)
        # the log holds the concrete patch as applied to the current document
        entry = self.entry(6)
        self.assertEqual([(op["op"], op["path"]) for op in entry["forward"]],
                         [("replace", "/crop_keyframes/1/x")], entry)

    def test_delete_and_reorder_do_not_redirect_a_keyed_update(self):
        self.ok(delete(100), 4)          # 200 moves to position 0
        self.ok(move(300, 10), 5)        # 300 becomes 10, at position 0
        body = self.ok(update(200, y=9), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5, 6], 7)
        doc = self.assert_doc(self.model(delete(100), move(300, 10), update(200, y=9)),
                              7)["data"]
        self.assertEqual(self.frames(doc), [10, 200])
        self.assertEqual(self.frame(doc, 200)["y"], 9)
        self.assertEqual(self.frame(doc, 10)["y"], 50)

    def test_trim_and_effect(self):
        self.ok(trim(1.0, 5.0), 4)
        body = self.ok(effect("brightness_boost"), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)
        resp = self.send(trim(2.0, 3.0), 4)
        check_merge_conflict(self, resp, 6, [5], since=4)
        resp = self.send(effect(None), 5)
        check_merge_conflict(self, resp, 6, [6], since=5)
        doc = self.get_clip(self.clip)["data"]
        self.assertEqual(doc["trim_range"], {"start": 1.0, "end": 5.0})
        self.assertEqual(doc["effect_type"], "brightness_boost")

    def test_stale_keyframe_edit_merges_over_trim(self):
        self.ok(trim(1.0, 5.0), 4)
        body = self.ok(update(300, height=1), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5], 6)

    def test_regions_created_from_one_version_both_apply(self):
        one = self.ok({"action": "create_region", "data": {"start_time": 0, "end_time": 1}},
                      4)
        two = self.ok({"action": "create_region", "data": {"start_time": 2, "end_time": 3}},
                      4, token=TOKEN_BOB)
        check_merged(self, two, 4, [5], 6)
        self.assertNotEqual(one["region_id"], two["region_id"])
        regions = self.get_clip(self.clip)["data"]["regions"]
        self.assertEqual([r["region_id"] for r in regions], [one["region_id"], two["region_id"]])

    def test_annotations_created_from_one_version_both_apply(self):
        body = {"start_time": 1, "end_time": 2, "name": "a"}
        one = self.ok({"action": "create_annotation", "data": body}, 4)
        two = self.ok({"action": "create_annotation", "data": dict(body, name="b")}, 4,
                      token=TOKEN_BOB)
        check_merged(self, two, 4, [5], 6)
        self.assertEqual((one["annotation_id"], two["annotation_id"]), (1, 2))
        anns = self.get_clip(self.clip)["data"]["annotations"]
        self.assertEqual([(a["annotation_id"], a["name"]) for a in anns], [(1, "a"), (2, "b")])


class Envelope(MergeCase):
    def test_without_on_conflict_a_stale_version_is_rejected_as_before(self):
        self.ok(trim(1.0, 2.0), 4)
        before = self.get_clip(self.clip)
        for on_conflict in (None, "reject"):
            with self.subTest(on_conflict=on_conflict):
                resp = self.send(update(300, x=1), 4, on_conflict=on_conflict)
                problem = assert_problem(resp, 409)
                self.assertEqual(problem["type"], STALE_VERSION, problem)
                self.assertEqual(problem["current_version"], 5)
                self.assertNotIn("conflicting_versions", problem)
                self.assertTrue(link_href(problem["links"]["missed_actions"]).endswith(
                    "/actions?since=4"), problem)
                self.assert_unchanged(self.clip, before)

    def test_reject_at_the_current_version_applies(self):
        body = self.ok(update(300, x=1), 4, on_conflict="reject")
        self.assertEqual(body["version"], 5)

    def test_merge_at_the_current_version_is_a_plain_apply(self):
        body = self.ok(update(300, x=1), 4)
        self.assertEqual(body["version"], 5)
        self.assertTrue(not_merged(body), body)
        self.assertTrue(not_merged(self.entry(5)), self.entry(5))

    def test_bad_on_conflict_values(self):
        for value in ("Merge", "", "theirs", True, 1, ["merge"], {"mode": "merge"}):
            with self.subTest(value=value):
                resp = self.send(update(300, x=1), 4, on_conflict=value)
                assert_problem(resp, 400, pointer="/on_conflict")
                resp = request("POST", f"/clips/{self.clip}/actions", body={
                    "expected_version": 4, "on_conflict": value,
                    "actions": [update(300, x=1)]})
                assert_problem(resp, 400, pointer="/on_conflict")
        self.assert_unchanged(self.clip, self.start)

    def test_bad_on_conflict_beats_a_stale_version(self):
        # a malformed body is a 400 before any version check (docs/api.md order)
        self.ok(trim(1.0, 2.0), 4)
        resp = self.send(update(300, x=1), 4, on_conflict="always")
        assert_problem(resp, 400, pointer="/on_conflict")

    def test_merge_never_reaches_into_the_future(self):
        resp = self.send(update(300, x=1), 9)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["current_version"], 4)
        self.assert_unchanged(self.clip, self.start)

    def test_merge_with_a_stale_if_match(self):
        self.ok(update(100, x=1), 4)
        body = self.ok(update(200, x=2), None, headers={"If-Match": etag(4)})
        check_merged(self, body, 4, [5], 6)
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=3), None, headers={"If-Match": etag(4)})
        check_merge_conflict(self, resp, 6, [5], since=4)
        self.assert_unchanged(self.clip, before)
        # and without merge, a stale If-Match is still 412
        resp = self.send(update(300, x=3), None, on_conflict=None,
                         headers={"If-Match": etag(4)})
        assert_problem(resp, 412)
        self.assert_unchanged(self.clip, before)

    def test_no_version_zero_slips_past_the_check(self):
        self.ok(update(100, x=1), 4)
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=2), 0)
        assert_problem(resp, 400, pointer="/expected_version")
        resp = self.send(update(100, x=2), None, headers={"If-Match": etag(0)})
        assert_problem(resp, 412)
        self.assert_unchanged(self.clip, before)

    def test_more_than_1000_versions_behind_is_refused(self):
        # docs/merge.md: a client more than 1000 versions behind is refused (409)
        version = 4
        for i in range(11):
            items = [effect(f"e{i}-{j}") for j in range(100)]
            resp = request("POST", f"/clips/{self.clip}/actions",
                           body={"expected_version": version, "actions": items})
            self.assertEqual(resp.status, 200, resp)
            version += 100
        self.assertEqual(version, 1104)
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=1), 1104 - 1001)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["current_version"], 1104)
        self.assert_unchanged(self.clip, before)
        body = self.ok(update(100, x=1), 1104 - 1000)
        check_merged(self, body, 104, list(range(105, 1105)), 1105)

    def test_merge_still_needs_a_precondition(self):
        resp = self.send(update(300, x=1), None)
        assert_problem(resp, 428)
        self.assert_unchanged(self.clip, self.start)

    def test_a_merged_action_still_fails_when_it_cannot_apply(self):
        # disjoint from what it missed, but keyframe 999 never existed: 422, no change
        self.ok(trim(1.0, 2.0), 4)
        before = self.get_clip(self.clip)
        resp = self.send(update(999, x=1), 4)
        assert_problem(resp, 422, pointer="/target/frame")
        self.assert_unchanged(self.clip, before)

    def test_idempotent_retry_of_a_merged_action(self):
        self.ok(trim(1.0, 2.0), 4)
        envelope = dict(update(300, x=5), id="0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
        first = self.ok(envelope, 4)
        check_merged(self, first, 4, [5], 6)
        again = self.send(envelope, 4)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body["version"], 6)
        self.assertEqual(len(self.log_entries(self.clip)), 6)


class Tags(MergeCase):
    def setUp(self):
        super().setUp()
        body = self.ok({"action": "create_annotation",
                        "data": {"start_time": 10, "end_time": 15, "name": "Play"}}, 4)
        self.ann = body["annotation_id"]
        self.base = 5

    def tag(self, tag, version, **kw):
        return self.send({"action": "add_tag", "target": {"annotation_id": self.ann},
                          "data": {"tag": tag}}, version, **kw)

    def tags(self):
        anns = self.get_clip(self.clip)["data"]["annotations"]
        return [a for a in anns if a["annotation_id"] == self.ann][0]["tags"]

    def test_add_tag_merges_without_being_asked(self):
        resp = self.tag("goal", 5, on_conflict=None, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        resp = self.tag("play", 5, on_conflict=None)
        self.assertEqual(resp.status, 200, resp)
        check_merged(self, resp.body, 5, [6], 7)
        self.assertEqual(self.tags(), ["goal", "play"])

    def test_the_same_tag_twice_from_one_version(self):
        self.assertEqual(self.tag("goal", 5, on_conflict=None).status, 200)
        resp = self.tag("goal", 5, on_conflict=None, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.tags(), ["goal"])

    def test_add_tag_over_unrelated_changes(self):
        self.ok({"action": "update_annotation", "target": {"annotation_id": self.ann},
                 "data": {"rating": 5}}, 5)
        self.ok(update(100, x=1), 6)
        resp = self.tag("goal", 5, on_conflict=None, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        check_merged(self, resp.body, 5, [6, 7], 8)
        self.assertEqual(self.tags(), ["goal"])

    def test_add_tag_conflicts_with_deleting_its_annotation(self):
        self.ok({"action": "delete_annotation", "target": {"annotation_id": self.ann}}, 5)
        before = self.get_clip(self.clip)
        resp = self.tag("goal", 5, on_conflict=None, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 6, [6], since=5)
        self.assert_unchanged(self.clip, before)

    def test_add_tag_conflicts_with_a_write_of_the_tags_array(self):
        # a JSON Patch replacing the tags array touches it (positional path: whole array
        # of annotations, which holds it)
        resp = request("PATCH", f"/clips/{self.clip}", body=[
            {"op": "replace", "path": "/annotations/0/tags", "value": ["x"]}],
            headers={"If-Match": etag(5)}, content_type="application/json-patch+json")
        self.assertEqual(resp.status, 200, resp)
        before = self.get_clip(self.clip)
        resp = self.tag("goal", 5, on_conflict=None, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 6, [6], since=5)
        self.assert_unchanged(self.clip, before)

    def test_a_batch_of_add_tags_merges_without_being_asked(self):
        self.assertEqual(self.tag("goal", 5, on_conflict=None).status, 200)      # 6
        tag = {"action": "add_tag", "target": {"annotation_id": self.ann}}
        resp = request("POST", f"/clips/{self.clip}/actions", body={
            "expected_version": 5, "actions": [dict(tag, data={"tag": "a"}),
                                              dict(tag, data={"tag": "b"})]},
            token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual((resp.body.get("based_on"), resp.body.get("merged_over")), (5, [6]))
        self.assertEqual(self.tags(), ["goal", "a", "b"])
        # one item that is not always-mergeable makes the batch strict again
        before = self.get_clip(self.clip)
        resp = request("POST", f"/clips/{self.clip}/actions", body={
            "expected_version": 5, "actions": [
                dict(tag, data={"tag": "c"}),
                {"action": "update_annotation", "target": {"annotation_id": self.ann},
                 "data": {"rating": 1}}]})
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["type"], STALE_VERSION, problem)
        self.assert_unchanged(self.clip, before)

    def test_deleting_an_annotation_over_a_tag_added_since_conflicts(self):
        self.assertEqual(self.tag("goal", 5, on_conflict=None).status, 200)      # 6
        before = self.get_clip(self.clip)
        resp = self.send({"action": "delete_annotation",
                          "target": {"annotation_id": self.ann}}, 5, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 6, [6], since=5)
        self.assert_unchanged(self.clip, before)
        # while renaming it does not
        body = self.ok({"action": "update_annotation", "target": {"annotation_id": self.ann},
                        "data": {"name": "Goal"}}, 5, token=TOKEN_BOB)
        check_merged(self, body, 5, [6], 7)

    def test_other_annotation_edits_are_not_always_mergeable(self):
        self.tag("goal", 5, on_conflict=None)
        resp = self.send({"action": "update_annotation", "target": {"annotation_id": self.ann},
                          "data": {"rating": 4}}, 5, on_conflict=None)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["type"], STALE_VERSION, problem)


class Transitions(ApiTestCase):
    def job(self):
        resp = request("POST", "/analysis_jobs", body={"access": BOB_EDITS})
        self.assertEqual(resp.status, 201, resp)
        return resp.body["id"]

    def send(self, job, envelope, token=None):
        kwargs = {} if token is None else {"token": token}
        return request("POST", f"/analysis_jobs/{job}/actions", body=envelope, **kwargs)

    def read(self, job):
        resp = request("GET", f"/analysis_jobs/{job}")
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def test_stale_transition_conflicts_with_a_transition_since(self):
        job = self.job()
        resp = self.send(job, {"action": "suspend", "expected_version": 1})
        self.assertEqual(resp.status, 200, resp)
        before = self.read(job)
        resp = self.send(job, {"action": "amend", "expected_version": 1,
                               "on_conflict": "merge"}, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 2, [2], since=1)
        after = self.read(job)
        self.assertEqual((after["version"], after["state"]), (2, "suspended"))
        self.assertEqual(after["data"], before["data"])

    def test_stale_transition_merges_over_a_document_edit(self):
        job = self.job()
        resp = self.send(job, {"action": "set_parameters", "expected_version": 1,
                               "data": {"parameters": {"k": 1}}})
        self.assertEqual(resp.status, 200, resp)
        resp = self.send(job, {"action": "suspend", "expected_version": 1,
                               "on_conflict": "merge"}, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        check_merged(self, resp.body, 1, [2], 3)
        job_now = self.read(job)
        self.assertEqual(job_now["state"], "suspended")
        self.assertEqual(job_now["data"]["parameters"], {"k": 1})

    def test_stale_document_edit_merges_over_a_transition(self):
        job = self.job()
        self.assertEqual(self.send(job, {"action": "start"}).status, 200)
        resp = self.send(job, {"action": "set_input", "expected_version": 1,
                               "data": {"input": "s3://x"}, "on_conflict": "merge"})
        self.assertEqual(resp.status, 200, resp)
        check_merged(self, resp.body, 1, [2], 3)
        self.assertEqual(self.read(job)["state"], "running")


class Patches(ApiTestCase):
    """PATCH has no envelope: ?on_conflict=merge asks for merging a stale If-Match."""

    INITIAL = {"a": [1, 2, 3], "b": {"c": 1}, "d": [10, 20], "e": 0}

    def setUp(self):
        resp = request("POST", "/documents", body={"data": self.INITIAL, "access": BOB_EDITS})
        self.assertEqual(resp.status, 201, resp)
        self.doc = resp.body["id"]

    def patch(self, ops, version, merge=True, kind="json-patch"):
        query = "?on_conflict=merge" if merge else ""
        return request("PATCH", f"/documents/{self.doc}{query}", body=ops,
                       headers={"If-Match": etag(version)},
                       content_type=f"application/{kind}+json")

    def patch_ok(self, ops, version, **kw):
        resp = self.patch(ops, version, **kw)
        self.assertEqual(resp.status, 200, f"{ops} at {version} -> {resp!r}")
        return resp

    def read(self):
        resp = request("GET", f"/documents/{self.doc}")
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def check_merged_patch(self, resp, based_on, merged_over, version):
        self.assertEqual(resp.header("ETag"), etag(version))
        self.assertEqual(resp.body.get("version"), version, resp)
        self.assertEqual(resp.body.get("based_on"), based_on, resp)
        self.assertEqual(resp.body.get("merged_over"), merged_over, resp)

    def assert_same(self, before):
        now = self.read()
        self.assertEqual((now["version"], now["data"]), (before["version"], before["data"]))

    def test_positional_paths_merge_only_when_their_array_was_untouched(self):
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 2}], 1, merge=False)  # 2
        resp = self.patch_ok([{"op": "replace", "path": "/a/1", "value": 9}], 1)        # 3
        self.check_merged_patch(resp, 1, [2], 3)
        resp = self.patch_ok([{"op": "add", "path": "/d/0", "value": 5}], 1)             # 4
        self.check_merged_patch(resp, 1, [2, 3], 4)
        before = self.read()
        self.assertEqual(before["data"], {"a": [1, 9, 3], "b": {"c": 2}, "d": [5, 10, 20],
                                          "e": 0})
        # another position of the same array: the whole array was touched at version 3
        resp = self.patch([{"op": "replace", "path": "/a/0", "value": 7}], 1)
        check_merge_conflict(self, resp, 4, [3], since=1)
        self.assert_same(before)
        # "-" is a position too
        resp = self.patch([{"op": "add", "path": "/d/-", "value": 30}], 2)
        check_merge_conflict(self, resp, 4, [4], since=2)
        self.assert_same(before)
        # a whole-array write conflicts with a positional one
        resp = self.patch([{"op": "replace", "path": "/a", "value": []}], 2)
        check_merge_conflict(self, resp, 4, [3], since=2)
        self.assert_same(before)

    def test_a_positional_path_conflicts_with_a_keyed_catalog_edit(self):
        resp = request("POST", "/clips", body={"access": BOB_EDITS})
        clip = resp.body["id"]
        for version, frame in ((1, 100), (2, 200)):
            r = request("POST", f"/clips/{clip}/actions", body={
                "action": "add_crop_keyframe", "data": kf(frame), "expected_version": version})
            self.assertEqual(r.status, 200, r)
        r = request("POST", f"/clips/{clip}/actions", body=dict(
            update(200, x=1), expected_version=3))
        self.assertEqual(r.status, 200, r)
        resp = request("PATCH", f"/clips/{clip}?on_conflict=merge", body=[
            {"op": "replace", "path": "/crop_keyframes/0/y", "value": 1}],
            headers={"If-Match": etag(3)}, content_type="application/json-patch+json")
        check_merge_conflict(self, resp, 4, [4], since=3)
        resp = request("PATCH", f"/clips/{clip}?on_conflict=merge", body=[
            {"op": "replace", "path": "/effect_type", "value": "sepia"}],
            headers={"If-Match": etag(3)}, content_type="application/json-patch+json")
        self.assertEqual(resp.status, 200, resp)
        self.check_merged_patch(resp, 3, [4], 5)

    def test_a_test_op_reading_a_changed_value_conflicts(self):
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 2}], 1, merge=False)
        before = self.read()
        resp = self.patch([{"op": "test", "path": "/b/c", "value": 1},
                           {"op": "replace", "path": "/e", "value": 1}], 1)
        check_merge_conflict(self, resp, 2, [2], since=1)
        self.assert_same(before)
        # a test of a value nobody changed is no obstacle
        resp = self.patch_ok([{"op": "test", "path": "/e", "value": 0},
                              {"op": "replace", "path": "/e", "value": 1}], 1)
        self.check_merged_patch(resp, 1, [2], 3)
        # copy reads its source: a copy from a changed value conflicts
        resp = self.patch([{"op": "copy", "from": "/b/c", "path": "/f"}], 1)
        check_merge_conflict(self, resp, 3, [2], since=1)

    def test_a_test_op_conflicts_even_when_the_value_came_back(self):
        # the read overlaps the writes since, whatever value they left
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 2}], 1, merge=False)  # 2
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 1}], 2, merge=False)  # 3
        before = self.read()
        resp = self.patch([{"op": "test", "path": "/b/c", "value": 1},
                           {"op": "replace", "path": "/e", "value": 1}], 1)
        check_merge_conflict(self, resp, 3, [2, 3], since=1)
        # reading the parent overlaps a write below it
        resp = self.patch([{"op": "test", "path": "/b", "value": {"c": 1}},
                           {"op": "replace", "path": "/e", "value": 1}], 1)
        check_merge_conflict(self, resp, 3, [2, 3], since=1)
        self.assert_same(before)

    def test_escaped_member_names_are_their_own_members(self):
        resp = request("POST", "/documents", body={"data": {"a": 1, "a/b": 2, "m~n": 3}, "access": BOB_EDITS})
        self.doc = resp.body["id"]
        self.patch_ok([{"op": "replace", "path": "/a", "value": 5}], 1, merge=False)    # 2
        resp = self.patch_ok([{"op": "replace", "path": "/a~1b", "value": 6}], 1)
        self.check_merged_patch(resp, 1, [2], 3)
        resp = self.patch_ok([{"op": "replace", "path": "/m~0n", "value": 7}], 2)
        self.check_merged_patch(resp, 2, [3], 4)
        self.assertEqual(self.read()["data"], {"a": 5, "a/b": 6, "m~n": 7})
        resp = self.patch([{"op": "replace", "path": "/a~1b", "value": 8}], 2)
        check_merge_conflict(self, resp, 4, [3], since=2)

    def test_numeric_member_names_of_objects_are_not_positions(self):
        # docs/merge.md: only a position into an array stands for the whole array; in
        # an object, "3" and "4" are two members like any others
        resp = request("POST", "/documents", body={"data": {"m": {"3": 0, "4": 0}}, "access": BOB_EDITS})
        self.doc = resp.body["id"]
        self.patch_ok([{"op": "replace", "path": "/m/3", "value": 1}], 1, merge=False)  # 2
        resp = self.patch([{"op": "replace", "path": "/m/4", "value": 2}], 1)
        self.assertEqual(resp.status, 200, resp)
        self.check_merged_patch(resp, 1, [2], 3)
        self.assertEqual(self.read()["data"], {"m": {"3": 1, "4": 2}})

    def test_move_writes_its_source(self):
        self.patch_ok([{"op": "move", "from": "/e", "path": "/g"}], 1, merge=False)    # 2
        resp = self.patch([{"op": "replace", "path": "/e", "value": 5}], 1)
        check_merge_conflict(self, resp, 2, [2], since=1)
        resp = self.patch([{"op": "add", "path": "/g", "value": 5}], 1)
        check_merge_conflict(self, resp, 2, [2], since=1)

    def test_merge_patch_touches_the_members_it_sets(self):
        self.patch_ok({"p": 1}, 1, merge=False, kind="merge-patch")                     # 2
        resp = self.patch_ok({"q": 2, "e": 3}, 1, kind="merge-patch")                   # 3
        self.check_merged_patch(resp, 1, [2], 3)
        self.assertEqual(self.read()["data"], dict(self.INITIAL, p=1, q=2, e=3))
        before = self.read()
        resp = self.patch({"p": 5}, 1, kind="merge-patch")
        check_merge_conflict(self, resp, 3, [2], since=1)
        # deleting a member (null) touches it too
        resp = self.patch({"e": None}, 2, kind="merge-patch")
        check_merge_conflict(self, resp, 3, [3], since=2)
        self.assert_same(before)

    def test_merge_patch_against_a_json_patch_below_a_member(self):
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 2}], 1, merge=False)  # 2
        before = self.read()
        resp = self.patch({"b": {"c": 5}}, 1, kind="merge-patch")
        check_merge_conflict(self, resp, 2, [2], since=1)
        resp = self.patch({"b": None}, 1, kind="merge-patch")
        check_merge_conflict(self, resp, 2, [2], since=1)
        self.assert_same(before)

    def test_merge_patch_nested_sibling_member_merges(self):
        # RFC 7396 merges {"b": {"z": 1}} into b: it sets b.z and leaves b.c alone
        self.patch_ok([{"op": "replace", "path": "/b/c", "value": 2}], 1, merge=False)  # 2
        resp = self.patch_ok({"b": {"z": 1}}, 1, kind="merge-patch")
        self.check_merged_patch(resp, 1, [2], 3)
        self.assertEqual(self.read()["data"]["b"], {"c": 2, "z": 1})

    def test_without_merge_a_stale_if_match_is_412(self):
        self.patch_ok([{"op": "replace", "path": "/e", "value": 1}], 1)
        before = self.read()
        assert_problem(self.patch([{"op": "replace", "path": "/b/c", "value": 9}], 1,
                                  merge=False), 412)
        resp = request("PATCH", f"/documents/{self.doc}?on_conflict=reject",
                       body=[{"op": "replace", "path": "/b/c", "value": 9}],
                       headers={"If-Match": etag(1)},
                       content_type="application/json-patch+json")
        assert_problem(resp, 412)
        self.assert_same(before)

    def test_bad_on_conflict_query(self):
        for query in ("?on_conflict=yes", "?on_conflict=", "?on_conflict=MERGE"):
            with self.subTest(query=query):
                resp = request("PATCH", f"/documents/{self.doc}{query}",
                               body=[{"op": "replace", "path": "/e", "value": 1}],
                               headers={"If-Match": etag(1)},
                               content_type="application/json-patch+json")
                assert_problem(resp, 400)
        self.assertEqual(self.read()["version"], 1)


class Log(MergeCase):
    def test_every_entry_has_touches_and_merged_ones_say_so(self):
        self.ok(add(50), 4)                                   # 5
        merged = self.ok(update(200, x=1), 4, token=TOKEN_BOB)  # 6, over 5
        check_merged(self, merged, 4, [5], 6)
        self.ok(trim(1.0, 2.0), 6)                            # 7
        entries = self.log_entries(self.clip)
        self.assertEqual([e["version"] for e in entries], list(range(1, 8)))
        for e in entries:
            with self.subTest(version=e["version"]):
                self.assertIn("touches", e)
                self.assertIsInstance(e["touches"], list, e)
                if e["version"] > 1:
                    self.assertTrue(e["touches"], e)
        for e in entries:
            if e["version"] != 6:
                self.assertTrue(not_merged(e), e)
        six = entries[5]
        self.assertEqual(six["based_on"], 4, six)
        self.assertEqual(six["merged_over"], [5], six)
        self.assertEqual(six["actor"], "bob")
        # touches are semantic: keyframe 200 by its frame and only the member set, not
        # its position (it sat at index 1 at version 4 and at index 2 when applied)
        text = json.dumps(six["touches"])
        self.assertIn("200", text)
        self.assertIn('"x"', text)
        for member in ("y", "width", "height", "trim_range", "effect_type"):
            self.assertNotIn(f'"{member}"', text)
        # an add names its new frame; the trim names trim_range only
        self.assertIn("50", json.dumps(entries[4]["touches"]))
        self.assertIn("trim_range", json.dumps(entries[6]["touches"]))
        self.assertNotIn("crop_keyframes", json.dumps(entries[6]["touches"]))

    def test_the_missed_actions_link_of_a_merge_conflict(self):
        self.ok(update(100, x=1), 4)
        self.ok(trim(1.0, 2.0), 5)
        resp = self.send(update(100, x=2), 4)
        problem = check_merge_conflict(self, resp, 6, [5], since=4)
        caught = request("GET", href(problem["links"]["missed_actions"]))
        self.assertEqual(caught.status, 200, caught)
        self.assertEqual([e["version"] for e in caught.body["entries"]], [5, 6])


class Batches(MergeCase):
    def batch(self, items, version, on_conflict="merge", token=None):
        body = {"expected_version": version, "actions": items}
        if on_conflict is not None:
            body["on_conflict"] = on_conflict
        kwargs = {} if token is None else {"token": token}
        return request("POST", f"/clips/{self.clip}/actions", body=body, **kwargs)

    def test_disjoint_batch_merges(self):
        self.ok(update(100, x=1), 4)                     # 5
        items = [update(200, x=2), add(250), trim(0.0, 9.0)]
        resp = self.batch(items, 4, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], 8)
        self.assertEqual(resp.body.get("based_on"), 4, resp)
        self.assertEqual(resp.body.get("merged_over"), [5], resp)
        expected = self.model(update(100, x=1), *items)
        self.assertEqual(resp.body["data"], expected)
        self.assert_doc(expected, 8)
        first = self.entry(6)
        self.assertEqual((first.get("based_on"), first.get("merged_over")), (4, [5]), first)

    def test_items_may_overlap_each_other(self):
        # a batch is one client's unit: only what it missed counts
        self.ok(trim(1.0, 2.0), 4)                      # 5
        items = [update(200, x=2), move(200, 210), update(210, y=3)]
        resp = self.batch(items, 4)
        self.assertEqual(resp.status, 200, resp)
        self.assert_doc(self.model(trim(1.0, 2.0), *items), 8)

    def test_overlap_in_any_item_refuses_the_whole_batch(self):
        self.ok(update(300, x=1), 4)                    # 5
        self.ok(effect("blur"), 5)                      # 6
        before = self.get_clip(self.clip)
        for bad in (0, 1, 2):
            items = [update(100, x=2), add(150), trim(0.0, 1.0)]
            items[bad] = move(300, 350) if bad != 2 else effect("sepia")
            with self.subTest(bad=bad):
                resp = self.batch(items, 4, token=TOKEN_BOB)
                check_merge_conflict(self, resp, 6, [6] if bad == 2 else [5], since=4)
                self.assert_unchanged(self.clip, before)

    def test_stale_batch_without_merge_is_rejected(self):
        self.ok(trim(1.0, 2.0), 4)
        before = self.get_clip(self.clip)
        resp = self.batch([update(200, x=2)], 4, on_conflict=None)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["type"], STALE_VERSION, problem)
        self.assert_unchanged(self.clip, before)


class Undo(MergeCase):
    def undo(self, version, token=None, **extra):
        kwargs = {} if token is None else {"token": token}
        body = dict({"action": "undo", "expected_version": version, "scope": "actor"}, **extra)
        return request("POST", f"/clips/{self.clip}/actions", body=body, **kwargs)

    def merged_edit(self):
        """Bob trims (5); alice, from 4, updates keyframe 100's x (6, merged)."""
        self.ok(trim(1.0, 2.0), 4, token=TOKEN_BOB)
        body = self.ok(update(100, x=11), 4)
        check_merged(self, body, 4, [5], 6)

    def test_undo_of_a_merged_action_refused_over_the_same_keyframe(self):
        self.merged_edit()
        self.ok(update(100, x=22), 6, token=TOKEN_BOB)  # 7
        before = self.get_clip(self.clip)
        resp = self.undo(7)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem.get("conflicting_version"), 7, problem)
        self.assert_unchanged(self.clip, before)

    def test_undo_of_a_merged_action_over_unrelated_changes(self):
        self.merged_edit()
        self.ok(effect("blur"), 6, token=TOKEN_BOB)     # 7
        resp = self.undo(7)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["reverts"], 6)
        doc = self.get_clip(self.clip)["data"]
        self.assertEqual(self.frame(doc, 100)["x"], 50)
        self.assertEqual(doc["trim_range"], {"start": 1.0, "end": 2.0})
        self.assertEqual(doc["effect_type"], "blur")

    def test_undo_entries_touch_the_paths_of_their_patches(self):
        self.ok(update(100, x=1), 4)                    # 5
        resp = self.undo(5)                             # 6, reverting 5
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(self.entry(6).get("touches"), self.entry(6))
        before = self.get_clip(self.clip)
        resp = self.send(update(100, x=2), 4, token=TOKEN_BOB)
        check_merge_conflict(self, resp, 6, [5, 6], since=4)
        self.assert_unchanged(self.clip, before)
        body = self.ok(trim(3.0, 4.0), 4, token=TOKEN_BOB)
        check_merged(self, body, 4, [5, 6], 7)

    def test_stale_undo_with_merge_over_a_disjoint_change(self):
        self.ok(update(100, x=1), 4)                          # 5, alice
        self.ok(trim(3.0, 4.0), 5, token=TOKEN_BOB)           # 6, bob
        resp = self.undo(5)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["type"], STALE_VERSION, problem)
        resp = self.undo(5, on_conflict="merge")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["reverts"], 5)
        check_merged(self, resp.body, 5, [6], 7)
        doc = self.get_clip(self.clip)["data"]
        self.assertEqual(self.frame(doc, 100)["x"], 50)
        self.assertEqual(doc["trim_range"], {"start": 3.0, "end": 4.0})

    def test_stale_undo_never_reverts_a_change_it_did_not_see(self):
        # alice saw version 5 (her change) and asks to undo; bob's 6 is now the top of
        # the resource's undo stack: undoing it would revert what alice never saw
        self.ok(update(100, x=1), 4)                          # 5, alice
        self.ok(update(100, x=2), 5, token=TOKEN_BOB)         # 6, bob
        before = self.get_clip(self.clip)
        resp = request("POST", f"/clips/{self.clip}/actions", body={
            "action": "undo", "expected_version": 5, "on_conflict": "merge"})
        assert_problem(resp, 409)
        self.assert_unchanged(self.clip, before)

    def test_stale_undo_of_a_transition_it_did_not_see(self):
        resp = request("POST", "/analysis_jobs", body={"access": BOB_EDITS})
        self.assertEqual(resp.status, 201, resp)
        job = resp.body["id"]
        resp = request("POST", f"/analysis_jobs/{job}/actions",
                       body={"action": "suspend", "expected_version": 1})   # 2, alice
        self.assertEqual(resp.status, 200, resp)
        resp = request("POST", f"/analysis_jobs/{job}/actions",
                       body={"action": "resume", "expected_version": 2},
                       token=TOKEN_BOB)                                    # 3, bob
        self.assertEqual(resp.status, 200, resp)
        # the top is bob's resume; undoing it would suspend the job again
        resp = request("POST", f"/analysis_jobs/{job}/actions", body={
            "action": "undo", "expected_version": 2, "on_conflict": "merge"})
        assert_problem(resp, 409)
        after = request("GET", f"/analysis_jobs/{job}").body
        self.assertEqual((after["version"], after["state"]), (3, "queued"))


if __name__ == "__main__":
    unittest.main()
