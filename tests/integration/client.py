"""client.py: what every integration test shares: HTTP requests through nginx, problem
checks, paging, a small RFC 6902 applier for log replays, and psql.

Python 3 standard library only. The suite runs under tests/integration/run, which starts
a scratch stack and sets the environment read here:
  ACTIOND_URL                 http://127.0.0.1:PORT/api
  ACTIOND_TOKEN               bearer token of actor "alice"
  ACTIOND_TOKEN_BOB           bearer token of actor "bob"
  DATABASE_URL                libpq URI as actiond_owner (owner of the tables)
  ACTIOND_APP_DATABASE_URL    libpq URI as actiond_app (the workers' role)
  PSQL                        path of psql
  ACTIOND_PG_CTL              command taking stop|start|status for the scratch cluster
"""

import copy
import datetime
import http.client
import json
import os
import select
import socket
import subprocess
import unittest
import urllib.parse


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run the suite with tests/integration/run [BUILD_DIR]")
    return value


URL = _env("ACTIOND_URL").rstrip("/")
_SPLIT = urllib.parse.urlsplit(URL)
HOST = _SPLIT.hostname
PORT = _SPLIT.port or 80
MOUNT = _SPLIT.path  # "/api"
TOKEN = _env("ACTIOND_TOKEN")
TOKEN_BOB = _env("ACTIOND_TOKEN_BOB")

# The grants of a resource created for tests in which bob edits alice's resources:
# only what its owner shares is reachable by anyone else (docs/access.md).
BOB_EDITS = {"bob": "editor"}
DATABASE_URL = _env("DATABASE_URL")
APP_DATABASE_URL = _env("ACTIOND_APP_DATABASE_URL")
PSQL = os.environ.get("PSQL", "psql")
PG_CTL = os.environ.get("ACTIOND_PG_CTL")

# the problem type nginx (nginx/actiond.conf.in) answers with when no worker answered:
# a 503 carrying it means a worker died or hung, not that the database is away
NO_WORKER_TYPE = "urn:actiond:problem:no-worker"

PROBLEM_JSON = "application/problem+json"
MIB = 1024 * 1024

_DEFAULT = object()


class Response:
    """A response: status, headers (an http.client.HTTPMessage, case-insensitive), raw
    body bytes, and body (the parsed JSON, or None). Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = None
        ctype = (headers.get("Content-Type") or "").lower()
        if raw and "json" in ctype:
            try:
                self.body = json.loads(raw)
            except ValueError:
                self.body = None

    def header(self, name):
        return self.headers.get(name)

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        text = self.raw[:600].decode("utf-8", "replace")
        return f"<HTTP {self.status} {text!r}>"


def href(link):
    """The URL of a server-given href: an absolute path ("/api/clips/1") or URL, or a
    link object {"href": ...}."""
    if isinstance(link, dict):
        link = link["href"]
    return urllib.parse.urljoin(URL + "/", link)


def _target(path):
    if path.startswith("http://") or path.startswith("https://"):
        split = urllib.parse.urlsplit(path)
        return split.path + (("?" + split.query) if split.query else "")
    return MOUNT + path


def encode(body):
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def request(method, path, body=None, headers=None, token=_DEFAULT,
            content_type=_DEFAULT, timeout=60):
    """One HTTP request through nginx on a new connection.

    path is relative to the mount ("/clips/1") or a full URL (see href). body may be a
    JSON-able value (sent as JSON), str, bytes, or None. token defaults to alice's;
    None sends no Authorization. content_type defaults to application/json when there
    is a body; None sends none. headers adds or overrides headers.
    """
    data = encode(body)
    hdrs = {}
    if token is _DEFAULT:
        token = TOKEN
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if content_type is _DEFAULT:
        content_type = "application/json" if data is not None else None
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    try:
        conn.request(method, _target(path), body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return Response(resp.status, resp.msg, raw)
    finally:
        conn.close()


def raw_request(head, body=b"", timeout=60):
    """Sends `head` (request line and headers, without the blank line) and `body` on a
    plain socket as HTTP/1.0 and reads the answer to EOF. If the server answers before
    the body is sent (nginx refusing an oversized body by its Content-Length), the body
    is not sent at all."""
    sock = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        sock.sendall(head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n")
        early, _, _ = select.select([sock], [], [], 2.0)
        if not early:
            try:
                sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    data = b"".join(chunks)
    head_raw, _, payload = data.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    msg = http.client.HTTPMessage()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        msg[name.strip()] = value.strip()
    return Response(status, msg, payload)


def assert_problem(resp, status, pointer=None):
    """Checks that resp is an RFC 9457 problem with this status: content type
    application/problem+json, members type, title, status (equal to the HTTP status)
    and detail, and, when given, the JSON Pointer of the offending member. Returns the
    problem body."""
    if resp.status != status:
        raise AssertionError(f"expected HTTP {status}, got {resp!r}")
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != PROBLEM_JSON:
        raise AssertionError(f"expected Content-Type {PROBLEM_JSON}, got {ctype!r}: {resp!r}")
    body = resp.body
    if not isinstance(body, dict):
        raise AssertionError(f"problem body is not a JSON object: {resp!r}")
    for member, kind in (("type", str), ("title", str), ("status", int), ("detail", str)):
        if not isinstance(body.get(member), kind) or isinstance(body.get(member), bool):
            raise AssertionError(f"problem member {member!r} missing or not {kind.__name__}: {body}")
    if body["status"] != status:
        raise AssertionError(f"problem status {body['status']} != HTTP {status}: {body}")
    if pointer is not None and body.get("pointer") != pointer:
        raise AssertionError(f"expected pointer {pointer!r}, got {body.get('pointer')!r}: {body}")
    return body


def etag(version):
    return f'"{version}"'


def link_href(link):
    """The href of a link that is either {"href": ...} or a bare string; None if none."""
    if link is None:
        return None
    if isinstance(link, dict):
        return link.get("href")
    return link


# ---------------------------------------------------------------------------------
# documents

def find_list(doc, key, path=()):
    """The first list in doc (depth first) whose items are objects with member `key`,
    as (path, list); (None, None) if there is none. The catalog decides where a clip
    keeps its keyframes; the tests only rely on the items carrying "frame"."""
    if isinstance(doc, list):
        if doc and all(isinstance(i, dict) and key in i for i in doc):
            return path, doc
        items = enumerate(doc)
    elif isinstance(doc, dict):
        items = doc.items()
    else:
        return None, None
    for k, v in items:
        found = find_list(v, key, path + (k,))
        if found[0] is not None:
            return found
    return None, None


def find_object(doc, predicate):
    """The first object in doc (depth first) for which predicate holds, or None."""
    if isinstance(doc, dict):
        if predicate(doc):
            return doc
        children = doc.values()
    elif isinstance(doc, list):
        children = doc
    else:
        return None
    for child in children:
        found = find_object(child, predicate)
        if found is not None:
            return found
    return None


def at_path(doc, path):
    for k in path:
        doc = doc[k]
    return doc


# ---------------------------------------------------------------------------------
# RFC 6902, just enough to replay the log's forward and inverse patches

def _tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"bad pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc, tokens):
    for t in tokens[:-1]:
        doc = doc[int(t)] if isinstance(doc, list) else doc[t]
    return doc


def _get(doc, pointer):
    for t in _tokens(pointer):
        doc = doc[int(t)] if isinstance(doc, list) else doc[t]
    return doc


def _add(doc, pointer, value):
    tokens = _tokens(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            index = int(last)
            if index > len(parent):
                raise IndexError(pointer)
            parent.insert(index, value)
    else:
        parent[last] = value
    return doc


def _remove(doc, pointer):
    tokens = _tokens(pointer)
    if not tokens:
        return None
    parent = _parent(doc, tokens)
    if isinstance(parent, list):
        del parent[int(tokens[-1])]
    else:
        del parent[tokens[-1]]
    return doc


def apply_patch(doc, patch):
    """Applies an RFC 6902 patch to a copy of doc and returns the result."""
    doc = copy.deepcopy(doc)
    for op in patch:
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            doc = _add(_remove(doc, path), path, copy.deepcopy(op["value"])) \
                if _tokens(path) else copy.deepcopy(op["value"])
        elif kind == "move":
            value = _get(doc, op["from"])
            doc = _add(_remove(doc, op["from"]), path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise ValueError(f"test failed at {path}")
        else:
            raise ValueError(f"unknown op {kind!r}")
    return doc


# ---------------------------------------------------------------------------------
# SQL

def psql(url, sql, timeout=60):
    """Runs sql with psql against url; returns the CompletedProcess (text, captured).
    ON_ERROR_STOP makes any failing statement a non-zero return code."""
    return subprocess.run(
        [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True, text=True, timeout=timeout, check=False)


def utc_micros(test, text):
    """Asserts that text is a timestamp as the API writes it (RFC 3339 in UTC, as
    PostgreSQL's to_json() renders it: 2026-11-23T13:25:17.123456+00:00, the fraction
    without trailing zeros) and returns it as microseconds since the epoch, to compare
    with the database's extract(epoch FROM ...) * 1000000."""
    test.assertRegex(text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,5}[1-9])?\+00:00$")
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (datetime.datetime.fromisoformat(text) - epoch) // datetime.timedelta(microseconds=1)


def psql_value(url, sql):
    proc = psql(url, sql)
    if proc.returncode != 0:
        raise AssertionError(f"psql failed ({proc.returncode}): {sql}\n{proc.stderr}")
    return proc.stdout.strip()


_LOG_TABLE = None


def log_table():
    """The action log's table as "schema.table" (the one base table with columns
    resource_id, version and applied_at), or $ACTIOND_LOG_TABLE."""
    global _LOG_TABLE
    if _LOG_TABLE is None:
        _LOG_TABLE = os.environ.get("ACTIOND_LOG_TABLE")
    if _LOG_TABLE is None:
        out = psql_value(DATABASE_URL, """
            SELECT format('%I.%I', c.table_schema, c.table_name)
              FROM information_schema.columns c
              JOIN information_schema.tables t
                ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE t.table_type = 'BASE TABLE'
               AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
             GROUP BY c.table_schema, c.table_name
            HAVING bool_or(c.column_name = 'resource_id')
               AND bool_or(c.column_name = 'version')
               AND bool_or(c.column_name = 'applied_at')""")
        tables = [t for t in out.splitlines() if t]
        if len(tables) != 1:
            raise AssertionError(
                "cannot tell the action log table (a base table with columns resource_id, "
                f"version, applied_at); candidates: {tables}; set ACTIOND_LOG_TABLE")
        _LOG_TABLE = tables[0]
    return _LOG_TABLE


# ---------------------------------------------------------------------------------
# the base class of the tests

class ApiTestCase(unittest.TestCase):
    """Helpers over the clips type."""

    maxDiff = 4000

    def create_clip(self, body=None, token=_DEFAULT):
        resp = request("POST", "/clips", body=body, token=token)
        self.assertEqual(resp.status, 201, resp)
        self.assertIsInstance(resp.body, dict, resp)
        return resp.body["id"], resp

    def get_clip(self, clip_id, token=_DEFAULT):
        resp = request("GET", f"/clips/{clip_id}", token=token)
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def act(self, clip_id, envelope, headers=None, token=_DEFAULT):
        return request("POST", f"/clips/{clip_id}/actions", body=envelope,
                       headers=headers, token=token)

    def act_ok(self, clip_id, envelope, headers=None, token=_DEFAULT):
        resp = self.act(clip_id, envelope, headers=headers, token=token)
        self.assertEqual(resp.status, 200, f"{envelope} -> {resp!r}")
        self.assertIs(resp.body.get("success"), True, resp)
        return resp.body

    def add_keyframe(self, clip_id, version, frame, **values):
        data = {"frame": frame, "x": 50, "y": 50, "width": 640, "height": 360}
        data.update(values)
        return self.act_ok(clip_id, {"action": "add_crop_keyframe", "data": data,
                                     "expected_version": version})

    def keyframes(self, doc):
        path, frames = find_list(doc, "frame")
        return [] if path is None else frames

    def log_entries(self, clip_id, since=0, limit=None, max_pages=1000, type_="clips",
                    token=_DEFAULT):
        """Every log entry of a resource (a clip unless `type_` says otherwise) after
        `since`, following _links.next page by page, read as `token`'s actor."""
        query = f"?since={since}" + (f"&limit={limit}" if limit else "")
        url = f"/{type_}/{clip_id}/actions{query}"
        entries = []
        for _ in range(max_pages):
            resp = request("GET", url, token=token)
            self.assertEqual(resp.status, 200, resp)
            page = resp.body["entries"]
            entries.extend(page)
            nxt = link_href((resp.body.get("_links") or {}).get("next"))
            if not nxt or not page:
                return entries
            url = href(nxt)
        self.fail(f"log of {type_}/{clip_id} has more than {max_pages} pages")

    def assert_unchanged(self, clip_id, before):
        """The clip still has the version and data of `before` (a representation)."""
        now = self.get_clip(clip_id)
        self.assertEqual(now["version"], before["version"])
        self.assertEqual(now["data"], before["data"])
        self.assertEqual(len(self.log_entries(clip_id)), before["version"])
