"""test_hash_chain.py: the hash chain covers every column of a log entry
(sql/009_hash_all_columns.sql; docs/database.md, "The hash chain").

Rows written since 009 carry hash_version 2: their hash covers every column but the
hash itself, so changing any one of them behind the application's back (what an entry
touched, what it was merged over, the undo stack's links, a keyed request's fingerprint
and stored response, a grant) makes `actionctl verify` name the row. Rows written before
009 keep their version 1 hash and still verify, and the first row after them chains
on. Only the trigger chooses a row's hash version. Every function of the schema runs
with a fixed search_path, so a caller's own schemas cannot change a hash.

Rows changed here as the owner are put back in a `finally`, as in test_verify.py, so a
run of verify over the whole database holds between any two tests.
"""

import json
import unittest

from client import APP_DATABASE_URL, DATABASE_URL, psql, psql_value, request
from test_audit import (HASH_TEXTS_SQL, ROW_HASH, ROW_HASH_V2, ScratchDatabase, actionctl,
                        documented_hash, rows, run_actionctl, superuser_url)
from test_verify import SUMMARY_OK, tamper_log


def ok(resp, status=200):
    assert resp.status == status, resp
    return resp


def entry(url, resource_id, version):
    """How verify names a log entry: "version 7 (action by actor at time)"."""
    what = psql_value(url, f"""
        SELECT action || ' by ' || actor || ' at ' || (to_json(applied_at) #>> '{{}}')
          FROM action_log WHERE resource_id = {resource_id} AND version = {version}""")
    return f"version {version} ({what})"


def mismatch(url, resource_id, version, hash_version):
    return (f"{entry(url, resource_id, version)}: hash does not match its content"
            f" (hash version {hash_version})")


# Each column version 1 left out, and a share's grant (which version 1 covered too),
# with the entry of CoveredColumns' clip that has a value in it, and another value that
# still makes a valid row.
TAMPERED = [
    # (column, which entry, changed value, its type)
    ("touches", "action = 'add_crop_keyframe'", "'[]'", "jsonb"),
    ("based_on", "based_on IS NOT NULL", "based_on - 1", "bigint"),
    ("merged_over", "merged_over IS NOT NULL", "merged_over || version - 2", "bigint[]"),
    ("stack_prev", "stack_prev IS NOT NULL AND action = 'set_effect_type'", "stack_prev - 1",
     "bigint"),
    ("unit_first", "unit_first IS NOT NULL", "unit_first + 1", "bigint"),
    ("reverts", "action = 'undo'", "reverts - 1", "bigint"),
    # the same JSON value in other text: a retry gets the text back byte for byte
    ("response", "response IS NOT NULL", "(response::text || ' ')::json", "json"),
    ("fingerprint", "fingerprint IS NOT NULL", "md5(fingerprint)", "text"),
    ("idempotency_key", "idempotency_key IS NOT NULL", "idempotency_key || '-forged'", "text"),
    ("data", "action = 'share'", """'{"actor": "mallory", "role": "editor"}'""", "jsonb"),
]


class CoveredColumns(unittest.TestCase):
    """A clip whose log has a value in every column: a keyed action, a batch, an undo,
    a redo, a stale action merged over the redo, and a share."""

    @classmethod
    def setUpClass(cls):
        assert actionctl(), "ACTIOND_BUILD_DIR has no actionctl"
        cls.clip = clip = ok(request("POST", "/clips"), 201).body["id"]
        act = f"/clips/{clip}/actions"
        ok(request("POST", act, body={
            "action": "add_crop_keyframe", "expected_version": 1,
            "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}))
        ok(request("POST", act, body={
            "action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60},
            "expected_version": 2}, headers={"Idempotency-Key": f"hash-chain-{clip}"}))
        ok(request("POST", act, body={"expected_version": 3, "actions": [
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 70}},
            {"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}}]}))
        ok(request("POST", f"/clips/{clip}/undo", body={"expected_version": 5}))
        ok(request("POST", f"/clips/{clip}/redo", body={"expected_version": 6}))
        merged = ok(request("POST", act, body={
            "action": "set_effect_type", "data": {"effect_type": "blur"},
            "expected_version": 6, "on_conflict": "merge"})).body
        assert merged["version"] == 8 and merged["merged_over"] == [7], merged
        ok(request("POST", f"/clips/{clip}/share",
                   body={"data": {"actor": "bob", "role": "reader"}}), 204)
        cls.versions = 9

    def verify(self):
        return run_actionctl("verify", "--type", "clips", "--id", str(self.clip))

    def assert_clean(self):
        proc = self.verify()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), SUMMARY_OK.format(1, self.versions))

    def assert_reported(self, detail):
        proc = self.verify()
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(f"clips {self.clip}: {detail}", proc.stdout.splitlines(), proc.stdout)

    def pick(self, where):
        """The version of the clip's one entry matching `where`."""
        found = psql_value(DATABASE_URL, f"""
            SELECT string_agg(version::text, ',') FROM action_log
             WHERE resource_id = {self.clip} AND {where}""")
        self.assertRegex(found, r"^\d+$", f"one entry where {where}")
        return int(found)

    def test_every_entry_is_version_2_and_verifies(self):
        self.assertEqual(psql_value(DATABASE_URL, f"""
            SELECT string_agg(DISTINCT hash_version::text, ',') FROM action_log
             WHERE resource_id = {self.clip}"""), "2")
        self.assert_clean()

    def test_the_clip_has_a_value_in_every_column(self):
        """All but state: clips have no state machine (test_audit.py changes it)."""
        nulls = rows(DATABASE_URL, f"""
            SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = 'action_log'::regclass AND a.attnum > 0
               AND NOT a.attisdropped AND a.attname <> 'state'
               AND NOT EXISTS (SELECT FROM action_log l WHERE l.resource_id = {self.clip}
                                  AND (to_jsonb(l) -> a.attname) <> 'null')""")
        self.assertEqual(nulls, [])

    def test_changing_a_newly_covered_column_is_named(self):
        for column, where, changed, type_ in TAMPERED:
            with self.subTest(column=column):
                version = self.pick(where)
                original = psql_value(DATABASE_URL, f"""
                    SELECT quote_nullable({column}::text) FROM action_log
                     WHERE resource_id = {self.clip} AND version = {version}""")
                tamper_log(self.clip, version, f"{column} = {changed}")
                try:
                    self.assertEqual(psql_value(DATABASE_URL, f"""
                        SELECT {column}::text IS DISTINCT FROM {original} FROM action_log
                         WHERE resource_id = {self.clip} AND version = {version}"""), "t")
                    self.assert_reported(mismatch(DATABASE_URL, self.clip, version, 2))
                finally:
                    tamper_log(self.clip, version, f"{column} = {original}::{type_}")
                self.assert_clean()

    def test_relabelling_a_row_as_version_1_is_named(self):
        """Version 1's function has another tag: a row hashed as version 2 never
        matches it, whatever its columns."""
        version = self.pick("action = 'add_crop_keyframe'")
        tamper_log(self.clip, version, "hash_version = 1")
        try:
            self.assert_reported(mismatch(DATABASE_URL, self.clip, version, 1))
        finally:
            tamper_log(self.clip, version, "hash_version = 2")
        self.assert_clean()

    def test_an_unknown_version_is_named(self):
        version = self.pick("action = 'add_crop_keyframe'")
        tamper_log(self.clip, version, "hash_version = 3")
        try:
            self.assert_reported(f"{entry(DATABASE_URL, self.clip, version)}: has hash"
                                 " version 3, which no hash function computes")
        finally:
            tamper_log(self.clip, version, "hash_version = 2")
        self.assert_clean()


class OnlyTheTriggerChoosesTheVersion(unittest.TestCase):
    def setUp(self):
        self.clip = ok(request("POST", "/clips"), 201).body["id"]

    def test_the_workers_role_cannot_name_it(self):
        proc = psql(APP_DATABASE_URL, f"""
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,
                                    hash_version)
            VALUES ({self.clip}, 2, 'x', 'alice', '[]', '[]', 1)""")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("permission denied", proc.stderr)
        self.assertEqual(psql_value(DATABASE_URL, "SELECT count(*) FROM action_log"
                                                  f" WHERE resource_id = {self.clip}"), "1")

    def test_whatever_the_owner_supplies_the_trigger_sets_2(self):
        """The owner may name the column; the trigger overrides it, as it does
        prev_hash and hash. Rolled back: the clip's log stays as the API wrote it."""
        proc = psql(DATABASE_URL, f"""
            BEGIN;
            WITH i AS (
                INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,
                                        hash_version, prev_hash, hash)
                VALUES ({self.clip}, 2, 'x', 'alice', '[]', '[]', 1, 'forged', 'forged')
                RETURNING *)
            SELECT row_to_json(q) FROM (
                SELECT hash_version, hash = {ROW_HASH_V2} AS matches,
                       prev_hash = (SELECT hash FROM action_log
                                     WHERE resource_id = {self.clip} AND version = 1) AS linked
                  FROM i) q;
            ROLLBACK;""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout.strip()),
                         {"hash_version": 2, "matches": True, "linked": True})


class SearchPath(unittest.TestCase):
    def test_every_function_pins_its_search_path(self):
        """Every function of the schema and every trigger's function on the two
        tables runs with search_path pg_catalog, public, and none is SECURITY
        DEFINER."""
        functions = rows(DATABASE_URL, """
            SELECT p.oid::regprocedure::text AS name, p.proconfig, p.prosecdef
              FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
                OR p.oid IN (SELECT tgfoid FROM pg_trigger
                              WHERE tgrelid IN ('action_log'::regclass, 'tokens'::regclass)
                                AND NOT tgisinternal)
             ORDER BY 1""")
        names = {f["name"].split("(")[0] for f in functions}
        self.assertLessEqual({"action_log_chain", "action_log_genesis_hash",
                              "action_log_refuse_change", "action_log_row_hash",
                              "action_log_row_hash_v2", "action_log_serialise",
                              "tokens_announce_change"}, names)
        for f in functions:
            with self.subTest(function=f["name"]):
                self.assertEqual(f["proconfig"], ["search_path=pg_catalog, public"])
                self.assertFalse(f["prosecdef"])

    def test_a_callers_own_functions_change_no_hash(self):
        """A session whose search_path puts a schema of its own before pg_catalog
        shadows sha256 and encode for its own statements, not inside the hash
        functions or the trigger: the rows check, and a row the trigger writes then
        has the documented hash. All rolled back."""
        su = superuser_url()
        self.assertTrue(su, "no superuser connection to create a schema")
        clip = ok(request("POST", "/clips"), 201).body["id"]
        proc = psql(su, f"""
            BEGIN;
            CREATE SCHEMA hash_chain_shadow;
            CREATE FUNCTION hash_chain_shadow.sha256(bytea) RETURNS bytea
                LANGUAGE sql AS $$ SELECT '\\x00'::bytea $$;
            CREATE FUNCTION hash_chain_shadow.encode(bytea, text) RETURNS text
                LANGUAGE sql AS $$ SELECT 'shadowed' $$;
            SET LOCAL search_path = hash_chain_shadow, pg_catalog, public;
            WITH i AS (
                INSERT INTO action_log (resource_id, version, action, actor, forward, inverse)
                VALUES ({clip}, 2, 'x', 'alice', '[]', '[]')
                RETURNING *)
            SELECT json_build_object(
                'shadowed', encode(sha256('x'), 'hex'),
                'rows_check', (SELECT bool_and(hash = {ROW_HASH}) FROM action_log
                                WHERE resource_id = {clip}),
                'inserted', (SELECT row_to_json(q) FROM (
                    SELECT hash, hash_version, {HASH_TEXTS_SQL} FROM i) q));
            ROLLBACK;""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        got = json.loads(proc.stdout.strip())
        self.assertEqual(got["shadowed"], "shadowed")
        self.assertTrue(got["rows_check"])
        inserted = got["inserted"]
        self.assertEqual(inserted["hash_version"], 2)
        self.assertEqual(inserted["hash"], documented_hash(2, inserted))


class RowsBeforeTheMigration(ScratchDatabase):
    """sql/009 applied to a log written before it: its rows keep their hashes as
    version 1, verify recomputes them with version 1's function, and the first row
    after them chains to the last of them. Version 1 never covered the columns 009
    adds: a change there, in a row written before 009, still goes unnoticed."""

    APPLIED_BEFORE = "009"

    def entries(self):
        return rows(self.url, f"""
            SELECT hash, hash_version, hash = {ROW_HASH} AS matches, {HASH_TEXTS_SQL}
              FROM action_log ORDER BY action_log.version""")

    def test_old_rows_keep_their_hashes_and_new_ones_chain_on(self):
        # two entries written under 003's trigger, with every column set
        proc = psql(self.url, """
            INSERT INTO resources (type, version, data, state, owner)
            VALUES ('clips', 2, '{"n": 2}', 'draft', 'alice');
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,
                                    touches)
            VALUES (1, 1, 'create', 'alice',
                    '[{"op": "add", "path": "", "value": {"n": 1}}]', '[]', '[]');
            INSERT INTO action_log (resource_id, version, action, target, data, actor,
                                    idempotency_key, fingerprint, response, forward, inverse,
                                    state, stack_prev, unit_first, reverts, touches, based_on,
                                    merged_over)
            VALUES (1, 2, 'count', '{"n": null}', '{"n": 2}', 'alice', 'k-1', 'f1',
                    '{"body": {"version": 2,  "n": "Überblendung ✓"}}',
                    '[{"op": "replace", "path": "/n", "value": 2}]',
                    '[{"op": "replace", "path": "/n", "value": 1}]', 'draft', 1, 2, 1,
                    '[{"op": "w", "path": ["n"]}]', 1, '{1}');""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        before = rows(self.url, "SELECT version, hash FROM action_log ORDER BY version")

        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("applied 009_hash_all_columns.sql", proc.stdout)
        old = self.entries()
        self.assertEqual([(int(r["version"]), r["hash"]) for r in old],
                         [(r["version"], r["hash"]) for r in before])
        for row in old:
            with self.subTest(version=row["version"]):
                self.assertEqual(row["hash_version"], 1)
                self.assertTrue(row["matches"])
                self.assertEqual(documented_hash(1, row), row["hash"])

        # the first row after the migration: version 2, chained to version 1's last hash
        proc = psql(self.url, """
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,
                                    touches)
            VALUES (1, 3, 'count', 'alice', '[{"op": "replace", "path": "/n", "value": 3}]',
                    '[{"op": "replace", "path": "/n", "value": 2}]', '[]');
            UPDATE resources SET version = 3, data = '{"n": 3}';""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        new = self.entries()[2]
        self.assertEqual(new["hash_version"], 2)
        self.assertEqual(new["prev_hash"], old[1]["hash"])
        self.assertEqual(documented_hash(2, new), new["hash"])
        proc = run_actionctl("verify", url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), SUMMARY_OK.format(1, 3))

        def tamper(version, assignment):
            proc = psql(self.url, f"""
                ALTER TABLE action_log DISABLE TRIGGER action_log_no_update_delete;
                UPDATE action_log SET {assignment} WHERE version = {version};
                ALTER TABLE action_log ENABLE ALWAYS TRIGGER action_log_no_update_delete;""")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            return run_actionctl("verify", url=self.url)

        # version 1 never covered a stored response: the limit of rows written before 009
        proc = tamper(2, """response = '{"body": "forged"}'""")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # what it covered, it still does
        proc = tamper(2, """data = '{"n": 20}'""")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.splitlines()[0],
                         f"clips 1: {mismatch(self.url, 1, 2, 1)}")
        # and in a row written after it, what version 1 did not cover is
        tamper(2, """data = '{"n": 2}'""")
        proc = tamper(3, """touches = '[{"op": "w", "path": []}]'""")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.splitlines()[0],
                         f"clips 1: {mismatch(self.url, 1, 3, 2)}")


if __name__ == "__main__":
    unittest.main()
