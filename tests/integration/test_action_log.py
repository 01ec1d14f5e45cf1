"""test_action_log.py: the action log (docs/api.md, "The action log"). Reading it through the API
(paging, order, members), replaying it to the current document, and its append-only
guarantee: neither the application role nor the owner can UPDATE, DELETE or TRUNCATE
it."""

import json
import unittest

from client import (APP_DATABASE_URL, DATABASE_URL, ApiTestCase, apply_patch,
                    assert_problem, href, link_href, log_table, psql, psql_value, request,
                    utc_micros)


class LogThroughTheApi(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        resp = request("POST", "/clips")
        assert resp.status == 201, resp
        cls.clip_id = resp.body["id"]
        cls.results = []
        actions = [
            {"action": "add_crop_keyframe",
             "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}},
            {"action": "add_crop_keyframe",
             "data": {"frame": 40, "x": 5, "y": 5, "width": 64, "height": 36}},
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}},
            {"action": "move_crop_keyframe", "target": {"frame": 40},
             "data": {"new_frame": 140}},
            {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}},
        ]
        for version, envelope in enumerate(actions, start=1):
            resp = request("POST", f"/clips/{cls.clip_id}/actions",
                           body=dict(envelope, expected_version=version))
            assert resp.status == 200, resp
            cls.results.append(resp.body)
        cls.actions = actions

    def test_whole_log_in_order(self):
        resp = request("GET", f"/clips/{self.clip_id}/actions?since=0")
        self.assertEqual(resp.status, 200, resp)
        entries = resp.body["entries"]
        self.assertEqual([e["version"] for e in entries], [1, 2, 3, 4, 5, 6])
        self.assertEqual(entries[0]["action"], "create")
        for entry, envelope, result in zip(entries[1:], self.actions, self.results):
            self.assertEqual(entry["action"], envelope["action"])
            self.assertEqual(entry.get("target"), envelope.get("target"))
            self.assertEqual(entry.get("data"), envelope.get("data"))
            self.assertEqual(entry["actor"], "alice")
            self.assertEqual(entry["applied_at"], result["applied_at"])
            self.assertIn("idempotency_key", entry)
            self.assertIsInstance(entry["forward"], list)
            self.assertIsInstance(entry["inverse"], list)

    def test_entries_are_the_rows_with_every_member(self):
        # the page is written from the rows' text without parsing: every member, in the
        # documented order, must still equal the row read as JSON by PostgreSQL itself
        members = ["version", "action", "target", "data", "actor", "applied_at",
                   "idempotency_key", "forward", "inverse", "state", "reverts", "touches",
                   "based_on", "merged_over"]
        resp = request("POST", "/clips")
        self.assertEqual(resp.status, 201, resp)
        clip = resp.body["id"]
        steps = [
            ({}, {"action": "add_crop_keyframe",
                  "data": {"frame": 7, "x": 1, "y": 2, "width": 30, "height": 40}}),
            ({"Idempotency-Key": "log-page-key/1"},
             {"action": "set_trim_range", "data": {"start": 0.5, "end": 7.25}}),
            ({}, {"action": "undo"}),
        ]
        for version, (headers, envelope) in enumerate(steps, start=1):
            resp = request("POST", f"/clips/{clip}/actions", headers=headers,
                           body=dict(envelope, expected_version=version))
            self.assertEqual(resp.status, 200, resp)
        resp = request("GET", f"/clips/{clip}/actions")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(list(resp.body), ["resource", "current_version", "_links", "entries"])
        rows = json.loads(psql_value(DATABASE_URL, f"""
            SELECT json_agg(json_build_object(
                'version', version, 'action', action, 'target', target, 'data', data,
                'actor', actor, 'idempotency_key', idempotency_key, 'forward', forward,
                'inverse', inverse, 'state', state, 'reverts', reverts,
                'touches', touches, 'based_on', based_on, 'merged_over', merged_over,
                'applied_at', (extract(epoch FROM applied_at) * 1000000)::bigint)
                ORDER BY version)
            FROM {log_table()} WHERE resource_id = {int(clip)}"""))
        entries = resp.body["entries"]
        self.assertEqual([e["version"] for e in entries], [1, 2, 3, 4])
        self.assertEqual(len(rows), 4)
        for entry, row in zip(entries, rows):
            self.assertEqual(list(entry), members)
            self.assertEqual(dict(entry, applied_at=utc_micros(self, entry["applied_at"])), row)
        self.assertEqual(entries[2]["idempotency_key"], "log-page-key/1")
        self.assertEqual(entries[2]["data"], {"start": 0.5, "end": 7.25})
        self.assertEqual(entries[3]["reverts"], 3)

    def test_since_defaults_to_zero(self):
        resp = request("GET", f"/clips/{self.clip_id}/actions")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual([e["version"] for e in resp.body["entries"]], [1, 2, 3, 4, 5, 6])

    def test_paging(self):
        resp = request("GET", f"/clips/{self.clip_id}/actions?since=2&limit=2")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual([e["version"] for e in resp.body["entries"]], [3, 4])
        nxt = link_href(resp.body["_links"]["next"])
        self.assertTrue(nxt, resp.body)
        resp = request("GET", href(nxt))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual([e["version"] for e in resp.body["entries"]], [5, 6])
        self.assertEqual([e["version"] for e in self.log_entries(self.clip_id, limit=1)],
                         [1, 2, 3, 4, 5, 6])

    def test_nothing_after_the_last_version(self):
        resp = request("GET", f"/clips/{self.clip_id}/actions?since=6")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["entries"], [])

    def test_bad_paging_parameters(self):
        for query in ("since=abc", "since=-1", "limit=0", "limit=x"):
            with self.subTest(query=query):
                assert_problem(request("GET", f"/clips/{self.clip_id}/actions?{query}"), 400)

    def test_replay_reproduces_the_document(self):
        entries = self.log_entries(self.clip_id)
        doc = None
        for entry in entries:
            doc = apply_patch(doc, entry["forward"])
        self.assertEqual(doc, self.get_clip(self.clip_id)["data"])
        # and the inverses walk it back to the document as created
        for entry in reversed(entries[1:]):
            doc = apply_patch(doc, entry["inverse"])
        self.assertEqual(doc, apply_patch(None, entries[0]["forward"]))


class AppendOnly(ApiTestCase):
    """The log refuses UPDATE, DELETE and TRUNCATE from both database roles."""

    @classmethod
    def setUpClass(cls):
        resp = request("POST", "/clips")
        assert resp.status == 201, resp
        cls.clip_id = resp.body["id"]
        resp = request("POST", f"/clips/{cls.clip_id}/actions",
                       body={"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                             "expected_version": 1})
        assert resp.status == 200, resp

    def counts(self):
        table = log_table()
        return (psql_value(DATABASE_URL, f"SELECT count(*) FROM {table}"),
                psql_value(DATABASE_URL,
                           f"SELECT count(*) FROM {table} WHERE resource_id = {self.clip_id}"))

    def assert_refused(self, url, sql):
        before = self.counts()
        proc = psql(url, sql)
        self.assertNotEqual(proc.returncode, 0,
                            f"{sql!r} succeeded; stdout={proc.stdout!r}")
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.counts()[1], "2")

    def statements(self):
        table = log_table()
        return {
            "update": f"UPDATE {table} SET version = version WHERE resource_id = {self.clip_id}",
            "delete": f"DELETE FROM {table} WHERE resource_id = {self.clip_id}",
            "truncate": f"TRUNCATE {table}",
        }

    def test_app_role(self):
        for name, sql in self.statements().items():
            with self.subTest(statement=name):
                self.assert_refused(APP_DATABASE_URL, sql)

    def test_owner(self):
        for name, sql in self.statements().items():
            with self.subTest(statement=name):
                self.assert_refused(DATABASE_URL, sql)

    def test_roles_can_still_read_it(self):
        table = log_table()
        for url in (DATABASE_URL, APP_DATABASE_URL):
            with self.subTest(url=url):
                self.assertEqual(psql_value(url, f"SELECT count(*) FROM {table} "
                                                 f"WHERE resource_id = {self.clip_id}"), "2")

    def test_log_survives(self):
        entries = self.log_entries(self.clip_id)
        self.assertEqual([e["version"] for e in entries], [1, 2])


if __name__ == "__main__":
    unittest.main()
