"""test_resources.py: health, authentication, create and read (ETag, 304, caching,
_links), the list and its paging, and routing errors (404, 405)."""

import unittest

from client import (DATABASE_URL, HOST, PORT, PROBLEM_JSON, TOKEN, TOKEN_BOB, ApiTestCase,
                    assert_problem, etag, href, link_href, psql_value, request, utc_micros)


class Health(unittest.TestCase):
    def test_healthz_needs_no_token(self):
        resp = request("GET", "/healthz", token=None)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, {"status": "ok"})


class Authentication(ApiTestCase):
    def assert_401(self, resp):
        assert_problem(resp, 401)
        challenge = resp.header("WWW-Authenticate") or ""
        self.assertTrue(challenge.lower().startswith("bearer"), resp.headers)

    def test_no_token(self):
        self.assert_401(request("GET", "/clips", token=None))

    def test_unknown_token(self):
        self.assert_401(request("GET", "/clips", token="not-a-token-anyone-issued"))

    def test_other_scheme(self):
        self.assert_401(request("GET", "/clips", token=None,
                                headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"}))

    def test_empty_bearer(self):
        self.assert_401(request("GET", "/clips", token=None,
                                headers={"Authorization": "Bearer "}))

    def test_scheme_is_case_insensitive(self):
        # RFC 9110 section 11.1: the auth-scheme is case-insensitive
        resp = request("GET", "/clips", token=None,
                       headers={"Authorization": f"bearer {TOKEN}"})
        self.assertEqual(resp.status, 200, resp)

    def test_401_comes_before_routing(self):
        self.assert_401(request("GET", "/no_such_type/1", token=None))
        self.assert_401(request("POST", "/clips", body={}, token=None))

    def test_refused_create_changes_nothing(self):
        newest, _ = self.create_clip()
        self.assert_401(request("POST", "/clips", token="bogus"))
        later = request("GET", f"/clips?after={newest}")
        self.assertEqual(later.status, 200, later)
        self.assertEqual(later.body["items"], [])

    def test_actor_is_owner_and_in_log(self):
        clip_id, resp = self.create_clip(token=TOKEN_BOB)
        self.assertEqual(resp.body["owner"], "bob")
        entries = self.log_entries(clip_id, token=TOKEN_BOB)
        self.assertEqual(entries[0]["actor"], "bob")


class CreateAndRead(ApiTestCase):
    def test_create_without_body(self):
        resp = request("POST", "/clips")
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.header("ETag"), etag(1))
        self.assertIn("no-store", resp.header("Cache-Control") or "")
        body = resp.body
        self.assertIsInstance(body["id"], int)
        self.assertEqual(body["type"], "clips")
        self.assertEqual(body["version"], 1)
        self.assertEqual(body["owner"], "alice")
        self.assertIsInstance(body["data"], dict)
        stored = psql_value(DATABASE_URL, f"""
            SELECT (extract(epoch FROM created_at) * 1000000)::bigint || ' '
                   || (extract(epoch FROM updated_at) * 1000000)::bigint
              FROM resources WHERE id = {int(body['id'])}""")
        api = (utc_micros(self, body[m]) for m in ("created_at", "updated_at"))
        self.assertEqual(" ".join(str(us) for us in api), stored)
        location = resp.header("Location")
        self.assertTrue(location and location.endswith(f"/clips/{body['id']}"), location)
        got = request("GET", href(location))
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.body["id"], body["id"])
        self.assertEqual(got.body["data"], body["data"])

    def test_create_with_empty_object(self):
        resp = request("POST", "/clips", body={})
        self.assertEqual(resp.status, 201, resp)

    def test_create_with_data(self):
        data = {"title": "kick-off", "tags": ["a", "b"], "n": 1.5, "nested": {"ok": True}}
        resp = request("POST", "/clips", body={"data": data})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.body["data"], data)
        self.assertEqual(self.get_clip(resp.body["id"])["data"], data)

    def test_create_unknown_member(self):
        assert_problem(request("POST", "/clips", body={"data": {}, "colour": "red"}), 400,
                       pointer="/colour")

    def test_get(self):
        clip_id, created = self.create_clip()
        resp = request("GET", f"/clips/{clip_id}")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("ETag"), etag(1))
        self.assertIn("no-cache", resp.header("Cache-Control") or "")
        for member in ("id", "type", "version", "owner", "created_at", "data"):
            self.assertEqual(resp.body[member], created.body[member], member)

    def test_links(self):
        clip_id, _ = self.create_clip()
        links = self.get_clip(clip_id)["_links"]
        self.assertTrue(link_href(links["self"]).endswith(f"/clips/{clip_id}"), links)
        self.assertTrue(link_href(links["actions"]).endswith(f"/clips/{clip_id}/actions"),
                        links)
        self.assertEqual(links["actions"].get("method"), "POST", links)
        self.assertIn(f"/clips/{clip_id}/actions", link_href(links["history"]), links)
        self.assertEqual(request("GET", href(links["self"])).status, 200)
        history = request("GET", href(links["history"]))
        self.assertEqual(history.status, 200, history)
        self.assertEqual(history.body["entries"][0]["version"], 1)

    def test_etag_follows_version(self):
        clip_id, _ = self.create_clip()
        self.add_keyframe(clip_id, 1, 10)
        resp = request("GET", f"/clips/{clip_id}")
        self.assertEqual(resp.header("ETag"), etag(2))
        self.assertEqual(resp.body["version"], 2)

    def test_action_response_is_not_stored(self):
        clip_id, _ = self.create_clip()
        resp = self.act(clip_id, {"action": "set_trim_range",
                                  "data": {"start": 1.0, "end": 5.0}, "expected_version": 1})
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("no-store", resp.header("Cache-Control") or "")

    def test_json_with_charset_is_json(self):
        clip_id, _ = self.create_clip()
        resp = self.act(clip_id, {"action": "set_trim_range",
                                  "data": {"start": 1.0, "end": 5.0}, "expected_version": 1},
                        headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(resp.status, 200, resp)


class ConditionalGet(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        resp = request("POST", "/clips")
        assert resp.status == 201, resp
        cls.clip_id = resp.body["id"]
        resp = request("POST", f"/clips/{cls.clip_id}/actions",
                       body={"action": "set_trim_range", "data": {"start": 0.5, "end": 2.0},
                             "expected_version": 1})
        assert resp.status == 200, resp

    def get(self, if_none_match):
        return request("GET", f"/clips/{self.clip_id}",
                       headers={"If-None-Match": if_none_match})

    def assert_304(self, resp):
        self.assertEqual(resp.status, 304, resp)
        self.assertEqual(resp.raw, b"")
        self.assertEqual(resp.header("ETag"), etag(2))

    def test_current_etag(self):
        self.assert_304(self.get(etag(2)))

    def test_weak_form_matches(self):
        # RFC 9110 section 13.1.2: If-None-Match uses the weak comparison
        self.assert_304(self.get('W/"2"'))

    def test_list_of_etags(self):
        self.assert_304(self.get('"1", "2", "7"'))

    def test_star(self):
        self.assert_304(self.get("*"))

    def test_stale_etag_reads_again(self):
        resp = self.get(etag(1))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("ETag"), etag(2))
        self.assertEqual(resp.body["version"], 2)
        self.assertEqual(resp.body["data"]["trim_range"], {"start": 0.5, "end": 2.0})

    def test_list_without_the_current_etag_reads_again(self):
        resp = self.get('"1", W/"3"')
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body["data"]["trim_range"], {"start": 0.5, "end": 2.0})
        unconditional = request("GET", f"/clips/{self.clip_id}")
        self.assertEqual(resp.body, unconditional.body)


class Listing(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.ids = []
        for _ in range(5):
            resp = request("POST", "/clips")
            assert resp.status == 201, resp
            cls.ids.append(resp.body["id"])

    def test_pages_cover_everything_once_in_order(self):
        url, seen, pages = "/clips?limit=2", [], 0
        while url and pages < 10000:
            resp = request("GET", url)
            self.assertEqual(resp.status, 200, resp)
            items = resp.body["items"]
            self.assertLessEqual(len(items), 2)
            for item in items:
                self.assertEqual(item["type"], "clips")
                self.assertIn("version", item)
            seen.extend(item["id"] for item in items)
            nxt = link_href((resp.body.get("_links") or {}).get("next"))
            url = href(nxt) if nxt and items else None
            pages += 1
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        for clip_id in self.ids:
            self.assertIn(clip_id, seen)

    def test_after(self):
        resp = request("GET", f"/clips?limit=2&after={self.ids[1]}")
        self.assertEqual(resp.status, 200, resp)
        got = [item["id"] for item in resp.body["items"]]
        self.assertEqual(got, self.ids[2:4])

    def test_short_page_has_no_next(self):
        resp = request("GET", f"/clips?after={self.ids[-2]}&limit=100")
        self.assertEqual(resp.status, 200, resp)
        self.assertLess(len(resp.body["items"]), 100)
        self.assertFalse(link_href((resp.body.get("_links") or {}).get("next")), resp.body)

    def test_bad_limit(self):
        for query in ("limit=abc", "limit=-1", "after=x"):
            with self.subTest(query=query):
                assert_problem(request("GET", f"/clips?{query}"), 400)


class Routing(ApiTestCase):
    def test_unknown_type(self):
        assert_problem(request("GET", "/no_such_type/1"), 404)
        assert_problem(request("GET", "/no_such_type"), 404)
        assert_problem(request("POST", "/no_such_type", body={}), 404)

    def test_unknown_id(self):
        assert_problem(request("GET", "/clips/987654321"), 404)
        assert_problem(request("GET", "/clips/987654321/actions"), 404)
        assert_problem(request("POST", "/clips/987654321/actions",
                               body={"action": "set_trim_range",
                                     "data": {"start": 1.0, "end": 5.0},
                                     "expected_version": 1}), 404)

    def test_id_that_is_no_number(self):
        assert_problem(request("GET", "/clips/abc"), 404)

    def test_unknown_path_below_a_resource(self):
        clip_id, _ = self.create_clip()
        assert_problem(request("GET", f"/clips/{clip_id}/nothing/here"), 404)

    def assert_405(self, resp, *methods):
        assert_problem(resp, 405)
        allow = {m.strip().upper() for m in (resp.header("Allow") or "").split(",")}
        for method in methods:
            self.assertIn(method, allow, resp.headers)

    def test_delete_collection(self):
        self.assert_405(request("DELETE", "/clips"), "GET", "POST")

    def test_put_resource(self):
        clip_id, _ = self.create_clip()
        self.assert_405(request("PUT", f"/clips/{clip_id}", body={"data": {}}), "GET")

    def test_put_actions(self):
        clip_id, _ = self.create_clip()
        self.assert_405(request("PUT", f"/clips/{clip_id}/actions", body={}), "GET", "POST")

    def test_nginx_answers_outside_the_mount_with_a_problem(self):
        resp = request("GET", f"http://{HOST}:{PORT}/elsewhere")
        self.assertEqual(resp.status, 404)
        self.assertTrue((resp.header("Content-Type") or "").startswith(PROBLEM_JSON))


if __name__ == "__main__":
    unittest.main()
