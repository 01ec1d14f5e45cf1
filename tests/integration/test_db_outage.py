"""test_db_outage.py: the database goes away and comes back. While PostgreSQL is
down every request that needs it answers 503 problem+json with Retry-After, from the
worker (not nginx's "no worker" fallback: no worker may crash); once it is back,
requests succeed again without restarting the workers.

It stops the suite's PostgreSQL through $ACTIOND_PG_CTL, and may run at any point of
the suite: whatever happens, it leaves the cluster running and accepting connections,
and every worker answering requests that need the database, before the next test."""

import os
import subprocess
import time
import unittest

from client import (DATABASE_URL, NO_WORKER_TYPE, PG_CTL, ApiTestCase, assert_problem, psql,
                    request)

ROUNDS = 12  # more requests than workers, so that every worker sees the outage
WORKERS = int(os.environ.get("ACTIOND_TEST_WORKERS") or 4)
RECOVERY_SECONDS = 60


def pg_ctl(command):
    return subprocess.run([PG_CTL, command], capture_output=True, text=True, timeout=120,
                          check=False)


def wait_until(ready, seconds=RECOVERY_SECONDS, pause=0.2):
    """Calls ready() until it returns true or `seconds` have passed; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = ready()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(pause)


def restore():
    """Starts the cluster if it is down, waits until it takes connections, then until
    the API answers from the database on every worker: enough requests in a row on the
    shared socket that each worker has had its turn (a worker reconnects on its first
    request after an outage). Raises when that does not happen within the time
    allowed."""
    if pg_ctl("status").returncode != 0:
        started = pg_ctl("start")
        if started.returncode != 0:
            raise AssertionError(f"the cluster does not start again: {started.stderr}")
    if not wait_until(lambda: psql(DATABASE_URL, "SELECT 1").returncode == 0):
        raise AssertionError("the cluster takes no connections after starting")
    streak, last = [0], [None]

    def answered():
        last[0] = request("GET", "/healthz", token=None)
        streak[0] = streak[0] + 1 if last[0].status == 200 else 0
        return streak[0] >= 4 * WORKERS

    if not wait_until(answered, pause=0.05):
        raise AssertionError(f"the API did not recover; last answer {last[0]!r}")


class DatabaseOutage(ApiTestCase):
    def setUp(self):
        self.assertTrue(PG_CTL, "ACTIOND_PG_CTL is not set (tests/integration/run sets it)")

    def tearDown(self):
        # whatever happened, the suite goes on against a running cluster
        restore()

    def assert_503(self, resp):
        problem = assert_problem(resp, 503)
        self.assertNotEqual(problem["type"], NO_WORKER_TYPE,
                            "nginx answered: a worker crashed or hung")
        retry_after = resp.header("Retry-After")
        self.assertIsNotNone(retry_after, resp.headers)
        self.assertTrue(retry_after.strip().isdigit(), retry_after)

    def test_outage_and_recovery(self):
        clip_id, _ = self.create_clip()
        self.assertEqual(request("GET", "/healthz", token=None).status, 200)

        stopped = pg_ctl("stop")
        self.assertEqual(stopped.returncode, 0, stopped.stderr)
        try:
            for _ in range(ROUNDS):
                self.assert_503(request("GET", f"/clips/{clip_id}"))
                self.assert_503(request("POST", f"/clips/{clip_id}/actions",
                                        body={"action": "set_trim_range",
                                              "data": {"start": 1.0, "end": 5.0},
                                              "expected_version": 1}))
                self.assert_503(request("POST", "/clips"))
                self.assert_503(request("GET", "/healthz", token=None))
        finally:
            started = pg_ctl("start")
        self.assertEqual(started.returncode, 0, started.stderr)

        # back: within a few seconds every request succeeds again
        deadline = time.monotonic() + 30
        streak, last = 0, None
        while streak < 3 * ROUNDS and time.monotonic() < deadline:
            last = request("GET", f"/clips/{clip_id}")
            streak = streak + 1 if last.status == 200 else 0
            if last.status != 200:
                self.assertEqual(last.status, 503, last)
                time.sleep(0.2)
        self.assertEqual(streak, 3 * ROUNDS, f"no recovery; last answer {last!r}")

        body = self.act_ok(clip_id, {"action": "set_trim_range",
                                     "data": {"start": 1.0, "end": 5.0},
                                     "expected_version": 1})
        self.assertEqual(body["version"], 2)
        self.assertEqual(len(self.log_entries(clip_id)), 2)
        self.assertEqual(request("GET", "/healthz", token=None).status, 200)


if __name__ == "__main__":
    unittest.main()
