"""test_vocab_states.py: the analysis_jobs state machine of the shipped catalog.
POST /analysis_jobs/{id}/{verb} answers 204 with Location, ETag, Cache-Control no-cache
or stricter and no body; an unknown verb answers 404 with allowed_actions and a link for
each; a known verb not allowed now answers 409 with allowed_actions; GET shows the state
and links only the verbs allowed now; every transition is logged; the state can never
be changed by PATCH or by a generic action. The legal transitions are read from
catalog/default.json, so the test follows the catalog rather than restating it.

Last, 8 processes race the transitions on one job; the log must then be a chain of
legal transitions with no gap in its versions."""

import collections
import multiprocessing
import random
import unittest

from client import MOUNT, TOKEN_BOB
from vocab_util import (MERGE_PATCH, VocabTestCase, assert_problem, etag,
                        load_catalog, request)

TYPE = "analysis_jobs"
CATALOG = load_catalog()
JOBS = CATALOG["types"][TYPE]
MACHINE = JOBS["states"]
STATES = MACHINE["all"]
INITIAL = MACHINE["initial"]
TRANSITIONS = MACHINE["transitions"]
ACTIONS = sorted(JOBS.get("actions", {}))
CLIENT_VERBS = ("suspend", "resume", "retry", "amend")


def allowed_from(state):
    return sorted(v for v, t in TRANSITIONS.items() if state in t["from"])


def path_to(state):
    """The shortest list of verbs leading from the initial state to `state`."""
    seen = {INITIAL: []}
    queue = collections.deque([INITIAL])
    while queue:
        here = queue.popleft()
        if here == state:
            return seen[here]
        for verb in allowed_from(here):
            there = TRANSITIONS[verb]["to"]
            if there not in seen:
                seen[there] = seen[here] + [verb]
                queue.append(there)
    raise AssertionError(f"state {state} cannot be reached from {INITIAL}")


def cache_control_ok(value):
    """no-cache or stricter (no-store)."""
    directives = {d.strip().split("=")[0].lower() for d in (value or "").split(",")}
    return bool(directives & {"no-cache", "no-store"})


class JobCase(VocabTestCase):
    def new_job(self, data=None, access=None):
        job = self.create(TYPE, data, with_data=data is not None, access=access)
        self.assertEqual(job["state"], INITIAL, job)
        return job["id"]

    def transition(self, job_id, verb, body=None, headers=None, token=None):
        """Sends the verb and checks its 204 answer (docs/api.md, "Verbs"); returns the
        new version (from the ETag)."""
        before = self.read(TYPE, job_id)
        resp = self.verb(TYPE, job_id, verb, body=body, headers=headers, token=token)
        self.assertEqual(resp.status, 204, f"{verb} from {before['state']}: {resp!r}")
        self.assertEqual(resp.raw, b"", resp)
        self.assertEqual(resp.header("Location"), f"{MOUNT}/{TYPE}/{job_id}")
        self.assertTrue(cache_control_ok(resp.header("Cache-Control")),
                        resp.header("Cache-Control"))
        self.assertEqual(resp.header("ETag"), etag(before["version"] + 1))
        after = self.read(TYPE, job_id)
        self.assertEqual(after["version"], before["version"] + 1)
        self.assertEqual(after["state"], TRANSITIONS[verb]["to"])
        self.assertEqual(after["data"], before["data"])
        return after["version"]

    def go_to(self, job_id, state):
        for verb in path_to(state):
            self.transition(job_id, verb)
        self.assertEqual(self.read(TYPE, job_id)["state"], state)

    def assert_links_match_state(self, job):
        links = job["_links"]
        for verb in TRANSITIONS:
            if job["state"] in TRANSITIONS[verb]["from"]:
                self.assertIn(verb, links, job)
                self.assertEqual(links[verb]["href"], f"{MOUNT}/{TYPE}/{job['id']}/{verb}")
                self.assertEqual(links[verb].get("method"), "POST", links[verb])
            else:
                self.assertNotIn(verb, links, job)


class ClientVerbs(JobCase):
    def test_the_catalog_has_the_client_verbs_and_no_complete(self):
        for verb in CLIENT_VERBS:
            self.assertIn(verb, TRANSITIONS)
        self.assertNotIn("complete", TRANSITIONS)
        self.assertIn(INITIAL, STATES)

    def test_suspend_resume_retry_amend(self):
        job_id = self.new_job()
        self.transition(job_id, "suspend")
        self.transition(job_id, "resume")
        self.transition(job_id, "suspend")
        self.transition(job_id, "amend")
        self.go_to_failed_and_retry(job_id)

    def go_to_failed_and_retry(self, job_id):
        for verb in path_to("failed"):
            self.transition(job_id, verb)
        self.transition(job_id, "retry")
        self.assertEqual(self.read(TYPE, job_id)["state"], TRANSITIONS["retry"]["to"])

    def test_204_has_no_content_type_and_no_body(self):
        job_id = self.new_job()
        resp = self.verb(TYPE, job_id, "suspend")
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.raw, b"")
        self.assertIsNone(resp.header("Content-Type"), resp.headers)
        self.assertIn(resp.header("Content-Length"), (None, "0"))

    def test_every_transition_from_every_state(self):
        """From each reachable state, each allowed verb answers 204 and leads where the
        catalog says; each other verb answers 409 with allowed_actions."""
        for state in STATES:
            for verb in sorted(TRANSITIONS):
                with self.subTest(state=state, verb=verb):
                    job_id = self.new_job()
                    self.go_to(job_id, state)
                    before = self.read(TYPE, job_id)
                    if state in TRANSITIONS[verb]["from"]:
                        self.transition(job_id, verb)
                        continue
                    problem = assert_problem(self.verb(TYPE, job_id, verb), 409)
                    allowed = self.assert_links_to_each(problem, TYPE, job_id)
                    self.assertNotIn(verb, allowed)
                    for ok in allowed_from(state):
                        self.assertIn(ok, allowed)
                        self.assertEqual(problem["links"][ok]["href"],
                                         f"{MOUNT}/{TYPE}/{job_id}/{ok}")
                    for other in set(TRANSITIONS) - set(allowed_from(state)):
                        self.assertNotIn(other, allowed)
                    self.assert_same(TYPE, job_id, before)

    def test_transitions_through_the_actions_route(self):
        job_id = self.new_job()
        body = self.send_ok(TYPE, job_id, {"action": "suspend"})
        self.assertEqual(body["version"], 2)
        self.assertEqual(body.get("state"), "suspended", body)
        problem = assert_problem(self.send(TYPE, job_id, {"action": "suspend"}), 409)
        self.assertIn("resume", problem["allowed_actions"])

    def test_a_transition_takes_no_target_or_data(self):
        job_id = self.new_job()
        before = self.read(TYPE, job_id)
        assert_problem(self.verb(TYPE, job_id, "suspend", body={"data": {"x": 1}}), 400, "/data")
        assert_problem(self.verb(TYPE, job_id, "suspend", body={"target": {"x": 1}}), 400,
                       "/target")
        assert_problem(self.verb(TYPE, job_id, "suspend", body={"state": "done"}), 400, "/state")
        assert_problem(self.verb(TYPE, job_id, "suspend", body={"action": "resume"}), 400,
                       "/action")
        self.assert_same(TYPE, job_id, before)

    def test_optional_preconditions_are_honoured(self):
        job_id = self.new_job()
        before = self.read(TYPE, job_id)
        assert_problem(self.verb(TYPE, job_id, "suspend", body={"expected_version": 7}), 409)
        assert_problem(self.verb(TYPE, job_id, "suspend", headers={"If-Match": etag(7)}), 412)
        self.assert_same(TYPE, job_id, before)
        self.transition(job_id, "suspend", headers={"If-Match": etag(1)})
        self.transition(job_id, "resume", body={"expected_version": 2})

    def test_a_keyed_transition_is_replayed(self):
        job_id = self.new_job()
        key = f'"states-{job_id}"'
        first = self.verb(TYPE, job_id, "suspend", headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 204, first)
        again = self.verb(TYPE, job_id, "suspend", headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 204, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.header("Location"), first.header("Location"))
        self.assertEqual(again.header("ETag"), first.header("ETag"))
        self.assertEqual(self.read(TYPE, job_id)["version"], 2)

    def test_an_editor_may_drive_the_machine_and_is_logged(self):
        job_id = self.new_job(access={"bob": "editor"})
        self.transition(job_id, "suspend", token=TOKEN_BOB)
        self.assertEqual([e["actor"] for e in self.log(TYPE, job_id)], ["alice", "bob"])


class UnknownVerbs(JobCase):
    def test_complete_is_404_with_allowed_actions_and_links(self):
        for state in ("queued", "suspended"):
            with self.subTest(state=state):
                job_id = self.new_job()
                self.go_to(job_id, state)
                before = self.read(TYPE, job_id)
                problem = assert_problem(self.verb(TYPE, job_id, "complete"), 404)
                allowed = self.assert_links_to_each(problem, TYPE, job_id)
                self.assertNotIn("complete", allowed)
                for verb in allowed_from(state):
                    self.assertIn(verb, allowed)
                    self.assertEqual(problem["links"][verb]["href"],
                                     f"{MOUNT}/{TYPE}/{job_id}/{verb}")
                self.assert_same(TYPE, job_id, before)

    def test_an_action_is_not_a_verb(self):
        job_id = self.new_job()
        before = self.read(TYPE, job_id)
        for name in ACTIONS:
            problem = assert_problem(self.verb(TYPE, job_id, name, body={"data": {}}), 404)
            self.assert_links_to_each(problem, TYPE, job_id)
        self.assert_same(TYPE, job_id, before)

    def test_unknown_verb_on_a_missing_job(self):
        assert_problem(self.verb(TYPE, 999999999, "complete"), 404)
        assert_problem(self.verb(TYPE, 999999999, "suspend"), 404)

    def test_verbs_of_a_deleted_job_are_gone(self):
        job_id = self.new_job()
        resp = request("DELETE", f"/{TYPE}/{job_id}", headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 204, resp)
        assert_problem(self.verb(TYPE, job_id, "suspend"), 410)
        assert_problem(self.verb(TYPE, job_id, "complete"), 410)


class Representation(JobCase):
    def test_get_shows_state_and_only_the_verbs_allowed_now(self):
        for state in STATES:
            with self.subTest(state=state):
                job_id = self.new_job()
                self.go_to(job_id, state)
                job = self.read(TYPE, job_id)
                self.assertEqual(job["state"], state)
                self.assert_links_match_state(job)

    def test_create_answers_state_and_links(self):
        resp = request("POST", f"/{TYPE}")
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.body["state"], INITIAL)
        self.assert_links_match_state(resp.body)


class Log(JobCase):
    def test_transitions_are_logged_with_their_state(self):
        job_id = self.new_job()
        verbs = ["suspend", "resume", "start", "fail", "retry", "amend"]
        for verb in verbs:
            self.transition(job_id, verb)
        entries = self.log(TYPE, job_id)
        self.assertEqual([e["version"] for e in entries], list(range(1, len(verbs) + 2)))
        self.assertEqual([e["action"] for e in entries[1:]], verbs)
        self.assertEqual(entries[0].get("state"), INITIAL)
        for entry, verb in zip(entries[1:], verbs):
            self.assertEqual(entry.get("state"), TRANSITIONS[verb]["to"], entry)
            self.assertEqual(entry["forward"], [], entry)   # the document did not change
        # a refused transition leaves no trace
        assert_problem(self.verb(TYPE, job_id, "resume"), 409)
        self.assertEqual(len(self.log(TYPE, job_id)), len(verbs) + 1)


class StateIsNotData(JobCase):
    """The state is not part of the document: nothing but a transition changes it."""

    def setUp(self):
        self.job_id = self.new_job()
        self.transition(self.job_id, "suspend")

    def assert_state(self, state):
        self.assertEqual(self.read(TYPE, self.job_id)["state"], state)

    def test_json_patch_of_state_touches_only_a_document_member(self):
        job = self.read(TYPE, self.job_id)
        resp = self.patch(TYPE, self.job_id, [{"op": "add", "path": "/state", "value": "done"}],
                          version=job["version"])
        self.assertEqual(resp.status, 200, resp)
        after = self.read(TYPE, self.job_id)
        self.assertEqual(after["state"], "suspended")
        self.assertEqual(after["data"]["state"], "done")
        self.assert_links_match_state(after)
        # and the machine still follows its own state: resume is allowed, finish is not
        assert_problem(self.verb(TYPE, self.job_id, "finish"), 409)
        self.transition(self.job_id, "resume")

    def test_replace_of_a_missing_state_member_fails(self):
        job = self.read(TYPE, self.job_id)
        resp = self.patch(TYPE, self.job_id,
                          [{"op": "replace", "path": "/state", "value": "done"}],
                          version=job["version"])
        assert_problem(resp, 422)
        self.assert_same(TYPE, self.job_id, job)

    def test_merge_patch_of_state_touches_only_a_document_member(self):
        job = self.read(TYPE, self.job_id)
        resp = self.patch(TYPE, self.job_id, {"state": "queued"}, content_type=MERGE_PATCH,
                          version=job["version"])
        self.assertEqual(resp.status, 200, resp)
        after = self.read(TYPE, self.job_id)
        self.assertEqual(after["state"], "suspended")
        self.assertEqual(after["data"]["state"], "queued")

    def test_a_generic_action_cannot_set_the_state(self):
        job = self.read(TYPE, self.job_id)
        # not as an envelope member
        env = {"action": "set_input", "data": {"input": 1}, "state": "done",
               "expected_version": job["version"]}
        assert_problem(self.send(TYPE, self.job_id, env), 400, "/state")
        # not through the document
        env = {"action": "set_parameters", "data": {"parameters": {"state": "done"}},
               "expected_version": job["version"]}
        self.send_ok(TYPE, self.job_id, env)
        env = {"action": "set_input", "data": {"input": {"state": "done"}},
               "expected_version": job["version"] + 1}
        self.send_ok(TYPE, self.job_id, env)
        self.assert_state("suspended")

    def test_create_cannot_choose_the_state(self):
        assert_problem(request("POST", f"/{TYPE}", body={"data": {}, "state": "done"}), 400,
                       "/state")
        job = self.create(TYPE, {"input": None, "parameters": {}, "state": "done"})
        self.assertEqual(job["state"], INITIAL)
        self.assertEqual(job["data"]["state"], "done")

    def test_replacing_the_whole_document_keeps_the_state(self):
        job = self.read(TYPE, self.job_id)
        resp = self.patch(TYPE, self.job_id,
                          [{"op": "replace", "path": "", "value": {"state": "running"}}],
                          version=job["version"])
        self.assertEqual(resp.status, 200, resp)
        self.assert_state("suspended")


# --- the race ----------------------------------------------------------------------

WORKERS = 8
ITERATIONS = 40
# A transition into a state with no way out would end the race early: leave those out.
RACE_VERBS = sorted(v for v, t in TRANSITIONS.items() if allowed_from(t["to"]))


def _racer(job_id, seed, queue):
    rng = random.Random(seed)
    outcomes = []
    try:
        for _ in range(ITERATIONS):
            verb = rng.choice(RACE_VERBS)
            resp = request("POST", f"/{TYPE}/{job_id}/{verb}", timeout=60)
            problem_type = resp.body.get("type") if isinstance(resp.body, dict) else None
            outcomes.append((verb, resp.status, resp.header("ETag"), problem_type))
    except Exception as exc:  # reported by the parent, never swallowed
        outcomes.append(("error", 0, None, repr(exc)))
    queue.put(outcomes)


class Race(JobCase):
    def test_racing_transitions_leave_a_legal_log(self):
        self.assertIn("suspend", RACE_VERBS)
        self.assertIn("resume", RACE_VERBS)
        job_id = self.new_job()
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_racer, args=(job_id, 1000 + i, queue))
                 for i in range(WORKERS)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            self.assertEqual(p.exitcode, 0)
        outcomes = [o for r in results for o in r]
        self.assertEqual(len(outcomes), WORKERS * ITERATIONS, [o for o in outcomes if o[1] == 0])

        applied = [o for o in outcomes if o[1] == 204]
        refused = [o for o in outcomes if o[1] == 409]
        others = [o for o in outcomes if o[1] not in (204, 409)]
        self.assertEqual(others, [], "only 204 and 409 may answer a race")
        self.assertTrue(applied, "no transition went through")
        self.assertTrue(refused, "no transition was refused: the race raced nothing")
        for verb, _, _, ptype in refused:
            self.assertTrue(ptype and ptype.endswith("transition-not-allowed"), ptype)

        entries = self.log(TYPE, job_id)
        # versions 1..N without gaps, one entry per applied transition
        self.assertEqual([e["version"] for e in entries], list(range(1, len(entries) + 1)))
        self.assertEqual(len(entries), 1 + len(applied))
        # each applied answer names its own version
        self.assertEqual(sorted(int(o[2].strip('"')) for o in applied),
                         list(range(2, len(entries) + 1)))
        # the chain: every transition is legal from the state before it
        self.assertEqual(entries[0].get("state"), INITIAL)
        counts = collections.Counter()
        for before, entry in zip(entries, entries[1:]):
            verb = entry["action"]
            self.assertIn(verb, TRANSITIONS, entry)
            self.assertIn(before["state"], TRANSITIONS[verb]["from"],
                          f"version {entry['version']}: {verb} from {before['state']}")
            self.assertEqual(entry["state"], TRANSITIONS[verb]["to"], entry)
            counts[verb] += 1
        self.assertEqual(counts, collections.Counter(o[0] for o in applied))
        job = self.read(TYPE, job_id)
        self.assertEqual(job["version"], len(entries))
        self.assertEqual(job["state"], entries[-1]["state"])
        self.assert_links_match_state(job)


if __name__ == "__main__":
    unittest.main()
