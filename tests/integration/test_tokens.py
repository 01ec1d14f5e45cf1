"""test_tokens.py: tokens with a lifecycle (docs/access.md). An actor holds several
tokens, each with an id; `actionctl token list` shows them without secrets; `token
revoke --id` and `--actor` end them, and so does `--expires-in`; a revoked or expired
token is refused by every worker within a second, while a valid one costs no round
trip; last use is recorded, at most once a minute; every 401 carries the challenge of
RFC 6750 section 3.

To reach every worker for sure, the tests talk FastCGI to each worker's own socket
(--worker-sockets: child n alone accepts on actiond.sock.<n>) besides going through
nginx, which pins writes to one resource to one worker."""

import glob
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import uuid

import fcgi
from client import DATABASE_URL, ApiTestCase, assert_problem, psql, psql_value, request

BUILD = os.environ.get("ACTIOND_BUILD_DIR", "")
PID_FILE = os.environ.get("ACTIOND_PID_FILE", "")

CONTRACT = 1.0  # seconds: a revoked or expired token is refused by every worker within
WATCH = 10.0  # seconds a watcher waits for a refusal before it gives up (the cache time)
POLL_GAP = 0.002  # seconds between two requests of one watcher
CHALLENGE = 'Bearer realm="actiond"'
INVALID = 'Bearer realm="actiond", error="invalid_token"'
# /clips/0 is no resource id: a worker that accepts the token answers 404 without a
# statement, so watching costs the database nothing; a refused token answers 401 first
PROBE = "/clips/0"


def actionctl(*args):
    return subprocess.run([os.path.join(BUILD, "actionctl"), *args], capture_output=True,
                          text=True, timeout=60, check=False,
                          env=dict(os.environ, DATABASE_URL=DATABASE_URL))


def new_actor():
    return "tok-" + uuid.uuid4().hex[:12]


def worker_sockets():
    """Every worker's own socket: STATE/run/actiond.sock.<n>, next to the pid file."""
    sock = os.path.join(os.path.dirname(PID_FILE), "actiond.sock")
    return sorted(glob.glob(sock + ".[0-9]*"), key=lambda p: int(p.rsplit(".", 1)[1]))


def worker_count():
    """The prefork parent's children."""
    with open(PID_FILE, encoding="utf-8") as f:
        pid = int(f.read().split()[0])
    with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
        return len(f.read().split())


def ask(sock, token, path=PROBE):
    """One request to the worker on `sock`: (status, headers, body bytes)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    return fcgi.request(sock, "GET", path, headers=headers, timeout=30)


class Watcher(threading.Thread):
    """Sends requests with `token` to one worker over a kept connection, every
    POLL_GAP, until the first 401 or `until` (monotonic). Records the monotonic time
    each request was sent: the last accepted one before the first refusal, and the
    first refusal."""

    def __init__(self, sock, token, until):
        super().__init__(daemon=True)
        self.sock, self.token, self.until = sock, token, until
        self.accepted = 0
        self.last_accepted = None
        self.refused_at = None
        self.refusal = None
        self.error = None
        self.started_accepting = threading.Event()

    def run(self):
        conn = fcgi.KeptConnection(self.sock)
        try:
            while time.monotonic() < self.until:
                sent = time.monotonic()
                status, headers, body = conn.request(
                    "GET", PROBE, headers={"Authorization": f"Bearer {self.token}"})
                if status == 401:
                    self.refused_at, self.refusal = sent, (headers, body)
                    return
                if status != 404:
                    self.error = f"HTTP {status}: {body[:300]!r}"
                    return
                self.accepted += 1
                self.last_accepted = sent
                self.started_accepting.set()
                time.sleep(POLL_GAP)
        except Exception as e:  # reported by the test, not lost in the thread
            self.error = repr(e)
        finally:
            self.started_accepting.set()
            conn.close()


class Tokens(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not PID_FILE:
            raise unittest.SkipTest("needs ACTIOND_BUILD_DIR and ACTIOND_PID_FILE "
                                    "(tests/integration/run sets them)")
        cls.sockets = worker_sockets()

    def setUp(self):
        self.assertGreaterEqual(len(self.sockets), 2, "the stack runs no --worker-sockets")
        self.assertEqual(len(self.sockets), worker_count(),
                         "one own socket per worker, so every worker is asked")

    # -----------------------------------------------------------------------------
    # helpers

    def create(self, actor, *extra):
        """A new token of `actor`: (token, id)."""
        proc = actionctl("token", "create", "--actor", actor, *extra)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, f"stdout is the token alone: {proc.stdout!r}")
        token = lines[-1]
        self.assertRegex(token, r"^adt_[0-9a-f]{40}$")
        m = re.search(r"token (\d+) for " + re.escape(actor) + r", expires (\S+)", proc.stderr)
        self.assertIsNotNone(m, proc.stderr)
        return token, int(m.group(1))

    def listed(self, *args):
        """`token list` as {id: {column: value}}, and its whole output."""
        proc = actionctl("token", "list", *args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        head = lines[0].split()
        self.assertEqual(head, ["ID", "ACTOR", "CREATED", "EXPIRES", "LAST_USED", "STATUS"])
        rows = {}
        for line in lines[1:]:
            cells = line.split()
            self.assertEqual(len(cells), len(head), line)
            rows[int(cells[0])] = dict(zip(head, cells))
        return rows, proc.stdout

    def assert_accepted_everywhere(self, token):
        for sock in self.sockets:
            status, _, body = ask(sock, token)
            self.assertEqual(status, 404, f"{sock}: {body[:300]!r}")
        self.assertEqual(request("GET", "/clips?limit=1", token=token).status, 200)

    def assert_refused(self, status, headers, body, where=""):
        self.assertEqual(status, 401, f"{where} {body[:300]!r}")
        self.assertEqual(headers.get("www-authenticate"), INVALID, where)
        self.assertIn(b"urn:actiond:problem:invalid-token", body, where)

    def watch(self, tokens, act):
        """Watches every worker with every token in `tokens` (accepted at first), runs
        act(), and waits for each watcher's first refusal. Returns the watchers and the
        monotonic times act() started and returned."""
        until = time.monotonic() + WATCH + 30
        watchers = [Watcher(sock, token, until) for token in tokens for sock in self.sockets]
        for w in watchers:
            w.start()
        for w in watchers:
            w.started_accepting.wait(30)
            self.assertIsNone(w.error, w.sock)
            self.assertGreater(w.accepted, 0, f"{w.sock} never accepted the token")
        start = time.monotonic()
        act()
        end = time.monotonic()
        for w in watchers:
            w.until = end + WATCH
        for w in watchers:
            w.join(WATCH + 30)
            self.assertIsNone(w.error, w.sock)
        return watchers, start, end

    def assert_refused_within_contract(self, what, watchers, start, end, token_ids):
        """Every watcher saw a refusal within CONTRACT of the commit. The commit came
        after both `start` (the command began) and the transaction's start, revoked_at
        (read from the database: the same clock here), so the delay from the later of
        the two is an upper bound of the delay from the commit. Prints the delays."""
        ids = ",".join(str(i) for i in token_ids)
        began = float(psql_value(DATABASE_URL, "SELECT extract(epoch FROM min(revoked_at))"
                                               f" FROM tokens WHERE id IN ({ids})"))
        # the transaction's start on the monotonic clock of the watchers
        began = max(start, began - (time.time() - time.monotonic()))
        lines = []
        for w in watchers:
            self.assertIsNotNone(w.refused_at, f"{w.sock} still accepts the token")
            headers, body = w.refusal
            self.assertEqual(headers.get("www-authenticate"), INVALID, w.sock)
            self.assertIn(b"urn:actiond:problem:invalid-token", body)
            delay = w.refused_at - began
            self.assertLessEqual(delay, CONTRACT, f"{w.sock} refused {delay:.3f} s after")
            line = f"{os.path.basename(w.sock)} refused at {1000 * delay:.1f} ms"
            if w.last_accepted is not None:
                line += f" (accepted last at {1000 * (w.last_accepted - began):.1f} ms)"
            lines.append(line)
        sys.stderr.write(f"\n  {what}: from the revoking transaction's start"
                         f" (the command returned at {1000 * (end - began):.1f} ms): "
                         + "; ".join(lines) + "\n")

    # -----------------------------------------------------------------------------
    # tests

    def test_two_tokens_of_one_actor_both_work(self):
        actor = new_actor()
        first, first_id = self.create(actor)
        second, second_id = self.create(actor)
        self.assertNotEqual(first, second)
        self.assertNotEqual(first_id, second_id)
        self.assert_accepted_everywhere(first)
        self.assert_accepted_everywhere(second)
        clip = request("POST", "/clips", body={}, token=second)
        self.assertEqual(clip.status, 201, clip)
        self.assertEqual(clip.body["owner"], actor)

    def test_list_shows_lifecycles_and_no_secret(self):
        actor = new_actor()
        plain, plain_id = self.create(actor)
        timed, timed_id = self.create(actor, "--expires-in", "3600")
        rows, out = self.listed("--actor", actor)
        self.assertEqual(sorted(rows), [plain_id, timed_id])
        stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
        for row in rows.values():
            self.assertEqual(row["ACTOR"], actor)
            self.assertRegex(row["CREATED"], stamp)
            self.assertEqual(row["LAST_USED"], "-")
            self.assertEqual(row["STATUS"], "active")
        self.assertEqual(rows[plain_id]["EXPIRES"], "-")
        self.assertRegex(rows[timed_id]["EXPIRES"], stamp)
        self.assertGreater(rows[timed_id]["EXPIRES"], rows[timed_id]["CREATED"])
        everyone, all_out = self.listed()
        self.assertLessEqual({plain_id, timed_id}, set(everyone))
        for token in (plain, timed):
            digest = hashlib.sha256(token.encode()).hexdigest()
            for text in (out, all_out):
                self.assertNotIn(token, text)
                self.assertNotIn(token[4:], text)
                self.assertNotIn(digest, text)

    def test_revoke_by_id_is_refused_by_every_worker_within_a_second(self):
        actor = new_actor()
        doomed, doomed_id = self.create(actor)
        kept, _ = self.create(actor)
        self.assert_accepted_everywhere(doomed)
        self.assert_accepted_everywhere(kept)

        def revoke():
            proc = actionctl("token", "revoke", "--id", str(doomed_id))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn(f"revoked token {doomed_id} of {actor}", proc.stdout)

        watchers, start, end = self.watch([doomed], revoke)
        self.assert_refused_within_contract(f"revoke --id {doomed_id}", watchers, start, end,
                                            [doomed_id])
        # the other token of the actor is untouched, everywhere
        self.assert_accepted_everywhere(kept)
        # and through nginx, writes to many resources (pinned to every worker) refuse
        # the revoked token with the right challenge
        for clip in range(1, 65):
            resp = request("POST", f"/clips/{clip}/actions", body={"action": "x"}, token=doomed)
            self.assert_refused(resp.status, {"www-authenticate": resp.header("WWW-Authenticate")},
                                resp.raw, f"clip {clip}")
        rows, _ = self.listed("--actor", actor)
        self.assertEqual(rows[doomed_id]["STATUS"], "revoked")
        # revoking again changes nothing and says so; an unknown id fails
        again = actionctl("token", "revoke", "--id", str(doomed_id))
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already revoked", again.stderr)
        unknown = actionctl("token", "revoke", "--id", "999999999")
        self.assertEqual(unknown.returncode, 1, unknown.stderr)

    def test_revoke_by_actor_ends_all_of_its_tokens(self):
        actor, other = new_actor(), new_actor()
        created = [self.create(actor) for _ in range(2)]
        tokens = [token for token, _ in created]
        bystander, _ = self.create(other)
        for token in tokens + [bystander]:
            self.assert_accepted_everywhere(token)

        def revoke():
            proc = actionctl("token", "revoke", "--actor", actor)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn(f"revoked 2 tokens of {actor}", proc.stdout)

        watchers, start, end = self.watch(tokens, revoke)
        self.assert_refused_within_contract(f"revoke --actor ({len(tokens)} tokens)", watchers,
                                            start, end, [i for _, i in created])
        self.assert_accepted_everywhere(bystander)
        rows, _ = self.listed("--actor", actor)
        self.assertEqual({row["STATUS"] for row in rows.values()}, {"revoked"})

    def test_an_expired_token_is_refused_by_every_worker(self):
        token, token_id = self.create(new_actor(), "--expires-in", "2")
        expires = float(psql_value(DATABASE_URL, "SELECT extract(epoch FROM expires_at)"
                                                 f" FROM tokens WHERE id = {token_id}"))
        # verified and kept by every worker, with its expiry
        self.assert_accepted_everywhere(token)
        until = time.monotonic() + WATCH + 30
        watchers = [Watcher(sock, token, until) for sock in self.sockets]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join(WATCH + 30)
        offset = time.time() - time.monotonic()  # monotonic -> wall clock
        delays = []
        for w in watchers:
            self.assertIsNone(w.error, w.sock)
            self.assertIsNotNone(w.refused_at, f"{w.sock} still accepts the expired token")
            self.assert_refused(401, *w.refusal, w.sock)
            self.assertIn(b"expired", w.refusal[1])
            refused = w.refused_at + offset - expires
            delays.append(f"{os.path.basename(w.sock)} {1000 * refused:+.1f} ms")
            self.assertLessEqual(refused, CONTRACT, w.sock)
            if w.last_accepted is not None:
                self.assertLess(w.last_accepted + offset - expires, CONTRACT, w.sock)
        sys.stderr.write("\n  expiry, first refusal relative to expires_at: "
                         + "; ".join(delays) + "\n")
        rows, _ = self.listed()
        self.assertEqual(rows[token_id]["STATUS"], "expired")
        # one never seen before is refused too (by the database's answer)
        late = request("GET", "/clips?limit=1", token=token)
        self.assert_refused(late.status, {"www-authenticate": late.header("WWW-Authenticate")},
                            late.raw)

    def test_a_worker_that_reconnects_forgets_what_it_trusted(self):
        """A revocation committed while a worker had no connection is announced to
        nobody; the worker, reconnecting, must not trust its cache."""
        superuser = os.environ.get("ACTIOND_SUPERUSER_URL") or re.sub(
            r"user=[^&]*", "user=postgres", DATABASE_URL)
        check = psql(superuser, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if check.returncode != 0 or check.stdout.strip() != "t":
            self.skipTest("no superuser connection to end the workers' sessions")
        token, token_id = self.create(new_actor())
        self.assert_accepted_everywhere(token)
        ended = psql_value(superuser, """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
              FROM pg_stat_activity
             WHERE usename = 'actiond_app' AND datname = current_database()""")
        self.assertGreaterEqual(int(ended), len(self.sockets))
        proc = actionctl("token", "revoke", "--id", str(token_id))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for sock in self.sockets:
            self.assert_refused(*ask(sock, token), sock)

    def test_last_use_is_recorded_at_most_once_a_minute(self):
        token, token_id = self.create(new_actor())
        row = f"SELECT last_used_at, xmin FROM tokens WHERE id = {token_id}"
        self.assertEqual(psql_value(DATABASE_URL, row).split("|")[0], "")
        self.assertEqual(request("GET", "/clips?limit=1", token=token).status, 200)
        # written after the response went out
        deadline = time.monotonic() + 10
        while True:
            first = psql_value(DATABASE_URL, row)
            if first.split("|")[0]:
                break
            self.assertLess(time.monotonic(), deadline, "last_used_at was never written")
            time.sleep(0.05)
        # 50 more requests over every worker, directly and through nginx
        for i in range(50):
            if i % 2:
                status = ask(self.sockets[i // 2 % len(self.sockets)], token)[0]
                self.assertEqual(status, 404)
            else:
                self.assertEqual(request("GET", "/clips?limit=1", token=token).status, 200)
        time.sleep(0.5)  # room for any write after the last responses
        # the same value, and the same row version: nobody rewrote it
        self.assertEqual(psql_value(DATABASE_URL, row), first)
        used = psql_value(DATABASE_URL, "SELECT to_char(last_used_at AT TIME ZONE 'UTC',"
                                        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                        f" FROM tokens WHERE id = {token_id}")
        rows, _ = self.listed()
        self.assertEqual(rows[token_id]["LAST_USED"], used)

    def test_challenges(self):
        """RFC 6750 section 3: no error code without a token, invalid_token for a
        token presented and refused."""
        cases = [
            ("no header", None, CHALLENGE),
            ("another scheme", "Basic YWxpY2U6c2VjcmV0", CHALLENGE),
            ("unknown token", "Bearer adt_" + "0" * 40, INVALID),
            ("malformed token", "Bearer not a token", INVALID),
            ("empty bearer", "Bearer ", INVALID),
        ]
        for name, authorization, challenge in cases:
            with self.subTest(name):
                headers = {"Authorization": authorization} if authorization else None
                resp = request("GET", "/clips", token=None, headers=headers)
                problem = assert_problem(resp, 401)
                self.assertEqual(resp.header("WWW-Authenticate"), challenge)
                slug = "invalid-token" if challenge == INVALID else "unauthorized"
                self.assertEqual(problem["type"], f"urn:actiond:problem:{slug}")

    def test_command_line(self):
        usage = [
            ("token", "revoke"),
            ("token", "revoke", "--id", "1", "--actor", "x"),
            ("token", "revoke", "--id", "0"),
            ("token", "create"),
            ("token", "create", "--actor", "x", "--expires-in", "0"),
            ("token", "create", "--actor", "x", "--expires-in", "1s"),
            ("token", "create", "--actor", "x", "--expires-in", "315360001"),
            ("token", "list", "--id", "1"),
            ("token", "list", "--actor", "not an actor"),
            ("verify", "--expires-in", "5"),
        ]
        for args in usage:
            with self.subTest(args=args):
                self.assertEqual(actionctl(*args).returncode, 2)


if __name__ == "__main__":
    unittest.main()
