"""test_history.py: undo and redo (docs/api.md, "Undo and redo"). Every kind of change
undoes back to the byte-identical document (canonical JSON) and redoes forward again; a
new change clears the redo stack; an actor-scoped undo refuses to overwrite someone
else's later change and goes ahead when they changed something else; history is only
appended."""

import json

from client import (BOB_EDITS, TOKEN_BOB, ApiTestCase, assert_problem, etag, link_href, request)


def canon(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


KEYFRAME = {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}


class History(ApiTestCase):
    def path(self, kind, rid, suffix=""):
        return f"/{kind}/{rid}{suffix}"

    def read(self, kind, rid):
        resp = request("GET", self.path(kind, rid))
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def undo(self, kind, rid, version, how="verb", token=None, scope=None, name="undo"):
        kwargs = {} if token is None else {"token": token}
        if how == "verb":
            body = {"expected_version": version}
            if scope:
                body["scope"] = scope
            return request("POST", self.path(kind, rid, f"/{name}"), body=body, **kwargs)
        body = {"action": name, "expected_version": version}
        if scope:
            body["scope"] = scope
        return request("POST", self.path(kind, rid, "/actions"), body=body, **kwargs)

    def undo_ok(self, kind, rid, version, **kw):
        resp = self.undo(kind, rid, version, **kw)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], version + 1, resp)
        self.assertEqual(resp.header("ETag"), etag(version + 1))
        return resp.body

    def round_trip(self, kind, rid, change, how="verb"):
        """Applies `change` (a function of the current version returning the new
        version), then undo restores the document, and redo re-applies it exactly."""
        before = self.read(kind, rid)
        version = change(before["version"])
        after = self.read(kind, rid)
        self.assertNotEqual(after["version"], before["version"])
        self.assertIn("undo", after["_links"])
        body = self.undo_ok(kind, rid, version, how=how)
        self.assertEqual(body["reverts"], version)
        undone = self.read(kind, rid)
        self.assertEqual(canon(undone["data"]), canon(before["data"]))
        self.assertEqual(undone.get("state"), before.get("state"))
        self.assertIn("redo", undone["_links"])
        self.undo_ok(kind, rid, version + 1, how=how, name="redo")
        redone = self.read(kind, rid)
        self.assertEqual(canon(redone["data"]), canon(after["data"]))
        self.assertEqual(redone.get("state"), after.get("state"))
        return version + 2

    def act_v(self, kind, rid, envelope, version, token=None):
        kwargs = {} if token is None else {"token": token}
        resp = request("POST", self.path(kind, rid, "/actions"),
                       body=dict(envelope, expected_version=version), **kwargs)
        self.assertEqual(resp.status, 200, f"{envelope} -> {resp!r}")
        return resp.body

    def new_clip_with_keyframe(self):
        clip_id, _ = self.create_clip({"access": BOB_EDITS})
        self.act_v("clips", clip_id, {"action": "add_crop_keyframe", "data": KEYFRAME}, 1)
        return clip_id

    def test_catalog_actions_round_trip(self):
        changes = [
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}},
            {"action": "move_crop_keyframe", "target": {"frame": 100},
             "data": {"new_frame": 120}},
            {"action": "add_crop_keyframe", "data": dict(KEYFRAME, frame=50)},
            {"action": "delete_crop_keyframe", "target": {"frame": 50}},
            {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}},
            {"action": "create_region", "data": {"start_time": 0, "end_time": 2.0}},
            {"action": "set_effect_type", "data": {"effect_type": "brightness_boost"}},
            {"action": "create_annotation",
             "data": {"start_time": 10, "end_time": 15, "name": "Play"}},
        ]
        for how in ("verb", "actions"):
            clip_id = self.new_clip_with_keyframe()
            for envelope in changes:
                with self.subTest(action=envelope["action"], how=how):
                    self.round_trip("clips", clip_id, lambda v, e=envelope: self.act_v(
                        "clips", clip_id, e, v)["version"], how=how)

    def test_add_tag_round_trip(self):
        clip_id, _ = self.create_clip()
        body = self.act_v("clips", clip_id, {"action": "create_annotation", "data": {
            "start_time": 10, "end_time": 15, "name": "Play"}}, 1)
        ann = body["annotation_id"]
        self.round_trip("clips", clip_id, lambda v: self.act_v("clips", clip_id, {
            "action": "add_tag", "target": {"annotation_id": ann},
            "data": {"tag": "goal"}}, v)["version"])

    def test_json_patch_and_merge_patch_round_trip(self):
        resp = request("POST", "/documents", body={"data": {"a": [1, 2, 3], "b": {"c": 1}}})
        self.assertEqual(resp.status, 201, resp)
        doc_id = resp.body["id"]

        def json_patch(version):
            r = request("PATCH", f"/documents/{doc_id}", body=[
                {"op": "add", "path": "/a/1", "value": 9},
                {"op": "remove", "path": "/b/c"},
                {"op": "move", "from": "/a/0", "path": "/moved"}],
                headers={"If-Match": etag(version)},
                content_type="application/json-patch+json")
            self.assertEqual(r.status, 200, r)
            return r.body["version"]

        def merge_patch(version):
            r = request("PATCH", f"/documents/{doc_id}", body={"b": None, "n": {"x": 1}},
                        headers={"If-Match": etag(version)},
                        content_type="application/merge-patch+json")
            self.assertEqual(r.status, 200, r)
            return r.body["version"]

        self.round_trip("documents", doc_id, json_patch)
        self.round_trip("documents", doc_id, merge_patch)

    def test_a_from_member_the_operation_does_not_define_is_ignored(self):
        """RFC 6902 section 4: "from" on an add means nothing, even null; the patch is
        applied, logged, undone and redone like any other (a null "from" once crashed
        the worker when it recorded what the patch touched)."""
        resp = request("POST", "/documents", body={"data": {"a": 1}})
        self.assertEqual(resp.status, 201, resp)
        doc_id = resp.body["id"]

        def json_patch(version):
            r = request("PATCH", f"/documents/{doc_id}", body=[
                {"op": "add", "path": "/x", "value": 1, "from": None},
                {"op": "remove", "path": "/a", "from": "/nowhere"}],
                headers={"If-Match": etag(version)},
                content_type="application/json-patch+json")
            self.assertEqual(r.status, 200, r)
            return r.body["version"]

        self.round_trip("documents", doc_id, json_patch)
        self.assertEqual(self.read("documents", doc_id)["data"], {"x": 1})

    def test_batch_undoes_as_one_unit(self):
        clip_id = self.new_clip_with_keyframe()
        before = self.read("clips", clip_id)
        resp = request("POST", f"/clips/{clip_id}/actions", body={
            "expected_version": 2, "actions": [
                {"action": "update_crop_keyframe", "target": {"frame": 100},
                 "data": {"x": 1}},
                {"action": "add_crop_keyframe", "data": dict(KEYFRAME, frame=200)},
                {"action": "set_trim_range", "data": {"start": 0.5, "end": 3.0}}]})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], 5)
        body = self.undo_ok("clips", clip_id, 5)
        self.assertEqual(body["version"], 6)
        self.assertEqual(canon(self.read("clips", clip_id)["data"]), canon(before["data"]))
        self.undo_ok("clips", clip_id, 6, name="redo")
        self.assertEqual(self.read("clips", clip_id)["data"], resp.body["data"])

    def test_transition_round_trip_and_refusal(self):
        resp = request("POST", "/analysis_jobs")
        self.assertEqual(resp.status, 201, resp)
        job = resp.body["id"]
        state = resp.body["state"]

        def suspend(version):
            r = request("POST", f"/analysis_jobs/{job}/suspend")
            self.assertEqual(r.status, 204, r)
            return int(r.header("ETag").strip('"'))

        self.assertEqual(state, "queued")
        version = self.round_trip("analysis_jobs", job, suspend)
        self.assertEqual(self.read("analysis_jobs", job)["state"], "suspended")
        # from suspended, an undo would need suspended -> queued, which resume is; but
        # once running, undoing "start" would need running -> queued: not in the catalog
        r = request("POST", f"/analysis_jobs/{job}/resume")
        self.assertEqual(r.status, 204, r)
        r = request("POST", f"/analysis_jobs/{job}/start")
        self.assertEqual(r.status, 204, r)
        version = int(r.header("ETag").strip('"'))
        before = self.read("analysis_jobs", job)
        resp = self.undo("analysis_jobs", job, version)
        problem = assert_problem(resp, 409)
        self.assertIn("running", problem["detail"])
        self.assertEqual(self.read("analysis_jobs", job)["version"], before["version"])

    def test_new_action_clears_redo(self):
        clip_id = self.new_clip_with_keyframe()
        self.undo_ok("clips", clip_id, 2)
        self.act_v("clips", clip_id, {"action": "set_trim_range",
                                      "data": {"start": 1.0, "end": 2.0}}, 3)
        resp = self.undo("clips", clip_id, 4, name="redo")
        problem = assert_problem(resp, 409)
        self.assertIn("nothing to redo", problem["detail"])
        self.assertNotIn("redo", self.read("clips", clip_id)["_links"])

    def test_repeated_undo_walks_back_and_stops(self):
        clip_id = self.new_clip_with_keyframe()
        for x, version in ((1, 2), (2, 3)):
            self.act_v("clips", clip_id, {"action": "update_crop_keyframe",
                                          "target": {"frame": 100}, "data": {"x": x}},
                       version)
        self.assertEqual(self.undo_ok("clips", clip_id, 4)["reverts"], 4)
        self.assertEqual(self.undo_ok("clips", clip_id, 5)["reverts"], 3)
        self.assertEqual(self.undo_ok("clips", clip_id, 6)["reverts"], 2)
        doc = self.read("clips", clip_id)
        self.assertEqual(doc["data"]["crop_keyframes"], [])
        resp = self.undo("clips", clip_id, 7)
        problem = assert_problem(resp, 409)
        self.assertIn("nothing to undo", problem["detail"])
        self.assertNotIn("undo", doc["_links"])
        # redo walks forward in the opposite order
        self.assertEqual(self.undo_ok("clips", clip_id, 7, name="redo")["reverts"], 7)
        self.assertEqual(self.undo_ok("clips", clip_id, 8, name="redo")["reverts"], 6)
        self.assertEqual(self.keyframes(self.read("clips", clip_id)["data"])[0]["x"], 1)

    def test_undo_needs_a_precondition_and_checks_it(self):
        clip_id = self.new_clip_with_keyframe()
        resp = request("POST", f"/clips/{clip_id}/undo")
        assert_problem(resp, 428)
        resp = self.undo("clips", clip_id, 1)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["current_version"], 2)
        resp = request("POST", f"/clips/{clip_id}/undo", headers={"If-Match": etag(2)})
        self.assertEqual(resp.status, 200, resp)
        resp = self.undo("clips", clip_id, 3, how="actions", scope="everyone")
        assert_problem(resp, 400, pointer="/scope")

    def test_history_is_appended_never_rewritten(self):
        clip_id = self.new_clip_with_keyframe()
        self.undo_ok("clips", clip_id, 2)
        self.undo_ok("clips", clip_id, 3, name="redo")
        entries = self.log_entries(clip_id)
        self.assertEqual([e["version"] for e in entries], [1, 2, 3, 4])
        self.assertEqual([e["action"] for e in entries],
                         ["create", "add_crop_keyframe", "undo", "redo"])
        self.assertEqual(entries[2]["reverts"], 2)
        self.assertEqual(entries[3]["reverts"], 3)
        self.assertEqual(entries[2]["forward"], entries[1]["inverse"])

    def test_actor_scoped_undo_refused_over_someone_elses_change(self):
        clip_id = self.new_clip_with_keyframe()
        self.act_v("clips", clip_id, {"action": "update_crop_keyframe",
                                      "target": {"frame": 100}, "data": {"x": 1}}, 2)
        self.act_v("clips", clip_id, {"action": "update_crop_keyframe",
                                      "target": {"frame": 100}, "data": {"x": 2}}, 3,
                   token=TOKEN_BOB)
        before = self.read("clips", clip_id)
        resp = self.undo("clips", clip_id, 4, how="actions", scope="actor")
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["conflicting_version"], 4)
        self.assertIn("bob", problem["detail"])
        self.assertTrue(link_href(problem["links"]["conflicting_entry"]))
        after = self.read("clips", clip_id)
        self.assertEqual(after["version"], before["version"])
        self.assertEqual(after["data"], before["data"])

    def test_actor_scoped_undo_allowed_over_unrelated_change(self):
        clip_id = self.new_clip_with_keyframe()
        self.act_v("clips", clip_id, {"action": "update_crop_keyframe",
                                      "target": {"frame": 100}, "data": {"x": 1}}, 2)
        self.act_v("clips", clip_id, {"action": "set_trim_range",
                                      "data": {"start": 1.0, "end": 4.0}}, 3,
                   token=TOKEN_BOB)
        body = self.undo_ok("clips", clip_id, 4, how="actions", scope="actor")
        self.assertEqual(body["reverts"], 3)
        doc = self.read("clips", clip_id)["data"]
        self.assertEqual(self.keyframes(doc)[0]["x"], 50)
        self.assertEqual(doc["trim_range"], {"start": 1.0, "end": 4.0})
        # bob's change is still his to undo, and a plain undo now reverts it
        body = self.undo_ok("clips", clip_id, 5, token=TOKEN_BOB, scope="actor")
        self.assertEqual(body["reverts"], 4)
        resp = self.undo("clips", clip_id, 6, how="actions", scope="actor")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["reverts"], 2)
        self.assertEqual(self.keyframes(self.read("clips", clip_id)["data"]), [])
