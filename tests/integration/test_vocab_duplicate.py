"""test_vocab_duplicate.py: POST /dashboards/{id}/duplicate:
201, Location of the copy, the copy in the body (new id, owned by the caller, version
1), a log that begins with a creation entry naming the source; dashboard
representations carry _links.duplicate.href; a missing dashboard answers 404. Alice
shares her boards with bob as a reader, which is what duplicating needs."""

import json
import unittest
import uuid

from client import MOUNT, TOKEN, TOKEN_BOB, apply_patch, href, link_href
from vocab_util import VocabTestCase, assert_problem, etag, load_catalog, request

TYPE = "dashboards"
CATALOG = load_catalog()


class DuplicateCase(VocabTestCase):
    def new_dashboard(self, title=None):
        title = title or f"board {uuid.uuid4()}"
        board = self.create(TYPE, {"title": title, "widgets": []}, access={"bob": "reader"})
        self.send_ok(TYPE, board["id"], {"action": "add_widget", "data": {"kind": "chart",
                                                                           "config": {"n": 1}},
                                          "expected_version": 1})
        self.send_ok(TYPE, board["id"], {"action": "add_widget", "data": {"kind": "table"},
                                          "expected_version": 2})
        return self.read(TYPE, board["id"])

    def duplicate(self, board_id, token=TOKEN_BOB, body=None, headers=None,
                  content_type=None):
        kwargs = {}
        if content_type is not None:
            kwargs["content_type"] = content_type
        return request("POST", f"/{TYPE}/{board_id}/duplicate", body=body, headers=headers,
                       token=token, **kwargs)

    def copies_of(self, title, after, token=TOKEN_BOB):
        """Every dashboard `token`'s actor may list created after id `after` with this
        title."""
        found = []
        url = f"/{TYPE}?limit=100&after={after}"
        while url:
            resp = request("GET", url, token=token)
            self.assertEqual(resp.status, 200, resp)
            found += [i for i in resp.body["items"] if i["data"].get("title") == title]
            nxt = link_href(resp.body["_links"].get("next"))
            url = href(nxt) if nxt and resp.body["items"] else None
        return found


class Duplicate(DuplicateCase):
    def test_the_catalog_enables_duplicate_on_dashboards(self):
        verbs = CATALOG["types"][TYPE].get("verbs", {})
        self.assertEqual(verbs.get("duplicate", {}).get("op"), "duplicate")

    def test_bob_duplicates_alices_dashboard(self):
        source = self.new_dashboard()
        self.assertEqual(source["owner"], "alice")
        resp = self.duplicate(source["id"])
        self.assertEqual(resp.status, 201, resp)
        copy = resp.body
        self.assertNotEqual(copy["id"], source["id"])
        self.assertEqual(copy["type"], TYPE)
        self.assertEqual(copy["owner"], "bob")
        self.assertEqual(copy["version"], 1)
        self.assertEqual(copy["data"], source["data"])
        location = f"{MOUNT}/{TYPE}/{copy['id']}"
        self.assertEqual(resp.header("Location"), location)
        self.assertEqual(resp.header("ETag"), etag(1))
        self.assertIn("no-store", resp.header("Cache-Control") or "")
        self.assertEqual(copy["_links"]["self"]["href"], location)
        self.assertEqual(copy["_links"]["duplicate"]["href"], f"{location}/duplicate")
        # the Location reads back the same copy, for its owner
        read = self.read(TYPE, copy["id"], token=TOKEN_BOB)
        for member in ("id", "type", "owner", "version", "data"):
            self.assertEqual(read[member], copy[member], member)
        # the source is untouched, and its log did not grow
        self.assert_same(TYPE, source["id"], source)
        self.assertEqual(self.read(TYPE, source["id"])["owner"], "alice")

    def test_the_copy_has_its_own_log_beginning_with_a_creation_that_names_the_source(self):
        source = self.new_dashboard()
        copy = self.duplicate(source["id"]).body
        entries = self.log(TYPE, copy["id"], token=TOKEN_BOB)
        self.assertEqual(len(entries), 1, entries)
        first = entries[0]
        self.assertEqual(first["version"], 1)
        self.assertEqual(first["actor"], "bob")
        self.assertIn(first["action"], ("create", "duplicate"))
        named = json.dumps([first.get("target"), first.get("data")])
        self.assertIn(f"/{TYPE}/{source['id']}", named, first)
        # replaying the creation entry gives the copy's document
        self.assertEqual(apply_patch(None, first["forward"]), copy["data"])

    def test_copy_and_source_are_independent(self):
        source = self.new_dashboard()
        copy = self.duplicate(source["id"]).body
        self.send_ok(TYPE, copy["id"], {"action": "set_title", "data": {"title": "copy"},
                                        "expected_version": 1}, token=TOKEN_BOB)
        self.send_ok(TYPE, source["id"], {"action": "remove_widget",
                                          "target": {"widget_id": 1},
                                          "expected_version": source["version"]})
        self.assertEqual(self.read(TYPE, source["id"])["data"]["title"], source["data"]["title"])
        self.assertEqual(len(self.read(TYPE, copy["id"], token=TOKEN_BOB)["data"]["widgets"]), 2)
        # a copy of a copy, by alice this time: bob's copy is his, shared with nobody
        again = self.duplicate(copy["id"], token=None)
        self.assertEqual(again.status, 401, again)
        assert_problem(self.duplicate(copy["id"], token=TOKEN), 404)
        shared = request("POST", f"/{TYPE}/{copy['id']}/share", token=TOKEN_BOB,
                         body={"data": {"actor": "alice", "role": "reader"}})
        self.assertEqual(shared.status, 204, shared)
        again = self.duplicate(copy["id"], token=TOKEN)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.body["owner"], "alice")
        self.assertEqual(again.body["data"]["title"], "copy")

    def test_the_copy_keeps_the_serial_ids_going(self):
        source = self.new_dashboard()
        copy = self.duplicate(source["id"]).body
        body = self.send_ok(TYPE, copy["id"], {"action": "add_widget", "data": {"kind": "map"},
                                               "expected_version": 1}, token=TOKEN_BOB)
        self.assertEqual(body["widget_id"], 3)

    def test_dashboard_representations_link_duplicate(self):
        source = self.new_dashboard()
        created = request("POST", f"/{TYPE}")
        self.assertEqual(created.status, 201, created)
        for rep in (created.body, source, self.read(TYPE, created.body["id"])):
            self.assertEqual(rep["_links"]["duplicate"]["href"],
                             f"{MOUNT}/{TYPE}/{rep['id']}/duplicate")
            self.assertEqual(rep["_links"]["duplicate"].get("method"), "POST")
        listed = request("GET", f"/{TYPE}?limit=100&after={source['id'] - 1}")
        self.assertEqual(listed.status, 200, listed)
        self.assertTrue(listed.body["items"])
        for item in listed.body["items"]:
            self.assertEqual(item["_links"]["duplicate"]["href"],
                             f"{MOUNT}/{TYPE}/{item['id']}/duplicate")

    def test_types_without_the_verb_do_not_link_it(self):
        clip = self.create("clips", with_data=False)
        self.assertNotIn("duplicate", clip["_links"])
        problem = assert_problem(request("POST", f"/clips/{clip['id']}/duplicate"), 404)
        self.assertNotIn("duplicate", problem.get("allowed_actions", []))


class Refusals(DuplicateCase):
    def test_duplicate_of_a_missing_dashboard(self):
        assert_problem(self.duplicate(999999999), 404)

    def test_duplicate_of_a_deleted_dashboard(self):
        source = self.new_dashboard()
        resp = request("DELETE", f"/{TYPE}/{source['id']}",
                       headers={"If-Match": etag(source["version"])})
        self.assertEqual(resp.status, 204, resp)
        assert_problem(self.duplicate(source["id"]), 410)

    def test_only_post(self):
        source = self.new_dashboard()
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            resp = request(method, f"/{TYPE}/{source['id']}/duplicate")
            assert_problem(resp, 405)
            self.assertEqual(resp.header("Allow"), "POST")

    def test_duplicate_is_not_an_action(self):
        """docs/catalog.md: {"action": "duplicate"} on the actions route answers 404
        verb-not-an-action, pointing at the verb's own route."""
        source = self.new_dashboard()
        resp = self.send(TYPE, source["id"], {"action": "duplicate",
                                              "expected_version": source["version"]})
        problem = assert_problem(resp, 404, "/action")
        self.assertEqual(problem["type"], "urn:actiond:problem:verb-not-an-action", problem)
        self.assertEqual(problem["links"]["duplicate"]["href"],
                         f"{MOUNT}/{TYPE}/{source['id']}/duplicate")
        self.assert_same(TYPE, source["id"], source)

    def test_a_malformed_body_is_refused(self):
        """Malformed JSON answers 400, and a request that fails changes nothing: no
        copy is made."""
        source = self.new_dashboard()
        resp = self.duplicate(source["id"], body="{not json")
        assert_problem(resp, 400)
        self.assertEqual(self.copies_of(source["data"]["title"], source["id"]), [])

    def test_unknown_members_are_refused(self):
        """Unknown members are rejected (400), never ignored."""
        source = self.new_dashboard()
        resp = self.duplicate(source["id"], body={"title": "a renamed copy"})
        assert_problem(resp, 400, "/title")
        self.assertEqual(self.copies_of(source["data"]["title"], source["id"]), [])


class Retries(DuplicateCase):
    def test_a_keyed_duplicate_is_made_once(self):
        """A network retry must not apply the same request twice: the same
        Idempotency-Key answers the first response again."""
        source = self.new_dashboard()
        key = f'"dup-{uuid.uuid4()}"'
        first = self.duplicate(source["id"], headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        again = self.duplicate(source["id"], headers={"Idempotency-Key": key})
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true", again.headers)
        self.assertEqual(again.header("Location"), first.header("Location"))
        self.assertEqual(again.body["id"], first.body["id"])
        self.assertEqual(len(self.copies_of(source["data"]["title"], source["id"])), 1)


if __name__ == "__main__":
    unittest.main()
