"""test_apache.py: the same workers behind Apache httpd's mod_proxy_fcgi, with
deploy/apache-actiond.conf.in: routing, the mount in links and Location, the bearer
token, preconditions and problem bodies all arrive as they do through nginx."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from client import TOKEN, ApiTestCase, Response, assert_problem

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "deploy",
                        "apache-actiond.conf.in")
PROBLEMS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "nginx",
                                        "problems"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BehindApache(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(APACHE):
            raise AssertionError("apache2 is not installed (deploy/check installs it)")
        cls.dir = tempfile.mkdtemp(prefix="actiond-apache.")
        os.chmod(cls.dir, 0o755)
        # copied beside the configuration, as deploy/lib.sh does for nginx: Apache's
        # unprivileged children may not be able to reach the source tree (a checkout
        # under a private directory)
        problems = os.path.join(cls.dir, "problems")
        shutil.copytree(PROBLEMS, problems)
        os.chmod(problems, 0o755)
        for name in os.listdir(problems):
            os.chmod(os.path.join(problems, name), 0o644)
        cls.port = free_port()
        sock = os.path.join(os.path.dirname(os.environ["ACTIOND_PID_FILE"]), "actiond.sock")
        with open(TEMPLATE) as f:
            conf = (f.read().replace("@PREFIX@", cls.dir).replace("@PORT@", str(cls.port))
                    .replace("@SOCKET@", sock).replace("@PROBLEMS@", problems))
        cls.conf = os.path.join(cls.dir, "httpd.conf")
        with open(cls.conf, "w") as f:
            f.write(conf)
        cls.proc = subprocess.Popen([APACHE, "-f", cls.conf, "-DFOREGROUND"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                if cls.http("GET", "/api/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                err = cls.proc.stderr.read().decode(errors="replace") if cls.proc.poll() else ""
                cls.tearDownClass()
                raise AssertionError(f"apache did not come up: {err}")
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        cls.proc.stderr.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def http(cls, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=30)
        try:
            hdrs = {"Authorization": f"Bearer {TOKEN}"}
            if body is not None:
                hdrs["Content-Type"] = "application/json"
                body = json.dumps(body)
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, resp.msg, json.loads(raw) if raw else None
        finally:
            conn.close()

    def test_create_act_read_through_apache(self):
        status, headers, body = self.http("POST", "/api/clips")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["ETag"], '"1"')
        clip = body["id"]
        self.assertEqual(headers["Location"], f"/api/clips/{clip}")
        self.assertEqual(body["_links"]["self"]["href"], f"/api/clips/{clip}")
        status, headers, body = self.http("POST", f"/api/clips/{clip}/actions", {
            "action": "add_crop_keyframe", "expected_version": 1,
            "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["version"], 2)
        status, headers, body = self.http("GET", f"/api/clips/{clip}",
                                          headers={"If-None-Match": '"2"'})
        self.assertEqual(status, 304)

    def test_errors_arrive_as_problems(self):
        status, headers, body = self.http("GET", "/api/clips", headers={
            "Authorization": "Bearer nope"})
        self.assertEqual(status, 401, body)
        self.assertEqual(headers["Content-Type"], "application/problem+json")
        status, headers, body = self.http("POST", "/api/clips")
        clip = body["id"]
        status, headers, body = self.http("POST", f"/api/clips/{clip}/actions", {
            "action": "set_trim_range", "data": {"start": 1.0, "end": 2.0},
            "expected_version": 7})
        self.assertEqual(status, 409, body)
        self.assertEqual(body["links"]["missed_actions"]["href"],
                         f"/api/clips/{clip}/actions?since=7")
        status, headers, body = self.http("PUT", f"/api/clips/{clip}")
        self.assertEqual(status, 405, body)
        self.assertIn("PATCH", headers["Allow"])

    def raw(self, data):
        """Sends bytes on a new connection and reads the answer (a client Response)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before the whole body was sent; the answer is waiting
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            return Response(resp.status, resp.msg, resp.read())
        finally:
            sock.close()

    def test_httpd_refusals_are_problems(self):
        auth = f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n"
        def get(target, extra=""):
            return self.raw(f"GET {target} HTTP/1.1\r\nHost: x\r\n{auth}{extra}\r\n"
                            .encode())
        resp = self.raw(f"TRACE /api/clips HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        assert_problem(resp, 405)
        self.assertNotIn("TRACE", resp.header("Allow") or "TRACE")
        for target in ("/api/clips//1", "/api/clips/1/", "/api/clips/./1", "/api/x/../clips/1",
                       "/api/clips/%31", "/elsewhere"):
            with self.subTest(target=target):
                assert_problem(get(target), 404)
        assert_problem(get("/api/clips?x=" + "a" * 10240), 414)
        assert_problem(get("/api/clips", "X-Big: " + "a" * 65536 + "\r\n"), 400)
        resp = self.raw(f"POST /api/clips HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: "
                        f"application/json\r\nContent-Length: 3145728\r\n\r\n".encode()
                        + b"x" * 3145728)
        assert_problem(resp, 413)
        resp = self.raw(f"POST /api/clips HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: "
                        "application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2"
                        "\r\n\r\n{}".encode())
        assert_problem(resp, 415)
