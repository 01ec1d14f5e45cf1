"""vocab_util.py: helpers shared by the test_vocab_*.py files (the shipped catalog's
actions, state machines, duplicate, JSON Patch and Merge Patch, batches, deletion,
catalog validation). Built on client.py; Python 3 stdlib only.

Beyond client.py's environment, two variables are read:
  ACTIOND_BIN        path of the actiond binary (for --check-catalog), or else
  ACTIOND_BUILD_DIR  the build directory holding it (tests/integration/run exports it)
"""

import copy
import json
import os

from client import MOUNT, ApiTestCase, assert_problem, etag, link_href, request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_CATALOG = os.path.join(SRC, "catalog", "default.json")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
ACCEPT_PATCH_TYPES = {JSON_PATCH, MERGE_PATCH}


class Raw(str):
    """Request body text sent exactly as written (for JSON that is not valid, or that
    a Python value cannot express, such as a duplicate member name)."""


def load_catalog(path=DEFAULT_CATALOG):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def actiond_binary():
    """The actiond binary: $ACTIOND_BIN, else $ACTIOND_BUILD_DIR/actiond. Raises (the
    test fails, it is never skipped) when neither names an executable."""
    candidates = []
    if os.environ.get("ACTIOND_BIN"):
        candidates.append(os.environ["ACTIOND_BIN"])
    if os.environ.get("ACTIOND_BUILD_DIR"):
        candidates.append(os.path.join(os.environ["ACTIOND_BUILD_DIR"], "actiond"))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise AssertionError(
        "cannot find the actiond binary: set ACTIOND_BIN, or ACTIOND_BUILD_DIR "
        f"(tests/integration/run exports it); tried {candidates}")


def clean_env():
    """The environment for running actiond by hand: without the ACTIOND_* variables
    the suite exports, some of which actiond itself reads (ACTIOND_PID_FILE names the
    running stack's pid file and must never be written by a stray actiond)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ACTIOND_")}


def media_types(header):
    """The media types of a comma separated header (Accept-Patch), lower case,
    without parameters."""
    if not header:
        return set()
    return {part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()}


class VocabTestCase(ApiTestCase):
    """Helpers over any type."""

    maxDiff = 6000

    def create(self, type_, data=None, token=None, with_data=True, access=None):
        """Creates a resource; `access` are its grants (docs/access.md)."""
        body = {"data": data} if with_data else None
        if access is not None:
            body = dict(body or {}, access=access)
        kwargs = {} if token is None else {"token": token}
        resp = request("POST", f"/{type_}", body=body, **kwargs)
        self.assertEqual(resp.status, 201, resp)
        self.assertIsInstance(resp.body, dict, resp)
        return resp.body

    def read(self, type_, id_, token=None):
        kwargs = {} if token is None else {"token": token}
        resp = request("GET", f"/{type_}/{id_}", **kwargs)
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    def send(self, type_, id_, envelope, headers=None, token=None):
        kwargs = {} if token is None else {"token": token}
        return request("POST", f"/{type_}/{id_}/actions", body=envelope, headers=headers,
                       **kwargs)

    def send_ok(self, type_, id_, envelope, headers=None, token=None):
        resp = self.send(type_, id_, envelope, headers=headers, token=token)
        self.assertEqual(resp.status, 200, f"{envelope} -> {resp!r}")
        self.assertIs(resp.body.get("success"), True, resp)
        return resp.body

    def patch(self, type_, id_, body, content_type=JSON_PATCH, version=None, headers=None):
        """PATCH with `body` as JSON (any value, null included), or as it is when it is
        Raw text or bytes."""
        if not isinstance(body, (Raw, bytes)):
            body = json.dumps(body).encode("utf-8")
        hdrs = {}
        if version is not None:
            hdrs["If-Match"] = etag(version)
        hdrs.update(headers or {})
        return request("PATCH", f"/{type_}/{id_}", body=body, content_type=content_type,
                       headers=hdrs)

    def verb(self, type_, id_, name, body=None, headers=None, token=None):
        kwargs = {} if token is None else {"token": token}
        return request("POST", f"/{type_}/{id_}/{name}", body=body, headers=headers, **kwargs)

    def log(self, type_, id_, since=0, limit=None, max_pages=1000, token=None):
        """Every log entry of a resource after `since`, following _links.next."""
        kwargs = {} if token is None else {"token": token}
        return self.log_entries(id_, since, limit, max_pages, type_=type_, **kwargs)

    def assert_same(self, type_, id_, before):
        """The resource still has the version, data (and state) of `before`, and its
        log has exactly `version` entries."""
        now = self.read(type_, id_)
        self.assertEqual(now["version"], before["version"], now)
        self.assertEqual(now["data"], before["data"], now)
        if "state" in before:
            self.assertEqual(now.get("state"), before["state"], now)
        self.assertEqual(len(self.log(type_, id_)), before["version"])
        return now

    def assert_links_to_each(self, problem, type_, id_):
        """A problem with allowed_actions links each of them, with a usable href."""
        allowed = problem.get("allowed_actions")
        self.assertIsInstance(allowed, list, problem)
        links = problem.get("links")
        self.assertIsInstance(links, dict, problem)
        for name in allowed:
            self.assertIn(name, links, problem)
            target = link_href(links[name])
            self.assertIsInstance(target, str, problem)
            self.assertTrue(target.startswith(f"{MOUNT}/{type_}/{id_}/"), (name, target))
        return allowed


__all__ = ["VocabTestCase", "Raw", "PatchError", "patch_apply", "json_equal", "JSON_PATCH",
           "MERGE_PATCH", "ACCEPT_PATCH_TYPES",
           "load_catalog", "actiond_binary", "clean_env", "media_types", "assert_problem",
           "etag", "request", "DEFAULT_CATALOG", "SRC"]


# ---------------------------------------------------------------------------------
# A reference JSON Patch (RFC 6902, plus actiond's `create`) written from the RFC, to
# compute what the server should answer. Errors carry the HTTP status docs/api.md gives
# them: 400 a malformed patch, 409 a failed test or a create over a present value, 422
# a path that does not exist.

class PatchError(Exception):
    def __init__(self, status, pointer, why):
        super().__init__(f"{status} at {pointer}: {why}")
        self.status = status
        self.pointer = pointer


def json_equal(a, b):
    """RFC 6902 section 4.6: equal JSON values. Numbers compare by value, objects
    without order, arrays in order; true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return False


def _parse_pointer(text, where):
    if not isinstance(text, str):
        raise PatchError(400, where, "a pointer must be a string")
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(400, where, "a pointer starts with /")
    tokens = []
    for raw in text[1:].split("/"):
        out, i = [], 0
        while i < len(raw):
            if raw[i] == "~":
                if i + 1 >= len(raw) or raw[i + 1] not in "01":
                    raise PatchError(400, where, "~ must be followed by 0 or 1")
                out.append("~" if raw[i + 1] == "0" else "/")
                i += 2
            else:
                out.append(raw[i])
                i += 1
        tokens.append("".join(out))
    return tokens


def _index(token, size, allow_end):
    """An array index per RFC 6901: digits without a leading zero, or "-" (the end)."""
    if token == "-":
        return size if allow_end else None
    if not token.isdigit() or not token.isascii() or (len(token) > 1 and token[0] == "0"):
        return None
    i = int(token)
    if i > size or (i == size and not allow_end):
        return None
    return i


def _container(doc, tokens, where):
    """The value holding the last token (the parent)."""
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list) and _index(t, len(node), False) is not None:
            node = node[_index(t, len(node), False)]
        else:
            raise PatchError(422, where, "the parent does not exist")
    if not isinstance(node, (dict, list)):
        raise PatchError(422, where, "the parent is not a container")
    return node


def _get(doc, tokens, where):
    if not tokens:
        return doc
    parent = _container(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(422, where, "no such member")
        return parent[last]
    i = _index(last, len(parent), False)
    if i is None:
        raise PatchError(422, where, "no such element")
    return parent[i]


def _add(doc, tokens, value, where, create=False):
    if not tokens:
        if create:
            raise PatchError(409, where, "a value is already present")
        return value
    parent = _container(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if create and last in parent:
            raise PatchError(409, where, "a value is already present")
        parent[last] = value
    else:
        i = _index(last, len(parent), True)
        if i is None:
            raise PatchError(422, where, "not an index of this array")
        parent.insert(i, value)
    return doc


def _remove(doc, tokens, where):
    parent = _container(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(422, where, "no such member")
        return parent.pop(last)
    i = _index(last, len(parent), False)
    if i is None:
        raise PatchError(422, where, "no such element")
    return parent.pop(i)


_OPS = ("add", "remove", "replace", "move", "copy", "test", "create")


def _check_shape(patch):
    if not isinstance(patch, list):
        raise PatchError(400, "", "a JSON Patch is an array")
    parsed = []
    for n, op in enumerate(patch):
        if not isinstance(op, dict):
            raise PatchError(400, f"/{n}", "an operation is an object")
        kind = op.get("op")
        if kind not in _OPS:
            raise PatchError(400, f"/{n}/op", "unknown op")
        if "path" not in op:
            raise PatchError(400, f"/{n}/path", "no path")
        path = _parse_pointer(op["path"], f"/{n}/path")
        frm = None
        if kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(400, f"/{n}/from", "no from")
            frm = _parse_pointer(op["from"], f"/{n}/from")
            if kind == "move" and len(frm) < len(path) and path[:len(frm)] == frm:
                raise PatchError(400, f"/{n}/from", "a value cannot move into itself")
        if kind in ("add", "replace", "test", "create") and "value" not in op:
            raise PatchError(400, f"/{n}/value", "no value")
        parsed.append((n, kind, path, frm, op.get("value")))
    return parsed


def patch_apply(doc, patch):
    """The document `patch` makes of `doc` (a new value; doc is not changed), or
    PatchError. All or nothing, like the server."""
    doc = copy.deepcopy(doc)
    for n, kind, path, frm, value in _check_shape(patch):
        where = f"/{n}/path"
        if kind in ("add", "create"):
            doc = _add(doc, path, copy.deepcopy(value), where, create=kind == "create")
        elif kind == "remove":
            if not path:
                raise PatchError(422, where, "the whole document cannot be removed")
            _remove(doc, path, where)
        elif kind == "replace":
            _get(doc, path, where)
            if not path:
                doc = copy.deepcopy(value)
            else:
                _remove(doc, path, where)
                doc = _add(doc, path, copy.deepcopy(value), where)
        elif kind == "move":
            moved = _get(doc, frm, f"/{n}/from")
            if frm == path:
                continue
            if frm:
                _remove(doc, frm, f"/{n}/from")
            doc = _add(doc, path, moved, where)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, frm, f"/{n}/from")), where)
        elif kind == "test":
            try:
                current = _get(doc, path, where)
            except PatchError as exc:
                raise PatchError(409, where, "test of a missing value") from exc
            if not json_equal(current, value):
                raise PatchError(409, f"/{n}/value", "test failed")
    return doc
