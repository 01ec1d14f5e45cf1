"""test_verify.py: `actionctl verify`, which rebuilds resources from their action log and
checks the hash chain, on resources this module writes itself through the API, over
the whole database, and after rows are changed behind the application's back.

Nothing here depends on when the module runs. The resources it checks by id are its
own. The runs over the whole database hold at any moment between tests: every test
that changes rows behind the application's back (here and in test_audit.py) puts them
back in a `finally`, and every other row was written through the API, whose log always
replays. Tampering as the owner: it owns action_log, so it may disable the append-only
trigger, exactly what a superuser would do.
"""

import unittest

from client import DATABASE_URL, ApiTestCase, find_list, psql, psql_value, request
from test_audit import ROW_HASH, actionctl, run_actionctl

SUMMARY_OK = "verified {} resources, {} log entries: OK"


def tamper_log(resource_id, version, assignments):
    """UPDATE one log row with the append-only trigger disabled for that statement
    only, all in one transaction, and the trigger back as ALWAYS (as sql/001 has it)."""
    proc = psql(DATABASE_URL, f"""
        BEGIN;
        ALTER TABLE action_log DISABLE TRIGGER action_log_no_update_delete;
        UPDATE action_log SET {assignments}
         WHERE resource_id = {resource_id} AND version = {version};
        ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_no_update_delete;
        COMMIT;""")
    if proc.returncode != 0:
        raise AssertionError(f"tampering failed: {proc.stderr}")


def dollar(text):
    """`text` as an SQL dollar-quoted literal."""
    assert "$v$" not in text
    return f"$v${text}$v$"


def verify_summary(resources, entries):
    return SUMMARY_OK.format(resources, entries)


def log_length(resource_id):
    return int(psql_value(DATABASE_URL, "SELECT count(*) FROM action_log"
                                        f" WHERE resource_id = {resource_id}"))


def ok(resp, status=200):
    assert resp.status == status, resp
    return resp


class OwnResources(unittest.TestCase):
    """Every kind of change the API logs, on resources of this class's own, each of
    which verifies on its own."""

    @classmethod
    def setUpClass(cls):
        assert actionctl(), "ACTIOND_BUILD_DIR has no actionctl"
        cls.written = {}  # (type, id) -> the log length the API's answers account for

        # a clip: actions, a batch, undo, redo, and a stale action merged over a redo
        clip = ok(request("POST", "/clips"), 201).body["id"]
        act = f"/clips/{clip}/actions"
        ok(request("POST", act, body={
            "action": "add_crop_keyframe", "expected_version": 1,
            "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}))
        ok(request("POST", act, body={"expected_version": 2, "actions": [
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}},
            {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}}]}))
        ok(request("POST", f"/clips/{clip}/undo", body={"expected_version": 4}))
        ok(request("POST", f"/clips/{clip}/redo", body={"expected_version": 5}))
        merged = ok(request("POST", act, body={
            "action": "set_effect_type", "data": {"effect_type": "blur"},
            "expected_version": 5, "on_conflict": "merge"})).body
        assert merged["version"] == 7 and merged["merged_over"] == [6], merged
        cls.written[("clips", clip)] = 7

        # a deleted clip: its log still replays, to the deletion
        gone = ok(request("POST", "/clips"), 201).body["id"]
        ok(request("DELETE", f"/clips/{gone}", headers={"If-Match": '"1"'}), 204)
        cls.written[("clips", gone)] = 2

        # a state machine: two transitions on their verb routes, and the undo of one
        job = ok(request("POST", "/analysis_jobs"), 201).body["id"]
        ok(request("POST", f"/analysis_jobs/{job}/suspend"), 204)
        ok(request("POST", f"/analysis_jobs/{job}/resume"), 204)
        ok(request("POST", f"/analysis_jobs/{job}/undo", body={"expected_version": 3}))
        cls.written[("analysis_jobs", job)] = 4

        # a dashboard and its copy, whose log starts with the duplicate entry
        board = ok(request("POST", "/dashboards", body={"data": {"title": "t", "widgets": []}}),
                   201).body["id"]
        ok(request("POST", f"/dashboards/{board}/actions", body={
            "action": "add_widget", "data": {"kind": "chart"}, "expected_version": 1}))
        copy = ok(request("POST", f"/dashboards/{board}/duplicate"), 201).body["id"]
        cls.written[("dashboards", board)] = 2
        cls.written[("dashboards", copy)] = 1

        # a free-form document edited with both PATCH formats
        doc = ok(request("POST", "/documents", body={"data": {"a": 1}}), 201).body["id"]
        ok(request("PATCH", f"/documents/{doc}", body=[{"op": "add", "path": "/b", "value": [1]}],
                   headers={"Content-Type": "application/json-patch+json", "If-Match": '"1"'}))
        ok(request("PATCH", f"/documents/{doc}", body={"a": None, "c": "x"},
                   headers={"Content-Type": "application/merge-patch+json", "If-Match": '"2"'}))
        cls.written[("documents", doc)] = 3

    def test_each_resource_written_here_verifies(self):
        for (type_, resource_id), versions in self.written.items():
            with self.subTest(type=type_, id=resource_id):
                self.assertEqual(log_length(resource_id), versions)
                proc = run_actionctl("verify", "--type", type_, "--id", str(resource_id))
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertEqual(proc.stdout.strip(), verify_summary(1, versions))

    def test_an_id_of_another_type_is_not_found(self):
        resource_id = next(i for (t, i) in self.written if t == "documents")
        proc = run_actionctl("verify", "--type", "clips", "--id", str(resource_id))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)


class WholeDatabase(unittest.TestCase):
    def setUp(self):
        self.assertTrue(actionctl(), "ACTIOND_BUILD_DIR has no actionctl")

    def test_everything_in_the_database_verifies(self):
        resources = psql_value(DATABASE_URL, "SELECT count(*) FROM resources")
        entries = psql_value(DATABASE_URL, "SELECT count(*) FROM action_log")
        proc = run_actionctl("verify")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip().splitlines()[-1],
                         verify_summary(resources, entries))

    def test_one_type(self):
        resources = psql_value(DATABASE_URL,
                               "SELECT count(*) FROM resources WHERE type = 'clips'")
        entries = psql_value(DATABASE_URL, "SELECT count(*) FROM action_log l JOIN resources r"
                                           " ON r.id = l.resource_id WHERE r.type = 'clips'")
        proc = run_actionctl("verify", "--type", "clips")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), verify_summary(resources, entries))

    def test_usage_errors(self):
        for args in (["--id", "abc"], ["--id", "0"], ["--id", "-3"],
                     ["--id", "99999999999999999999"], ["--actor", "alice"],
                     ["--dir", "/tmp"], ["--type", ""], ["extra"]):
            with self.subTest(args=args):
                proc = run_actionctl("verify", *args)
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)

    def test_an_unknown_id_fails(self):
        proc = run_actionctl("verify", "--id", "9000000000000000000")
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("there is no resource 9000000000000000000", proc.stderr)


class Tampering(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        assert actionctl(), "ACTIOND_BUILD_DIR has no actionctl"
        resp = request("POST", "/clips")
        assert resp.status == 201, resp
        cls.clip_id = clip = resp.body["id"]
        steps = [
            {"action": "add_crop_keyframe",
             "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}},
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60}},
            {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}},
        ]
        for version, envelope in enumerate(steps, start=1):
            resp = request("POST", f"/clips/{clip}/actions",
                           body=dict(envelope, expected_version=version))
            assert resp.status == 200, resp
        cls.version = 4
        resp = request("GET", f"/clips/{clip}")
        assert resp.status == 200, resp
        path, frames = find_list(resp.body["data"], "frame")
        assert frames and frames[0]["x"] == 60, resp.body
        cls.x_path = list(path) + [0, "x"]
        cls.x_pointer = "/" + "/".join(str(p) for p in cls.x_path)

    def verify_one(self):
        return run_actionctl("verify", "--type", "clips", "--id", str(self.clip_id))

    def assert_clean(self):
        proc = self.verify_one()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), SUMMARY_OK.format(1, self.version))

    def assert_reported(self, proc, detail):
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        line = f"clips {self.clip_id}: {detail}"
        self.assertIn(line, proc.stdout.splitlines(), proc.stdout)

    def entry(self, version):
        what = psql_value(DATABASE_URL, f"""
            SELECT action || ' by ' || actor || ' at ' || (to_json(applied_at) #>> '{{}}')
              FROM action_log WHERE resource_id = {self.clip_id} AND version = {version}""")
        return f"version {version} ({what})"

    def resource_column(self, column):
        return psql_value(DATABASE_URL, f"SELECT {column}::text FROM resources"
                                        f" WHERE id = {self.clip_id}")

    def test_a_clean_resource_verifies(self):
        self.assert_clean()

    def test_an_edited_log_row_is_named(self):
        original = psql_value(DATABASE_URL, f"""
            SELECT data::text FROM action_log WHERE resource_id = {self.clip_id}
               AND version = 3""")
        tamper_log(self.clip_id, 3, """data = '{"x": 999}'""")
        try:
            detail = f"{self.entry(3)}: hash does not match its content (hash version 2)"
            self.assertIn("update_crop_keyframe by alice", detail)
            self.assert_reported(self.verify_one(), detail)
            # found by a run over everything too, and only that resource
            proc = run_actionctl("verify")
            self.assert_reported(proc, detail)
            self.assertIn(": 1 resource diverges from the log", proc.stdout.splitlines()[-1])
        finally:
            tamper_log(self.clip_id, 3, f"data = {dollar(original)}::jsonb")
        self.assert_clean()

    def test_a_rehashed_row_breaks_the_next_link(self):
        """Whoever edits a row and recomputes its hash still leaves the next row's
        prev_hash pointing at the old one."""
        original = psql_value(DATABASE_URL, f"""
            SELECT forward::text FROM action_log WHERE resource_id = {self.clip_id}
               AND version = 3""")
        forged = original.replace("60", "61")
        self.assertNotEqual(forged, original)
        tamper_log(self.clip_id, 3, f"forward = {dollar(forged)}::jsonb")
        tamper_log(self.clip_id, 3, f"hash = {ROW_HASH}")
        try:
            self.assert_reported(self.verify_one(),
                                 f"{self.entry(4)}: prev_hash does not match the hash of"
                                 " version 3 (that entry was changed and re-hashed, or this"
                                 " link was edited)")
        finally:
            tamper_log(self.clip_id, 3, f"forward = {dollar(original)}::jsonb")
            tamper_log(self.clip_id, 3, f"hash = {ROW_HASH}")
        self.assert_clean()

    def test_an_edited_document_is_named(self):
        original = self.resource_column("data")
        path = "{" + ",".join(str(p) for p in self.x_path) + "}"
        psql_value(DATABASE_URL, "UPDATE resources"
                                 f" SET data = jsonb_set(data::jsonb, '{path}', '61')"
                                 f" WHERE id = {self.clip_id}")
        try:
            self.assert_reported(self.verify_one(),
                                 f"data differs at {self.x_pointer}: stored 61, replayed 60")
        finally:
            psql_value(DATABASE_URL, f"UPDATE resources SET data = {dollar(original)}::json"
                                     f" WHERE id = {self.clip_id}")
        self.assert_clean()

    def test_an_edited_version_is_named(self):
        psql_value(DATABASE_URL, f"UPDATE resources SET version = version + 1"
                                 f" WHERE id = {self.clip_id}")
        try:
            self.assert_reported(self.verify_one(),
                                 f"stored version {self.version + 1}, but the log ends at"
                                 f" version {self.version}")
        finally:
            psql_value(DATABASE_URL, f"UPDATE resources SET version = version - 1"
                                     f" WHERE id = {self.clip_id}")
        self.assert_clean()

    def test_a_deletion_without_a_log_entry_is_named(self):
        psql_value(DATABASE_URL, f"UPDATE resources SET deleted_at = now()"
                                 f" WHERE id = {self.clip_id}")
        try:
            self.assert_reported(self.verify_one(),
                                 "deleted_at is set, but the log has no delete")
        finally:
            psql_value(DATABASE_URL, f"UPDATE resources SET deleted_at = NULL"
                                     f" WHERE id = {self.clip_id}")
        self.assert_clean()

    def test_a_state_without_a_log_entry_is_named(self):
        psql_value(DATABASE_URL, f"UPDATE resources SET state = 'approved'"
                                 f" WHERE id = {self.clip_id}")
        try:
            self.assert_reported(self.verify_one(),
                                 'state differs: stored "approved", replayed none')
        finally:
            psql_value(DATABASE_URL, f"UPDATE resources SET state = NULL"
                                     f" WHERE id = {self.clip_id}")
        self.assert_clean()


if __name__ == "__main__":
    unittest.main()
