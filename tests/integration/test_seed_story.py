"""test_seed_story.py: the two components of one page (README.md, "Why"). Two processes each add
200 crop keyframes (distinct frames, shuffled) to the same clip at the same time, each
with the version it last saw, and retry a 409 with the current_version it names. At the
end the clip holds all 400 keyframes sorted by frame, its version is 401, and the log
holds exactly one entry for each version 1..401, as the API and SQL both show."""

import multiprocessing
import random
import unittest

from client import (DATABASE_URL, ApiTestCase, assert_problem, log_table, psql_value,
                    request)

PER_PROCESS = 200
MAX_ATTEMPTS = 5000  # per process, all actions together: a bound, not an expectation


def component(args):
    """One component of the page: adds its frames, retrying conflicts. Returns
    (applied, conflicts, problems)."""
    clip_id, frames, seed = args
    random.Random(seed).shuffle(frames)
    resp = request("GET", f"/clips/{clip_id}")
    if resp.status != 200:
        return 0, 0, [f"GET -> {resp!r}"]
    version = resp.body["version"]
    applied = conflicts = attempts = 0
    problems = []
    for frame in frames:
        while True:
            attempts += 1
            if attempts > MAX_ATTEMPTS:
                return applied, conflicts, problems + ["gave up: too many attempts"]
            envelope = {"action": "add_crop_keyframe", "expected_version": version,
                        "data": {"frame": frame, "x": frame % 97, "y": 7, "width": 320,
                                 "height": 180}}
            resp = request("POST", f"/clips/{clip_id}/actions", body=envelope)
            if resp.status == 200:
                version = resp.body["version"]
                applied += 1
                break
            if resp.status == 409:
                try:
                    assert_problem(resp, 409)
                    version = resp.body["current_version"]
                except (AssertionError, KeyError) as exc:
                    return applied, conflicts, problems + [f"bad 409: {exc}"]
                conflicts += 1
                continue
            return applied, conflicts, problems + [f"frame {frame}: {resp!r}"]
    return applied, conflicts, problems


class SeedStory(ApiTestCase):
    def test_two_components_on_one_page(self):
        clip_id, _ = self.create_clip()
        evens = [2 * i for i in range(PER_PROCESS)]
        odds = [2 * i + 1 for i in range(PER_PROCESS)]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            outcomes = pool.map(component, [(clip_id, evens, 1), (clip_id, odds, 2)])
        for applied, conflicts, problems in outcomes:
            self.assertEqual(problems, [])
            self.assertEqual(applied, PER_PROCESS)
        # both ran at once: unless the scheduler serialised them, they met conflicts
        total_conflicts = sum(o[1] for o in outcomes)

        clip = self.get_clip(clip_id)
        self.assertEqual(clip["version"], 2 * PER_PROCESS + 1)
        frames = [k["frame"] for k in self.keyframes(clip["data"])]
        self.assertEqual(frames, sorted(evens + odds))

        entries = self.log_entries(clip_id, limit=1000)
        self.assertEqual([e["version"] for e in entries],
                         list(range(1, 2 * PER_PROCESS + 2)))
        self.assertEqual(entries[0]["action"], "create")
        self.assertTrue(all(e["action"] == "add_crop_keyframe" for e in entries[1:]))
        self.assertEqual(sorted(e["data"]["frame"] for e in entries[1:]),
                         sorted(evens + odds))

        table = log_table()
        row = psql_value(DATABASE_URL,
                         f"SELECT count(*), count(DISTINCT version), min(version), "
                         f"max(version) FROM {table} WHERE resource_id = {clip_id}")
        self.assertEqual(row, "401|401|1|401")
        gaps = psql_value(DATABASE_URL,
                          f"SELECT count(*) FROM generate_series(1, 401) AS v "
                          f"WHERE NOT EXISTS (SELECT 1 FROM {table} l "
                          f"WHERE l.resource_id = {clip_id} AND l.version = v)")
        self.assertEqual(gaps, "0")
        print(f"\n  seed story: {total_conflicts} conflicts retried", end=" ")


if __name__ == "__main__":
    unittest.main()
