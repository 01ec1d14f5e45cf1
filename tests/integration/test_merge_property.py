"""test_merge_property.py: a property test of merging (docs/merge.md). Several simulated
clients each hold a snapshot of one clip (often stale) and send random catalog actions
on it with "on_conflict": "merge": keyframe adds, updates, moves and deletes over a small
set of frames (so they collide), trims and effect changes. The server may accept or
refuse each one; afterwards:
  1. replaying the log's accepted actions in log order, with an independent Python model
     of the catalog operations, from the initial document gives the final document;
  2. every refused action overlapped something applied after the version it was based
     on (and up to the version current when it was refused), and each version the 409
     named is such an entry;
  3. every accepted stale action overlapped nothing it missed, and names exactly the
     versions it was merged over;
  4. versions run 1..N without gaps and each accepted action is in the log exactly once
     (no refused one is).
Two interleavings run: a sequential one (a fixed seed, so the run is reproducible,
where the model also predicts every answer) and a concurrent one (threads).

Python 3 standard library only."""

import random
import threading
import unittest
import uuid

from client import BOB_EDITS, TOKEN, TOKEN_BOB, ApiTestCase, apply_patch, request
from merge_util import (KF, MERGE_CONFLICT, action_touches, apply_action, sets_overlap)

SEED = 6006
FRAMES = (10, 20, 30, 40, 50, 60)
INITIAL_FRAMES = (10, 30, 50)
CLIENTS = 4
ROUNDS = 30              # sequential: ROUNDS x CLIENTS requests
THREAD_ACTIONS = 12      # concurrent: CLIENTS threads x THREAD_ACTIONS requests
MEMBERS = ("x", "y", "width", "height")


def random_action(rng, doc):
    """A random clip action that is valid on `doc` (the client's snapshot)."""
    have = [k["frame"] for k in doc[KF]]
    free = [f for f in FRAMES if f not in have]
    while True:
        kind = rng.choice(("update", "update", "update", "move", "move", "add", "add",
                           "delete", "trim", "effect"))
        if kind == "update" and have:
            members = rng.sample(MEMBERS, rng.randint(1, 2))
            return {"action": "update_crop_keyframe", "target": {"frame": rng.choice(have)},
                    "data": {m: rng.randint(1, 999) for m in members}}
        if kind == "move" and have and free:
            return {"action": "move_crop_keyframe", "target": {"frame": rng.choice(have)},
                    "data": {"new_frame": rng.choice(free)}}
        if kind == "add" and free:
            return {"action": "add_crop_keyframe",
                    "data": {"frame": rng.choice(free), "x": rng.randint(0, 999),
                             "y": rng.randint(0, 999), "width": 640, "height": 360}}
        if kind == "delete" and len(have) > 1:
            return {"action": "delete_crop_keyframe", "target": {"frame": rng.choice(have)}}
        if kind == "trim":
            start = rng.randint(0, 8) / 2
            return {"action": "set_trim_range",
                    "data": {"start": start, "end": start + rng.randint(1, 6) / 2}}
        if kind == "effect":
            return {"action": "set_effect_type",
                    "data": {"effect_type": rng.choice(("blur", "sepia", "brightness_boost",
                                                        None))}}


def touches_of(envelope):
    return action_touches(envelope["action"], envelope.get("target"), envelope.get("data"))


class SimClient:
    """A client: its snapshot (version, document), its own random stream, its token."""

    def __init__(self, name, token, rng, clip, resource):
        self.name, self.token, self.rng, self.clip = name, token, rng, clip
        self.version, self.doc = resource["version"], resource["data"]

    def refresh(self):
        resp = request("GET", f"/clips/{self.clip}", token=self.token)
        if resp.status != 200:
            raise AssertionError(f"read failed: {resp!r}")
        self.version, self.doc = resp.body["version"], resp.body["data"]

    def step(self):
        """Maybe refreshes, sends one random action from the snapshot; returns the
        record {envelope, based_on, key, client, resp}."""
        if self.rng.random() < 0.15:
            self.refresh()
        envelope = random_action(self.rng, self.doc)
        key = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        body = dict(envelope, expected_version=self.version, on_conflict="merge", id=key)
        resp = request("POST", f"/clips/{self.clip}/actions", body=body, token=self.token)
        record = {"envelope": envelope, "based_on": self.version, "key": key,
                  "client": self.name, "resp": resp}
        if resp.status == 200 and self.rng.random() < 0.5:
            self.version, self.doc = resp.body["version"], resp.body["data"]
        elif resp.status == 409 and self.rng.random() < 0.5:
            self.refresh()
        return record


class MergeProperty(ApiTestCase):
    maxDiff = None

    def new_clip(self):
        clip_id, created = self.create_clip({"access": BOB_EDITS})
        version = 1
        for frame in INITIAL_FRAMES:
            self.add_keyframe(clip_id, version, frame, x=frame, y=frame)
            version += 1
        resource = self.get_clip(clip_id)
        return clip_id, resource

    def clients(self, clip_id, resource, seed):
        return [SimClient(f"c{i}", TOKEN if i % 2 == 0 else TOKEN_BOB,
                          random.Random(seed * 100 + i), clip_id, resource)
                for i in range(CLIENTS)]

    # --- the run ----------------------------------------------------------------------

    def test_sequential_interleaving(self):
        rng = random.Random(SEED)
        clip_id, resource = self.new_clip()
        clients = self.clients(clip_id, resource, SEED)
        # the model of the server: its document and each version's touches
        model_doc, model_touches = resource["data"], {}
        version = resource["version"]
        records, mismatches = [], []
        for rnd in range(ROUNDS):
            order = list(clients)
            rng.shuffle(order)
            for client in order:
                rec = client.step()
                records.append(rec)
                env, resp = rec["envelope"], rec["resp"]
                ours = touches_of(env)
                overlapping = [v for v in range(rec["based_on"] + 1, version + 1)
                               if sets_overlap(ours, model_touches[v])]
                where = f"round {rnd} {client.name} {env} based on {rec['based_on']}"
                if overlapping:
                    if resp.status != 409 or (resp.body or {}).get(
                            "conflicting_versions") != overlapping:
                        mismatches.append(f"{where}: expected 409 conflicting_versions "
                                          f"{overlapping} at version {version}, got {resp!r}")
                else:
                    if resp.status != 200:
                        mismatches.append(f"{where}: expected 200 (disjoint from versions "
                                          f"{rec['based_on'] + 1}..{version}), got {resp!r}")
                if resp.status == 200:
                    try:
                        model_doc = apply_action(model_doc, env["action"], env.get("target"),
                                                 env.get("data"))
                    except KeyError as err:
                        mismatches.append(f"{where}: accepted but the model cannot apply "
                                          f"it: {err}")
                    # a change that changes nothing takes no version (docs/api.md)
                    if not resp.body.get("unchanged"):
                        version += 1
                        model_touches[version] = ours
                    if resp.body.get("data") != model_doc:
                        mismatches.append(f"{where}: document {resp.body.get('data')} != "
                                          f"model {model_doc}")
        statuses = [r["resp"].status for r in records]
        accepted, refused = statuses.count(200), statuses.count(409)
        # the run must have exercised both outcomes and real merges
        merged = [r for r in records if r["resp"].status == 200
                  and r["resp"].body.get("version", 0) - 1 > r["based_on"]]
        self.assertGreater(refused, 5, statuses)
        self.assertGreater(len(merged), 5, statuses)
        self.assertEqual(accepted + refused, len(records), statuses)
        self.verify(clip_id, resource, records)
        self.assertEqual(mismatches, [], "\n".join(mismatches[:10]))

    def test_concurrent_clients(self):
        clip_id, resource = self.new_clip()
        clients = self.clients(clip_id, resource, SEED + 1)
        results = [[] for _ in clients]
        errors = []

        def run(i):
            try:
                for _ in range(THREAD_ACTIONS):
                    results[i].append(clients[i].step())
            except Exception as err:  # reported below, never lost in a thread
                errors.append(f"{clients[i].name}: {err!r}")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        self.assertEqual(errors, [])
        records = [r for rs in results for r in rs]
        self.assertEqual(len(records), CLIENTS * THREAD_ACTIONS)
        self.verify(clip_id, resource, records)

    # --- the properties ---------------------------------------------------------------

    def verify(self, clip_id, initial, records):
        final = self.get_clip(clip_id)
        entries = self.log_entries(clip_id)
        by_version = {e["version"]: e for e in entries}

        # 4. versions 1..N without gaps; the log is exactly the accepted actions
        self.assertEqual([e["version"] for e in entries], list(range(1, final["version"] + 1)))
        for r in records:
            self.assertIn(r["resp"].status, (200, 409), f"{r['envelope']}: {r['resp']!r}")
        # an answer that changed nothing wrote no entry (docs/api.md)
        accepted = [r for r in records
                    if r["resp"].status == 200 and not r["resp"].body.get("unchanged")]
        refused = [r for r in records if r["resp"].status == 409]
        new = [e for e in entries if e["version"] > initial["version"]]
        self.assertEqual(sorted(r["resp"].body["version"] for r in accepted),
                         [e["version"] for e in new])
        keys = [e.get("idempotency_key") for e in new]
        self.assertEqual(len(keys), len(set(keys)), keys)
        by_key = {r["key"]: r for r in records}
        for e in new:
            rec = by_key.get(e.get("idempotency_key"))
            self.assertIsNotNone(rec, f"log entry {e['version']} is no request of this run")
            self.assertEqual(rec["resp"].status, 200, f"refused but logged: {e}")
            self.assertEqual(rec["resp"].body["version"], e["version"])
            self.assertEqual((e["action"], e.get("target"), e.get("data")),
                             (rec["envelope"]["action"], rec["envelope"].get("target"),
                              rec["envelope"].get("data")))

        # 1. replaying the accepted actions in log order, with the model, gives the
        # final document (and so does replaying the logged patches)
        doc = initial["data"]
        for e in new:
            try:
                doc = apply_action(doc, e["action"], e.get("target"), e.get("data"))
            except KeyError as err:
                self.fail(f"version {e['version']} ({e['action']} {e.get('target')} "
                          f"{e.get('data')}) cannot apply in log order: {err}")
        self.assertEqual(doc, final["data"])
        doc = initial["data"]
        for e in new:
            doc = apply_patch(doc, e["forward"])
        self.assertEqual(doc, final["data"])

        touches = {e["version"]: touches_of(e) for e in new}

        # 2. each refusal overlapped something it missed, and names only such entries
        for r in refused:
            problem = r["resp"].body
            self.assertEqual(problem.get("type"), MERGE_CONFLICT, problem)
            current = problem["current_version"]
            ours = touches_of(r["envelope"])
            missed = [v for v in range(r["based_on"] + 1, current + 1)]
            overlapping = [v for v in missed if sets_overlap(ours, touches[v])]
            self.assertTrue(overlapping, f"{r['envelope']} based on {r['based_on']} was "
                            f"refused at {current} but overlaps none of {missed}: "
                            f"{[by_version[v]['action'] for v in missed]}; {problem}")
            named = problem.get("conflicting_versions")
            self.assertTrue(named, problem)
            self.assertEqual(named, sorted(named), problem)
            self.assertTrue(set(named) <= set(overlapping),
                            f"{r['envelope']}: named {named}, overlapping {overlapping}")

        # 3. each accepted stale action overlapped nothing it missed, and says so
        for r in accepted:
            body = r["resp"].body
            version = body["version"]
            entry = by_version[version]
            missed = list(range(r["based_on"] + 1, version))
            ours = touches_of(r["envelope"])
            clash = [v for v in missed if sets_overlap(ours, touches[v])]
            self.assertEqual(clash, [], f"{r['envelope']} based on {r['based_on']} merged "
                             f"over overlapping versions {clash}")
            self.assertIsInstance(entry.get("touches"), list, entry)
            self.assertTrue(entry["touches"], entry)
            if missed:
                self.assertEqual((body.get("based_on"), body.get("merged_over")),
                                 (r["based_on"], missed), body)
                self.assertEqual((entry.get("based_on"), entry.get("merged_over")),
                                 (r["based_on"], missed), entry)
            else:
                self.assertFalse(body.get("merged_over"), body)
                self.assertFalse(entry.get("merged_over"), entry)


if __name__ == "__main__":
    unittest.main()
