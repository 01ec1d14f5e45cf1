"""test_idempotency.py: retry safety. The same key (the envelope's "id" or the
Idempotency-Key header, quoted or bare) with the same action replays the first result
with Idempotent-Replayed: true and appends nothing; the same key with another request
answers 422; keys belong to the actor who sent them."""

import threading
import unittest
import uuid

from client import TOKEN_BOB, ApiTestCase, assert_problem, request


def replayed(resp):
    return (resp.header("Idempotent-Replayed") or "").strip().lower() == "true"


class Idempotency(ApiTestCase):
    def setUp(self):
        self.clip_id, _ = self.create_clip()
        self.key = str(uuid.uuid4())

    def envelope(self, frame=100, version=1):
        return {"action": "add_crop_keyframe", "expected_version": version,
                "data": {"frame": frame, "x": 50, "y": 50, "width": 640, "height": 360}}

    def assert_replay(self, first, second):
        self.assertEqual(first.status, 200, first)
        self.assertFalse(replayed(first), first.headers)
        self.assertEqual(second.status, 200, second)
        self.assertTrue(replayed(second), second.headers)
        self.assertEqual(second.body, first.body)
        self.assertEqual(second.body["version"], first.body["version"])
        self.assertEqual(second.body["applied_at"], first.body["applied_at"])
        clip = self.get_clip(self.clip_id)
        self.assertEqual(clip["version"], first.body["version"])
        self.assertEqual(len(self.keyframes(clip["data"])), 1)
        entries = self.log_entries(self.clip_id)
        self.assertEqual(len(entries), first.body["version"])
        self.assertEqual(entries[-1]["idempotency_key"], self.key)

    def test_id_in_the_envelope(self):
        envelope = dict(self.envelope(), id=self.key)
        first = self.act(self.clip_id, envelope)
        # the retry carries the now stale expected_version, as a real retry would
        second = self.act(self.clip_id, envelope)
        self.assert_replay(first, second)

    def test_quoted_header(self):
        headers = {"Idempotency-Key": f'"{self.key}"'}
        first = self.act(self.clip_id, self.envelope(), headers=headers)
        second = self.act(self.clip_id, self.envelope(), headers=headers)
        self.assert_replay(first, second)

    def test_bare_header(self):
        headers = {"Idempotency-Key": self.key}
        first = self.act(self.clip_id, self.envelope(), headers=headers)
        second = self.act(self.clip_id, self.envelope(), headers=headers)
        self.assert_replay(first, second)

    def test_quoted_and_bare_name_the_same_key(self):
        first = self.act(self.clip_id, self.envelope(),
                         headers={"Idempotency-Key": f'"{self.key}"'})
        second = self.act(self.clip_id, self.envelope(),
                          headers={"Idempotency-Key": self.key})
        self.assert_replay(first, second)

    def test_empty_header_is_refused(self):
        # nginx passes an empty header through as empty (nginx/actiond.conf.in), so a
        # client whose key went missing hears of it instead of losing retry safety
        resp = self.act(self.clip_id, self.envelope(), headers={"Idempotency-Key": ""})
        problem = assert_problem(resp, 400)
        self.assertIn("Idempotency-Key", problem["detail"])
        self.assertEqual(self.get_clip(self.clip_id)["version"], 1)

    def test_replay_after_later_changes(self):
        envelope = dict(self.envelope(), id=self.key)
        first = self.act(self.clip_id, envelope)
        self.act_ok(self.clip_id, {"action": "set_trim_range",
                                   "data": {"start": 1.0, "end": 5.0}, "expected_version": 2})
        second = self.act(self.clip_id, envelope)
        self.assertEqual(second.status, 200, second)
        self.assertTrue(replayed(second), second.headers)
        self.assertEqual(second.body, first.body)
        self.assertEqual(self.get_clip(self.clip_id)["version"], 3)

    def test_same_key_other_action(self):
        first = self.act(self.clip_id, dict(self.envelope(), id=self.key))
        self.assertEqual(first.status, 200, first)
        before = self.get_clip(self.clip_id)
        other = {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                 "expected_version": 2, "id": self.key}
        assert_problem(self.act(self.clip_id, other), 422)
        self.assert_unchanged(self.clip_id, before)

    def test_same_key_other_data(self):
        first = self.act(self.clip_id, dict(self.envelope(100), id=self.key))
        self.assertEqual(first.status, 200, first)
        before = self.get_clip(self.clip_id)
        assert_problem(self.act(self.clip_id, dict(self.envelope(200, 2), id=self.key)), 422)
        self.assert_unchanged(self.clip_id, before)

    def test_keys_belong_to_the_actor(self):
        first = self.act(self.clip_id, dict(self.envelope(), id=self.key))
        self.assertEqual(first.status, 200, first)
        bobs_clip, _ = self.create_clip(token=TOKEN_BOB)
        resp = self.act(bobs_clip, dict(self.envelope(), id=self.key), token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertFalse(replayed(resp), resp.headers)
        self.assertEqual(resp.body["version"], 2)
        self.assertEqual(self.get_clip(bobs_clip, token=TOKEN_BOB)["version"], 2)

    def test_keyed_transition_replays_its_204_and_location(self):
        resp = request("POST", "/analysis_jobs")
        self.assertEqual(resp.status, 201, resp)
        job = resp.body["id"]
        headers = {"Idempotency-Key": self.key}
        first = request("POST", f"/analysis_jobs/{job}/suspend", headers=headers)
        second = request("POST", f"/analysis_jobs/{job}/suspend", headers=headers)
        for r in (first, second):
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.raw, b"", r)
            self.assertTrue(r.header("Location").endswith(f"/analysis_jobs/{job}"), r.headers)
        self.assertFalse(replayed(first), first.headers)
        self.assertTrue(replayed(second), second.headers)
        self.assertEqual(second.header("Location"), first.header("Location"))
        self.assertEqual(len(self.log_entries(job, type_="analysis_jobs")), 2)

    def test_concurrent_retries_apply_once(self):
        envelope = dict(self.envelope(), id=self.key)
        results = [None] * 4
        start = threading.Barrier(len(results))

        def send(i):
            start.wait()
            results[i] = self.act(self.clip_id, envelope)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r.status == 200]
        for r in results:
            self.assertIn(r.status, (200, 409), r)
            if r.status == 409:
                assert_problem(r, 409)
        self.assertTrue(ok, results)
        self.assertEqual(len([r for r in ok if not replayed(r)]), 1, results)
        self.assertTrue(all(r.body == ok[0].body for r in ok), results)
        self.assertEqual(self.get_clip(self.clip_id)["version"], 2)
        self.assertEqual(len(self.log_entries(self.clip_id)), 2)


if __name__ == "__main__":
    unittest.main()
