"""test_unchanged.py: a change that changes nothing writes nothing, on every route:
no version, no log entry; the answer is the usual one at the current version, with
"unchanged": true (or, for a 204, the current ETag). Once an empty PATCH or a move onto
itself each took a version and a log entry, so a client could fill the log with
requests that did nothing."""

import json
import unittest

from client import ApiTestCase, assert_problem, etag, request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class Unchanged(ApiTestCase):
    def document(self, data):
        resp = request("POST", "/documents", body={"data": data})
        self.assertEqual(resp.status, 201, resp)
        return f"/documents/{resp.body['id']}", resp.body["id"]

    def entries(self, path):
        resp = request("GET", f"{path}/actions")
        self.assertEqual(resp.status, 200, resp)
        return resp.body["entries"]

    def assert_unchanged(self, resp, path, version, body=True):
        if body:
            self.assertEqual(resp.status, 200, resp)
            self.assertIs(resp.body["unchanged"], True, resp.body)
            self.assertEqual(resp.body["version"], version)
        else:
            self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.header("ETag"), etag(version))
        self.assertEqual(request("GET", path).body["version"], version)
        self.assertEqual(len(self.entries(path)), version)

    def test_patches_that_change_nothing(self):
        path, _ = self.document({"a": {"b": 1}, "n": 1})
        for content_type, body in (
                (JSON_PATCH, []),
                (JSON_PATCH, [{"op": "move", "from": "/a", "path": "/a"}]),
                (JSON_PATCH, [{"op": "test", "path": "/n", "value": 1.0}]),
                (JSON_PATCH, [{"op": "replace", "path": "/a/b", "value": 1}]),
                (JSON_PATCH, [{"op": "copy", "from": "/n", "path": "/n"}]),
                (MERGE_PATCH, {"n": 1}),
                (MERGE_PATCH, {"absent": None})):
            with self.subTest(body=body):
                resp = request("PATCH", path, body=json.dumps(body).encode(),
                               content_type=content_type, headers={"If-Match": etag(1)})
                self.assert_unchanged(resp, path, 1)
                self.assertEqual(resp.body["data"], {"a": {"b": 1}, "n": 1})
        # the preconditions still hold for a change that would change nothing
        resp = request("PATCH", path, body=b"[]", content_type=JSON_PATCH,
                       headers={"If-Match": etag(7)})
        assert_problem(resp, 412)
        # and one that changes something takes the next version
        resp = request("PATCH", path, body=json.dumps({"n": 2}).encode(),
                       content_type=MERGE_PATCH, headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], 2)
        self.assertNotIn("unchanged", resp.body)

    def test_a_tag_already_there(self):
        clip, _ = self.create_clip()
        body = self.act_ok(clip, {"action": "create_annotation", "expected_version": 1,
                                  "data": {"start_time": 10, "end_time": 15, "name": "Play"}})
        tag = {"action": "add_tag", "target": {"annotation_id": body["annotation_id"]},
               "data": {"tag": "goal"}}
        self.assertEqual(self.act_ok(clip, tag)["version"], 3)
        again = self.act(clip, tag)
        self.assert_unchanged(again, f"/clips/{clip}", 3)

    def test_grants_that_change_nothing(self):
        path, rid = self.document({})
        share = {"data": {"actor": "bob", "role": "reader"}}
        resp = request("POST", f"{path}/share", body=share)
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.header("ETag"), etag(2))
        self.assert_unchanged(request("POST", f"{path}/share", body=share), path, 2, body=False)
        self.assert_unchanged(request("POST", f"{path}/unshare",
                                      body={"data": {"actor": "carol"}}), path, 2, body=False)


if __name__ == "__main__":
    unittest.main()
