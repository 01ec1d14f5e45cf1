"""test_retries.py: exactly-once retries. Concurrent requests with
one key apply once and agree; a keyed create replays its first response; and a client
that retries keyed actions while workers are killed with SIGKILL at random moments ends
with every action in the log exactly once."""

import multiprocessing
import os
import random
import signal
import threading
import time
import uuid

from client import ApiTestCase, DATABASE_URL, assert_problem, psql_value, request


def _send_keyed(args):
    clip_id, envelope, key = args
    resp = request("POST", f"/clips/{clip_id}/actions", body=envelope,
                   headers={"Idempotency-Key": f'"{key}"'})
    return resp.status, resp.header("Idempotent-Replayed"), resp.raw


def _create_keyed(args):
    body, key = args
    resp = request("POST", "/clips", body=body, headers={"Idempotency-Key": key})
    return resp.status, resp.header("Idempotent-Replayed"), resp.raw, resp.header("Location")


def replayed(flags):
    return [f == "true" for f in flags]


class Retries(ApiTestCase):
    def test_five_concurrent_requests_with_one_key_apply_once(self):
        clip_id, _ = self.create_clip()
        key = str(uuid.uuid4())
        envelope = {"action": "add_crop_keyframe", "expected_version": 1,
                    "data": {"frame": 7, "x": 1, "y": 1, "width": 2, "height": 2}}
        with multiprocessing.Pool(5) as pool:
            results = pool.map(_send_keyed, [(clip_id, envelope, key)] * 5)
        statuses = [r[0] for r in results]
        # a second request waits on the row lock for the first, then replays it
        self.assertEqual(statuses, [200] * 5, results)
        self.assertEqual(replayed([r[1] for r in results]).count(False), 1, results)
        self.assertEqual(len({r[2] for r in results}), 1, "the replies differ")
        self.assertEqual(self.get_clip(clip_id)["version"], 2)
        self.assertEqual(psql_value(DATABASE_URL, "SELECT count(*) FROM action_log WHERE "
                                    f"idempotency_key = '{key}'"), "1")

    def test_keyed_create_replays_the_first_response(self):
        key = str(uuid.uuid4())
        body = {"data": {"crop_keyframes": [], "note": "first"}}
        first = request("POST", "/clips", body=body, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        clip_id = first.body["id"]
        # the clip changes meanwhile; the retry still gets the first answer
        self.add_keyframe(clip_id, 1, 5)
        again = request("POST", "/clips", body=body, headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.header("Location"), first.header("Location"))
        self.assertEqual(again.header("ETag"), '"1"')
        other = request("POST", "/clips", body={"data": {"note": "second"}},
                        headers={"Idempotency-Key": key})
        assert_problem(other, 422)

    def test_concurrent_keyed_creates_make_one_resource(self):
        key = str(uuid.uuid4())
        with multiprocessing.Pool(5) as pool:
            results = pool.map(_create_keyed, [({"data": {"n": 1}}, key)] * 5)
        self.assertEqual([r[0] for r in results], [201] * 5, results)
        self.assertEqual(len({r[3] for r in results}), 1, results)
        self.assertEqual(replayed([r[1] for r in results]).count(False), 1, results)
        self.assertEqual(psql_value(DATABASE_URL, "SELECT count(*) FROM action_log WHERE "
                                    f"idempotency_key = '{key}'"), "1")


def _worker_pids():
    """The prefork children of the worker parent named by ACTIOND_PID_FILE."""
    with open(os.environ["ACTIOND_PID_FILE"]) as f:
        parent = f.read().strip()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == parent:
            pids.append(int(entry))
    return pids


class KillTest(ApiTestCase):
    ACTIONS = 120

    def test_keyed_retries_survive_sigkill(self):
        clip_id, _ = self.create_clip()
        stop = threading.Event()
        kills = []

        def killer():
            rng = random.Random(7)
            while not stop.is_set():
                time.sleep(rng.uniform(0.02, 0.2))
                pids = _worker_pids()
                if pids:
                    victim = rng.choice(pids)
                    try:
                        os.kill(victim, signal.SIGKILL)
                        kills.append(victim)
                    except ProcessLookupError:
                        pass

        thread = threading.Thread(target=killer)
        thread.start()
        version = 1
        keys = []
        attempts = 0
        try:
            for i in range(self.ACTIONS):
                key = f"kill-{clip_id}-{i}"
                keys.append(key)
                envelope = {"action": "add_crop_keyframe", "expected_version": version,
                            "data": {"frame": i, "x": 1, "y": 1, "width": 2, "height": 2}}
                deadline = time.monotonic() + 60
                while True:
                    attempts += 1
                    self.assertLess(time.monotonic(), deadline, f"action {i} never succeeded")
                    try:
                        resp = request("POST", f"/clips/{clip_id}/actions", body=envelope,
                                       headers={"Idempotency-Key": key}, timeout=10)
                    except OSError:
                        time.sleep(0.02)
                        continue
                    if resp.status == 200:
                        version = resp.body["version"]
                        break
                    # a killed worker: nginx or the database answers 502/503; retry
                    self.assertIn(resp.status, (502, 503, 504), resp)
                    time.sleep(0.02)
        finally:
            stop.set()
            thread.join()
        self.assertGreater(len(kills), 0, "no worker was killed: the test proved nothing")
        self.assertEqual(version, self.ACTIONS + 1)
        entries = self.log_entries(clip_id)
        self.assertEqual([e["version"] for e in entries], list(range(1, self.ACTIONS + 2)))
        logged = [e["idempotency_key"] for e in entries[1:]]
        self.assertEqual(logged, keys, "every action exactly once, in order")
        frames = [k["frame"] for k in self.keyframes(self.get_clip(clip_id)["data"])]
        self.assertEqual(frames, list(range(self.ACTIONS)))
        print(f"\n  kill test: {len(kills)} workers killed, {attempts} attempts", end=" ")
