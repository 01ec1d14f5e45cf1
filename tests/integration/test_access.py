"""test_access.py: who may reach a resource (docs/access.md). Every route of a resource
is sent by its owner, an editor, a reader, a reader and an editor through "*", and a
stranger: each answers as its role allows, a refusal changes nothing, and a stranger's
404 reads exactly like that of an id nobody has. Lists show what the caller may read;
a reader's duplicate belongs to the reader, shared with nobody. Sharing and unsharing
are log entries by the owner that take a version, show in audit_grants and verify;
a stale editor is refused or merged over them like over any change. An unshare racing
an editor's stream of writes: nothing the editor wrote lands after it, every write it
was told succeeded is in the log once, and every write it sends afterwards is refused.

Actors: alice owns everything (client.TOKEN), bob is shared with by name
(client.TOKEN_BOB), carol only through "*", and dave never (both get tokens here).
"""

import re
import threading
import time
import unittest
import uuid

from client import (DATABASE_URL, TOKEN, TOKEN_BOB, ApiTestCase, assert_problem, etag, href,
                    link_href, request)
from test_audit import actionctl, rows, run_actionctl

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
FORBIDDEN = "urn:actiond:problem:forbidden"
NOT_FOUND = "urn:actiond:problem:not-found"

# an id no resource has (ids are at most 18 digits in a path)
MISSING = 987654321987654321

OWNER, EDITOR, READER, NONE = 3, 2, 1, 0
ROLE_NAME = {EDITOR: "editor", READER: "reader"}


def new_token(actor):
    """A new token of `actor`: the last line actionctl prints on stdout."""
    proc = run_actionctl("token", "create", "--actor", actor)
    if proc.returncode != 0:
        raise AssertionError(f"actionctl token create --actor {actor}: {proc.stderr}")
    return [line for line in proc.stdout.splitlines() if line.strip()][-1]


def log_of(type_, rid):
    """(current_version, entries) of a resource, read by its owner (alice): the log
    stays readable after a delete, when GET answers 410."""
    entries, since = [], 0
    while True:
        resp = request("GET", f"/{type_}/{rid}/actions?since={since}&limit=1000")
        assert resp.status == 200, resp
        entries.extend(resp.body["entries"])
        if "next" not in resp.body["_links"] or not resp.body["entries"]:
            return resp.body["current_version"], entries
        since = entries[-1]["version"]


def without_id(problem, rid):
    """A problem with the resource's id in its detail written as {id}."""
    out = dict(problem)
    out["detail"] = re.sub(rf"\b{rid}\b", "{id}", out["detail"])
    return out


# ---------------------------------------------------------------------------------
# who asks: the caller's actor, the grants alice gives at creation, the role that
# makes (every resource also names "erin", whom the unshare route takes back)

CALLERS = {
    "owner": ("alice", {}, OWNER),
    "editor": ("bob", {"bob": "editor"}, EDITOR),
    "reader": ("bob", {"bob": "reader"}, READER),
    "star reader": ("carol", {"*": "reader"}, READER),
    "star editor": ("carol", {"*": "editor"}, EDITOR),
    "stranger": ("dave", {"bob": "editor", "carol": "reader"}, NONE),
}


# ---------------------------------------------------------------------------------
# what is asked: every route of a resource

class Route:
    """One route: the type it is tried on, the role it needs, its success status, the
    versions a success adds, what the owner does first, and the request, a function of
    the id and the current version returning (method, path suffix, body, headers)."""

    def __init__(self, name, type_, needs, status, adds, send, prepare=(), data=None):
        self.name, self.type, self.needs, self.status, self.adds = name, type_, needs, status, adds
        self.send, self.prepare, self.data = send, prepare, data


def trim(start):
    return {"action": "set_trim_range", "data": {"start": start, "end": start + 1.0}}


KEYFRAME = {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}

ROUTES = [
    Route("GET", "clips", READER, 200, 0, lambda rid, v: ("GET", "", None, {})),
    Route("HEAD", "clips", READER, 200, 0, lambda rid, v: ("HEAD", "", None, {})),
    Route("GET If-None-Match", "clips", READER, 304, 0,
          lambda rid, v: ("GET", "", None, {"If-None-Match": etag(v)})),
    Route("GET actions", "clips", READER, 200, 0, lambda rid, v: ("GET", "/actions", None, {})),
    Route("POST actions", "clips", EDITOR, 200, 1,
          lambda rid, v: ("POST", "/actions", dict(trim(1.0), expected_version=v), {})),
    Route("POST actions batch", "clips", EDITOR, 200, 2,
          lambda rid, v: ("POST", "/actions", {"expected_version": v, "actions": [
              trim(2.0), {"action": "add_crop_keyframe", "data": KEYFRAME}]}, {})),
    Route("POST suspend", "analysis_jobs", EDITOR, 204, 1,
          lambda rid, v: ("POST", "/suspend", None, {})),
    Route("POST actions suspend", "analysis_jobs", EDITOR, 200, 1,
          lambda rid, v: ("POST", "/actions", {"action": "suspend"}, {})),
    Route("POST duplicate", "dashboards", READER, 201, 0,
          lambda rid, v: ("POST", "/duplicate", None, {}),
          data={"title": "board", "widgets": []}),
    Route("PATCH json-patch", "documents", EDITOR, 200, 1,
          lambda rid, v: ("PATCH", "", [{"op": "add", "path": "/b", "value": 2}],
                          {"Content-Type": JSON_PATCH, "If-Match": etag(v)}),
          data={"a": 1}),
    Route("PATCH merge-patch", "documents", EDITOR, 200, 1,
          lambda rid, v: ("PATCH", "", {"a": None, "c": 3},
                          {"Content-Type": MERGE_PATCH, "If-Match": etag(v)}),
          data={"a": 1}),
    Route("DELETE", "clips", OWNER, 204, 1,
          lambda rid, v: ("DELETE", "", None, {"If-Match": etag(v)})),
    Route("POST undo", "clips", EDITOR, 200, 1,
          lambda rid, v: ("POST", "/undo", {"expected_version": v}, {}),
          prepare=[trim(1.0)]),
    Route("POST actions undo", "clips", EDITOR, 200, 1,
          lambda rid, v: ("POST", "/actions", {"action": "undo", "expected_version": v}, {}),
          prepare=[trim(1.0)]),
    Route("POST redo", "clips", EDITOR, 200, 1,
          lambda rid, v: ("POST", "/redo", {"expected_version": v}, {}),
          prepare=[trim(1.0), {"action": "undo"}]),
    Route("POST share", "clips", OWNER, 204, 1,
          lambda rid, v: ("POST", "/share", {"data": {"actor": "frank", "role": "editor"}}, {})),
    Route("POST unshare", "clips", OWNER, 204, 1,
          lambda rid, v: ("POST", "/unshare", {"data": {"actor": "erin"}}, {})),
]


def send(route, rid, version, token):
    method, suffix, body, headers = route.send(rid, version)
    kwargs = {}
    if "Content-Type" in headers:
        headers = dict(headers)
        kwargs["content_type"] = headers.pop("Content-Type")
    return request(method, f"/{route.type}/{rid}{suffix}", body=body, headers=headers,
                   token=token, **kwargs)


class AccessCase(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        if not actionctl():
            raise unittest.SkipTest("needs ACTIOND_BUILD_DIR (tests/integration/run sets it)")
        cls.tokens = {"alice": TOKEN, "bob": TOKEN_BOB,
                      "carol": new_token("carol"), "dave": new_token("dave")}

    def new(self, type_="clips", grants=None, data=None, token=TOKEN):
        body = {}
        if data is not None:
            body["data"] = data
        if grants is not None:
            body["access"] = grants
        resp = request("POST", f"/{type_}", body=body or None, token=token)
        self.assertEqual(resp.status, 201, resp)
        return resp.body["id"]

    def assert_same_as_missing(self, resp, missing, rid):
        """A stranger's answer reads exactly as the same request's on an id nobody has."""
        self.assertEqual(resp.status, 404, resp)
        self.assertEqual(missing.status, 404, missing)
        self.assertEqual(resp.header("Content-Type"), missing.header("Content-Type"))
        if resp.body is None and missing.body is None:  # HEAD
            return
        body = assert_problem(resp, 404)
        self.assertEqual(body["type"], NOT_FOUND, body)
        self.assertNotIn("role", body)
        self.assertEqual(without_id(body, rid), without_id(missing.body, MISSING))

    def assert_forbidden(self, resp, role):
        body = assert_problem(resp, 403)
        self.assertEqual(body["type"], FORBIDDEN, body)
        self.assertEqual(body["role"], ROLE_NAME[role], body)
        return body


class EveryRouteEveryRole(AccessCase):
    """The table of docs/access.md, tried route by route and role by role, each on a
    resource of its own."""

    def prepare(self, route, grants):
        rid = self.new(route.type, dict(grants, erin="reader"), data=route.data)
        version = 1
        for step in route.prepare:
            resp = request("POST", f"/{route.type}/{rid}/actions",
                           body=dict(step, expected_version=version))
            self.assertEqual(resp.status, 200, resp)
            version += 1
        return rid, version

    def check(self, route, caller):
        actor, grants, role = CALLERS[caller]
        token = self.tokens[actor]
        rid, version = self.prepare(route, grants)
        _, before = log_of(route.type, rid)
        resp = send(route, rid, version, token)
        now, after = log_of(route.type, rid)
        if role >= route.needs:
            self.assertEqual(resp.status, route.status, resp)
            self.assertEqual(now, version + route.adds)
            self.assertEqual(len(after), len(before) + route.adds)
            self.assertEqual(after[:len(before)], before)
            for entry in after[len(before):]:  # the caller's (a grant's: the owner's)
                self.assertEqual(entry["actor"], actor, entry)
            if route.status == 201:  # a copy, the caller's
                self.assertEqual(resp.body["owner"], actor, resp)
                self.assertEqual(resp.body["access"], {}, resp)
            return
        # refused: nothing changed
        self.assertEqual((now, after), (version, before))
        if role == NONE:
            missing = send(route, MISSING, version, token)
            self.assert_same_as_missing(resp, missing, rid)
        else:
            self.assert_forbidden(resp, role)

    def test_every_route_for_every_role(self):
        for route in ROUTES:
            for caller in CALLERS:
                with self.subTest(route=route.name, caller=caller):
                    self.check(route, caller)

    def test_a_refused_request_with_an_idempotency_key_stores_nothing(self):
        """Refused before a key is looked at: the same key works once the role is there."""
        rid = self.new(grants={"bob": "reader"})
        body = dict(trim(1.0), expected_version=1, id=f"k-{uuid.uuid4()}")
        self.assert_forbidden(self.act(rid, body, token=TOKEN_BOB), READER)
        resp = request("POST", f"/clips/{rid}/share",
                       body={"data": {"actor": "bob", "role": "editor"}})
        self.assertEqual(resp.status, 204, resp)
        body["expected_version"] = 2
        self.assertEqual(self.act(rid, body, token=TOKEN_BOB).status, 200)
        again = self.act(rid, body, token=TOKEN_BOB)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(log_of("clips", rid)[0], 3)


class Strangers(AccessCase):
    """Nothing a stranger sends tells an existing resource from a missing one: not its
    actions, its states, its version or its deletion."""

    def same_as_missing(self, rid, method, suffix, body=None, headers=None, type_="clips",
                        **kwargs):
        token = self.tokens["dave"]
        resp = request(method, f"/{type_}/{rid}{suffix}", body=body, headers=headers,
                       token=token, **kwargs)
        missing = request(method, f"/{type_}/{MISSING}{suffix}", body=body, headers=headers,
                          token=token, **kwargs)
        self.assert_same_as_missing(resp, missing, rid)

    def test_unknown_action_stale_version_and_key(self):
        rid = self.new(grants={"bob": "editor", "carol": "reader"})
        cases = [
            ("POST", "/actions", {"action": "no_such_action"}),
            ("POST", "/actions", dict(trim(1.0), expected_version=7)),
            ("POST", "/actions", dict(trim(1.0), expected_version=1, id="stranger-key")),
            ("POST", "/actions", {"action": "add_crop_keyframe", "data": KEYFRAME}),
            ("POST", "/no_such_verb", None),
            ("POST", "/undo", {"expected_version": 1}),
            ("POST", "/share", {"data": {"actor": "dave", "role": "editor"}}),
            ("POST", "/share", {"data": {"actor": "alice", "role": "editor"}}),
            ("POST", "/unshare", {"data": {"actor": "bob"}}),
        ]
        for method, suffix, body in cases:
            with self.subTest(suffix=suffix, body=body):
                self.same_as_missing(rid, method, suffix, body)
        for headers in ({"If-Match": '"7"'}, {"If-Match": '"1"'}, {}):
            with self.subTest(headers=headers):
                self.same_as_missing(rid, "PATCH", "", [{"op": "add", "path": "/x", "value": 1}],
                                     headers, content_type=JSON_PATCH)
                self.same_as_missing(rid, "DELETE", "", None, headers)
        self.same_as_missing(rid, "GET", "", headers={"If-None-Match": '"1"'})
        self.same_as_missing(rid, "GET", "/actions?since=0&limit=5")
        self.assertEqual(log_of("clips", rid)[0], 1)

    def test_a_transition_not_allowed_is_not_found(self):
        job = self.new("analysis_jobs", grants={"bob": "editor"})
        self.same_as_missing(job, "POST", "/finish", type_="analysis_jobs")
        self.same_as_missing(job, "POST", "/actions", {"action": "finish"},
                             type_="analysis_jobs")

    def test_a_deleted_resource_is_not_found_not_gone(self):
        rid = self.new(grants={"bob": "reader"})
        resp = request("DELETE", f"/clips/{rid}", headers={"If-Match": '"1"'})
        self.assertEqual(resp.status, 204, resp)
        assert_problem(request("GET", f"/clips/{rid}"), 410)
        assert_problem(request("GET", f"/clips/{rid}", token=TOKEN_BOB), 410)
        self.same_as_missing(rid, "GET", "")
        self.same_as_missing(rid, "GET", "/actions")
        self.same_as_missing(rid, "POST", "/actions", dict(trim(1.0), expected_version=2))
        # its log stays readable to whoever could read it
        self.assertEqual(request("GET", f"/clips/{rid}/actions", token=TOKEN_BOB).status, 200)

    def test_a_duplicate_is_not_made(self):
        board = self.new("dashboards", grants={"bob": "reader"})
        before = rows(DATABASE_URL, "SELECT id FROM resources WHERE owner = 'dave'")
        self.same_as_missing(board, "POST", "/duplicate", type_="dashboards")
        after = rows(DATABASE_URL, "SELECT id FROM resources WHERE owner = 'dave'")
        self.assertEqual(after, before)


class Roles(AccessCase):
    def test_a_name_and_star_give_the_higher_of_the_two(self):
        for grants, token, expect in (
                ({"bob": "reader", "*": "editor"}, TOKEN_BOB, 200),
                ({"bob": "editor", "*": "reader"}, TOKEN_BOB, 200),
                ({"bob": "reader", "*": "reader"}, TOKEN_BOB, 403),
                ({"bob": "editor", "*": "reader"}, "carol", 403),
                ({"bob": "reader"}, "carol", 404)):
            with self.subTest(grants=grants, token=token):
                rid = self.new(grants=grants)
                resp = self.act(rid, dict(trim(1.0), expected_version=1),
                                token=self.tokens.get(token, token))
                self.assertEqual(resp.status, expect, resp)
                if expect == 403:
                    self.assertEqual(resp.body["role"], "reader", resp)

    def test_the_owner_alone_sees_access(self):
        rid = self.new(grants={"bob": "editor", "*": "reader"})
        mine = self.get_clip(rid)
        self.assertEqual(mine["access"], {"bob": "editor", "*": "reader"})
        self.assertEqual(mine["owner"], "alice")
        for actor in ("bob", "carol"):
            theirs = self.get_clip(rid, token=self.tokens[actor])
            self.assertNotIn("access", theirs)
            self.assertEqual(theirs["owner"], "alice")
        bare = self.new()
        self.assertEqual(self.get_clip(bare)["access"], {})

    def test_reads_are_private_to_their_caller(self):
        rid = self.new(grants={"bob": "reader"})
        for token in (TOKEN, TOKEN_BOB):
            for path, headers, status in ((f"/clips/{rid}", {}, 200),
                                          (f"/clips/{rid}", {"If-None-Match": '"1"'}, 304),
                                          (f"/clips/{rid}/actions", {}, 200),
                                          ("/clips?limit=1", {}, 200)):
                with self.subTest(path=path, headers=headers, bob=token == TOKEN_BOB):
                    resp = request("GET", path, headers=headers, token=token)
                    self.assertEqual(resp.status, status, resp)
                    self.assertEqual(resp.header("Cache-Control"), "private, no-cache")

    def test_the_403_names_the_role_and_what_is_needed(self):
        rid = self.new(grants={"bob": "editor", "carol": "reader"})
        body = self.assert_forbidden(
            request("DELETE", f"/clips/{rid}", headers={"If-Match": '"1"'}, token=TOKEN_BOB),
            EDITOR)
        self.assertIn("owner", body["detail"])
        body = self.assert_forbidden(
            self.act(rid, dict(trim(1.0), expected_version=1), token=self.tokens["carol"]),
            READER)
        self.assertIn("editor", body["detail"])


class Lists(AccessCase):
    def ids(self, token, first, last):
        """The ids from first to last that token's actor lists, and the items."""
        seen, after = {}, first - 1
        while True:
            resp = request("GET", f"/clips?limit=100&after={after}", token=token)
            self.assertEqual(resp.status, 200, resp)
            items = resp.body["items"]
            for item in items:
                if item["id"] <= last:
                    seen[item["id"]] = item
            if not items or items[-1]["id"] >= last or "next" not in resp.body["_links"]:
                return seen
            after = items[-1]["id"]

    def test_each_caller_lists_what_it_may_read(self):
        grants = {"private": {}, "bob": {"bob": "reader"}, "star reader": {"*": "reader"},
                  "star editor": {"*": "editor"}, "carol": {"carol": "editor"}}
        made = {name: self.new(grants=g) for name, g in grants.items()}
        first, last = min(made.values()), max(made.values())
        expect = {"alice": set(made), "bob": {"bob", "star reader", "star editor"},
                  "carol": {"star reader", "star editor", "carol"},
                  "dave": {"star reader", "star editor"}}
        by_id = {rid: name for name, rid in made.items()}
        for actor, names in expect.items():
            with self.subTest(actor=actor):
                listed = self.ids(self.tokens[actor], first, last)
                self.assertEqual({by_id[i] for i in listed}, names)
                for rid, item in listed.items():
                    if actor == "alice":
                        self.assertEqual(item["access"], grants[by_id[rid]])
                    else:
                        self.assertNotIn("access", item)
        # taking "*" back takes it off dave's list
        resp = request("POST", f"/clips/{made['star reader']}/unshare",
                       body={"data": {"actor": "*"}})
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual({by_id[i] for i in self.ids(self.tokens["dave"], first, last)},
                         {"star editor"})


class Duplicate(AccessCase):
    def test_a_readers_copy_is_its_own_and_shared_with_nobody(self):
        for actor, grants in (("bob", {"bob": "reader", "carol": "editor"}),
                              ("dave", {"*": "reader"})):
            with self.subTest(actor=actor):
                token = self.tokens[actor]
                board = self.new("dashboards", grants=grants,
                                 data={"title": "plan", "widgets": []})
                resp = request("POST", f"/dashboards/{board}/duplicate", token=token)
                self.assertEqual(resp.status, 201, resp)
                copy = resp.body
                self.assertEqual(copy["owner"], actor)
                self.assertEqual(copy["access"], {})
                self.assertEqual(copy["data"], {"title": "plan", "widgets": []})
                mine = request("GET", f"/dashboards/{copy['id']}", token=token)
                self.assertEqual(mine.status, 200, mine)
                self.assertEqual(mine.body["access"], {})
                # alice, who owns the source, has no role on the copy
                for other in {"alice", "bob", "carol"} - {actor}:
                    resp = request("GET", f"/dashboards/{copy['id']}", token=self.tokens[other])
                    self.assertEqual(resp.status, 404, resp)
                _, entries = log_of("dashboards", board)
                self.assertEqual(len(entries), 1)
                log = request("GET", f"/dashboards/{copy['id']}/actions", token=token)
                self.assertEqual([(e["action"], e["actor"]) for e in log.body["entries"]],
                                 [("duplicate", actor)])
                # and the copy's owner may share it
                resp = request("POST", f"/dashboards/{copy['id']}/share", token=token,
                               body={"data": {"actor": "alice", "role": "reader"}})
                self.assertEqual(resp.status, 204, resp)
                resp = request("GET", f"/dashboards/{copy['id']}")
                self.assertEqual(resp.status, 200, resp)
                self.assertNotIn("access", resp.body)


class Sharing(AccessCase):
    def share(self, rid, actor, role=None, type_="clips", token=TOKEN, **extra):
        data = {"actor": actor} if role is None else {"actor": actor, "role": role}
        return request("POST", f"/{type_}/{rid}/{'unshare' if role is None else 'share'}",
                       body=dict(extra, data=data), token=token)

    def test_grants_are_logged_entries_by_the_owner(self):
        rid = self.new()
        self.act_ok(rid, dict(trim(1.0), expected_version=1))
        doc = self.get_clip(rid)["data"]
        resp = self.share(rid, "bob", "reader")
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(resp.raw, b"")
        self.assertEqual(resp.header("ETag"), etag(3))
        resp = self.share(rid, "carol", "editor", expected_version=3)
        self.assertEqual(resp.header("ETag"), etag(4), resp)
        key = f"unshare-{uuid.uuid4()}"
        resp = self.share(rid, "bob", id=key)
        self.assertEqual((resp.status, resp.header("ETag")), (204, etag(5)), resp)
        again = self.share(rid, "bob", id=key)
        self.assertEqual((again.status, again.header("ETag")), (204, etag(5)), again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")

        mine = self.get_clip(rid)
        self.assertEqual(mine["version"], 5)
        self.assertEqual(mine["data"], doc)
        self.assertEqual(mine["access"], {"carol": "editor"})
        # the log as the editor reads it
        log = request("GET", f"/clips/{rid}/actions?since=2", token=self.tokens["carol"])
        self.assertEqual(log.status, 200, log)
        got = [(e["version"], e["action"], e["actor"], e["data"], e["target"], e["forward"],
                e["inverse"], e["idempotency_key"]) for e in log.body["entries"]]
        self.assertEqual(got, [
            (3, "share", "alice", {"actor": "bob", "role": "reader"}, None, [], [], None),
            (4, "share", "alice", {"actor": "carol", "role": "editor"}, None, [], [], None),
            (5, "unshare", "alice", {"actor": "bob"}, None, [], [], key)])
        # bob has lost it
        self.assertEqual(request("GET", f"/clips/{rid}", token=TOKEN_BOB).status, 404)

        audit = rows(DATABASE_URL, f"""
            SELECT version, action, actor, resource_type, grantee, role, new_owner
              FROM audit_grants WHERE resource_id = {rid} ORDER BY version""")
        self.assertEqual(audit, [
            {"version": 3, "action": "share", "actor": "alice", "resource_type": "clips",
             "grantee": "bob", "role": "reader", "new_owner": None},
            {"version": 4, "action": "share", "actor": "alice", "resource_type": "clips",
             "grantee": "carol", "role": "editor", "new_owner": None},
            {"version": 5, "action": "unshare", "actor": "alice", "resource_type": "clips",
             "grantee": "bob", "role": None, "new_owner": None}])
        proc = run_actionctl("verify", "--type", "clips", "--id", str(rid))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip(), "verified 1 resources, 5 log entries: OK")

    def test_a_grant_is_not_undone(self):
        """undo and redo pass over grants: they revert the document, not who may see it."""
        rid = self.new()
        self.act_ok(rid, dict(trim(1.0), expected_version=1))
        self.assertEqual(self.share(rid, "bob", "editor").status, 204)
        resp = request("POST", f"/clips/{rid}/undo", body={"expected_version": 3})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["reverts"], 2)
        resp = request("POST", f"/clips/{rid}/undo", body={"expected_version": 4})
        assert_problem(resp, 409)
        self.assertEqual(self.get_clip(rid)["access"], {"bob": "editor"})
        self.assertEqual(request("GET", f"/clips/{rid}", token=TOKEN_BOB).status, 200)

    def test_grants_at_creation(self):
        resp = request("POST", "/clips", body={"access": {"bob": "editor", "*": "reader"}})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.header("ETag"), etag(1))
        self.assertEqual(resp.body["version"], 1)
        self.assertEqual(resp.body["access"], {"bob": "editor", "*": "reader"})
        rid = resp.body["id"]
        version, entries = log_of("clips", rid)
        self.assertEqual(version, 1)
        self.assertEqual((entries[0]["action"], entries[0]["actor"], entries[0]["data"]),
                         ("create", "alice", {"access": {"bob": "editor", "*": "reader"}}))
        self.assertEqual(request("GET", f"/clips/{rid}", token=self.tokens["dave"]).status, 200)
        self.act_ok(rid, dict(trim(1.0), expected_version=1), token=TOKEN_BOB)
        proc = run_actionctl("verify", "--type", "clips", "--id", str(rid))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # an empty set of grants is no grant at all
        resp = request("POST", "/clips", body={"access": {}})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.body["access"], {})

    def test_a_retried_create_answers_its_grants_again(self):
        key = f"create-{uuid.uuid4()}"
        body = {"data": {"title": "t", "widgets": []}, "access": {"bob": "editor"}}
        first = request("POST", "/dashboards", body=body, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertEqual(first.body["access"], {"bob": "editor"})
        again = request("POST", "/dashboards", body=body, headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body["id"], first.body["id"])
        self.assertEqual(again.body.get("access"), {"bob": "editor"}, again)
        self.assertEqual(again.body, first.body)
        # other grants are another request
        other = dict(body, access={"bob": "reader"})
        resp = request("POST", "/dashboards", body=other, headers={"Idempotency-Key": key})
        assert_problem(resp, 422)

    def test_bad_grants_at_creation(self):
        many = {f"actor{i}": "reader" for i in range(101)}
        for access, status, pointer in (
                ({"alice": "reader"}, 422, "/access/alice"),
                ({"bob": "owner"}, 400, "/access/bob"),
                ({"bob": None}, 400, "/access/bob"),
                ({"b o b": "reader"}, 400, "/access/b o b"),
                (["bob"], 400, "/access"),
                ("bob", 400, "/access"),
                (many, 422, "/access")):
            with self.subTest(access=access if access is not many else "101 grants"):
                resp = request("POST", "/clips", body={"access": access})
                assert_problem(resp, status, pointer)

    def test_bad_shares_are_refused_and_change_nothing(self):
        rid = self.new(grants={"bob": "reader"})
        for route, body, status, pointer in (
                ("share", {"data": {"actor": "alice", "role": "reader"}}, 422, "/data/actor"),
                ("unshare", {"data": {"actor": "alice"}}, 422, "/data/actor"),
                ("share", {"data": {"actor": "bob", "role": "owner"}}, 400, "/data/role"),
                ("share", {"data": {"actor": "bob"}}, 400, "/data/role"),
                ("share", {"data": {"role": "reader"}}, 400, "/data/actor"),
                ("share", {"data": {"actor": 7, "role": "reader"}}, 400, "/data/actor"),
                ("share", {"data": {"actor": "b o b", "role": "reader"}}, 400, "/data/actor"),
                ("share", {"data": {"actor": "", "role": "reader"}}, 400, "/data/actor"),
                ("share", {"data": {"actor": "x" * 101, "role": "reader"}}, 400, "/data/actor"),
                ("share", {"data": {"actor": "bob", "role": "reader", "x": 1}}, 400, "/data/x"),
                ("unshare", {"data": {"actor": "bob", "role": "reader"}}, 400, "/data/role"),
                ("share", {"data": "bob"}, 400, "/data"),
                ("share", {"actor": "bob", "role": "reader"}, 400, "/actor"),
                ("share", {"data": {"actor": "bob", "role": "editor"}, "on_conflict": "merge"},
                 400, "/on_conflict"),
                ("share", [], 400, ""),
                ("share", None, 400, "")):
            with self.subTest(route=route, body=body):
                resp = request("POST", f"/clips/{rid}/{route}", body=body)
                assert_problem(resp, status, pointer)
                self.assertEqual(log_of("clips", rid)[0], 1)
        self.assertEqual(self.get_clip(rid)["access"], {"bob": "reader"})

    def test_a_stale_share_is_refused(self):
        rid = self.new()
        self.act_ok(rid, dict(trim(1.0), expected_version=1))
        resp = self.share(rid, "bob", "editor", expected_version=1)
        body = assert_problem(resp, 409, "/expected_version")
        self.assertEqual(body["current_version"], 2)
        self.assertEqual(self.get_clip(rid)["access"], {})
        self.assertEqual(log_of("clips", rid)[0], 2)

    def test_at_most_100_grants(self):
        grants = {f"actor{i}": "reader" for i in range(99)}
        grants["*"] = "reader"
        rid = self.new(grants=grants)
        resp = self.share(rid, "one-more", "reader")
        assert_problem(resp, 422, "/data/actor")
        self.assertEqual(log_of("clips", rid)[0], 1)
        # changing a grant already there, or one out and another in, is fine
        self.assertEqual(self.share(rid, "actor5", "editor").status, 204)
        self.assertEqual(self.share(rid, "actor6").status, 204)
        self.assertEqual(self.share(rid, "one-more", "reader").status, 204)
        access = self.get_clip(rid)["access"]
        self.assertEqual(len(access), 100)
        self.assertEqual(access["actor5"], "editor")

    def test_a_deleted_resource_is_shared_no_more(self):
        rid = self.new(grants={"bob": "reader"})
        resp = request("DELETE", f"/clips/{rid}", headers={"If-Match": etag(1)})
        self.assertEqual(resp.status, 204, resp)
        assert_problem(self.share(rid, "carol", "reader"), 410)
        assert_problem(self.share(rid, "bob"), 410)
        self.assertEqual(log_of("clips", rid)[0], 2)

    def test_an_editor_may_neither_share_nor_unshare(self):
        rid = self.new(grants={"bob": "editor"})
        resp = self.share(rid, "carol", "reader", token=TOKEN_BOB)
        self.assert_forbidden(resp, EDITOR)
        resp = self.share(rid, "carol", token=TOKEN_BOB)
        self.assert_forbidden(resp, EDITOR)
        self.assertEqual(log_of("clips", rid)[0], 1)


class Versions(AccessCase):
    """A grant takes a version: what a client saw before it is stale afterwards."""

    def test_strict_is_refused_merge_goes_through(self):
        rid = self.new(grants={"bob": "editor"})
        self.act_ok(rid, dict(trim(1.0), expected_version=1), token=TOKEN_BOB)
        resp = request("POST", f"/clips/{rid}/share",
                       body={"data": {"actor": "carol", "role": "reader"}})
        self.assertEqual(resp.status, 204, resp)
        add = {"action": "add_crop_keyframe", "data": KEYFRAME, "expected_version": 2}

        resp = self.act(rid, add, token=TOKEN_BOB)
        body = assert_problem(resp, 409, "/expected_version")
        self.assertEqual(body["type"], "urn:actiond:problem:stale-version")
        self.assertEqual(body["current_version"], 3)
        missed = link_href(body["links"]["missed_actions"])
        self.assertTrue(missed.endswith(f"/clips/{rid}/actions?since=2"), missed)
        resp = request("GET", href(missed), token=TOKEN_BOB)
        self.assertEqual([(e["version"], e["action"], e["actor"]) for e in resp.body["entries"]],
                         [(3, "share", "alice")])
        self.assertEqual(log_of("clips", rid)[0], 3)

        resp = self.act(rid, dict(add, on_conflict="merge"), token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual((resp.body["version"], resp.body["based_on"], resp.body["merged_over"]),
                         (4, 2, [3]))

        # If-Match: 412 strictly, merged on request
        resp = request("POST", f"/clips/{rid}/unshare", body={"data": {"actor": "carol"}})
        self.assertEqual(resp.status, 204, resp)
        patch = {"effect_type": "blur"}
        resp = request("PATCH", f"/clips/{rid}", body=patch, content_type=MERGE_PATCH,
                       headers={"If-Match": etag(4)}, token=TOKEN_BOB)
        assert_problem(resp, 412)
        resp = request("PATCH", f"/clips/{rid}?on_conflict=merge", body=patch,
                       content_type=MERGE_PATCH, headers={"If-Match": etag(4)}, token=TOKEN_BOB)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual((resp.body["version"], resp.body["merged_over"]), (6, [5]))

        # a transition with the old version, merged
        job = self.new("analysis_jobs", grants={"bob": "editor"})
        resp = request("POST", f"/analysis_jobs/{job}/share",
                       body={"data": {"actor": "carol", "role": "reader"}})
        self.assertEqual(resp.status, 204, resp)
        resp = request("POST", f"/analysis_jobs/{job}/suspend", token=TOKEN_BOB,
                       body={"expected_version": 1})
        assert_problem(resp, 409, "/expected_version")
        resp = request("POST", f"/analysis_jobs/{job}/suspend", token=TOKEN_BOB,
                       body={"expected_version": 1, "on_conflict": "merge"})
        self.assertEqual((resp.status, resp.header("ETag")), (204, etag(3)), resp)

    def test_a_merge_conflict_names_the_change_not_the_grant(self):
        rid = self.new(grants={"bob": "editor"})
        self.act_ok(rid, dict(trim(1.0), expected_version=1))
        resp = request("POST", f"/clips/{rid}/share",
                       body={"data": {"actor": "carol", "role": "reader"}})
        self.assertEqual(resp.status, 204, resp)
        self.act_ok(rid, dict(trim(2.0), expected_version=3))
        resp = self.act(rid, dict(trim(3.0), expected_version=2, on_conflict="merge"),
                        token=TOKEN_BOB)
        body = assert_problem(resp, 409)
        self.assertEqual(body["type"], "urn:actiond:problem:merge-conflict")
        self.assertEqual(body["conflicting_versions"], [4])
        self.assertEqual(log_of("clips", rid)[0], 4)

    def test_a_share_ends_a_cached_representation(self):
        rid = self.new(grants={"bob": "reader"})
        resp = request("GET", f"/clips/{rid}", token=TOKEN_BOB)
        old = resp.header("ETag")
        self.assertEqual(old, etag(1))
        self.assertEqual(request("GET", f"/clips/{rid}", token=TOKEN_BOB,
                                 headers={"If-None-Match": old}).status, 304)
        resp = request("POST", f"/clips/{rid}/share",
                       body={"data": {"actor": "carol", "role": "editor"}})
        self.assertEqual(resp.status, 204, resp)
        resp = request("GET", f"/clips/{rid}", token=TOKEN_BOB, headers={"If-None-Match": old})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("ETag"), etag(2))
        self.assertEqual(resp.body["version"], 2)
        # the owner's copy changed too: it shows the grant
        resp = request("GET", f"/clips/{rid}", headers={"If-None-Match": old})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["access"], {"bob": "reader", "carol": "editor"})


class Revocation(AccessCase):
    """Access is decided on the row the change's transaction reads: once an unshare
    has committed, every worker refuses the editor, whatever it kept."""

    def annotated_clip(self):
        rid = self.new(grants={"bob": "editor"})
        self.act_ok(rid, {"action": "create_annotation", "expected_version": 1,
                          "data": {"start_time": 0.0, "end_time": 1.0, "name": "a"}})
        return rid

    def tag(self, rid, tag, token=TOKEN_BOB, key=None):
        envelope = {"action": "add_tag", "target": {"annotation_id": 1}, "data": {"tag": tag}}
        if key is not None:
            envelope["id"] = key
        return self.act(rid, envelope, token=token)

    def test_an_unshare_refuses_the_next_write_on_every_worker(self):
        rid = self.annotated_clip()
        # enough writes and reads that every worker keeps the clip
        for i in range(12):
            self.assertEqual(self.tag(rid, f"before-{i}").status, 200)
            self.assertEqual(request("GET", f"/clips/{rid}", token=TOKEN_BOB).status, 200)
        resp = request("POST", f"/clips/{rid}/unshare", body={"data": {"actor": "bob"}})
        self.assertEqual(resp.status, 204, resp)
        unshared = int(resp.header("ETag").strip('"'))
        for i in range(12):
            self.assertEqual(self.tag(rid, f"after-{i}").status, 404)
            self.assertEqual(request("GET", f"/clips/{rid}", token=TOKEN_BOB).status, 404)
        version, entries = log_of("clips", rid)
        self.assertEqual(version, unshared)
        self.assertEqual([e["actor"] for e in entries if e["version"] > unshared], [])

    def test_a_share_lets_the_next_write_through_on_every_worker(self):
        rid = self.new()
        self.act_ok(rid, {"action": "create_annotation", "expected_version": 1,
                          "data": {"start_time": 0.0, "end_time": 1.0, "name": "a"}})
        for i in range(12):
            self.assertEqual(self.tag(rid, f"alice-{i}", token=TOKEN).status, 200)
            self.assertEqual(self.tag(rid, f"refused-{i}").status, 404)
        resp = request("POST", f"/clips/{rid}/share",
                       body={"data": {"actor": "*", "role": "editor"}})
        self.assertEqual(resp.status, 204, resp)
        for i in range(12):
            self.assertEqual(self.tag(rid, f"bob-{i}").status, 200)
            self.assertEqual(self.tag(rid, f"carol-{i}", token=self.tokens["carol"]).status, 200)
        resp = request("POST", f"/clips/{rid}/unshare", body={"data": {"actor": "*"}})
        self.assertEqual(resp.status, 204, resp)
        for i in range(12):
            self.assertEqual(self.tag(rid, f"late-{i}", token=self.tokens["carol"]).status, 404)
        _, entries = log_of("clips", rid)
        self.assertEqual(sum(1 for e in entries if e["actor"] in ("bob", "carol")), 24)

    def race(self, keyed, threads=4):
        """The editor's `threads` write add_tag (which needs no version and always
        merges) with a new tag each, as fast as they are answered, the owner unshares
        the editor after 30 successes, and the writers stop 0.2 s after the unshare's
        answer. Keyed writes take the locked path; others first try the worker's kept
        document. Returns the clip, the unshare's version, when its answer came, and
        every write's (sent, answered, tag, status, version)."""
        rid = self.annotated_clip()
        answers = []  # (sent, received, tag, status, version)
        lock = threading.Lock()
        stop = threading.Event()
        unshared_at = []
        errors = []

        def editor(n):
            i = 0
            try:
                while not stop.is_set():
                    tag = f"t{n}-{i}"
                    i += 1
                    sent = time.monotonic()
                    resp = self.tag(rid, tag, key=f"{tag}-{uuid.uuid4()}" if keyed else None)
                    got = time.monotonic()
                    version = resp.body.get("version") if resp.status == 200 else None
                    with lock:
                        answers.append((sent, got, tag, resp.status, version))
                    if unshared_at and sent > unshared_at[0] + 0.2:
                        return  # well past the unshare
            except Exception as e:  # reported by the test, not lost in the thread
                errors.append(repr(e))

        workers = [threading.Thread(target=editor, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        # let a few dozen writes through, then take the grant back in their midst
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if sum(1 for a in answers if a[3] == 200) >= 30:
                    break
            time.sleep(0.005)
        try:
            resp = request("POST", f"/clips/{rid}/unshare", body={"data": {"actor": "bob"}})
        finally:
            unshared_at.append(time.monotonic())
            for w in workers:
                w.join(60)
            stop.set()
        self.assertEqual(errors, [])
        self.assertEqual(resp.status, 204, resp)
        unshare_version = int(resp.header("ETag").strip('"'))
        return rid, unshare_version, unshared_at[0], answers

    def test_an_unshare_racing_an_editors_writes(self):
        for round_ in range(4):
            keyed = round_ % 2 == 1
            with self.subTest(round=round_, keyed=keyed):
                rid, unshare_version, unshared_at, answers = self.race(keyed)
                _, entries = log_of("clips", rid)
                by_version = {e["version"]: e for e in entries}
                unshare = by_version[unshare_version]
                self.assertEqual((unshare["action"], unshare["actor"], unshare["data"]),
                                 ("unshare", "alice", {"actor": "bob"}))
                bobs = [e for e in entries if e["actor"] == "bob"]
                # nothing of the editor's lands after the unshare
                self.assertEqual([e["version"] for e in bobs if e["version"] > unshare_version],
                                 [])
                # what it was told succeeded is in the log once, at the version it was told
                tags = [e["data"]["tag"] for e in bobs]
                ok = [a for a in answers if a[3] == 200]
                for _, _, tag, _, version in ok:
                    self.assertEqual(tags.count(tag), 1, tag)
                    self.assertEqual(by_version[version]["data"], {"tag": tag})
                    self.assertLess(version, unshare_version)
                # and nothing it was refused is
                self.assertEqual(sorted(tags), sorted(a[2] for a in ok))
                # every answer is a success or, from the unshare on, a 404
                self.assertEqual({a[3] for a in answers} - {200, 404}, set(), answers)
                self.assertGreater(len(ok), 0)
                late = [a for a in answers if a[0] > unshared_at]
                self.assertGreater(len(late), 0)
                self.assertEqual({a[3] for a in late}, {404})
                # no success was answered after a refusal had been
                first_404 = min((a[1] for a in answers if a[3] == 404), default=None)
                self.assertIsNotNone(first_404)
                self.assertTrue(all(a[0] < first_404 for a in ok))
                proc = run_actionctl("verify", "--type", "clips", "--id", str(rid))
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
