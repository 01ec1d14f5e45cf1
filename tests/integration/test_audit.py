"""test_audit.py: tamper evidence and auditing in SQL (docs/database.md; sql/003_audit.sql).

Every log row is chained by hash as it is written, whoever writes it, and the hash
covers each recorded field; the workers' role cannot choose a hash; actiond_auditor
reads the log, the resources and the audit views and can change nothing; the views
answer who did what, undo/redo pairs and state transitions; rows already in a log when
the migration runs are chained by it.

Tests that act as actiond_auditor (SET ROLE) or create a scratch database need a
superuser: the scratch cluster's `postgres` over the same socket as DATABASE_URL, or
$ACTIOND_SUPERUSER_URL. Without one they fail: tests/integration/run always has one. The migration test also needs
actionctl from $ACTIOND_BUILD_DIR, which tests/integration/run exports.
"""

import datetime
import hashlib
import json
import os
import subprocess
import tempfile
import unittest
import urllib.parse

from client import (BOB_EDITS, APP_DATABASE_URL, DATABASE_URL, TOKEN_BOB, ApiTestCase, psql,
                    psql_value, request)

GENESIS = "0" * 64

# the arguments of action_log_row_hash, in order (sql/003_audit.sql): hash_version 1,
# the rows written before sql/009_hash_all_columns.sql
HASHED_V1 = ["prev_hash", "resource_id", "version", "action", "target", "data", "actor",
             "applied_at", "idempotency_key", "forward", "inverse", "state", "reverts"]
# the arguments of action_log_row_hash_v2 (sql/009): every column but hash, in table order
HASHED_V2 = ["prev_hash", "resource_id", "version", "action", "target", "data", "actor",
             "applied_at", "idempotency_key", "fingerprint", "response", "forward", "inverse",
             "state", "stack_prev", "unit_first", "reverts", "touches", "based_on",
             "merged_over"]
ROW_HASH_V1 = "action_log_row_hash(" + ", ".join(HASHED_V1) + ")"
ROW_HASH_V2 = "action_log_row_hash_v2(" + ", ".join(HASHED_V2) + ")"
# what the row's hash should be, by the function its hash_version names (as verify asks)
ROW_HASH = f"(CASE hash_version WHEN 1 THEN {ROW_HASH_V1} WHEN 2 THEN {ROW_HASH_V2} END)"

# the text docs/database.md's serialisation takes from each column, as a select list
# over a row of action_log (documented_hash reads the result)
HASH_TEXTS = {name: f"{name}::text" for name in HASHED_V2}
HASH_TEXTS["applied_at"] = """to_char(applied_at AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
HASH_TEXTS_SQL = ", ".join(f"{expr} AS {name}" for name, expr in HASH_TEXTS.items())


def documented_hash(hash_version, row):
    """The hash docs/database.md describes, computed here: SHA-256 over the tag
    actiond-log-N and each column's text (row[name], None for SQL NULL) of that
    version's list, as "-" or "<length in bytes>:<text>"."""
    names = {1: HASHED_V1, 2: HASHED_V2}[hash_version]
    serialised = f"actiond-log-{hash_version}".encode()
    for name in names:
        text = row[name]
        if text is None:
            serialised += b"-"
        else:
            raw = text.encode("utf-8")
            serialised += str(len(raw)).encode() + b":" + raw
    return hashlib.sha256(serialised).hexdigest()


def with_user(url, user, dbname=None):
    """url (a libpq URI with its parameters in the query) for another user or database."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["user"] = user
    path = f"/{dbname}" if dbname else parts.path
    # built by hand: urlunsplit would drop the empty authority of "postgresql:///db"
    return f"{parts.scheme}://{parts.netloc}{path}?{urllib.parse.urlencode(query)}"


_SUPERUSER = []


def superuser_url():
    """A superuser's URI for the suite's database, or None when there is none."""
    if not _SUPERUSER:
        url = os.environ.get("ACTIOND_SUPERUSER_URL") or with_user(DATABASE_URL, "postgres")
        proc = psql(url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        _SUPERUSER.append(url if proc.returncode == 0 and proc.stdout.strip() == "t" else None)
    return _SUPERUSER[0]


def actionctl():
    """The actionctl under test, or None."""
    build = os.environ.get("ACTIOND_BUILD_DIR")
    path = os.path.join(build, "actionctl") if build else None
    return path if path and os.access(path, os.X_OK) else None


def run_actionctl(*args, url=DATABASE_URL):
    return subprocess.run([actionctl(), "--database", url, *args], capture_output=True,
                          text=True, timeout=600, check=False)


def rows(url, sql):
    """The rows of `sql` as a list of dicts (through json_agg, so types survive)."""
    out = psql_value(url, f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q")
    return json.loads(out)


def as_auditor(sql):
    """psql running `sql` as actiond_auditor (SET ROLE from the superuser)."""
    return psql(superuser_url(), f"SET ROLE actiond_auditor; {sql}")


def auditor_rows(sql):
    proc = as_auditor(f"SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q")
    if proc.returncode != 0:
        raise AssertionError(f"as actiond_auditor: {sql}\n{proc.stderr}")
    return json.loads(proc.stdout.strip())


def reader_rows(sql):
    """Rows as the auditor when a superuser can SET ROLE to it, else as the owner."""
    return auditor_rows(sql) if superuser_url() else rows(DATABASE_URL, sql)


class HashChain(ApiTestCase):
    """The trigger chains every row the workers (actiond_app) write."""

    @classmethod
    def setUpClass(cls):
        resp = request("POST", "/clips")
        assert resp.status == 201, resp
        cls.clip_id = resp.body["id"]
        steps = [
            {"action": "add_crop_keyframe",
             "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}},
            {"action": "update_crop_keyframe", "target": {"frame": 100}, "data": {"x": 60},
             "id": f"audit-chain-{cls.clip_id}"},
            {"action": "undo"},
            {"action": "redo"},
        ]
        for version, envelope in enumerate(steps, start=1):
            resp = request("POST", f"/clips/{cls.clip_id}/actions",
                           body=dict(envelope, expected_version=version))
            assert resp.status == 200, resp

    def test_every_row_links_to_the_one_before(self):
        chain = rows(DATABASE_URL, f"""
            SELECT version, prev_hash, hash, hash_version, hash = {ROW_HASH} AS matches
              FROM action_log WHERE resource_id = {self.clip_id} ORDER BY version""")
        self.assertEqual([r["version"] for r in chain], [1, 2, 3, 4, 5])
        self.assertEqual(chain[0]["prev_hash"], GENESIS)
        for before, row in zip(chain, chain[1:]):
            self.assertEqual(row["prev_hash"], before["hash"], row)
        for row in chain:
            self.assertTrue(row["matches"], row)
            self.assertEqual(row["hash_version"], 2, row)
            self.assertRegex(row["hash"], "^[0-9a-f]{64}$")
        self.assertEqual(len({r["hash"] for r in chain}), 5)

    def test_the_hash_covers_every_recorded_field(self):
        """Changing any one argument of the row hash changes the hash, and SQL NULL
        is not the JSON null nor the empty string. Version 3 is the keyed entry: it has
        a key, a fingerprint, a response and a link on the undo stack; the columns it
        has no value in change from NULL."""
        changed = {
            # another first digit, whatever it was (a fixed 'f' is no change 1 time in 16)
            "prev_hash": "(CASE WHEN left(prev_hash, 1) = 'f' THEN 'e' ELSE 'f' END)"
                         " || substr(prev_hash, 2)",
            "resource_id": "resource_id + 1",
            "version": "version + 1",
            "action": "action || 'x'",
            "target": "'null'::jsonb",
            "data": "jsonb_build_object('x', 61)",
            "actor": "'mallory'",
            "applied_at": "applied_at + interval '1 microsecond'",
            "idempotency_key": "NULL",
            "fingerprint": "fingerprint || 'x'",
            # the same JSON value in other text: json hashes its text as stored
            "response": "(response::text || ' ')::json",
            "forward": "forward || '[]'::jsonb || '[{}]'::jsonb",
            "inverse": "'[]'::jsonb",
            "state": "''",
            "stack_prev": "stack_prev + 1",
            "unit_first": "version",
            "reverts": "7",
            "touches": "'[]'::jsonb",
            "based_on": "2",
            "merged_over": "'{}'::bigint[]",
        }
        self.assertEqual(sorted(changed), sorted(HASHED_V2))
        self.assertEqual(psql_value(DATABASE_URL, f"""
            SELECT hash_version = 2 AND hash = {ROW_HASH_V2} AND idempotency_key IS NOT NULL
                   AND stack_prev IS NOT NULL FROM action_log
             WHERE resource_id = {self.clip_id} AND version = 3"""), "t")
        for name, expr in changed.items():
            args = ", ".join(expr if a == name else a for a in HASHED_V2)
            with self.subTest(field=name):
                self.assertEqual(psql_value(DATABASE_URL, f"""
                    SELECT action_log_row_hash_v2({args}) <> hash FROM action_log
                     WHERE resource_id = {self.clip_id} AND version = 3"""), "t")

    def test_the_hash_is_the_documented_serialisation(self):
        """docs/database.md's serialisation, computed here from the columns, gives the
        stored hash, for rows with and without an idempotency key and a reverted
        version, and for one whose strings are not ASCII (the length prefixes count
        bytes, not characters)."""
        resp = request("POST", "/clips")
        self.assertEqual(resp.status, 201, resp)
        clip_id = resp.body["id"]
        steps = [
            {"action": "add_crop_keyframe",
             "data": {"frame": 10, "x": 1, "y": 2, "width": 640, "height": 360}},
            {"action": "update_crop_keyframe", "target": {"frame": 10}, "data": {"x": 3},
             "id": f"audit-serialisation-{clip_id}"},
            {"action": "create_region",
             "data": {"start_time": 1, "end_time": 2, "effect_type": "Überblendung ✓ 漢字"}},
            {"action": "undo"},
        ]
        for version, envelope in enumerate(steps, start=1):
            resp = request("POST", f"/clips/{clip_id}/actions",
                           body=dict(envelope, expected_version=version))
            self.assertEqual(resp.status, 200, resp)
        names = [n for n in HASHED_V2 if n != "applied_at"]
        chain = rows(DATABASE_URL, f"""
            SELECT hash, hash_version, {", ".join(f"{n}::text AS {n}" for n in names)},
                   (extract(epoch FROM applied_at) * 1000000)::bigint AS applied_us
              FROM action_log WHERE resource_id = {clip_id} ORDER BY version""")
        self.assertEqual(len(chain), 5)
        self.assertIsNotNone(chain[2]["idempotency_key"])
        self.assertIsNotNone(chain[2]["response"])
        self.assertIn("Überblendung ✓ 漢字", chain[3]["forward"])
        self.assertIsNotNone(chain[4]["reverts"])
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        for row in chain:
            applied = epoch + datetime.timedelta(microseconds=row["applied_us"])
            row["applied_at"] = applied.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            with self.subTest(version=row["version"]):
                self.assertEqual(row["hash_version"], 2)
                self.assertEqual(documented_hash(2, row), row["hash"])

    def test_session_settings_do_not_change_the_hash(self):
        proc = psql(DATABASE_URL, f"""
            SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY';
            SET extra_float_digits = 0;
            SELECT bool_and(hash = {ROW_HASH}) FROM action_log
             WHERE resource_id = {self.clip_id}""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "t")

    def test_the_workers_role_cannot_choose_or_change_a_hash(self):
        for sql in (
                "INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,"
                f" hash) VALUES ({self.clip_id}, 99, 'x', 'alice', '[]', '[]', 'forged')",
                "INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,"
                f" prev_hash) VALUES ({self.clip_id}, 99, 'x', 'alice', '[]', '[]', 'forged')",
                f"UPDATE action_log SET hash = 'forged' WHERE resource_id = {self.clip_id}"):
            with self.subTest(sql=sql):
                proc = psql(APP_DATABASE_URL, sql)
                self.assertNotEqual(proc.returncode, 0, proc.stdout)
                self.assertIn("permission denied", proc.stderr)
        self.assertEqual(psql_value(DATABASE_URL, "SELECT count(*) FROM action_log"
                                                  f" WHERE resource_id = {self.clip_id}"), "5")

    def test_the_owner_cannot_append_a_gap(self):
        """The chain, like the versions, has no holes: a row whose previous version is
        missing is refused (and so nothing is appended)."""
        proc = psql(DATABASE_URL, f"""
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse)
            VALUES ({self.clip_id}, 9, 'x', 'alice', '[]', '[]')""")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("has no version 8", proc.stderr)


READABLE = ["action_log", "resources", "audit_log", "audit_undo_redo", "audit_transitions",
            "audit_actor_activity"]


class AuditorGrants(unittest.TestCase):
    """actiond_auditor reads the log, the documents and the views, and nothing else."""

    def test_catalog_grants(self):
        """What PostgreSQL's own privilege functions say, asked as the owner."""
        for table in READABLE:
            with self.subTest(table=table):
                self.assertEqual(psql_value(DATABASE_URL, f"""
                    SELECT has_table_privilege('actiond_auditor', '{table}', 'SELECT')"""), "t")
        for table in READABLE + ["tokens", "schema_migrations"]:
            for priv in ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                with self.subTest(table=table, privilege=priv):
                    self.assertEqual(psql_value(DATABASE_URL, f"""
                        SELECT has_table_privilege('actiond_auditor', '{table}', '{priv}')"""),
                        "f")
        for table in ("tokens", "schema_migrations"):
            with self.subTest(table=table):
                self.assertEqual(psql_value(DATABASE_URL, f"""
                    SELECT has_table_privilege('actiond_auditor', '{table}', 'SELECT')"""), "f")
        self.assertEqual(psql_value(DATABASE_URL, """
            SELECT rolcanlogin OR rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
              FROM pg_roles WHERE rolname = 'actiond_auditor'"""), "f")


class AuditorSession(unittest.TestCase):
    """The same, tried: SET ROLE actiond_auditor, then read and attempt to write."""

    def setUp(self):
        if not superuser_url():
            self.fail("no superuser connection to SET ROLE actiond_auditor")

    def test_reads(self):
        for table in READABLE:
            with self.subTest(table=table):
                proc = as_auditor(f"SELECT count(*) FROM {table}")
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertTrue(proc.stdout.strip().isdigit(), proc.stdout)

    def test_writes_nothing(self):
        counts = "SELECT (SELECT count(*) FROM action_log), (SELECT count(*) FROM resources)," \
                 " (SELECT count(*) FROM tokens)"
        before = psql_value(DATABASE_URL, counts)
        statements = [
            "INSERT INTO resources (type, version, data, owner) VALUES ('clips', 1, '{}', 'x')",
            "UPDATE resources SET data = '{}'",
            "DELETE FROM resources",
            "TRUNCATE resources",
            "INSERT INTO action_log (resource_id, version, action, actor, forward, inverse)"
            " SELECT id, version + 1, 'x', 'x', '[]', '[]' FROM resources LIMIT 1",
            "UPDATE action_log SET actor = 'x'",
            "DELETE FROM action_log",
            "TRUNCATE action_log",
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "SELECT count(*) FROM tokens",
            "UPDATE tokens SET revoked_at = now()",
            "SELECT count(*) FROM schema_migrations",
            "CREATE TABLE public.auditor_was_here (x int)",
            "ALTER TABLE action_log DISABLE TRIGGER action_log_no_update_delete",
        ]
        for sql in statements:
            with self.subTest(sql=sql):
                proc = as_auditor(sql)
                self.assertNotEqual(proc.returncode, 0, f"{sql!r} succeeded: {proc.stdout!r}")
                # a join view refuses writes before privileges are even checked;
                # AuditorGrants shows the auditor holds no write privilege on it either
                self.assertRegex(proc.stderr, "permission denied|must be owner|"
                                              "cannot (update|delete from) view")
        self.assertEqual(psql_value(DATABASE_URL, counts), before)


class AuditViews(ApiTestCase):
    """The views answer in plain SQL who did what, undo/redo pairs and transitions."""

    @classmethod
    def setUpClass(cls):
        resp = request("POST", "/clips", body={"access": BOB_EDITS})
        assert resp.status == 201, resp
        cls.clip_id = clip = resp.body["id"]
        script = [
            # (token, envelope): alice adds, bob edits, alice undoes bob's edit and redoes it
            (None, {"action": "add_crop_keyframe",
                    "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}),
            (TOKEN_BOB, {"action": "update_crop_keyframe", "target": {"frame": 100},
                         "data": {"x": 60}}),
            (None, {"action": "undo"}),
            (None, {"action": "redo"}),
            # a batch is one unit: one undo reverts both of its entries
            (TOKEN_BOB, {"actions": [{"action": "set_trim_range",
                                      "data": {"start": 1.0, "end": 5.0}},
                                     {"action": "set_effect_type",
                                      "data": {"effect_type": "brightness_boost"}}]}),
            (None, {"action": "undo"}),
        ]
        version = 1
        for token, envelope in script:
            kwargs = {} if token is None else {"token": token}
            resp = request("POST", f"/clips/{clip}/actions",
                           body=dict(envelope, expected_version=version), **kwargs)
            assert resp.status == 200, resp
            version = resp.body["version"]
        cls.clip_version = version

        resp = request("POST", "/analysis_jobs")
        assert resp.status == 201, resp
        cls.job_id = job = resp.body["id"]
        for verb in ("suspend", "resume", "start"):
            resp = request("POST", f"/analysis_jobs/{job}/{verb}")
            assert resp.status == 204, (verb, resp)

    def test_who_did_what(self):
        got = reader_rows(f"""
            SELECT version, actor, action, resource_type, state, reverts FROM audit_log
             WHERE resource_id = {self.clip_id} ORDER BY version""")
        self.assertEqual([(r["version"], r["actor"], r["action"], r["reverts"]) for r in got], [
            (1, "alice", "create", None),
            (2, "alice", "add_crop_keyframe", None),
            (3, "bob", "update_crop_keyframe", None),
            (4, "alice", "undo", 3),
            (5, "alice", "redo", 4),
            (6, "bob", "set_trim_range", None),
            (7, "bob", "set_effect_type", None),
            (8, "alice", "undo", 7),
        ])
        self.assertEqual({r["resource_type"] for r in got}, {"clips"})
        self.assertEqual({r["state"] for r in got}, {None})

    def test_undo_redo_pairs(self):
        got = reader_rows(f"""
            SELECT version, action, actor, reverts, reverted_first, reverted_action,
                   reverted_actor, reverted_by, reverted_by_action, reverted_by_actor
              FROM audit_undo_redo WHERE resource_id = {self.clip_id} ORDER BY version""")
        self.assertEqual(got, [
            {"version": 4, "action": "undo", "actor": "alice", "reverts": 3,
             "reverted_first": 3, "reverted_action": "update_crop_keyframe",
             "reverted_actor": "bob", "reverted_by": 5, "reverted_by_action": "redo",
             "reverted_by_actor": "alice"},
            {"version": 5, "action": "redo", "actor": "alice", "reverts": 4,
             "reverted_first": 4, "reverted_action": "undo", "reverted_actor": "alice",
             "reverted_by": None, "reverted_by_action": None, "reverted_by_actor": None},
            {"version": 8, "action": "undo", "actor": "alice", "reverts": 7,
             "reverted_first": 6, "reverted_action": "set_effect_type",
             "reverted_actor": "bob", "reverted_by": None, "reverted_by_action": None,
             "reverted_by_actor": None},
        ])

    def test_state_transitions(self):
        got = reader_rows(f"""
            SELECT version, action, actor, from_state, to_state FROM audit_transitions
             WHERE resource_type = 'analysis_jobs' AND resource_id = {self.job_id}
             ORDER BY version""")
        self.assertEqual([(r["version"], r["action"], r["from_state"], r["to_state"])
                          for r in got], [
            (1, "create", None, "queued"),
            (2, "suspend", "queued", "suspended"),
            (3, "resume", "suspended", "queued"),
            (4, "start", "queued", "running"),
        ])
        self.assertEqual({r["actor"] for r in got}, {"alice"})
        # types without a state machine never appear
        self.assertEqual(reader_rows(f"""
            SELECT 1 FROM audit_transitions WHERE resource_id = {self.clip_id}"""), [])

    def test_actor_activity_agrees_with_the_log(self):
        view = reader_rows("""
            SELECT actor, resource_type, entries, resources, created, deleted, undos, redos
              FROM audit_actor_activity WHERE actor IN ('alice', 'bob')
             ORDER BY actor, resource_type""")
        direct = reader_rows("""
            SELECT l.actor, r.type AS resource_type, count(*) AS entries,
                   count(DISTINCT l.resource_id) AS resources,
                   count(*) FILTER (WHERE l.version = 1) AS created,
                   count(*) FILTER (WHERE l.action = 'delete') AS deleted,
                   count(*) FILTER (WHERE l.action = 'undo') AS undos,
                   count(*) FILTER (WHERE l.action = 'redo') AS redos
              FROM action_log l JOIN resources r ON r.id = l.resource_id
             WHERE l.actor IN ('alice', 'bob')
             GROUP BY 1, 2 ORDER BY 1, 2""")
        self.assertEqual(view, direct)
        bob_clips = [r for r in view if r["actor"] == "bob" and r["resource_type"] == "clips"]
        self.assertEqual(len(bob_clips), 1)
        self.assertGreaterEqual(bob_clips[0]["entries"], 3)


def sql_files():
    here = os.path.dirname(os.path.abspath(__file__))
    sql = os.path.join(here, "..", "..", "sql")
    return sql, sorted(f for f in os.listdir(sql) if f.endswith(".sql"))


class ScratchDatabase(unittest.TestCase):
    """A database of its own, migrated with the files before APPLIED_BEFORE only."""

    APPLIED_BEFORE = None

    def setUp(self):
        if not superuser_url():
            self.fail("no superuser connection to create a scratch database")
        if not actionctl():
            self.fail("ACTIOND_BUILD_DIR has no actionctl")
        self.dbname = f"actiond_audit_migration_{self.APPLIED_BEFORE}_{os.getpid()}"
        proc = psql(superuser_url(), f"CREATE DATABASE {self.dbname} OWNER actiond_owner"
                                     " ENCODING 'UTF8' TEMPLATE template0")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.url = with_user(DATABASE_URL, "actiond_owner", self.dbname)
        self.before = tempfile.TemporaryDirectory()
        source, names = sql_files()
        self.all_sql = source
        for name in names:
            if name < self.APPLIED_BEFORE:
                with open(os.path.join(source, name), "rb") as src, \
                        open(os.path.join(self.before.name, name), "wb") as dst:
                    dst.write(src.read())
        proc = run_actionctl("migrate", "--dir", self.before.name, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def tearDown(self):
        if hasattr(self, "before"):
            self.before.cleanup()
        if hasattr(self, "dbname"):
            psql(superuser_url(), f"DROP DATABASE IF EXISTS {self.dbname}")


class MigrationChainsExistingRows(ScratchDatabase):
    """sql/003_audit.sql applied to a database that already has a log: the rows are
    chained in version order, and verify accepts the result. A log with a gap cannot
    be chained: the migration fails and changes nothing."""

    APPLIED_BEFORE = "003"

    def old_rows(self, gap=False):
        """Two resources with histories written before 003, in no particular order."""
        versions = "(1), (3)" if gap else "(1), (2), (3)"
        proc = psql(self.url, f"""
            INSERT INTO resources (type, version, data, state, owner) VALUES
                ('clips', 3, '{{"n": 3}}', NULL, 'alice'),
                ('analysis_jobs', 2, '{{}}', 'suspended', 'bob');
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse, state)
            SELECT 1, v, CASE WHEN v = 1 THEN 'create' ELSE 'count' END, 'alice',
                   CASE WHEN v = 1 THEN '[{{"op": "add", "path": "", "value": {{"n": 1}}}}]'
                        ELSE jsonb_build_array(jsonb_build_object(
                            'op', 'replace', 'path', '/n', 'value', v)) END,
                   '[]', NULL
              FROM (VALUES {versions}) AS t(v) ORDER BY v DESC;
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse, state)
            VALUES (2, 2, 'suspend', 'bob', '[]', '[]', 'suspended'),
                   (2, 1, 'create', 'bob', '[{{"op": "add", "path": "", "value": {{}}}}]',
                    '[]', 'queued');""")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_existing_rows_are_chained(self):
        self.old_rows()
        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("applied 003_audit.sql", proc.stdout)
        chain = rows(self.url, f"""
            SELECT resource_id, version, prev_hash, hash, hash = {ROW_HASH} AS matches,
                   prev_hash = coalesce(lag(hash) OVER (PARTITION BY resource_id
                                                        ORDER BY version),
                                        action_log_genesis_hash()) AS linked
              FROM action_log ORDER BY resource_id, version""")
        self.assertEqual(len(chain), 5)
        for row in chain:
            self.assertTrue(row["matches"] and row["linked"], row)
        # the append-only trigger is back, as ALWAYS
        self.assertEqual(psql_value(self.url, """
            SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'action_log'::regclass
               AND tgname = 'action_log_no_update_delete'"""), "A")
        proc = run_actionctl("verify", url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), "verified 2 resources, 5 log entries: OK")

    def test_a_gap_stops_the_migration(self):
        self.old_rows(gap=True)
        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("resource 1 has version 3 after version 1", proc.stderr)
        self.assertEqual(psql_value(self.url, """
            SELECT count(*) FROM information_schema.columns
             WHERE table_name = 'action_log' AND column_name IN ('hash', 'prev_hash')"""), "0")
        self.assertEqual(psql_value(self.url, """
            SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'action_log'::regclass
               AND tgname = 'action_log_no_update_delete'"""), "A")


class RowHashRewrite(ScratchDatabase):
    """sql/005_cheaper_writes.sql replaces the body of action_log_row_hash: rows that
    003's body hashed keep their hashes, verify still accepts them, and rows written
    after it chain on from them."""

    APPLIED_BEFORE = "005"

    def test_rows_hashed_before_keep_their_hashes(self):
        proc = psql(self.url, """
            INSERT INTO resources (type, version, data, state, owner)
            VALUES ('clips', 2, '{"title": "Überblendung ✓", "n": 2}', 'draft', 'alice');
            INSERT INTO action_log (resource_id, version, action, target, data, actor,
                                    idempotency_key, fingerprint, forward, inverse, state)
            VALUES (1, 1, 'create', NULL, NULL, 'alice', NULL, NULL,
                    '[{"op": "add", "path": "", "value": {"title": "Überblendung ✓", "n": 1}}]',
                    '[]', NULL),
                   (1, 2, 'count', '{"n": null}', '{"n": 2}', 'alice', 'k-1', 'f',
                    '[{"op": "replace", "path": "/n", "value": 2}]',
                    '[{"op": "replace", "path": "/n", "value": 1}]', 'draft');""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        before = rows(self.url, "SELECT version, hash FROM action_log ORDER BY version")
        self.assertEqual(len(before), 2)

        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("applied 005_cheaper_writes.sql", proc.stdout)
        after = rows(self.url, f"""
            SELECT version, hash, hash = {ROW_HASH} AS matches
              FROM action_log ORDER BY version""")
        self.assertEqual([(r["version"], r["hash"]) for r in after],
                         [(r["version"], r["hash"]) for r in before])
        self.assertTrue(all(r["matches"] for r in after), after)

        proc = psql(self.url, """
            INSERT INTO action_log (resource_id, version, action, actor, forward, inverse,
                                    state)
            VALUES (1, 3, 'count', 'alice', '[{"op": "replace", "path": "/n", "value": 3}]',
                    '[{"op": "replace", "path": "/n", "value": 2}]', 'draft');
            UPDATE resources SET version = 3, data = (data::jsonb || '{"n": 3}')::json;""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = run_actionctl("verify", url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), "verified 1 resources, 3 log entries: OK")


    def test_documents_are_compressed_with_lz4_where_the_server_has_it(self):
        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        has_lz4 = psql_value(self.url, """
            SELECT 'lz4' = ANY (enumvals) FROM pg_settings
             WHERE name = 'default_toast_compression'""") == "t"
        compressions = psql_value(self.url, """
            SELECT string_agg(DISTINCT attcompression::text, ',') FROM pg_attribute
             WHERE (attrelid = 'resources'::regclass AND attname = 'data')
                OR (attrelid = 'action_log'::regclass
                    AND attname IN ('target', 'data', 'response', 'forward', 'inverse',
                                    'touches'))""")
        self.assertEqual(compressions, "l" if has_lz4 else "")
        # a document of a few KB is stored compressed, by that method
        proc = psql(self.url, """
            INSERT INTO resources (type, version, data, owner)
            SELECT 'clips', 1, jsonb_build_object('keyframes', jsonb_agg(jsonb_build_object(
                       'frame', k, 'x', k % 7, 'y', k % 5))), 'alice'
              FROM generate_series(1, 200) AS k""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(psql_value(self.url, "SELECT pg_column_compression(data) FROM resources"),
                         "lz4" if has_lz4 else "pglz")


class DocumentsAsJson(ScratchDatabase):
    """sql/006_documents_as_json.sql stores documents as json: each stored document
    keeps the text it had as jsonb, so a GET answers the same bytes for the same
    version, and text written afterwards comes back exactly as written."""

    APPLIED_BEFORE = "006"

    def test_documents_keep_their_text(self):
        proc = psql(self.url, """
            INSERT INTO resources (type, version, data, owner)
            VALUES ('clips', 1,
                    '{"zeta": 1.50, "a": [1e2, "Überblendung ✓"], "mm": {"b": null}}', 'alice'),
                   ('clips', 1, 'null', 'alice')""")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        texts = "SELECT string_agg(data::text, '|' ORDER BY id) FROM resources"
        before = psql_value(self.url, texts)
        self.assertEqual(
            before, '{"a": [100, "Überblendung ✓"], "mm": {"b": null}, "zeta": 1.50}|null')

        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("applied 006_documents_as_json.sql", proc.stdout)
        self.assertEqual(psql_value(self.url, """
            SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'resources'::regclass AND attname = 'data'"""), "json")
        self.assertEqual(psql_value(self.url, texts), before)

        written = '{"zeta":1.50,"a":[1e2,"x"]}'
        proc = psql(self.url, f"UPDATE resources SET data = '{written}' WHERE id = 1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(psql_value(self.url, "SELECT data::text FROM resources WHERE id = 1"),
                         written)
        # what is not JSON is still refused
        proc = psql(self.url, "UPDATE resources SET data = '{\"a\":' WHERE id = 1")
        self.assertNotEqual(proc.returncode, 0)

    def test_updates_stay_on_their_page(self):
        """A 1.3 KB document stays uncompressed in its row. With fillfactor 90 five such
        rows share a page and leave too little room for a new version, which then goes
        to another page and into both indexes; 006's 75 keeps every update HOT."""
        proc = run_actionctl("migrate", "--dir", self.all_sql, url=self.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)

        def doc(letter):
            return f"""('{{"s": "' || repeat('{letter}', 1300) || '"}}')::json"""

        proc = psql(self.url, "INSERT INTO resources (type, version, data, owner)"
                              f" SELECT 'clips', 1, {doc('a')}, 'alice'"
                              " FROM generate_series(1, 20)")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        blocks = "SELECT string_agg((ctid::text::point)[0]::text, ',' ORDER BY id) FROM resources"
        before = psql_value(self.url, blocks)
        for letter in "bcd":
            for rid in range(1, 21):
                # one transaction each: a version is pruned once no snapshot can see it
                proc = psql(self.url, f"UPDATE resources SET version = version + 1,"
                                      f" data = {doc(letter)} WHERE id = {rid}")
                self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(psql_value(self.url, blocks), before)

if __name__ == "__main__":
    unittest.main()
