"""test_stories.py: the accidents this API makes impossible (README.md, "Why"), told as
the stories they are, on the shipped types. The stale tab (on an article) ends in 409
or 412 for the tab, whatever way it tries to save, and the text written on the other
device survives; two users saving one description never overwrite each other
silently; two components of one page editing their own slices of one clip both keep
their edits."""

from client import BOB_EDITS, TOKEN_BOB, ApiTestCase, assert_problem, etag, request

HOURS_OF_WORK = ["Chapter one.", "Chapter one. Chapter two.",
                 "Chapter one. Chapter two. Chapter three, the long one."]


class StaleTab(ApiTestCase):
    def setUp(self):
        resp = request("POST", "/articles", body={"data": {"title": "Draft", "body": ""}})
        self.assertEqual(resp.status, 201, resp)
        self.id = resp.body["id"]
        self.tab_version = 1  # the old tab loaded the empty article and keeps it
        version = 1
        for text in HOURS_OF_WORK:  # meanwhile, on another device
            resp = request("POST", f"/articles/{self.id}/actions", body={
                "action": "set_body", "data": {"body": text}, "expected_version": version})
            self.assertEqual(resp.status, 200, resp)
            version = resp.body["version"]
        self.version = version

    def assert_text_survives(self):
        resp = request("GET", f"/articles/{self.id}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["data"]["body"], HOURS_OF_WORK[-1])
        self.assertEqual(resp.body["version"], self.version)

    def test_autosave_with_its_version_is_409(self):
        resp = request("POST", f"/articles/{self.id}/actions", body={
            "action": "set_body", "data": {"body": ""}, "expected_version": self.tab_version})
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["current_version"], self.version)
        self.assert_text_survives()

    def test_autosave_with_if_match_is_412(self):
        resp = request("POST", f"/articles/{self.id}/actions",
                       body={"action": "set_body", "data": {"body": ""}},
                       headers={"If-Match": etag(self.tab_version)})
        assert_problem(resp, 412)
        self.assert_text_survives()

    def test_autosave_without_a_version_is_428(self):
        resp = request("POST", f"/articles/{self.id}/actions",
                       body={"action": "set_body", "data": {"body": ""}})
        assert_problem(resp, 428)
        resp = request("POST", f"/articles/{self.id}/actions",
                       body={"action": "set_body", "data": {"body": ""}},
                       headers={"If-Match": "*"})
        assert_problem(resp, 428)
        self.assert_text_survives()

    def test_whole_document_saves_are_412(self):
        stale = {"If-Match": etag(self.tab_version)}
        resp = request("PATCH", f"/articles/{self.id}", headers=stale,
                       body=[{"op": "replace", "path": "", "value": {"title": "Draft",
                                                                     "body": ""}}],
                       content_type="application/json-patch+json")
        assert_problem(resp, 412)
        resp = request("PATCH", f"/articles/{self.id}", headers=stale, body={"body": ""},
                       content_type="application/merge-patch+json")
        assert_problem(resp, 412)
        self.assert_text_survives()

    def test_asking_to_merge_does_not_let_it_through(self):
        resp = request("POST", f"/articles/{self.id}/actions", body={
            "action": "set_body", "data": {"body": ""}, "expected_version": self.tab_version,
            "on_conflict": "merge"})
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["conflicting_versions"], [2, 3, 4])
        resp = request("PATCH", f"/articles/{self.id}?on_conflict=merge",
                       headers={"If-Match": etag(self.tab_version)}, body={"body": ""},
                       content_type="application/merge-patch+json")
        assert_problem(resp, 409)
        self.assert_text_survives()


class TwoUsersOneDescription(ApiTestCase):
    def test_the_second_save_is_told(self):
        resp = request("POST", "/articles", body={"data": {"title": "Clip", "body": "old"},
                                                  "access": BOB_EDITS})
        article = resp.body["id"]
        alice = request("POST", f"/articles/{article}/actions", body={
            "action": "set_body", "data": {"body": "alice's words"}, "expected_version": 1})
        self.assertEqual(alice.status, 200, alice)
        bob = request("POST", f"/articles/{article}/actions", token=TOKEN_BOB, body={
            "action": "set_body", "data": {"body": "bob's words"}, "expected_version": 1})
        problem = assert_problem(bob, 409)
        self.assertTrue(problem["links"]["missed_actions"]["href"].endswith(
            f"/articles/{article}/actions?since=1"))
        self.assertEqual(request("GET", f"/articles/{article}").body["data"]["body"],
                         "alice's words")


class TwoComponentsOnePage(ApiTestCase):
    def test_each_keeps_its_slice(self):
        """The keyframe editor and the trim bar of one page both loaded version 1."""
        clip_id, _ = self.create_clip()
        crop = request("POST", f"/clips/{clip_id}/actions", body={
            "action": "add_crop_keyframe", "expected_version": 1, "on_conflict": "merge",
            "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}})
        self.assertEqual(crop.status, 200, crop)
        trim = request("POST", f"/clips/{clip_id}/actions", body={
            "action": "set_trim_range", "expected_version": 1, "on_conflict": "merge",
            "data": {"start": 1.0, "end": 5.0}})
        self.assertEqual(trim.status, 200, trim)
        self.assertEqual(trim.body["merged_over"], [2])
        doc = self.get_clip(clip_id)["data"]
        self.assertEqual([k["frame"] for k in doc["crop_keyframes"]], [100])
        self.assertEqual(doc["trim_range"], {"start": 1.0, "end": 5.0})
