"""test_feed.py: the live feed, GET /{type}/{id}/events (docs/api.md, "Live feed"),
GET /catalog, and the browser client nginx serves (web/).

- Who may follow: no token 401, a stranger 404 as for the resource, a reader 200.
- What a subscriber gets: the entries after the version it names (Last-Event-ID, else
  ?since=), then each new one, each exactly as GET .../actions shows it, none missing
  or repeated, also while several threads change the resource at once and subscribers
  join in the middle; one far behind gets the log in a response that ends and follows
  on once it reconnects, as an EventSource does.
- What ends a stream: the deletion of the resource (410 after), an unshare (the
  subscriber is authorized again), and entries actionctl wrote reach the feed in order.
- No worker waits for a subscriber: 1,000 open streams, and actions go on as before;
  every stream gets the next entry. nginx's memory before and after is reported, as is
  the time from an action's answer to its event (no assertion on either).
- Several nginx hosts: two nginx in front of one set of workers, sharing the feed's
  channels through a Redis server of the test's own: a subscriber on one sees what is
  done through the other.
- The browser client itself (web/actiond.js, run in node by feed_client.mjs): what one
  user applies reaches another's open document through the feed; GET /catalog and the
  client's modules as nginx serves them.

Streams are read on raw sockets (Python 3 standard library only).
"""

import grp
import http.client
import json
import os
import pwd
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from client import (APP_DATABASE_URL, HOST, MOUNT, PORT, TOKEN, TOKEN_BOB, ApiTestCase,
                    assert_problem, etag, request)
from test_audit import run_actionctl

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
CATALOG = os.path.join(SRC, "catalog", "default.json")
NGINX_TEMPLATE = os.path.join(SRC, "nginx", "actiond.conf.in")
# the stack's state directory: tests/integration/run's ACTIOND_PID_FILE is STATE/run/actiond.pid
STATE = os.path.dirname(os.path.dirname(os.environ.get("ACTIOND_PID_FILE", "/nonexistent/x/y")))

KEYFRAME = {"frame": 1, "x": 50, "y": 50, "width": 640, "height": 360}


def report(*args):
    print("  [feed]", *args, file=sys.stderr, flush=True)


def parse_events(text):
    """The complete events in `text` (our server writes "\\n" line ends) and the rest:
    ([{"id", "data"}...], rest). Comment and retry lines are skipped."""
    events = []
    while "\n\n" in text:
        block, text = text.split("\n\n", 1)
        event = {}
        for line in block.split("\n"):
            if line.startswith(":") or line == "":
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field in ("id", "data"):
                if field == "data" and "data" in event:
                    raise AssertionError(f"an event with two data lines: {block!r}")
                event[field] = value
            elif field != "retry":
                raise AssertionError(f"unexpected field {field!r} in {block!r}")
        if "data" in event:
            events.append(event)
    return events, text


class Stream:
    """One GET .../events on a connection of its own. A response with a Content-Length
    (a problem, or the log up to now in a response that ends) is read whole at once;
    nchan's stream is read as it comes."""

    def __init__(self, path, token=TOKEN, last_event_id=None, headers=None, port=PORT,
                 method="GET", timeout=15):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        lines = [f"{method} {MOUNT}{path} HTTP/1.1", f"Host: {HOST}:{port}",
                 "Accept: text/event-stream"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.raw = b""
        self.text = ""
        self.ended = False
        self.events = []
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"{path}: closed before an answer: {buf!r}")
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = http.client.HTTPMessage()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip()] = value.strip()
        length = self.headers.get("Content-Length")
        self.finite = length is not None
        if self.finite:
            while len(rest) < int(length):
                data = self.sock.recv(65536)
                if not data:
                    break
                rest += data
            self.ended = True
            self.sock.close()
        self._take(rest)

    def _take(self, data):
        self.raw += data
        self.text += data.decode("utf-8")
        events, self.text = parse_events(self.text)
        self.events += events

    def header(self, name):
        return self.headers.get(name)

    @property
    def body(self):
        return json.loads(self.raw) if self.raw else None

    def read(self, timeout):
        """Reads the next bytes that arrive within `timeout` seconds, if any."""
        self._read(timeout, first=True)

    def linger(self, timeout):
        """Reads all that arrives for `timeout` seconds (less when the stream ends)."""
        self._read(timeout, first=False)

    def _read(self, timeout, first):
        deadline = time.monotonic() + timeout
        while not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            except OSError:
                data = b""
            if not data:
                self.ended = True
                self.sock.close()
                return
            self._take(data)
            if first:
                return

    def wait_for(self, count, timeout=15):
        """Reads until `count` events in all have come (or the stream ends, or time is
        up), and returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and not self.ended and time.monotonic() < deadline:
            self.read(deadline - time.monotonic())
        return self.events

    def versions(self):
        return [int(e["id"]) for e in self.events]

    def close(self):
        if not self.ended:
            self.sock.close()
            self.ended = True


class Follower(threading.Thread):
    """What an EventSource does: follows a feed, reconnecting with Last-Event-ID
    whenever a stream ends, until it has the entry of version `until` (set later) or
    its time is up. Every version it got, in order, is in `versions`."""

    def __init__(self, path, since, token=TOKEN, port=PORT, timeout=90):
        super().__init__(daemon=True)
        self.path, self.since, self.token, self.port = path, since, token, port
        self.until = None
        self.versions = []
        self.entries = []
        self.connections = 0
        self.error = None
        self.deadline = time.monotonic() + timeout
        self.started_at_version = threading.Event()

    def done(self):
        last = self.versions[-1] if self.versions else self.since
        return self.until is not None and last >= self.until

    def run(self):
        last = None
        try:
            while time.monotonic() < self.deadline and not self.done():
                if last is None:
                    s = Stream(f"{self.path}?since={self.since}", token=self.token, port=self.port)
                else:
                    s = Stream(self.path, token=self.token, last_event_id=last, port=self.port)
                self.connections += 1
                if s.status != 200:
                    self.error = f"{s.status} {s.raw[:300]!r}"
                    return
                self.started_at_version.set()
                seen = 0
                while True:
                    for e in s.events[seen:]:
                        self.versions.append(int(e["id"]))
                        self.entries.append(e["data"])
                    seen = len(s.events)
                    if s.events:
                        last = s.events[-1]["id"]
                    if s.ended or self.done() or time.monotonic() >= self.deadline:
                        break
                    s.read(0.5)
                s.close()
        except Exception as exc:  # reported by the test
            self.error = repr(exc)


def clip_action(frame):
    return {"action": "add_crop_keyframe", "data": dict(KEYFRAME, frame=frame)}


class FeedCase(ApiTestCase):
    def new_clip(self, actions=0, access=None):
        body = {"access": access} if access else None
        cid, _ = self.create_clip(body)
        for i in range(actions):
            self.act_ok(cid, dict(clip_action(i + 1), expected_version=i + 1))
        return cid

    def add(self, cid, version, token=TOKEN):
        resp = self.act(cid, dict(clip_action(1000 + version), expected_version=version),
                        token=token)
        self.assertEqual(resp.status, 200, resp)
        return resp.body["version"]

    def open(self, path, **kw):
        s = Stream(path, **kw)
        self.addCleanup(s.close)
        return s


# ---------------------------------------------------------------------------------

class Access(FeedCase):
    def test_no_token_is_401(self):
        cid = self.new_clip()
        s = self.open(f"/clips/{cid}/events", token=None)
        assert_problem(s, 401)

    def test_a_stranger_gets_404_as_for_the_resource(self):
        cid = self.new_clip()
        s = self.open(f"/clips/{cid}/events", token=TOKEN_BOB)
        body = assert_problem(s, 404)
        plain = request("GET", f"/clips/{cid}", token=TOKEN_BOB)
        self.assertEqual(plain.status, 404)
        self.assertEqual(body["type"], plain.body["type"])
        self.assertEqual(assert_problem(self.open("/clips/999999999/events"), 404)["type"],
                         body["type"])

    def test_a_reader_follows(self):
        cid = self.new_clip(access={"bob": "reader"})
        s = self.open(f"/clips/{cid}/events", token=TOKEN_BOB)
        self.assertEqual(s.status, 200, s.raw)
        self.assertEqual(s.headers.get("Content-Type"), "text/event-stream")
        self.assertEqual(s.headers.get("Cache-Control"), "no-store")
        self.add(cid, 1)
        self.assertEqual([int(e["id"]) for e in s.wait_for(1)], [2])

    def test_malformed_requests(self):
        cid = self.new_clip(actions=1)
        path = f"/clips/{cid}/events"
        for kw in ({"last_event_id": "x"}, {"last_event_id": "01"}, {"last_event_id": "3"},
                   {"headers": {"If-None-Match": '"1"'}}):
            with self.subTest(kw=kw):
                assert_problem(self.open(path, **kw), 400)
        for query in ("?since=-1", "?since=x", "?since=3"):
            with self.subTest(query=query):
                assert_problem(self.open(path + query), 400)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            with self.subTest(method=method):
                resp = request(method, path)
                self.assertEqual(resp.status, 405, resp)
                self.assertEqual(resp.header("Allow"), "GET, HEAD")
        head = request("HEAD", path)
        self.assertEqual((head.status, head.raw), (200, b""))
        self.assertEqual(head.header("Content-Type"), "text/event-stream")
        self.assertEqual(request("HEAD", path + "?since=3").status, 400)


class Events(FeedCase):
    def test_the_backlog_then_live_entries(self):
        cid = self.new_clip(actions=3)
        s = self.open(f"/clips/{cid}/events?since=1")
        self.assertEqual(s.status, 200)
        self.assertFalse(s.finite, "a stream nchan serves has no Content-Length")
        self.assertEqual([int(e["id"]) for e in s.wait_for(3)], [2, 3, 4])
        self.add(cid, 4)
        self.add(cid, 5)
        s.wait_for(5)
        s.linger(0.5)
        self.assertEqual(s.versions(), [2, 3, 4, 5, 6])

    def test_last_event_id_wins_over_since(self):
        cid = self.new_clip(actions=3)
        s = self.open(f"/clips/{cid}/events?since=0", last_event_id="3")
        self.assertEqual([int(e["id"]) for e in s.wait_for(1)], [4])
        self.add(cid, 4)
        s.wait_for(2)
        self.assertEqual(s.versions(), [4, 5])

    def test_without_a_version_the_stream_starts_now(self):
        cid = self.new_clip(actions=2)
        s = self.open(f"/clips/{cid}/events")
        s.linger(0.5)
        self.assertEqual(s.events, [])
        self.add(cid, 3)
        s.wait_for(1)
        self.assertEqual(s.versions(), [4])

    def test_an_event_is_the_entry_as_the_log_shows_it(self):
        cid = self.new_clip(actions=2)
        s = self.open(f"/clips/{cid}/events?since=0")
        self.add(cid, 3)
        self.act_ok(cid, {"action": "set_trim_range", "data": {"start": 1.5, "end": 4},
                          "expected_version": 4})
        s.wait_for(5)
        page = request("GET", f"/clips/{cid}/actions?since=0")
        self.assertEqual(page.status, 200)
        entries = page.body["entries"]
        self.assertEqual(s.versions(), [e["version"] for e in entries])
        for event, entry in zip(s.events, entries):
            self.assertNotIn("\n", event["data"])
            self.assertEqual(json.loads(event["data"]), entry)
            # the very text of the page, as the database wrote it
            self.assertIn(event["data"].encode("utf-8"), page.raw)

    def test_far_behind_gets_the_log_then_follows(self):
        cid = self.new_clip(actions=30)
        s = self.open(f"/clips/{cid}/events?since=0")
        self.assertEqual(s.status, 200)
        self.assertTrue(s.finite and s.ended, "a subscriber 31 entries behind gets an end")
        self.assertEqual(s.versions(), list(range(1, 32)))
        again = self.open(f"/clips/{cid}/events", last_event_id="31")
        self.assertFalse(again.finite)
        self.add(cid, 31)
        again.wait_for(1)
        self.assertEqual(again.versions(), [32])

    def test_a_burst_from_several_threads(self):
        """Four threads patch one document at once (merged: each its own member), while
        subscribers follow from before the burst and join in the middle of it, one of
        them far behind: each gets every version after its own once, in order."""
        resp = request("POST", "/documents", body={"data": {}})
        self.assertEqual(resp.status, 201, resp)
        did = resp.body["id"]
        path = f"/documents/{did}/events"
        early = Follower(path, since=1)
        early.start()
        self.assertTrue(early.started_at_version.wait(15), early.error)
        errors = []

        def writer(w):
            for i in range(40):
                r = request("PATCH", f"/documents/{did}?on_conflict=merge",
                            body=[{"op": "add", "path": f"/w{w}_{i}", "value": i}],
                            headers={"If-Match": etag(1)},
                            content_type="application/json-patch+json")
                if r.status != 200:
                    errors.append(repr(r))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        late = []
        while len(late) < 3:
            time.sleep(0.05)
            version = request("GET", f"/documents/{did}").body["version"]
            since = 1 if len(late) == 2 else version  # the last one from far behind
            f = Follower(path, since=since)
            f.start()
            late.append(f)
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        final = request("GET", f"/documents/{did}").body["version"]
        self.assertEqual(final, 1 + 4 * 40)
        for f in [early] + late:
            f.until = final
        for f in [early] + late:
            f.join(120)
            self.assertIsNone(f.error)
            self.assertEqual(f.versions, list(range(f.since + 1, final + 1)),
                             f"since {f.since}, {f.connections} connections")
        log = self.log_entries(did, type_="documents")
        for f in [early] + late:
            for text, entry in zip(f.entries, log[f.since:]):
                self.assertEqual(json.loads(text), entry)
        report(f"burst: {final - 1} changes from 4 threads; followers from versions "
               f"{[f.since for f in [early] + late]} used "
               f"{[f.connections for f in [early] + late]} connections")

    def test_a_deletion_ends_the_stream(self):
        cid = self.new_clip(actions=1)
        s = self.open(f"/clips/{cid}/events")
        resp = request("DELETE", f"/clips/{cid}", headers={"If-Match": etag(2)})
        self.assertEqual(resp.status, 204, resp)
        s.wait_for(1)
        s.linger(5)
        self.assertTrue(s.ended)
        self.assertEqual(json.loads(s.events[0]["data"])["action"], "delete")
        assert_problem(self.open(f"/clips/{cid}/events", last_event_id="3"), 410)
        # the log up to the deletion stays readable
        behind = self.open(f"/clips/{cid}/events?since=1")
        self.assertEqual(behind.versions(), [2, 3])
        self.assertTrue(behind.ended)

    def test_an_unshare_ends_the_readers_stream(self):
        cid = self.new_clip(access={"bob": "reader"})
        s = self.open(f"/clips/{cid}/events", token=TOKEN_BOB)
        self.add(cid, 1)
        s.wait_for(1)
        resp = request("POST", f"/clips/{cid}/unshare", body={"data": {"actor": "bob"}})
        self.assertEqual(resp.status, 204, resp)
        s.linger(5)
        self.assertTrue(s.ended, "the stream of an unshared reader ends")
        self.assertEqual(assert_problem(self.open(f"/clips/{cid}/events", token=TOKEN_BOB,
                                                  last_event_id="3"), 404)["status"], 404)

    def test_entries_actionctl_wrote_reach_the_feed_in_order(self):
        cid = self.new_clip(actions=1)
        s = self.open(f"/clips/{cid}/events")
        proc = run_actionctl("grant", "set", "--type", "clips", "--id", str(cid),
                             "--actor", "bob", "--role", "reader")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.add(cid, 3)
        s.wait_for(2)
        self.assertEqual(s.versions(), [3, 4])
        self.assertEqual(json.loads(s.events[0]["data"])["actor"], "actionctl")
        # and a subscriber who comes after them gets them from the feed as well
        late = self.open(f"/clips/{cid}/events?since=2")
        self.assertEqual([int(e["id"]) for e in late.wait_for(2)], [3, 4])


# ---------------------------------------------------------------------------------

def nginx_worker_pids():
    with open(os.path.join(STATE, "nginx", "nginx.pid")) as f:
        master = int(f.read())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(entry))
    return master, pids


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def action_latencies(case, cid, n):
    """The times of n actions in a row on clip `cid`, in milliseconds."""
    version = case.get_clip(cid)["version"]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        version = case.add(cid, version)
        times.append((time.perf_counter() - start) * 1000)
    return times


class Scale(FeedCase):
    SUBSCRIBERS = 1000

    def test_idle_subscribers_hold_no_worker(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < self.SUBSCRIBERS + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        watched = self.new_clip()
        other = self.new_clip()
        master, workers = nginx_worker_pids()
        action_latencies(self, other, 10)  # warm up
        before_ms = action_latencies(self, other, 50)
        rss_before = {pid: rss_kib(pid) for pid in workers}
        streams = []
        start = time.monotonic()
        try:
            for _ in range(self.SUBSCRIBERS):
                s = Stream(f"/clips/{watched}/events")
                self.assertEqual(s.status, 200)
                self.assertFalse(s.finite)
                streams.append(s)
            opened = time.monotonic() - start
            time.sleep(1)
            rss_after = {pid: rss_kib(pid) for pid in workers}
            during_ms = action_latencies(self, other, 50)
            # the workers answer as before: none of them waits on a stream
            self.assertEqual(len(during_ms), 50)
            health = request("GET", "/healthz", token=None)
            self.assertEqual(health.status, 200)
            # and every stream gets the next entry
            t0 = time.monotonic()
            self.add(watched, 1)
            sel = selectors.DefaultSelector()
            for s in streams:
                sel.register(s.sock, selectors.EVENT_READ, s)
            pending = set(range(len(streams)))
            index = {id(s): i for i, s in enumerate(streams)}
            deadline = time.monotonic() + 30
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    s = key.data
                    data = s.sock.recv(65536)
                    if not data:
                        sel.unregister(s.sock)
                        pending.discard(index[id(s)])
                        continue
                    s._take(data)
                    if s.events:
                        sel.unregister(s.sock)
                        pending.discard(index[id(s)])
            fanout = time.monotonic() - t0
            sel.close()
            self.assertEqual(sum(1 for s in streams if s.versions() == [2]), len(streams))
        finally:
            for s in streams:
                s.close()
        before_kib = sum(rss_before.values())
        after_kib = sum(rss_after.values())
        report(f"{self.SUBSCRIBERS} streams opened in {opened:.2f} s; nginx workers' RSS "
               f"{before_kib / 1024:.1f} MiB before, {after_kib / 1024:.1f} MiB with them "
               f"({(after_kib - before_kib) / self.SUBSCRIBERS:.1f} KiB a stream; "
               f"{len(workers)} workers)")
        report(f"an action's time alone: median {statistics.median(before_ms):.2f} ms, with "
               f"{self.SUBSCRIBERS} streams open: median {statistics.median(during_ms):.2f} ms; "
               f"one entry reached all {self.SUBSCRIBERS} streams within {fanout * 1000:.0f} ms")

    def test_from_an_answer_to_its_event(self):
        """The time from an action's answer to its event on an open stream, over a few
        hundred actions (reported; the publish follows the answer)."""
        cid = self.new_clip()
        s = self.open(f"/clips/{cid}/events")
        version = 1
        after_answer, after_request = [], []
        for _ in range(300):
            sent = time.perf_counter()
            version = self.add(cid, version)
            answered = time.perf_counter()
            while not s.events or int(s.events[-1]["id"]) < version:
                s.read(5)
                self.assertFalse(s.ended)
            arrived = time.perf_counter()
            after_answer.append((arrived - answered) * 1000)
            after_request.append((arrived - sent) * 1000)
        self.assertEqual(s.versions(), list(range(2, version + 1)))

        def pct(xs, p):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * p / 100))]

        report(f"event after the action's answer: p50 {pct(after_answer, 50):.2f} ms, "
               f"p99 {pct(after_answer, 99):.2f} ms; after its request: p50 "
               f"{pct(after_request, 50):.2f} ms, p99 {pct(after_request, 99):.2f} ms "
               f"({len(after_answer)} actions)")


# ---------------------------------------------------------------------------------

class Catalog(unittest.TestCase):
    def test_the_catalog_the_workers_loaded(self):
        resp = request("GET", "/catalog")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        with open(CATALOG, encoding="utf-8") as f:
            self.assertEqual(resp.body, json.load(f))
        tag = resp.header("ETag")
        self.assertRegex(tag, r'^"[0-9a-z]+"$')
        self.assertIn("no-cache", resp.header("Cache-Control"))
        for inm in (tag, "W/" + tag, f'"x", {tag}', "*"):
            again = request("GET", "/catalog", headers={"If-None-Match": inm})
            self.assertEqual(again.status, 304, (inm, again))
            self.assertEqual(again.header("ETag"), tag)
        self.assertEqual(request("GET", "/catalog", headers={"If-None-Match": '"x"'}).status,
                         200)
        head = request("HEAD", "/catalog")
        self.assertEqual((head.status, head.raw), (200, b""))

    def test_needs_a_token_and_reads_only(self):
        assert_problem(request("GET", "/catalog", token=None), 401)
        resp = request("POST", "/catalog", body={})
        assert_problem(resp, 405)
        self.assertEqual(resp.header("Allow"), "GET, HEAD")


class BrowserClient(unittest.TestCase):
    FILES = ["actiond.js", "engine.js", "client/doc.js", "client/feed.js", "client/http.js",
             "client/store.js", "engine/json.js", "engine/patch.js"]

    def get(self, path):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.msg, resp.read()
        finally:
            conn.close()

    def test_the_modules_are_served_as_javascript(self):
        for name in self.FILES:
            with self.subTest(name=name):
                status, headers, body = self.get("/" + name)
                self.assertEqual(status, 200)
                ctype = headers.get("Content-Type")
                self.assertEqual(ctype.split(";")[0].strip(), "text/javascript")
                self.assertIn("charset=utf-8", ctype)
                self.assertEqual(headers.get("Cache-Control"), "no-cache")
                self.assertTrue(headers.get("ETag"))
                with open(os.path.join(SRC, "web", name), "rb") as f:
                    self.assertEqual(body, f.read())

    def test_every_import_resolves(self):
        seen, todo = set(), ["/actiond.js"]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            status, _, body = self.get(path)
            self.assertEqual(status, 200, path)
            for spec in re.findall(r"""(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]""",
                                   body.decode("utf-8")):
                base = path.rsplit("/", 1)[0]
                target = os.path.normpath(os.path.join(base or "/", spec))
                todo.append(target)
        self.assertIn("/engine/json.js", seen)

    def test_two_clients_meet_through_the_feed(self):
        """web/actiond.js itself, in node: what alice applies reaches bob's open document
        through the live feed (tests/integration/feed_client.mjs)."""
        proc = subprocess.run(["node", os.path.join(HERE, "feed_client.mjs"),
                               os.path.join(SRC, "web")],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("documents agree", proc.stdout)

    def test_nothing_else_is(self):
        for path in ("/client/nope.js", "/web/actiond.js", "/README.md", "/web/README.md",
                     "/client/../actiond.js.map", "/engine/", "/actiond.jsx"):
            with self.subTest(path=path):
                status, headers, _ = self.get(path)
                self.assertEqual(status, 404, path)


# ---------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


def nchan_module():
    out = subprocess.run(["nginx", "-V"], capture_output=True, text=True).stderr
    m = re.search(r"--modules-path=(\S+)", out)
    return os.path.join(m.group(1) if m else "/usr/lib/nginx/modules", "ngx_nchan_module.so")


class SeveralHosts(FeedCase):
    """Two nginx (A and B, each its own prefix and port) in front of one set of workers,
    which publish through A; the channels live in a Redis server both use."""

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        cls.dir = tempfile.mkdtemp(prefix="actiond-feed-")
        os.chmod(cls.dir, 0o755)
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", cls.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(("redis", redis.pid, redis))
        wait_until(lambda: _connects(redis_port), "redis-server listens")
        sock = os.path.join(cls.dir, "w.sock")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")}
        with open(os.path.join(cls.dir, "actiond.log"), "w") as log:
            workers = subprocess.Popen(
                [os.path.join(os.environ["ACTIOND_BUILD_DIR"], "actiond"), "--listen", sock,
                 "--socket-mode", "0666", "--workers", "2", "--worker-sockets",
                 "--database", APP_DATABASE_URL, "--catalog", CATALOG,
                 "--feed", os.path.join(cls.dir, "a", "feed.sock")],
                env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        cls.procs.append(("actiond", workers.pid, workers))
        wait_until(lambda: os.path.exists(sock + ".1"), "the workers' sockets")
        cls.ports = {}
        for name in ("a", "b"):
            cls.ports[name] = cls._nginx(name, sock, redis_port)

    @classmethod
    def _nginx(cls, name, sock, redis_port):
        prefix = os.path.join(cls.dir, name)
        os.makedirs(os.path.join(prefix, "tmp"))
        shutil.copytree(os.path.join(SRC, "nginx", "problems"), os.path.join(prefix, "problems"))
        for d, _, files in os.walk(prefix):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        port = free_port()
        pinned = "\n        ".join(f"server unix:{sock}.{n} max_fails=0;" for n in range(2))
        out = []
        with open(NGINX_TEMPLATE) as f:
            for line in f.read().splitlines():
                if line.lstrip().startswith("#"):
                    continue
                if line.startswith("user "):
                    if os.geteuid() != 0:
                        continue
                    nobody = pwd.getpwnam("nobody")
                    line = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
                line = (line.replace("@PREFIX@", prefix).replace("@PORT@", str(port))
                        .replace("@SOCKET@", sock).replace("@PINNED@", pinned)
                        .replace("@NCHAN_MODULE@", nchan_module())
                        .replace("@FEED_REDIS@", "upstream actiond_feed_redis { "
                                 f"nchan_redis_server redis://127.0.0.1:{redis_port}; }}")
                        .replace("@FEED_STORE@", "nchan_redis_pass actiond_feed_redis;"))
                out.append(line)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
        proc = subprocess.Popen(["nginx", "-p", prefix + "/", "-c", conf, "-e",
                                 os.path.join(prefix, "error.log"), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append((f"nginx {name}", proc.pid, proc))
        wait_until(lambda: proc.poll() is not None or _connects(port), f"nginx {name} listens")
        if proc.poll() is not None:
            with open(os.path.join(prefix, "error.log"), errors="replace") as f:
                raise AssertionError(f"nginx {name} did not start: {f.read()[-2000:]}")
        return port

    @classmethod
    def tearDownClass(cls):
        for name, pid, proc in reversed(cls.procs):
            try:
                os.kill(pid, signal.SIGQUIT if name.startswith("nginx") else signal.SIGTERM)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.kill(pid, signal.SIGKILL)
                proc.wait(5)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def via(self, name, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(HOST, self.ports[name], timeout=30)
        try:
            hdrs = {"Authorization": f"Bearer {TOKEN}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            hdrs.update(headers or {})
            conn.request(method, MOUNT + path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def act_via(self, name, cid, version):
        status, body = self.via(name, "POST", f"/clips/{cid}/actions",
                                dict(clip_action(2000 + version), expected_version=version))
        self.assertEqual(status, 200, body)
        return body["version"]

    def test_a_subscriber_on_one_host_sees_what_is_done_through_the_other(self):
        status, body = self.via("a", "POST", "/clips")
        self.assertEqual(status, 201, body)
        cid = body["id"]
        on_b = self.open(f"/clips/{cid}/events?since=1", port=self.ports["b"])
        self.assertEqual(on_b.status, 200, on_b.raw)
        on_a = self.open(f"/clips/{cid}/events?since=1", port=self.ports["a"])
        version = self.act_via("a", cid, 1)
        version = self.act_via("b", cid, version)
        version = self.act_via("a", cid, version)
        for s in (on_a, on_b):
            s.wait_for(3)
            s.linger(0.3)
            self.assertEqual(s.versions(), [2, 3, 4])
        # a subscriber that joins through B after them gets them from the shared buffer
        late = self.open(f"/clips/{cid}/events?since=2", port=self.ports["b"])
        self.assertFalse(late.finite)
        self.assertEqual([int(e["id"]) for e in late.wait_for(2)], [3, 4])


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
