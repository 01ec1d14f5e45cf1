"""test_bad_requests.py: what a request body can get wrong, and that every refusal is a
problem+json with the right status and changes nothing: 400 (malformed, wrongly shaped
and hostile JSON), 404 (unknown action), 413 (from the worker and from nginx), 415 and
422."""

import json
import unittest

from client import (MIB, MOUNT, TOKEN, ApiTestCase, assert_problem, link_href,
                    raw_request, request)


class BadRequests(ApiTestCase):
    """Each test starts from a clip at version 2 with a keyframe at frame 100."""

    def setUp(self):
        self.clip_id, _ = self.create_clip()
        self.add_keyframe(self.clip_id, 1, 100)
        self.before = self.get_clip(self.clip_id)
        self.path = f"/clips/{self.clip_id}/actions"

    def post(self, body, **kw):
        return request("POST", self.path, body=body, **kw)

    def refused(self, body, status, pointer=None, **kw):
        """Sends body, expects a problem with `status` (or one of a tuple), and checks
        that the clip did not change."""
        resp = self.post(body, **kw)
        statuses = status if isinstance(status, tuple) else (status,)
        self.assertIn(resp.status, statuses, resp)
        problem = assert_problem(resp, resp.status, pointer=pointer)
        self.assert_unchanged(self.clip_id, self.before)
        return problem

    # --- 400: not JSON, or not the envelope -------------------------------------

    def test_malformed_json(self):
        self.refused(b'{"action": "set_trim_range", "data": {"start": 1.0,', 400)

    def test_trailing_garbage(self):
        self.refused(b'{"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},'
                     b' "expected_version": 2} {}', 400)

    def test_empty_body(self):
        self.refused(b"", 400)

    def test_not_an_object(self):
        self.refused([{"action": "set_trim_range"}], 400)
        self.refused("set_trim_range", 400)

    def test_unknown_envelope_member(self):
        self.refused({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                      "expected_version": 2, "foo": 1}, 400, pointer="/foo")

    def test_missing_action(self):
        self.refused({"data": {"start": 1.0, "end": 5.0}, "expected_version": 2}, 400,
                     pointer="/action")

    def test_action_of_the_wrong_type(self):
        self.refused({"action": 7, "expected_version": 2}, 400, pointer="/action")

    def test_expected_version_as_string(self):
        self.refused({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                      "expected_version": "7"}, 400, pointer="/expected_version")

    def test_expected_version_not_a_count(self):
        for bad in ("-1", "1.5", "true", "null", "99999999999999999999999", "[2]"):
            with self.subTest(expected_version=bad):
                self.refused(self.with_version(bad), 400, pointer="/expected_version")

    def test_expected_version_out_of_any_range(self):
        # a parser may refuse 1e400 before it knows whose value it is: no pointer needed,
        # but a pointer given must be the right one
        problem = self.refused(self.with_version("1e400"), 400)
        self.assertIn(problem.get("pointer", "/expected_version"), ("/expected_version",))

    @staticmethod
    def with_version(literal):
        return ('{"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0}, '
                f'"expected_version": {literal}}}').encode()

    def test_data_member_of_the_wrong_type(self):
        self.refused({"action": "add_crop_keyframe", "expected_version": 2,
                      "data": {"frame": "two hundred", "x": 1, "y": 1, "width": 2,
                               "height": 2}}, 400, pointer="/data/frame")

    def test_id_of_the_wrong_type(self):
        self.refused({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                      "expected_version": 2, "id": 42}, 400, pointer="/id")

    # --- 400: hostile input -----------------------------------------------------

    def test_invalid_utf8(self):
        self.refused(b'{"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},'
                     b' "expected_version": 2, "id": "\xff\xfe"}', 400)

    def test_overlong_utf8(self):
        self.refused(b'{"action": "set_trim_range\xc0\xaf", "expected_version": 2}', 400)

    def test_nul_byte(self):
        self.refused(b'{"action": "set_trim_range\x00", "data": {"start": 1.0, "end": 5.0},'
                     b' "expected_version": 2}', 400)
        self.refused(b'{"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},'
                     b' "expected_version": 2}\x00', 400)

    def test_escaped_nul_is_refused_cleanly(self):
        # valid JSON that PostgreSQL's jsonb cannot store: a refusal, never a 500
        self.refused(b'{"action": "add_crop_keyframe", "expected_version": 2, "data":'
                     b' {"frame": 7, "x": 1, "y": 1, "width": 2, "height": 2,'
                     b' "label": "a\\u0000b"}}', (400, 422))

    def test_lone_surrogate_is_refused_cleanly(self):
        self.refused(b'{"action": "add_crop_keyframe", "expected_version": 2, "data":'
                     b' {"frame": 7, "x": 1, "y": 1, "width": 2, "height": 2,'
                     b' "label": "\\ud800"}}', (400, 422))

    def test_huge_number_in_data(self):
        self.refused(b'{"action": "add_crop_keyframe", "expected_version": 2, "data":'
                     b' {"frame": 1e400, "x": 1, "y": 1, "width": 2, "height": 2}}', (400, 422))

    def test_deep_nesting(self):
        depth = 10000
        body = (b'{"action": "set_trim_range", "expected_version": 2, "data": '
                + b"[" * depth + b"]" * depth + b"}")
        self.refused(body, 400)
        body = (b'{"action": "set_trim_range", "expected_version": 2, "data": '
                + b'{"a":' * depth + b"1" + b"}" * depth + b"}")
        self.refused(body, 400)

    def test_duplicate_keys(self):
        self.refused(b'{"action": "set_trim_range", "action": "set_trim_range",'
                     b' "data": {"start": 1.0, "end": 5.0}, "expected_version": 2}', 400)
        self.refused(b'{"action": "set_trim_range", "data": {"start": 1.0, "start": 2.0,'
                     b' "end": 5.0}, "expected_version": 2}', 400)

    # --- 404: an action the type does not have ------------------------------------

    def test_unknown_action(self):
        problem = self.refused({"action": "frobnicate", "expected_version": 2}, 404)
        allowed = problem.get("allowed_actions")
        self.assertIsInstance(allowed, list, problem)
        for name in ("add_crop_keyframe", "update_crop_keyframe", "delete_crop_keyframe",
                     "move_crop_keyframe", "set_trim_range"):
            self.assertIn(name, allowed)
        links = problem.get("links")
        self.assertTrue(links, problem)
        if isinstance(links, dict):
            for name in allowed:
                self.assertTrue(link_href(links.get(name)), f"no link for {name}: {links}")

    # --- 413 ------------------------------------------------------------------------

    def test_body_over_the_worker_limit(self):
        # 1.5 MiB: nginx lets it through, the worker refuses it (limit 1 MiB)
        filler = "x" * (MIB + MIB // 2)
        self.refused({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0,
                                                           "note": filler},
                      "expected_version": 2}, 413)

    def test_body_over_the_nginx_limit(self):
        # 3 MiB: nginx refuses it by its Content-Length, still as problem+json
        body = b"x" * (3 * MIB)
        resp = raw_request(
            f"POST {MOUNT}{self.path} HTTP/1.0\r\n"
            f"Host: localhost\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}", body)
        assert_problem(resp, 413)
        self.assert_unchanged(self.clip_id, self.before)

    # --- 415 ------------------------------------------------------------------------

    def test_text_plain(self):
        body = json.dumps({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                           "expected_version": 2})
        self.refused(body, 415, content_type="text/plain")
        self.refused(body, 415, content_type="application/xml")

    def test_no_content_type(self):
        body = json.dumps({"action": "set_trim_range", "data": {"start": 1.0, "end": 5.0},
                           "expected_version": 2})
        self.refused(body, 415, content_type=None)

    # --- 422: well formed, but it cannot apply ----------------------------------------

    def test_update_of_a_missing_frame(self):
        self.refused({"action": "update_crop_keyframe", "target": {"frame": 999},
                      "data": {"x": 60}, "expected_version": 2}, 422, pointer="/target/frame")

    def test_delete_of_a_missing_frame(self):
        self.refused({"action": "delete_crop_keyframe", "target": {"frame": 999},
                      "expected_version": 2}, 422, pointer="/target/frame")

    def test_move_of_a_missing_frame(self):
        self.refused({"action": "move_crop_keyframe", "target": {"frame": 999},
                      "data": {"new_frame": 120}, "expected_version": 2}, 422,
                     pointer="/target/frame")

    def test_duplicate_frame(self):
        self.refused({"action": "add_crop_keyframe", "expected_version": 2,
                      "data": {"frame": 100, "x": 1, "y": 1, "width": 2, "height": 2}}, 422)

    def test_move_onto_an_existing_frame(self):
        self.add_keyframe(self.clip_id, 2, 200)
        self.before = self.get_clip(self.clip_id)
        self.refused({"action": "move_crop_keyframe", "target": {"frame": 100},
                      "data": {"new_frame": 200}, "expected_version": 3}, 422)


if __name__ == "__main__":
    unittest.main()
