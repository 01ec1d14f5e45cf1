"""test_hostile.py: the hostile-input catalog, tests/hostile/requests.json, sent through
nginx on raw sockets, and nginx's answers when no worker answers.

Catalog: each entry is one test. It is sent as the catalog writes it (malformed HTTP
included) and must be refused with the entry's status as an RFC 9457 problem:
Content-Type application/problem+json, a JSON object with type, title (RFC 9110's
reason phrase for the status), status (equal to the HTTP status) and detail, and the
entry's `pointer` and `type` when it names them. The whole catalog runs against
fixtures made once (HostileCatalog.setUpClass), and its last test checks that the run
changed nothing: the action log, the resources and the tokens hash the same as before
the first request, and the workers are the processes they were (none died and was
replaced). An entry marked "known_failure" is a unittest expected failure: it must
still fail, and once it passes (an unexpected success) the run fails until the marker
is removed.

tests/hostile/README.md describes an entry's members and the fixtures its placeholders
stand for ({clip}, {version}, {doc}, {job}, {deleted}, {key}, {token}, {token_bob},
{host}: make_fixtures).
"""

import base64
import grp
import http.client
import json
import os
import pwd
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import client
from client import (HOST, PORT, TOKEN, TOKEN_BOB, ApiTestCase, Response, assert_problem,
                    log_table, psql_value, request)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
CATALOG = os.path.join(SRC, "tests", "hostile", "requests.json")
NGINX_TEMPLATE = os.path.join(SRC, "nginx", "actiond.conf.in")
PROBLEMS = os.path.join(SRC, "nginx", "problems")


def _nchan_module():
    """nchan's module, which the template loads, in nginx's modules path."""
    out = subprocess.run(["nginx", "-V"], capture_output=True, text=True).stderr
    m = re.search(r"--modules-path=(\S+)", out)
    return os.path.join(m.group(1) if m else "/usr/lib/nginx/modules", "ngx_nchan_module.so")


NCHAN_MODULE = _nchan_module()

# RFC 9110 section 15 (and RFC 6585 for 431): a problem's title is its status's phrase
TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 428: "Precondition Required",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

MEMBERS = {"name", "class", "method", "path", "http", "headers", "body", "body_base64",
           "auth", "raw", "repeat", "status", "pointer", "type", "known_failure", "note"}
PLACEHOLDER = re.compile(r"\{(clip|version|doc|job|deleted|key|token|token_bob|host)\}")
BIG_BODY = 256 * 1024


def load_catalog(path=CATALOG):
    """The catalog's entries, checked for shape: a malformed entry fails the import
    rather than testing something other than what it says."""
    with open(path, encoding="utf-8") as f:
        catalog = json.load(f)
    entries = catalog["requests"]
    seen = set()
    for e in entries:
        name = e.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name) or name in seen:
            raise ValueError(f"catalog entry name missing, malformed or repeated: {name!r}")
        seen.add(name)
        unknown = set(e) - MEMBERS
        if unknown:
            raise ValueError(f"{name}: unknown members {sorted(unknown)}")
        if not isinstance(e.get("status"), int) or not isinstance(e.get("class"), str):
            raise ValueError(f"{name}: needs an integer status and a class")
        if "raw" in e and ({"method", "path", "headers", "body", "body_base64"} & set(e)):
            raise ValueError(f"{name}: raw excludes method, path, headers and body")
        if "raw" not in e and not ({"method", "path"} <= set(e)):
            raise ValueError(f"{name}: needs method and path, or raw")
        if "body" in e and "body_base64" in e:
            raise ValueError(f"{name}: body or body_base64, not both")
        if "known_failure" in e and not (isinstance(e["known_failure"], str)
                                         and e["known_failure"]):
            raise ValueError(f"{name}: known_failure must say why")
    return entries


class Fixtures:
    """What the catalog's placeholders stand for: made before the first request."""
    values = None


def fill(text, repeat):
    for marker, (piece, times) in (repeat or {}).items():
        text = text.replace(marker, piece * times)
    return PLACEHOLDER.sub(lambda m: str(Fixtures.values[m.group(1)]), text)


def build(entry):
    """The bytes of the request an entry describes."""
    repeat = entry.get("repeat")
    if "raw" in entry:
        return fill(entry["raw"], repeat).encode("latin-1"), entry.get("method", "GET")
    method = entry["method"]
    body = None
    if "body" in entry:
        body = fill(entry["body"], repeat).encode("utf-8")
    elif "body_base64" in entry:
        body = base64.b64decode(entry["body_base64"])
    headers = [(fill(k, repeat), fill(v, repeat)) for k, v in entry.get("headers", [])]
    names = {k.lower() for k, _ in headers}
    lines = [f"{method} {fill(entry['path'], repeat)} {entry.get('http', 'HTTP/1.1')}"]
    if "host" not in names:
        lines.append(f"Host: {HOST}:{PORT}")
    if entry.get("auth", True) and "authorization" not in names:
        lines.append(f"Authorization: Bearer {TOKEN}")
    lines.extend(f"{k}: {v}" for k, v in headers)
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    if "connection" not in names:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b""), method


def exchange(data, method, timeout=30):
    """Sends `data` on a new connection and reads one response (a Response). When nginx
    answers before a large body is sent (413 by Content-Length), the rest is not sent."""
    sock = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        end = data.find(b"\r\n\r\n")
        head, body = (data, b"") if end < 0 else (data[:end + 4], data[end + 4:])
        sock.sendall(head)
        if len(body) > BIG_BODY and select.select([sock], [], [], 1.0)[0]:
            body = b""
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        raw = resp.read()
        return Response(resp.status, resp.msg, raw)
    finally:
        sock.close()


def worker_pids():
    """The prefork parent's pid and the set of its children's pids (the workers)."""
    with open(os.environ["ACTIOND_PID_FILE"]) as f:
        parent = int(f.read().split()[0])
    children = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.add(int(d))
    return parent, children


def snapshot():
    """What no refused request may change: the log, the resources and the tokens (all but
    a token's last use, which any request may record, at most once a minute)."""
    log = log_table()
    return psql_value(client.DATABASE_URL, f"""
        SELECT concat_ws(' ',
          (SELECT count(*) FROM {log}),
          (SELECT max(applied_at) FROM {log}),
          (SELECT md5(coalesce(string_agg(l::text, E'\\n' ORDER BY resource_id, version), ''))
             FROM {log} l),
          (SELECT count(*) FROM resources),
          (SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY id), '')) FROM resources r),
          (SELECT md5(coalesce(string_agg((t.id, t.hash, t.actor, t.created_at, t.expires_at,
                                           t.revoked_at)::text, E'\\n' ORDER BY hash), ''))
           FROM tokens t))""")


def make_fixtures(case):
    """A clip of alice's at version 3 (keyframes at 100 and 200, the second added with
    an idempotency key), a documents resource at version 1, an analysis job (queued),
    and a deleted clip."""
    clip, _ = case.create_clip()
    case.add_keyframe(clip, 1, 100)
    key = f"hostile-fixture-{clip}"
    case.act_ok(clip, {"action": "add_crop_keyframe", "expected_version": 2,
                       "data": {"frame": 200, "x": 1, "y": 2, "width": 3, "height": 4}},
                headers={"Idempotency-Key": key})
    resp = request("POST", "/documents", body={"data": {
        "a": {"b": {"c": 1}}, "list": [1, 2, 3], "s": "text", "~": 1, "a/b": 2, "": 3}})
    case.assertEqual(resp.status, 201, resp)
    doc = resp.body["id"]
    resp = request("POST", "/analysis_jobs")
    case.assertEqual(resp.status, 201, resp)
    job = resp.body["id"]
    deleted, _ = case.create_clip()
    resp = request("DELETE", f"/clips/{deleted}", headers={"If-Match": '"1"'})
    case.assertEqual(resp.status, 204, resp)
    return {"clip": clip, "version": 3, "doc": doc, "job": job, "deleted": deleted, "key": key,
            "token": TOKEN, "token_bob": TOKEN_BOB, "host": f"{HOST}:{PORT}"}


class HostileCatalog(ApiTestCase):
    """One test per catalog entry (test_<nnn>_<name>, in catalog order), then
    test_zzz_nothing_changed."""

    @classmethod
    def setUpClass(cls):
        case = cls("test_zzz_nothing_changed")
        Fixtures.values = make_fixtures(case)
        cls.before = snapshot()
        cls.workers = worker_pids()

    def check(self, entry):
        resp = exchange(*build(entry))
        status = entry["status"]
        if entry.get("method") == "HEAD":
            self.assertEqual(resp.status, status, resp)
            self.assertEqual((resp.header("Content-Type") or "").split(";")[0],
                             client.PROBLEM_JSON, resp)
            return
        problem = assert_problem(resp, status, pointer=entry.get("pointer"))
        self.assertEqual(problem["title"], TITLES.get(status), problem)
        if "type" in entry:
            self.assertEqual(problem["type"], entry["type"], problem)
        if status == 405:
            self.assertTrue(resp.header("Allow"), f"405 without Allow: {resp!r}")
        if status == 401:
            self.assertTrue(resp.header("WWW-Authenticate"), resp)

    def test_zzz_nothing_changed(self):
        self.assertEqual(snapshot(), self.before,
                         "a refused request changed the log, a resource or a token")
        self.assertEqual(worker_pids(), self.workers, "a worker died and was replaced")
        resp = request("GET", "/healthz", token=None)
        self.assertEqual(resp.status, 200, resp)


def _add_tests():
    for i, entry in enumerate(load_catalog(), 1):
        def test(self, entry=entry):
            self.check(entry)
        test.__doc__ = f"{entry['class']}: {entry['name']}"
        if "known_failure" in entry:
            test = unittest.expectedFailure(test)
        setattr(HostileCatalog, f"test_{i:03d}_{entry['name']}", test)


_add_tests()


# ---------------------------------------------------------------------------------
# no worker answering: a private nginx from nginx/actiond.conf.in, in front of a socket
# nobody listens on, one that accepts and never answers, and one that hangs up


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoWorkerAnswers(unittest.TestCase):
    """nginx's answers when the workers cannot: 503 with Retry-After (nothing listens,
    or the worker hung up) and 504 (no answer within fastcgi_read_timeout, cut to 1 s
    here), each a problem."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="actiond-hostile.")
        os.chmod(cls.dir, 0o755)
        cls.procs, cls.held = [], []
        cls.stop = threading.Event()
        cls.silent = os.path.join(cls.dir, "silent.sock")
        cls.hangup = os.path.join(cls.dir, "hangup.sock")
        for path, handler in ((cls.silent, cls._hold), (cls.hangup, cls._hang_up)):
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            os.chmod(path, 0o666)
            srv.listen(16)
            srv.settimeout(0.2)
            threading.Thread(target=handler, args=(srv,), daemon=True).start()
            cls.held.append(srv)
        cls.ports = {}
        try:
            for name, sock in (("nobody", os.path.join(cls.dir, "nobody.sock")),
                               ("silent", cls.silent), ("hangup", cls.hangup)):
                cls.ports[name] = cls._nginx(name, sock)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def _accept(cls, srv):
        while not cls.stop.is_set():
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            yield conn

    @classmethod
    def _hold(cls, srv):
        for conn in cls._accept(srv):
            cls.held.append(conn)

    @classmethod
    def _hang_up(cls, srv):
        for conn in cls._accept(srv):
            conn.settimeout(2)
            try:
                conn.recv(65536)
            except OSError:
                pass
            conn.close()

    @classmethod
    def _nginx(cls, name, sock):
        prefix = os.path.join(cls.dir, name)
        os.makedirs(os.path.join(prefix, "tmp"))
        shutil.copytree(PROBLEMS, os.path.join(prefix, "problems"))
        for d, _, files in os.walk(prefix):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        port = _free_port()
        with open(NGINX_TEMPLATE) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            if line.lstrip().startswith("#"):
                out.append(line)
                continue
            if line.startswith("user "):
                if os.geteuid() != 0:
                    continue
                nobody = pwd.getpwnam("nobody")
                line = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
            line = (line.replace("@PREFIX@", prefix).replace("@PORT@", str(port))
                    .replace("@SOCKET@", sock)
                    .replace("@PINNED@", f"server unix:{sock} max_fails=0;")
                    .replace("@NCHAN_MODULE@", NCHAN_MODULE)
                    .replace("@FEED_REDIS@", "").replace("@FEED_STORE@", ""))
            line = re.sub(r"fastcgi_read_timeout \S+;", "fastcgi_read_timeout 1s;", line)
            out.append(line)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        proc = subprocess.Popen(["nginx", "-p", prefix + "/", "-c", conf, "-e",
                                 os.path.join(prefix, "error.log"), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cls.procs.append(proc)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.poll() else ""
                raise AssertionError(f"nginx ({name}) did not come up: {err}")
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.stop.set()
        for proc in cls.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.stderr.close()
        for s in cls.held:
            s.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, name, method="GET", path="/api/clips/1", body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[name], timeout=30)
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.msg, resp.read())
        finally:
            conn.close()

    def unavailable(self, resp):
        problem = assert_problem(resp, 503)
        self.assertEqual(problem["type"], client.NO_WORKER_TYPE, problem)
        self.assertEqual(problem["title"], TITLES[503], problem)
        self.assertEqual(resp.header("Retry-After"), "1", resp)

    def test_nothing_listens_503(self):
        self.unavailable(self.get("nobody"))
        self.unavailable(self.get("nobody", "POST", "/api/clips/1/actions", "{}"))

    def test_worker_hangs_up_503(self):
        self.unavailable(self.get("hangup"))

    def test_worker_too_slow_504(self):
        resp = self.get("silent", "POST", "/api/clips/1/actions", "{}")
        problem = assert_problem(resp, 504)
        self.assertEqual(problem["type"], "urn:actiond:problem:worker-timeout", problem)
        self.assertEqual(problem["title"], TITLES[504], problem)
        self.assertIsNone(resp.header("Retry-After"), "a timed-out change may have applied")

    def test_every_problem_document_is_a_problem(self):
        # the documents nginx answers with: valid, titled and typed as the worker's are
        for name in sorted(os.listdir(PROBLEMS)):
            with open(os.path.join(PROBLEMS, name), encoding="utf-8") as f:
                doc = json.load(f)
            status = int(name.split(".")[0])
            self.assertEqual(doc["status"], status, name)
            self.assertEqual(doc["title"], TITLES[status], name)
            self.assertRegex(doc["type"], r"^urn:actiond:problem:[a-z0-9-]+$", name)
            self.assertIsInstance(doc["detail"], str, name)
            self.assertEqual(set(doc), {"type", "title", "status", "detail"}, name)


if __name__ == "__main__":
    unittest.main()
