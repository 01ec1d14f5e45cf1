"""test_doc_cache.py: the worker's document cache (src/txn/cache.h). A worker keeps the
documents it wrote and compiles the next action on one of them without reading the row,
writing only if the row is still at that version. Two single-process workers of the
test's own, each on its own socket, share the suite's database: what one keeps goes
stale when the other writes, and every answer must be the one a locked read gives."""

import json
import os
import subprocess
import tempfile
import time

import fcgi
from client import APP_DATABASE_URL, DATABASE_URL, TOKEN, ApiTestCase, psql_value

BUILD = os.environ.get("ACTIOND_BUILD_DIR", "")
CATALOG = os.path.join(os.path.dirname(__file__), "..", "..", "catalog", "default.json")
KEYFRAME = {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}


class KeptDocuments(ApiTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-cache.")
        self.procs, self.socks = [], []
        # a cleanup, not tearDown: cleanups run last-in first-out, so a tracer a test
        # attaches detaches before its worker exits (LeakSanitizer refuses to run in
        # a traced process)
        self.addCleanup(self.stop_workers)
        self.start_worker()
        self.start_worker()

    def start_worker(self):
        """Starts a single-process worker on a socket of its own; returns its index."""
        sock = os.path.join(self.dir, f"{len(self.socks)}.sock")
        # the suite's ACTIOND_* variables describe the shared stack, not these workers
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")}
        self.procs.append(subprocess.Popen(
            [os.path.join(BUILD, "actiond"), "--listen", sock, "--workers", "0",
             "--database", APP_DATABASE_URL, "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        self.socks.append(sock)
        deadline = time.monotonic() + 30
        while True:
            try:
                if fcgi.request(sock, "GET", "/healthz")[0] == 200:
                    return len(self.socks) - 1
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "a worker never answered")
            time.sleep(0.05)

    def stop_workers(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def call(self, worker, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        status, headers, raw = fcgi.request(self.socks[worker], method, path, data,
                                            headers={"Authorization": f"Bearer {TOKEN}"})
        return status, json.loads(raw) if raw else None

    def act(self, worker, clip, envelope, status=200):
        got, body = self.call(worker, "POST", f"/clips/{clip}/actions", envelope)
        self.assertEqual(got, status, body)
        return body

    def new_clip_with_keyframe(self):
        """A clip at version 2 that worker 0 wrote last (so it keeps version 2)."""
        status, body = self.call(0, "POST", "/clips")
        self.assertEqual(status, 201, body)
        clip = body["id"]
        self.act(0, clip, {"action": "add_crop_keyframe", "data": KEYFRAME,
                           "expected_version": 1})
        return clip

    def stored(self, clip):
        status, body = self.call(1, "GET", f"/clips/{clip}")
        self.assertEqual(status, 200, body)
        return body

    def test_a_stale_kept_version_is_refused_as_stale(self):
        clip = self.new_clip_with_keyframe()
        self.act(1, clip, {"action": "update_crop_keyframe", "target": {"frame": 100},
                           "data": {"y": 70}, "expected_version": 2})
        # worker 0 still keeps version 2, which the client names too: the conditional
        # write finds version 3 and the locked read answers
        body = self.act(0, clip, {"action": "update_crop_keyframe", "target": {"frame": 100},
                                  "data": {"x": 60}, "expected_version": 2}, status=409)
        self.assertEqual(body["current_version"], 3, body)
        body = self.act(0, clip, {"action": "update_crop_keyframe", "target": {"frame": 100},
                                  "data": {"x": 60}, "expected_version": 3})
        self.assertEqual(body["version"], 4)
        frame = body["data"]["crop_keyframes"][0]
        self.assertEqual((frame["x"], frame["y"]), (60, 70), body)
        self.assertEqual(self.stored(clip)["data"], body["data"])

    def test_a_failure_against_a_stale_kept_version_is_the_locked_answer(self):
        clip = self.new_clip_with_keyframe()
        self.act(1, clip, {"action": "delete_crop_keyframe", "target": {"frame": 100},
                           "expected_version": 2})
        # against the kept version 2 the keyframe exists; the row is at 3 without it, and
        # the answer is the 409 the locked read gives, not a made-up success or a 404
        body = self.act(0, clip, {"action": "update_crop_keyframe", "target": {"frame": 100},
                                  "data": {"x": 60}, "expected_version": 2}, status=409)
        self.assertEqual(body["current_version"], 3, body)
        self.assertEqual(self.stored(clip)["version"], 3)

    def test_without_a_precondition_the_change_lands_on_the_current_document(self):
        clip = self.new_clip_with_keyframe()
        self.act(0, clip, {"action": "create_annotation", "expected_version": 2,
                           "data": {"start_time": 1.0, "end_time": 2.0, "name": "intro"}})
        self.act(0, clip, {"action": "add_tag", "target": {"annotation_id": 1},
                           "data": {"tag": "kept"}})
        self.act(1, clip, {"action": "add_tag", "target": {"annotation_id": 1},
                           "data": {"tag": "other"}})
        # worker 0 keeps version 4 without "other"; its change must not drop it
        body = self.act(0, clip, {"action": "add_tag", "target": {"annotation_id": 1},
                                  "data": {"tag": "last"}})
        self.assertEqual(body["version"], 6)
        tags = body["data"]["annotations"][0]["tags"]
        self.assertEqual(sorted(tags), ["kept", "last", "other"], body)
        self.assertEqual(self.stored(clip)["data"], body["data"])

    def test_a_run_of_actions_on_one_worker_reads_the_row_once(self):
        # every message libpq sends to the server is one sendto(2): a round trip
        trace = os.path.join(self.dir, "sendto.trace")
        traced = self.start_worker()
        strace = subprocess.Popen(["strace", "-qq", "-e", "trace=sendto", "-o", trace,
                                   "-p", str(self.procs[traced].pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(strace.wait, 30)
        self.addCleanup(strace.terminate)  # detaches; the worker carries on
        deadline = time.monotonic() + 30
        while not os.path.exists(trace) or self.lines(trace) == 0:
            # /healthz pings the database: a sendto once strace is attached
            self.assertEqual(self.call(traced, "GET", "/healthz")[0], 200)
            self.assertLess(time.monotonic(), deadline, "strace never attached")
            time.sleep(0.05)
        status, body = self.call(traced, "POST", "/clips")
        self.assertEqual(status, 201, body)
        clip = body["id"]
        rounds = 30
        before = self.lines(trace)
        for i in range(rounds):
            if i == 0:
                envelope = {"action": "add_crop_keyframe", "data": KEYFRAME}
            else:
                envelope = {"action": "update_crop_keyframe", "target": {"frame": 100},
                            "data": {"x": i}}
            body = self.act(traced, clip, dict(envelope, expected_version=1 + i))
            self.assertEqual(body["version"], 2 + i)
        sent = self.lines(trace) - before
        # The creation's answer was not kept, so the first action reads and locks the
        # row (two round trips); each later one is a single conditional write. A slow
        # run (sanitizers) may also verify the token again after its 10 s in the cache.
        self.assertGreaterEqual(sent, rounds + 1)
        self.assertLessEqual(sent, rounds + 3, f"{sent} round trips for {rounds} actions")
        self.assertEqual(self.stored(clip)["data"], body["data"])
        versions = psql_value(
            DATABASE_URL, f"SELECT string_agg(version::text, ',' ORDER BY version)"
                          f" FROM action_log WHERE resource_id = {clip}")
        self.assertEqual(versions, ",".join(str(v) for v in range(1, rounds + 2)))

    def lines(self, path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if "sendto(" in line)
