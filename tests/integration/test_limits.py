"""test_limits.py: what one request may cost is bounded, and going past a bound is a
clear problem that changes nothing (docs/api.md, "Limits"): the document a change
leaves (bytes and nesting), the operations of a JSON Patch, what one request adds to
the log, the time a request may wait for a row lock; and numbers the database cannot
hold. Each case here once broke a resource for good, took a worker's memory, or
answered 500."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import fcgi
from client import (APP_DATABASE_URL, DATABASE_URL, PSQL, TOKEN, ApiTestCase, assert_problem,
                    etag, request)
from test_audit import run_actionctl

JSON_PATCH = "application/json-patch+json"
BUILD = os.environ.get("ACTIOND_BUILD_DIR", "")
CATALOG = os.path.join(os.path.dirname(__file__), "..", "..", "catalog", "default.json")


def patch(path, ops, version, **kwargs):
    return request("PATCH", path, body=json.dumps(ops).encode(), content_type=JSON_PATCH,
                   headers={"If-Match": etag(version)}, **kwargs)


def nested(levels):
    """{"a": {"a": ... {"leaf": 1}}}, `levels` objects deep."""
    value = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


class Documents(ApiTestCase):
    def new_document(self, data):
        resp = request("POST", "/documents", body={"data": data})
        self.assertEqual(resp.status, 201, resp)
        return resp.body["id"], f"/documents/{resp.body['id']}"

    def assert_usable(self, rid, path, version):
        """The resource still reads, lists, changes and deletes."""
        resp = request("GET", path)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["version"], version)
        listed = request("GET", f"/documents?after={rid - 1}&limit=1")
        self.assertEqual(listed.status, 200, listed)
        resp = patch(path, [{"op": "add", "path": "/ok", "value": True}], version)
        self.assertEqual(resp.status, 200, resp)
        resp = request("DELETE", path, headers={"If-Match": etag(version + 1)})
        self.assertEqual(resp.status, 204, resp)
        proc = run_actionctl("verify", "--type", "documents", "--id", str(rid))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_copies_into_a_deep_leaf_stop_at_the_depth_limit(self):
        """A 60-level value copied into its own deepest leaf doubles the depth each
        time: the copy that would pass 100 levels is refused, and the resource stays
        usable (once, the next copies made it unreadable for good)."""
        rid, path = self.new_document({"a": nested(59)})
        leaf = "/a" + "/a" * 58
        version = 1
        resp = patch(path, [{"op": "copy", "from": "/a", "path": leaf + "/copy"}], version)
        problem = assert_problem(resp, 422, "/0/path")
        self.assertEqual(problem["type"], "urn:actiond:problem:too-deep", problem)
        self.assertIn("100", problem["detail"])
        self.assert_usable(rid, path, version)

    def test_a_deep_value_by_add_is_refused_too(self):
        rid, path = self.new_document({"a": nested(60)})
        deep = "/a" + "/a" * 59
        resp = patch(path, [{"op": "add", "path": deep + "/more", "value": nested(50)}], 1)
        assert_problem(resp, 422, "/0/path")
        self.assert_usable(rid, path, 1)

    def test_copies_that_would_double_a_document_past_its_limit(self):
        """A few hundred bytes of copies of a large array: refused with 413 once the
        values they add pass the document limit (once, a 440 KB patch of copies took
        22 GB before the kernel killed the worker)."""
        rid, path = self.new_document({"big": list(range(20000))})
        ops = [{"op": "copy", "from": "/big", "path": f"/c{i}"} for i in range(1000)]
        resp = patch(path, ops, 1)
        problem = assert_problem(resp, 413)
        self.assertEqual(problem["type"], "urn:actiond:problem:document-too-large", problem)
        self.assertRegex(problem["pointer"], r"^/\d+/path$")
        self.assert_usable(rid, path, 1)

    def test_a_patch_has_at_most_1000_operations(self):
        """20,000 adds once took 10 s holding the resource's worker."""
        rid, path = self.new_document({"list": []})
        ops = [{"op": "add", "path": "/list/-", "value": i} for i in range(1001)]
        problem = assert_problem(patch(path, ops, 1), 422, "")
        self.assertEqual(problem["type"], "urn:actiond:problem:too-many-operations", problem)
        ops.pop()
        resp = patch(path, ops, 1)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(len(resp.body["data"]["list"]), 1000)

    def test_a_create_over_the_depth_limit(self):
        # the request's own nesting limit (64) comes first; a document of 64 levels is fine
        resp = request("POST", "/documents", body={"data": nested(63)})
        self.assertEqual(resp.status, 201, resp)

    def test_numbers_are_stored_and_read_back_exactly_or_refused(self):
        rid, path = self.new_document({})
        raw = b'[{"op": "add", "path": "/tiny", "value": 1e-400},' \
              b' {"op": "add", "path": "/huge", "value": 123456789012345678901234567890}]'
        resp = request("PATCH", path, body=raw, content_type=JSON_PATCH,
                       headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 200, resp)
        got = request("GET", path)
        self.assertIn(b'"tiny":1e-400', got.raw)
        self.assertIn(b'"huge":123456789012345678901234567890', got.raw)
        for value in (b"1e-17000", b"1e200000", b"0." + b"0" * 17000 + b"1"):
            body = b'[{"op": "add", "path": "/n", "value": ' + value + b"}]"
            resp = request("PATCH", path, body=body, content_type=JSON_PATCH,
                           headers={"If-Match": etag(2)})
            assert_problem(resp, 400, "/0/value")
        self.assertEqual(request("GET", path).body["version"], 2)


class LockTimeout(ApiTestCase):
    def test_a_request_waits_no_longer_than_the_lock_timeout(self):
        """One slow transaction holding a resource's row lock could once hold every
        worker that a write to the resource reached: now each gives up after the lock
        timeout (2 s) with 503 and Retry-After, and commits nothing."""
        clip, _ = self.create_clip()
        holder = subprocess.Popen(
            [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DATABASE_URL, "-c",
             f"BEGIN; SELECT id FROM resources WHERE id = {clip} FOR UPDATE;"
             " SELECT pg_sleep(6); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)  # the holder has the lock (it sleeps 6 s with it)
            resp = self.act(clip, {"action": "set_trim_range", "expected_version": 1,
                                   "data": {"start": 1, "end": 2}, "on_conflict": "merge"})
            problem = assert_problem(resp, 503)
            self.assertTrue(resp.header("Retry-After"), resp.headers)
            self.assertIn("55P03", problem["detail"])
        finally:
            holder.wait(timeout=30)
        self.assertEqual(self.get_clip(clip)["version"], 1)
        self.assertEqual(len(self.log_entries(clip)), 1)


@unittest.skipUnless(BUILD and os.path.exists(os.path.join(BUILD, "actiond")),
                     "ACTIOND_BUILD_DIR has no actiond")
class SmallLogBudget(unittest.TestCase):
    """A worker of its own with a small --max-log-bytes: an undo that would write a
    whole large document into the log twice is refused (once, every undo and redo of
    a root replace wrote the document twice, for ever)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-limits.")
        self.sock = os.path.join(self.dir, "w.sock")
        self.proc = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.sock, "--", os.path.join(BUILD, "actiond"),
             "--database", APP_DATABASE_URL, "--catalog", CATALOG,
             "--max-log-bytes", "30000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")})
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "the worker never answered")
            time.sleep(0.02)

    def tearDown(self):
        self.proc.kill()
        self.proc.wait()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def call(self, method, path, body=None, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if body is not None else b"")
        hdrs = {"Authorization": f"Bearer {TOKEN}"}
        hdrs.update(headers or {})
        return fcgi.request(self.sock, method, path, data, content_type=content_type,
                            headers=hdrs)

    def test_what_one_request_adds_to_the_log_is_bounded(self):
        status, _, body = self.call("POST", "/documents", {"data": {"text": "x" * 9000}})
        self.assertEqual(status, 201, body)
        rid = json.loads(body)["id"]
        path = f"/documents/{rid}"
        # the entry logs the patch as sent, the patch applied (the same, 9 KB) and the
        # inverse holding the old text: 27 KB, within 30,000 bytes
        ops = json.dumps([{"op": "replace", "path": "/text", "value": "y" * 9000}]).encode()
        status, _, body = self.call("PATCH", path, ops, JSON_PATCH, {"If-Match": '"1"'})
        self.assertEqual(status, 200, body)
        ops = json.dumps([{"op": "replace", "path": "", "value": {"text": "z" * 11000}}]).encode()
        status, _, body = self.call("PATCH", path, ops, JSON_PATCH, {"If-Match": '"2"'})
        self.assertEqual(status, 413, body)
        problem = json.loads(body)
        self.assertEqual(problem["type"], "urn:actiond:problem:log-entry-too-large", problem)
        status, _, body = self.call("GET", path)
        self.assertEqual(json.loads(body)["version"], 2)


if __name__ == "__main__":
    unittest.main()
