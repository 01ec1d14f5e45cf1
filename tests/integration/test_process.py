"""test_process.py: the worker as a process (SPEC 6): it serves under spawn-fcgi on an
inherited socket, and SIGTERM lets it finish the request in hand (here one waiting on a
row lock) before it exits cleanly."""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import fcgi
from client import APP_DATABASE_URL, DATABASE_URL, PSQL, TOKEN, ApiTestCase

BUILD = os.environ.get("ACTIOND_BUILD_DIR", "")
CATALOG = os.path.join(os.path.dirname(__file__), "..", "..", "catalog", "default.json")


class UnderSpawnFcgi(ApiTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-spawn.")
        self.sock = os.path.join(self.dir, "w.sock")
        # -n: spawn-fcgi execs the worker itself, which inherits the socket on fd 0
        self.proc = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.sock, "--", os.path.join(BUILD, "actiond"),
             "--database", APP_DATABASE_URL, "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            # the suite's ACTIOND_* variables describe the shared stack; a worker would
            # read some of them as its own settings (its pid file, for one)
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")})
        deadline = time.monotonic() + 10
        while True:  # the socket file exists a moment before it listens
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "the worker never answered")
            time.sleep(0.02)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        return fcgi.request(self.sock, method, path, data,
                            headers={"Authorization": f"Bearer {TOKEN}"})

    def test_serves_on_the_inherited_socket(self):
        status, headers, body = self.call("GET", "/healthz")
        self.assertEqual(status, 200, body)
        status, headers, body = self.call("POST", "/clips")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["etag"], '"1"')
        self.assertTrue(headers["location"].startswith("/api/clips/"))

    def test_sigterm_finishes_the_request_in_hand(self):
        status, _, body = self.call("POST", "/clips")
        self.assertEqual(status, 201, body)
        clip = json.loads(body)["id"]
        # hold the clip's row lock, so the worker's action waits inside its transaction
        holder = subprocess.Popen([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                   DATABASE_URL],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        holder.stdin.write(f"BEGIN; SELECT id FROM resources WHERE id = {clip} FOR UPDATE;\n"
                           "\\echo locked\n")
        holder.stdin.flush()
        for line in holder.stdout:
            if line.strip() == "locked":
                break
        else:
            self.fail(f"psql could not lock the row: {holder.stderr.read()}")
        result = {}

        def act():
            result["answer"] = self.call("POST", f"/clips/{clip}/actions", {
                "action": "set_trim_range", "expected_version": 1,
                "data": {"start": 1.0, "end": 2.0}})

        sender = threading.Thread(target=act)
        sender.start()
        time.sleep(0.5)  # the worker is now waiting for the row lock
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertIsNone(self.proc.poll(), "the worker left with a request in hand")
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(timeout=10)
        sender.join(timeout=20)
        status, _, body = result["answer"]
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["version"], 2)
        self.assertEqual(self.proc.wait(timeout=20), 0)
