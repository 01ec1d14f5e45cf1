"""test_replay_paths.py: every keyed request replays through one path, creates included,
and leaves no database session inside a transaction; a replayed batch names its last
version in ETag as in its body; an entity tag that is not the server's spelling of a
version never matches."""

import os
import unittest
import uuid

from client import ApiTestCase, psql_value, request

APP_URL = os.environ.get("ACTIOND_APP_DATABASE_URL", "")
WORKER_LOG = os.path.join(os.path.dirname(os.path.dirname(
    os.environ.get("ACTIOND_PID_FILE", "/nonexistent/run/x"))), "log", "actiond.log")


def left_open_lines():
    """How often a worker found its connection still inside a transaction when the next
    request came: each is a transaction an earlier request left open."""
    with open(WORKER_LOG, encoding="utf-8", errors="replace") as f:
        return sum("transaction was left open" in line for line in f)


def replayed(resp):
    return (resp.header("Idempotent-Replayed") or "").strip().lower() == "true"


def open_transactions():
    """Sessions of the workers' role that sit inside a transaction: the workers are
    idle between requests, so any is a transaction a request left open."""
    return int(psql_value(APP_URL, "SELECT count(*) FROM pg_stat_activity"
                                   " WHERE usename = current_user AND pid <> pg_backend_pid()"
                                   " AND state LIKE 'idle in transaction%'"))


class ReplayPaths(ApiTestCase):
    def test_keyed_create_replays_and_leaves_no_transaction_open(self):
        before = left_open_lines()
        key = str(uuid.uuid4())
        first = request("POST", "/clips", {"data": {"title": "once"}},
                        headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertEqual(open_transactions(), 0)
        second = request("POST", "/clips", {"data": {"title": "once"}},
                         headers={"Idempotency-Key": key})
        self.assertEqual(second.status, 201, second)
        self.assertTrue(replayed(second), second.headers)
        self.assertEqual(second.body, first.body)
        self.assertEqual(second.header("ETag"), first.header("ETag"))
        self.assertEqual(second.header("Location"), first.header("Location"))
        self.assertEqual(open_transactions(), 0)
        for _ in range(3):
            fresh = str(uuid.uuid4())
            for _ in range(2):
                resp = request("POST", "/clips", headers={"Idempotency-Key": fresh})
                self.assertEqual(resp.status, 201, resp)
        # every worker serves another request, and would find a transaction left open
        for _ in range(40):
            self.assertEqual(request("GET", "/clips?limit=1").status, 200)
        self.assertEqual(left_open_lines(), before)

    def test_a_key_reused_for_another_create_is_refused_like_any_other(self):
        key = str(uuid.uuid4())
        first = request("POST", "/clips", {"data": {"title": "a"}},
                        headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        other = request("POST", "/clips", {"data": {"title": "b"}},
                        headers={"Idempotency-Key": key})
        self.assertEqual(other.status, 422, other)
        self.assertEqual(other.body["type"], "urn:actiond:problem:idempotency-key-reused")
        # the same key on an action of that clip is another request too
        clip = first.body["id"]
        action = self.act(clip, {"action": "set_trim_range", "expected_version": 1,
                                 "data": {"start": 1, "end": 2}, "id": key})
        self.assertEqual(action.status, 422, action)
        self.assertEqual(action.body["type"], other.body["type"])
        self.assertEqual(open_transactions(), 0)

    def test_a_replayed_batch_names_its_last_version(self):
        clip, _ = self.create_clip()
        key = str(uuid.uuid4())
        batch = {"expected_version": 1, "id": key, "actions": [
            {"action": "add_crop_keyframe",
             "data": {"frame": f, "x": 0, "y": 0, "width": 10, "height": 10}}
            for f in (1, 2, 3)]}
        first = self.act(clip, batch)
        second = self.act(clip, batch)
        self.assertEqual(first.status, 200, first)
        self.assertTrue(replayed(second), second.headers)
        self.assertEqual(first.body["version"], 4)
        for resp in (first, second):
            self.assertEqual(resp.header("ETag"), '"4"', resp.headers)
        # the tag a retry got is the one the next change may name
        nxt = self.act(clip, {"action": "set_trim_range", "data": {"start": 0, "end": 1}},
                       headers={"If-Match": second.header("ETag")})
        self.assertEqual(nxt.status, 200, nxt)

    def test_a_tag_spelled_otherwise_never_matches(self):
        clip, _ = self.create_clip()
        resp = request("GET", f"/clips/{clip}", headers={"If-None-Match": '"01"'})
        self.assertEqual(resp.status, 200, resp)
        self.assertIsInstance(resp.body["data"], dict, resp.body)
        resp = self.act(clip, {"action": "set_trim_range", "data": {"start": 0, "end": 1}},
                        headers={"If-Match": '"01"'})
        self.assertEqual(resp.status, 412, resp)


if __name__ == "__main__":
    unittest.main()
