"""test_process.py: the worker as a process (docs/configuration.md): it serves under
spawn-fcgi on an inherited socket, and SIGTERM lets it finish the request in hand (here
one waiting on a row lock) before it exits cleanly; its own sockets per child; the
connections it keeps between requests; the web server addresses it accepts over TCP;
and nginx keeping a dead worker's socket in use, since its replacement serves it."""

import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

import fcgi
from client import APP_DATABASE_URL, DATABASE_URL, PSQL, TOKEN, ApiTestCase, request

BUILD = os.environ.get("ACTIOND_BUILD_DIR", "")
CATALOG = os.path.join(os.path.dirname(__file__), "..", "..", "catalog", "default.json")


def wait_answers(test, path):
    """Waits until a worker answers /healthz on the socket at `path` (the socket file
    exists a moment before it listens)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if fcgi.request(path, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        test.assertLess(time.monotonic(), deadline, f"nobody answers on {path}")
        time.sleep(0.05)


def hold_row_lock(test, clip):
    """A psql session holding resource `clip`'s row lock until release_row_lock."""
    holder = subprocess.Popen([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               DATABASE_URL],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    holder.stdin.write(f"BEGIN; SELECT id FROM resources WHERE id = {clip} FOR UPDATE;\n"
                       "\\echo locked\n")
    holder.stdin.flush()
    for line in holder.stdout:
        if line.strip() == "locked":
            return holder
    test.fail(f"psql could not lock the row: {holder.stderr.read()}")
    return None


def wait_for_lock_waiter(test):
    """Waits until some session waits for a lock (the worker's action, behind the row
    lock hold_row_lock took): a fixed pause could end before a loaded machine got there."""
    deadline = time.monotonic() + 30
    while subprocess.run([PSQL, "-X", "-A", "-t", "-c",
                          "SELECT count(*) FROM pg_locks WHERE NOT granted",
                          DATABASE_URL], capture_output=True, text=True,
                         check=True).stdout.strip() == "0":
        test.assertLess(time.monotonic(), deadline, "the action never waited for the lock")
        time.sleep(0.05)


def release_row_lock(holder):
    holder.stdin.write("COMMIT;\n")
    holder.stdin.close()
    holder.wait(timeout=10)
    holder.stdout.close()
    holder.stderr.close()


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

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def test_a_large_request_leaves_no_peak_behind(self):
        """A JSON Patch near the body limit builds tens of MB of objects; once it is
        answered the worker hands that memory back (malloc_trim) instead of keeping its
        peak for good (src/http/worker.c)."""
        with open(f"/proc/{self.proc.pid}/maps") as f:
            if "libasan" in f.read():
                self.skipTest("AddressSanitizer replaces glibc's allocator, whose trimming"
                              " this checks; the build without sanitizers runs it")
        status, _, body = self.call("POST", "/clips")
        self.assertEqual(status, 201, body)
        clip = json.loads(body)["id"]
        for _ in range(20):
            self.assertEqual(self.call("GET", f"/clips/{clip}")[0], 200)
        before = self.rss_kb()
        # as many operations as a patch may have, each adding a value that parses into
        # many objects
        ops = [{"op": "add", "path": "/regions/-",
                "value": {"a": i, "b": [{"c": j} for j in range(40)]}}
               for i in range(1000)]
        data = json.dumps(ops).encode()
        self.assertLess(len(data), 1024 * 1024)
        status, headers, body = fcgi.request(
            self.sock, "PATCH", f"/clips/{clip}", data, content_type="application/json-patch+json",
            headers={"Authorization": f"Bearer {TOKEN}", "If-Match": '"1"'})
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["etag"], '"2"')
        # one worker serves one request at a time: once the next is answered, whatever
        # it did after the patch's answer is done
        self.assertEqual(self.call("GET", "/healthz")[0], 200)
        after = self.rss_kb()
        # measured: +78 MB without the trim, +4 MB with it (the kept 330 KB document,
        # the grown answer buffer)
        self.assertLess(after - before, 16 * 1024, f"RSS {before} KB -> {after} KB")

    def test_sigterm_finishes_the_request_in_hand(self):
        status, _, body = self.call("POST", "/clips")
        self.assertEqual(status, 201, body)
        clip = json.loads(body)["id"]
        # hold the clip's row lock, so the worker's action waits inside its transaction
        holder = hold_row_lock(self, clip)
        result = {}

        def act():
            result["answer"] = self.call("POST", f"/clips/{clip}/actions", {
                "action": "set_trim_range", "expected_version": 1,
                "data": {"start": 1.0, "end": 2.0}})

        sender = threading.Thread(target=act)
        sender.start()
        wait_for_lock_waiter(self)
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertIsNone(self.proc.poll(), "the worker left with a request in hand")
        release_row_lock(holder)
        sender.join(timeout=20)
        status, _, body = result["answer"]
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["version"], 2)
        self.assertEqual(self.proc.wait(timeout=20), 0)


def listening_paths(pid):
    """The unix socket paths process `pid` holds open (from /proc/net/unix)."""
    paths = {}
    with open("/proc/net/unix", encoding="utf-8") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8:
                paths[fields[6]] = fields[7]
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in paths:
            held.add(paths[target[8:-1]])
    return held


def gone_or_zombie(pid):
    """True once process `pid` has exited (reaped or not), False while it runs."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
        return [int(p) for p in f.read().split()]


class WorkerSockets(ApiTestCase):
    """--worker-sockets: prefork child n also accepts on LISTEN.<n>, alone, so that
    nginx can send every write to one resource to the same worker."""

    WORKERS = 3

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-sockets.")
        self.sock = os.path.join(self.dir, "w.sock")
        self.own = [f"{self.sock}.{n}" for n in range(self.WORKERS)]
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "actiond"), "--listen", self.sock,
             "--workers", str(self.WORKERS), "--worker-sockets",
             "--database", APP_DATABASE_URL, "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")})
        self.addCleanup(self.stop)
        for path in [self.sock] + self.own:
            self.wait_answers(path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def wait_answers(self, path):
        wait_answers(self, path)

    def owners(self):
        """{own socket path: pid of the child holding it}, after checking that every
        child holds the shared socket and exactly one own socket."""
        owners = {}
        kids = children(self.proc.pid)
        self.assertEqual(len(kids), self.WORKERS)
        for kid in kids:
            held = listening_paths(kid)
            self.assertIn(self.sock, held)
            own = held & set(self.own)
            self.assertEqual(len(own), 1, f"child {kid} holds {sorted(held)}")
            owners[own.pop()] = kid
        self.assertEqual(sorted(owners), sorted(self.own))
        return owners

    def test_each_child_has_a_socket_of_its_own(self):
        self.owners()
        for path in [self.sock] + self.own:
            status, headers, body = fcgi.request(path, "POST", "/clips", b"",
                                                 headers={"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual(status, 201, body)

    def test_a_respawned_child_takes_over_its_socket(self):
        before = self.owners()
        os.kill(before[self.own[1]], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            kids = children(self.proc.pid)
            if len(kids) == self.WORKERS and before[self.own[1]] not in kids:
                break
            self.assertLess(time.monotonic(), deadline, "the child was not replaced")
            time.sleep(0.05)
        # an answer there means the new child is serving, so it has closed the sockets
        # it inherited for the others
        self.wait_answers(self.own[1])
        after = self.owners()
        self.assertNotEqual(after[self.own[1]], before[self.own[1]])
        self.assertEqual(after[self.own[0]], before[self.own[0]])

    def test_sigterm_removes_every_socket(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=40), 0)
        self.assertEqual(os.listdir(self.dir), [])

    def test_children_leave_when_the_parent_is_killed(self):
        kids = children(self.proc.pid)
        self.proc.kill()
        self.proc.wait()
        deadline = time.monotonic() + 30
        for kid in kids:
            while not gone_or_zombie(kid):
                self.assertLess(time.monotonic(), deadline, f"child {kid} outlived its parent")
                time.sleep(0.05)

    def test_needs_children_and_a_unix_socket(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")}
        for args in (["--listen", os.path.join(self.dir, "x.sock")],
                     ["--listen", "127.0.0.1:1", "--workers", "2"],
                     ["--workers", "2"]):
            run = subprocess.run([os.path.join(BUILD, "actiond"), "--worker-sockets",
                                  "--catalog", CATALOG] + args,
                                 capture_output=True, text=True, env=env, timeout=30)
            self.assertEqual(run.returncode, 2, args)
            self.assertIn("--worker-sockets needs", run.stdout + run.stderr)


class KeptConnections(ApiTestCase):
    """Connections the web server keeps between requests (FCGI_KEEP_CONN, nginx's
    fastcgi_keep_conn): one single-process worker waits on all of them and on its
    listening socket at once, so an idle kept connection never holds it."""

    LIMIT = 256  # MAX_KEPT_CONNECTIONS in src/http/worker.c

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="actiond-kept.")
        self.sock = os.path.join(self.dir, "w.sock")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "actiond"), "--listen", self.sock, "--workers", "0",
             "--database", APP_DATABASE_URL, "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")})
        self.addCleanup(self.stop)
        self.kept = []
        wait_answers(self, self.sock)

    def stop(self):
        for conn in self.kept:
            conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def connect(self):
        conn = fcgi.KeptConnection(self.sock)
        self.kept.append(conn)
        return conn

    def read_clip(self, conn, clip):
        status, _, body = conn.request("GET", f"/clips/{clip}",
                                       headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def open_descriptors(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def descriptor_targets(self):
        """What the worker's descriptors point at ("socket:[inode]" for a socket);
        one that closes between the listing and the readlink is left out."""
        targets = set()
        fds = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(fds):
            try:
                targets.add(os.readlink(os.path.join(fds, fd)))
            except FileNotFoundError:
                pass
        return targets

    def test_requests_follow_each_other_on_one_connection(self):
        conn = self.connect()
        status, _, body = conn.request("POST", "/clips", b"{}",
                                       headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 201, body)
        clip = json.loads(body)["id"]
        for _ in range(3):
            self.assertEqual(self.read_clip(conn, clip)["id"], clip)

    def test_an_idle_kept_connection_does_not_hold_the_worker(self):
        # A worker that read the next request from its last connection would wait on
        # `idle` here for good (the socket's timeout fails the test instead).
        idle = self.connect()
        self.assertEqual(idle.request("GET", "/healthz")[0], 200)
        other = self.connect()
        self.assertEqual(other.request("GET", "/healthz")[0], 200)
        self.assertEqual(fcgi.request(self.sock, "GET", "/healthz", timeout=30)[0], 200)
        self.assertEqual(idle.request("GET", "/healthz")[0], 200)
        self.assertEqual(other.request("GET", "/healthz")[0], 200)

    def test_connections_the_client_closes_are_let_go(self):
        # Descriptors are told apart by what they point at (a socket's inode), not
        # counted: the worker closes the connection wait_answers used a moment after
        # its answer reached the client, so a count taken now may still include it.
        before = self.descriptor_targets()
        conns = [self.connect() for _ in range(20)]
        for conn in conns:
            self.assertEqual(conn.request("GET", "/healthz")[0], 200)
        held = self.descriptor_targets() - before
        self.assertEqual(len(held), 20, held)
        for conn in conns:
            conn.close()
        # the worker sees each end of file as work and releases the connection
        deadline = time.monotonic() + 30
        while held & self.descriptor_targets():
            self.assertEqual(fcgi.request(self.sock, "GET", "/healthz")[0], 200)
            self.assertLess(time.monotonic(), deadline,
                            f"{len(held & self.descriptor_targets())} connections still held")
            time.sleep(0.05)

    def test_past_the_limit_a_connection_is_closed_after_its_answer(self):
        conns = [self.connect() for _ in range(self.LIMIT)]
        for conn in conns:
            self.assertEqual(conn.request("GET", "/healthz")[0], 200)
        extra = self.connect()
        self.assertEqual(extra.request("GET", "/healthz")[0], 200)
        self.assertTrue(extra.closed_by_worker(), "the connection past the limit stayed open")
        # the kept ones still serve, and once one is given up a new one is kept again
        self.assertEqual(conns[0].request("GET", "/healthz")[0], 200)
        held = self.open_descriptors()
        conns[-1].close()
        deadline = time.monotonic() + 30
        while self.open_descriptors() != held - 1:
            self.assertEqual(conns[1].request("GET", "/healthz")[0], 200)
            self.assertLess(time.monotonic(), deadline, "the closed connection is still held")
            time.sleep(0.05)
        again = self.connect()
        self.assertEqual(again.request("GET", "/healthz")[0], 200)
        self.assertEqual(again.request("GET", "/healthz")[0], 200)


    def test_a_stopping_worker_answers_what_waits_on_its_kept_connections(self):
        status, _, body = fcgi.request(self.sock, "POST", "/clips", b"{}",
                                       headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 201, body)
        clip = json.loads(body)["id"]
        kept = [self.connect() for _ in range(3)]
        for conn in kept:
            self.assertEqual(conn.request("GET", "/healthz")[0], 200)
        # hold the clip's row lock, so the worker's action waits inside its transaction
        holder = hold_row_lock(self, clip)
        result = {}

        def act():
            result["answer"] = fcgi.request(
                self.sock, "POST", f"/clips/{clip}/actions",
                json.dumps({"action": "set_trim_range", "expected_version": 1,
                            "data": {"start": 1.0, "end": 2.0}}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}"})

        sender = threading.Thread(target=act)
        sender.start()
        wait_for_lock_waiter(self)
        self.proc.send_signal(signal.SIGTERM)
        # written while the worker is busy and told to stop: it takes the signal only when
        # it has nothing left to do, so these are answered before it leaves
        for conn in kept:
            conn.send("GET", "/healthz")
        release_row_lock(holder)
        sender.join(timeout=20)
        self.assertEqual(result["answer"][0], 200, result["answer"][2])
        for conn in kept:
            self.assertEqual(conn.receive()[0], 200)
            self.assertTrue(conn.closed_by_worker())
        self.assertEqual(self.proc.wait(timeout=20), 0)


class WebServerAddresses(ApiTestCase):
    """FCGI_WEB_SERVER_ADDRS, libfcgi's list of the web servers allowed to connect over
    TCP, which the worker applies itself since it accepts its own connections."""

    def serve(self, allowed):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")}
        env["FCGI_WEB_SERVER_ADDRS"] = allowed
        proc = subprocess.Popen(
            [os.path.join(BUILD, "actiond"), "--listen", f"127.0.0.1:{port}", "--workers", "0",
             "--database", APP_DATABASE_URL, "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.addCleanup(proc.wait, 30)
        self.addCleanup(proc.terminate)
        deadline = time.monotonic() + 30
        while True:  # connection refused until it listens
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    return ("127.0.0.1", port)
            except OSError:
                self.assertLess(time.monotonic(), deadline, "the worker never listened")
                time.sleep(0.05)

    def test_a_listed_address_is_served(self):
        addr = self.serve("10.9.9.9, 127.0.0.1")
        self.assertEqual(fcgi.request(addr, "GET", "/healthz", timeout=30)[0], 200)

    def test_any_other_address_is_closed_unanswered(self):
        addr = self.serve("10.9.9.9,127.0.0.10")
        with self.assertRaises(ConnectionError):
            fcgi.request(addr, "GET", "/healthz", timeout=30)


class FailingChild(ApiTestCase):
    """A child that cannot accept exits 1, and the parent waits a second before it
    starts the next one instead of spinning. With at most 5 descriptors a child holds
    0-2, the socket (3) and its epoll (4), so its first accept fails with EMFILE; the
    database is never reached, so none is needed."""

    def test_a_child_that_cannot_accept_exits_1_and_is_restarted_after_a_pause(self):
        workdir = tempfile.mkdtemp(prefix="actiond-failing.")
        sock = os.path.join(workdir, "w.sock")
        proc = subprocess.Popen(
            ["prlimit", "--nofile=5", "--", os.path.join(BUILD, "actiond"), "--listen", sock,
             "--workers", "1", "--database", "host=/nonexistent dbname=none",
             "--catalog", CATALOG],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")})
        self.addCleanup(os.rmdir, workdir)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.send_signal, signal.SIGTERM)
        started = time.monotonic()
        # a pending connection makes every child's first accept fail
        pending = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(pending.close)
        deadline = started + 30
        while pending.connect_ex(sock) != 0:
            self.assertLess(time.monotonic(), deadline, "the socket never listened")
            time.sleep(0.02)
        log = ""
        while log.count("exited with status") < 3:
            self.assertLess(time.monotonic(), deadline, f"fewer than 3 ends in: {log}")
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
                self.assertTrue(chunk, f"the parent exited: {log}")
                log += chunk
        self.assertIn("accept failed", log)
        self.assertNotIn("killed by signal", log)
        ends = [line for line in log.splitlines() if "exited with status" in line]
        self.assertTrue(all("exited with status 1;" in line for line in ends), log)
        # three ends are two restarts, each after a pause of a second; without the
        # pause they would come within milliseconds
        self.assertGreaterEqual(time.monotonic() - started, 2.0)


class WorkerDeathBehindNginx(ApiTestCase):
    """A worker killed under a request nginx sent it: that request fails, and nginx
    keeps the socket in use (max_fails=0), because the prefork parent holds it and the
    worker's replacement serves it at once. nginx's default would take the socket out
    for 10 s, and with every worker's own socket out, every write would be refused."""

    def test_nginx_keeps_sending_to_a_dead_workers_socket(self):
        state = os.path.dirname(os.path.dirname(os.environ["ACTIOND_PID_FILE"]))
        error_log = os.path.join(state, "nginx", "error.log")
        with open(os.environ["ACTIOND_PID_FILE"], encoding="utf-8") as f:
            parent = int(f.read().strip())
        clip, _ = self.create_clip()
        log_start = os.path.getsize(error_log)
        holder = hold_row_lock(self, clip)
        answers = []
        envelope = {"action": "add_crop_keyframe", "expected_version": 1,
                    "data": {"frame": 1, "x": 1, "y": 1, "width": 2, "height": 2}}
        blocked = threading.Thread(target=lambda: answers.append(
            request("POST", f"/clips/{clip}/actions", body=envelope, timeout=30)))
        blocked.start()
        try:
            wait_for_lock_waiter(self)
            before = children(parent)
            for pid in before:
                os.kill(pid, signal.SIGKILL)
            blocked.join(timeout=30)
        finally:
            release_row_lock(holder)
        self.assertEqual(answers[0].status, 503, answers[0])
        deadline = time.monotonic() + 30
        while len(set(children(parent)) - set(before)) < len(before):
            self.assertLess(time.monotonic(), deadline, "the workers were not replaced")
            time.sleep(0.05)
        # the same clip, pinned to the same socket: served by the replacement
        after = self.act(clip, envelope)
        self.assertEqual(after.status, 200, after)
        with open(error_log, encoding="utf-8", errors="replace") as f:
            f.seek(log_start)
            logged = f.read()
        self.assertRegex(logged, "prematurely closed|reset by peer")
        self.assertNotIn("temporarily disabled", logged)
