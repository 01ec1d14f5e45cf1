"""test_preconditions.py: the version checks (docs/api.md, "Preconditions"). A stale
expected_version answers 409 naming current_version and the missed actions; a failed
If-Match answers 412 (strong comparison); an edit without any precondition answers 428,
and If-Match: * never stands in for a version. Every refusal changes nothing."""

import subprocess
import unittest

from client import (DATABASE_URL, PSQL, ApiTestCase, assert_problem, etag, href, link_href,
                    request)


UPDATE = {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}}


class Preconditions(ApiTestCase):
    """Each test starts from a clip at version 2 with a keyframe at frame 100."""

    def setUp(self):
        self.clip_id, _ = self.create_clip()
        self.add_keyframe(self.clip_id, 1, 100)
        self.before = self.get_clip(self.clip_id)

    def update(self, expected_version=None, if_match=None):
        envelope = dict(UPDATE)
        if expected_version is not None:
            envelope["expected_version"] = expected_version
        headers = {"If-Match": if_match} if if_match is not None else None
        return self.act(self.clip_id, envelope, headers=headers)

    def assert_applied(self, resp, version=3):
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], version)
        self.assertEqual(self.get_clip(self.clip_id)["version"], version)

    # --- 409 ------------------------------------------------------------------------

    def test_stale_expected_version(self):
        resp = self.update(expected_version=1)
        problem = assert_problem(resp, 409)
        self.assertEqual(problem["current_version"], 2)
        missed = link_href(problem["links"]["missed_actions"])
        self.assertTrue(missed.endswith(f"/clips/{self.clip_id}/actions?since=1"), missed)
        self.assertIn("no-store", resp.header("Cache-Control") or "")
        self.assert_unchanged(self.clip_id, self.before)
        # the link gives exactly what the client missed
        caught_up = request("GET", href(missed))
        self.assertEqual(caught_up.status, 200, caught_up)
        self.assertEqual([e["version"] for e in caught_up.body["entries"]], [2])
        self.assertEqual(caught_up.body["entries"][0]["action"], "add_crop_keyframe")
        # and the retry with the fresh version goes through
        self.assert_applied(self.update(expected_version=problem["current_version"]))

    def test_stale_is_refused_without_waiting_for_the_row_lock(self):
        # another transaction holds the row lock; a request that is already
        # stale is answered at once. Were it to queue for the lock, which is released
        # only after it is answered, it would time out instead.
        holder = subprocess.Popen([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", DATABASE_URL],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            holder.stdin.write(f"BEGIN; SELECT id FROM resources WHERE id = {self.clip_id}"
                               " FOR UPDATE;\n\\echo locked\n")
            holder.stdin.flush()
            for line in holder.stdout:  # the SELECT's rows, then the echo
                if line.strip() == "locked":
                    break
            else:
                self.fail(f"psql could not lock the row: {holder.stderr.read()}")
            stale = request("POST", f"/clips/{self.clip_id}/actions",
                            body=dict(UPDATE, expected_version=1), timeout=20)
            self.assertEqual(assert_problem(stale, 409)["current_version"], 2)
            holder.stdin.write("COMMIT;\n")
            holder.stdin.close()
            self.assertEqual(holder.wait(timeout=20), 0)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            holder.stdout.close()
            holder.stderr.close()
        self.assert_unchanged(self.clip_id, self.before)
        self.assert_applied(self.update(expected_version=2))

    def test_expected_version_from_the_future(self):
        problem = assert_problem(self.update(expected_version=9), 409)
        self.assertEqual(problem["current_version"], 2)
        self.assert_unchanged(self.clip_id, self.before)

    def test_stale_version_in_a_keyframe_add(self):
        resp = self.act(self.clip_id, {"action": "add_crop_keyframe", "expected_version": 1,
                                       "data": {"frame": 5, "x": 1, "y": 1, "width": 2,
                                                "height": 2}})
        assert_problem(resp, 409)
        self.assert_unchanged(self.clip_id, self.before)

    # --- 412 ------------------------------------------------------------------------

    def test_if_match_current(self):
        self.assert_applied(self.update(if_match=etag(2)))

    def test_if_match_stale(self):
        problem = assert_problem(self.update(if_match=etag(1)), 412)
        self.assertEqual(problem.get("current_version"), 2)
        self.assert_unchanged(self.clip_id, self.before)

    def test_if_match_weak_never_matches(self):
        # RFC 9110 section 13.1.1: If-Match uses the strong comparison
        assert_problem(self.update(if_match='W/"2"'), 412)
        self.assert_unchanged(self.clip_id, self.before)

    def test_if_match_list(self):
        self.assert_applied(self.update(if_match='"1", "2"'))

    def test_if_match_checked_before_expected_version(self):
        assert_problem(self.update(expected_version=2, if_match=etag(1)), 412)
        self.assert_unchanged(self.clip_id, self.before)

    def test_both_must_match(self):
        assert_problem(self.update(expected_version=1, if_match=etag(2)), 409)
        self.assert_unchanged(self.clip_id, self.before)
        self.assert_applied(self.update(expected_version=2, if_match=etag(2)))

    def test_if_match_on_a_missing_clip(self):
        resp = request("POST", "/clips/987654321/actions", body=UPDATE,
                       headers={"If-Match": etag(1)})
        assert_problem(resp, 404)

    # --- 428 ------------------------------------------------------------------------

    def test_no_precondition(self):
        assert_problem(self.update(), 428)
        self.assert_unchanged(self.clip_id, self.before)

    def test_if_match_star_is_no_version(self):
        assert_problem(self.update(if_match="*"), 428)
        self.assert_unchanged(self.clip_id, self.before)

    def test_if_match_star_with_a_version(self):
        self.assert_applied(self.update(expected_version=2, if_match="*"))


if __name__ == "__main__":
    unittest.main()
