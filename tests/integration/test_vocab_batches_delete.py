"""test_vocab_batches_delete.py: batches, deletion and listing.

A batch {"expected_version": V, "actions": [...]} applies its items in order, each
taking one version, and either all of them or none; a failure answers failed_index and
a pointer under /actions/<i>, and changes nothing. DELETE needs If-Match (428 without), answers 204, is
logged; afterwards reads answer 410 and so do actions. GET /{type} pages with limit and
after, and never lists a deleted resource."""

import unittest

from client import MOUNT, href, link_href
from vocab_util import VocabTestCase, assert_problem, etag, request

KEYFRAME = {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}


def add_crop(frame, **values):
    return {"action": "add_crop_keyframe", "data": dict(KEYFRAME, frame=frame, **values)}


class Batches(VocabTestCase):
    def setUp(self):
        clip = self.create("clips", with_data=False)
        self.clip_id = clip["id"]
        self.send_ok("clips", self.clip_id, dict(add_crop(100), expected_version=1))
        self.before = self.read("clips", self.clip_id)
        self.version = self.before["version"]

    def batch(self, actions, expected_version="current", **extra):
        body = {"actions": actions, **extra}
        if expected_version == "current":
            body["expected_version"] = self.version
        elif expected_version is not None:
            body["expected_version"] = expected_version
        return self.send("clips", self.clip_id, body)

    def refuse(self, actions, status, index, pointer=None, **kwargs):
        problem = assert_problem(self.batch(actions, **kwargs), status, pointer)
        if index is not None:
            self.assertEqual(problem.get("failed_index"), index, problem)
            self.assertTrue(problem.get("pointer", f"/actions/{index}").startswith(
                f"/actions/{index}"), problem)
        self.assert_same("clips", self.clip_id, self.before)
        return problem

    def test_all_applied_one_version_each(self):
        actions = [
            add_crop(50),
            {"action": "update_crop_keyframe", "target": {"frame": 50}, "data": {"x": 1}},
            {"action": "move_crop_keyframe", "target": {"frame": 100},
             "data": {"new_frame": 10}},
            {"action": "create_region", "data": {"start_time": 0, "end_time": 1}},
            {"action": "create_annotation", "data": {"start_time": 1, "end_time": 2,
                                                     "name": "n"}},
        ]
        resp = self.batch(actions)
        self.assertEqual(resp.status, 200, resp)
        body = resp.body
        v = self.version
        self.assertIs(body["success"], True)
        self.assertEqual(body["version"], v + len(actions))
        self.assertEqual(resp.header("ETag"), etag(v + len(actions)))
        results = body["results"]
        self.assertEqual([r["action"] for r in results], [a["action"] for a in actions])
        self.assertEqual([r["version"] for r in results], list(range(v + 1, v + 6)))
        self.assertIsInstance(results[3].get("region_id"), str, results[3])
        self.assertIsNotNone(results[4].get("annotation_id"), results[4])
        doc = self.read("clips", self.clip_id)["data"]
        self.assertEqual(body["data"], doc)
        self.assertEqual([k["frame"] for k in doc["crop_keyframes"]], [10, 50])
        self.assertEqual(doc["crop_keyframes"][1]["x"], 1)
        self.assertEqual(doc["regions"][0]["region_id"], results[3]["region_id"])
        entries = self.log("clips", self.clip_id, since=v)
        self.assertEqual([e["version"] for e in entries], list(range(v + 1, v + 6)))
        self.assertEqual([e["action"] for e in entries], [a["action"] for a in actions])
        self.assertEqual(entries[1]["target"], {"frame": 50})
        self.assertEqual(len({e["applied_at"] for e in entries}), 1, "one transaction")

    def test_a_failure_names_its_index_and_changes_nothing(self):
        good = add_crop(50)
        cases = [
            # (actions, status, failed index, pointer)
            ([good, {"action": "update_crop_keyframe", "target": {"frame": 7},
                     "data": {"x": 1}}], 422, 1, "/actions/1/target/frame"),
            ([good, good], 422, 1, "/actions/1/data/frame"),
            ([add_crop(100)], 422, 0, "/actions/0/data/frame"),
            ([good, add_crop(60), {"action": "update_crop_keyframe",
                                   "target": {"frame": "60"}, "data": {"x": 1}}],
             400, 2, "/actions/2/target/frame"),
            ([good, {"action": "add_crop_keyframes", "data": KEYFRAME}], 404, 1,
             "/actions/1/action"),
            ([good, {"action": "delete_region", "target": {"region_id": "xxx"}}], 422, 1,
             "/actions/1/target/region_id"),
            ([good, {"action": "delete_crop_keyframe", "target": {"frame": 50}},
              {"action": "delete_crop_keyframe", "target": {"frame": 50}}], 422, 2,
             "/actions/2/target/frame"),
        ]
        for actions, status, index, pointer in cases:
            with self.subTest(actions=actions):
                self.refuse(actions, status, index, pointer)

    def test_the_unknown_action_lists_what_is_allowed(self):
        problem = self.refuse([add_crop(50), {"action": "nope"}], 404, 1, "/actions/1/action")
        self.assertIn("add_crop_keyframe", problem["allowed_actions"])
        self.assertIn("add_crop_keyframe", problem["links"])

    def test_later_actions_see_the_earlier_ones(self):
        body = self.send_ok("clips", self.clip_id, {
            "expected_version": self.version,
            "actions": [{"action": "create_annotation",
                         "data": {"start_time": 0, "end_time": 1, "name": "a"}},
                        {"action": "update_annotation", "target": {"annotation_id": 1},
                         "data": {"rating": 3}},
                        {"action": "add_tag", "target": {"annotation_id": 1},
                         "data": {"tag": "t"}}]})
        note = body["data"]["annotations"][0]
        self.assertEqual((note["rating"], note["tags"]), (3, ["t"]))

    def test_preconditions(self):
        actions = [add_crop(50)]
        p = self.refuse(actions, 428, None, expected_version=None)
        self.assertEqual(p.get("current_version"), self.version)
        p = self.refuse(actions, 409, None, expected_version=self.version - 1)
        self.assertEqual(p.get("current_version"), self.version)
        resp = self.send("clips", self.clip_id, {"actions": actions},
                         headers={"If-Match": etag(self.version - 1)})
        assert_problem(resp, 412)
        resp = self.send("clips", self.clip_id, {"actions": actions},
                         headers={"If-Match": etag(self.version)})
        self.assertEqual(resp.status, 200, resp)

    def test_a_batch_of_commutative_actions_needs_no_precondition(self):
        self.send_ok("clips", self.clip_id, {
            "expected_version": self.version,
            "actions": [{"action": "create_annotation",
                         "data": {"start_time": 0, "end_time": 1, "name": "a"}}]})
        tag = {"action": "add_tag", "target": {"annotation_id": 1}}
        body = self.send_ok("clips", self.clip_id, {
            "actions": [dict(tag, data={"tag": "x"}), dict(tag, data={"tag": "y"})]})
        self.assertEqual(body["data"]["annotations"][0]["tags"], ["x", "y"])

    def test_one_item_needing_a_precondition_makes_the_batch_need_one(self):
        self.send_ok("clips", self.clip_id, {
            "expected_version": self.version,
            "actions": [{"action": "create_annotation",
                         "data": {"start_time": 0, "end_time": 1, "name": "a"}}]})
        self.before = self.read("clips", self.clip_id)
        self.refuse([{"action": "add_tag", "target": {"annotation_id": 1},
                      "data": {"tag": "x"}}, add_crop(5)], 428, None, expected_version=None)

    def test_a_batch_of_the_largest_size(self):
        actions = [add_crop(1000 + i) for i in range(100)]
        resp = self.batch(actions)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], self.version + 100)
        self.assertEqual(len(resp.body["results"]), 100)
        self.assertEqual(len(self.log("clips", self.clip_id)), self.version + 100)

    def test_malformed_batches(self):
        cases = [
            ([], "/actions"),
            ([add_crop(1 + i) for i in range(101)], "/actions"),
            ([dict(add_crop(50), expected_version=2)], "/actions/0/expected_version"),
            ([add_crop(50), "add_crop_keyframe"], "/actions/1"),
            ([add_crop(50), {"data": KEYFRAME}], "/actions/1/action"),
        ]
        for actions, pointer in cases:
            with self.subTest(pointer=pointer, n=len(actions)):
                self.refuse(actions, 400, None, pointer)
        resp = self.send("clips", self.clip_id, {"actions": add_crop(50),
                                                 "expected_version": self.version})
        assert_problem(resp, 400, "/actions")
        resp = self.send("clips", self.clip_id, {"actions": [add_crop(50)], "action": "x",
                                                 "expected_version": self.version})
        assert_problem(resp, 400)
        self.assert_same("clips", self.clip_id, self.before)

    def test_a_keyed_batch_is_applied_once(self):
        body = {"actions": [add_crop(50), add_crop(60)], "expected_version": self.version,
                "id": f"batch-{self.clip_id}"}
        first = self.send("clips", self.clip_id, body)
        self.assertEqual(first.status, 200, first)
        again = self.send("clips", self.clip_id, body)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.raw, first.raw)
        self.assertEqual(self.read("clips", self.clip_id)["version"], self.version + 2)

    def test_a_batch_of_transitions(self):
        job = self.create("analysis_jobs", with_data=False)
        body = self.send_ok("analysis_jobs", job["id"], {
            "actions": [{"action": "suspend"}, {"action": "resume"}, {"action": "start"}]})
        self.assertEqual((body["version"], body["state"]), (4, "running"))
        before = self.read("analysis_jobs", job["id"])
        resp = self.send("analysis_jobs", job["id"], {
            "actions": [{"action": "suspend"}, {"action": "suspend"}]})
        problem = assert_problem(resp, 409)
        self.assertEqual(problem.get("failed_index"), 1, problem)
        self.assert_same("analysis_jobs", job["id"], before)


class Delete(VocabTestCase):
    def setUp(self):
        self.doc = self.create("articles", {"title": "t", "body": "b"})
        self.id = self.doc["id"]
        self.url = f"/articles/{self.id}"

    def delete(self, headers=None, token=None):
        kwargs = {} if token is None else {"token": token}
        return request("DELETE", self.url, headers=headers, **kwargs)

    def test_needs_if_match(self):
        p = assert_problem(self.delete(), 428)
        self.assertEqual(p.get("current_version"), 1)
        assert_problem(self.delete({"If-Match": "*"}), 428)
        assert_problem(self.delete({"If-Match": etag(2)}), 412)
        assert_problem(self.delete({"If-Match": 'W/"1"'}), 412)
        self.assert_same("articles", self.id, self.doc)

    def test_204_logged_then_gone(self):
        resp = self.delete({"If-Match": etag(1)})
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.raw, b"")
        self.assertIn("no-store", resp.header("Cache-Control") or "")
        entries = self.log("articles", self.id)
        self.assertEqual([e["version"] for e in entries], [1, 2])
        self.assertEqual(entries[1]["action"], "delete")
        self.assertEqual(entries[1]["actor"], "alice")
        # reads and every change answer 410
        assert_problem(request("GET", self.url), 410)
        self.assertEqual(request("HEAD", self.url).status, 410)
        assert_problem(request("GET", self.url, headers={"If-None-Match": etag(1)}), 410)
        assert_problem(self.send("articles", self.id, {"action": "set_title",
                                                       "data": {"title": "x"},
                                                       "expected_version": 2}), 410)
        assert_problem(self.send("articles", self.id, {"action": "set_titles",
                                                       "expected_version": 2}), 410)
        assert_problem(self.patch("articles", self.id, {"title": "x"},
                                  content_type="application/merge-patch+json", version=2), 410)
        assert_problem(self.delete({"If-Match": etag(2)}), 410)
        assert_problem(request("POST", f"{self.url}/undo", body={"expected_version": 2}), 410)
        # the history stays readable and nothing was appended by the refusals
        self.assertEqual(len(self.log("articles", self.id)), 2)

    def test_a_keyed_delete_is_replayed(self):
        headers = {"If-Match": etag(1), "Idempotency-Key": f'"delete-{self.id}"'}
        first = self.delete(headers)
        self.assertEqual(first.status, 204, first)
        again = self.delete(headers)
        self.assertEqual(again.status, 204, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.log("articles", self.id)), 2)

    def test_delete_of_a_missing_resource(self):
        assert_problem(request("DELETE", "/articles/999999999", headers={"If-Match": etag(1)}),
                       404)

    def test_delete_after_changes(self):
        self.send_ok("articles", self.id, {"action": "set_body", "data": {"body": "c"},
                                           "expected_version": 1})
        assert_problem(self.delete({"If-Match": etag(1)}), 412)
        resp = self.delete({"If-Match": etag(2)})
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.header("ETag"), etag(3))


class Listing(VocabTestCase):
    TYPE = "articles"

    def make(self, n):
        return [self.create(self.TYPE, {"title": f"list {i}", "body": ""})["id"]
                for i in range(n)]

    def pages(self, limit, after):
        """Follows _links.next from ?limit&after; returns the pages of ids."""
        url = f"/{self.TYPE}?limit={limit}&after={after}"
        pages = []
        for _ in range(1000):
            resp = request("GET", url)
            self.assertEqual(resp.status, 200, resp)
            self.assertIn("no-cache", resp.header("Cache-Control") or "")
            items = resp.body["items"]
            self.assertLessEqual(len(items), limit)
            pages.append([i["id"] for i in items])
            for item in items:
                self.assertEqual(item["type"], self.TYPE)
                self.assertEqual(item["_links"]["self"]["href"],
                                 f"{MOUNT}/{self.TYPE}/{item['id']}")
                self.assertIn("version", item)
                self.assertIn("data", item)
            nxt = link_href(resp.body["_links"].get("next"))
            if len(items) < limit:
                self.assertIsNone(nxt, resp.body["_links"])
            if not nxt:
                return pages
            url = href(nxt)
        self.fail("too many pages")

    def test_paging_covers_every_live_resource_once_in_order(self):
        ids = self.make(7)
        gone = [ids[1], ids[4]]
        for i in gone:
            resp = request("DELETE", f"/{self.TYPE}/{i}", headers={"If-Match": etag(1)})
            self.assertEqual(resp.status, 204, resp)
        pages = self.pages(limit=2, after=ids[0] - 1)
        seen = [i for page in pages for i in page]
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        mine = [i for i in seen if i in ids]
        self.assertEqual(mine, [i for i in ids if i not in gone])
        for page in pages[:-1]:
            self.assertEqual(len(page), 2)

    def test_after_starts_past_the_given_id(self):
        ids = self.make(3)
        resp = request("GET", f"/{self.TYPE}?limit=2&after={ids[0]}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual([i["id"] for i in resp.body["items"]], ids[1:3])
        self.assertEqual(link_href(resp.body["_links"]["next"]),
                         f"{MOUNT}/{self.TYPE}?limit=2&after={ids[2]}")

    def test_a_deleted_resource_is_never_listed(self):
        ids = self.make(1)
        resp = request("DELETE", f"/{self.TYPE}/{ids[0]}", headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 204, resp)
        resp = request("GET", f"/{self.TYPE}?limit=100&after={ids[0] - 1}")
        self.assertNotIn(ids[0], [i["id"] for i in resp.body["items"]])

    def test_default_and_bad_limits(self):
        resp = request("GET", f"/{self.TYPE}")
        self.assertEqual(resp.status, 200, resp)
        self.assertLessEqual(len(resp.body["items"]), 20)
        for query in ("limit=0", "limit=101", "limit=x", "limit=-1", "after=-1", "after=x",
                      "limit="):
            with self.subTest(query=query):
                assert_problem(request("GET", f"/{self.TYPE}?{query}"), 400)

    def test_other_types_are_not_listed(self):
        clip = self.create("clips", with_data=False)
        resp = request("GET", f"/{self.TYPE}?limit=100&after={clip['id'] - 1}")
        self.assertNotIn(clip["id"], [i["id"] for i in resp.body["items"]])


if __name__ == "__main__":
    unittest.main()
