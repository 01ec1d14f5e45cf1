"""test_openapi.py: docs/openapi.json against the running server.

- The file is JSON, OpenAPI 3.1.x, every $ref resolves, every operation is complete,
  and the headers, problem schema and bearer security the API uses are described.
- Every path and method in the file is routed: a request with a documented method
  never answers 405, nor the 404 the router gives to paths it does not know.
- Every route the server answers is in the file: for a list of method/path pairs, a
  path that matches no template answers 404 to every method, and a method a path does
  not document answers 405 with an Allow header equal to the documented methods.
- Real requests answer a status documented for their operation, with the documented
  headers, and a body that validates against the documented schema (a small JSON
  Schema validator below covers the keywords the file uses)."""

import http.client
import json
import os
import re
import socket
import unittest
import uuid

from client import HOST, MOUNT, PORT, TOKEN, Response, request
from vocab_util import JSON_PATCH, MERGE_PATCH, SRC, VocabTestCase, etag

OPENAPI_FILE = os.path.join(SRC, "docs", "openapi.json")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# headers a documented response carries only in some cases
CONDITIONAL_HEADERS = {"idempotent-replayed", "retry-after"}


def load_openapi():
    with open(OPENAPI_FILE, encoding="utf-8") as f:
        return json.load(f)


OPENAPI = load_openapi()


def resolve(node, doc=OPENAPI):
    """Follows local $refs."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError(f"non-local $ref {ref}")
        node = doc
        for tok in ref[2:].split("/"):
            node = node[tok.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise AssertionError(f"$ref loop at {ref}")
    return node


def operations(doc=OPENAPI):
    """(path template, METHOD, operation) for every operation of the file."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method.upper() in METHODS + ("TRACE",):
                yield path, method.upper(), op


def documented_methods(template):
    return {m.upper() for m in OPENAPI["paths"][template] if m.upper() in METHODS + ("TRACE",)}


def request_or_stream(method, path):
    """request(), except that a feed (GET .../events) is a stream that does not end: its
    status and headers are read, and the connection closed, with no body."""
    if method != "GET" or not path.split("?")[0].endswith("/events"):
        return request(method, path)
    with socket.create_connection((HOST, PORT), timeout=30) as sock:
        sock.sendall(f"GET {MOUNT}{path} HTTP/1.1\r\nHost: {HOST}\r\n"
                     f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    msg = http.client.HTTPMessage()
    for line in head[1:]:
        name, _, value = line.partition(":")
        msg[name.strip()] = value.strip()
    return Response(int(head[0].split()[1]), msg, b"")


# --- matching a concrete path to the file's templates ---------------------------------

def _param_schema(template, name):
    item = OPENAPI["paths"][template]
    for p in item.get("parameters", []):
        p = resolve(p)
        if p["in"] == "path" and p["name"] == name:
            return resolve(p["schema"])
    raise AssertionError(f"{template}: no path parameter {name}")


def _segment_matches(value, schema):
    if schema.get("type") == "integer":
        return re.fullmatch(r"[1-9][0-9]{0,17}", value) is not None
    pattern = schema.get("pattern")
    if pattern and re.search(pattern, value) is None:
        return False
    return len(value) <= schema.get("maxLength", 10 ** 6)


def match_template(path):
    """The template a concrete path (below the mount, without query) falls under, by
    OpenAPI's rule: concrete segments win over templated ones. None when none does."""
    segs = [s for s in path.split("/") if s]
    best = None
    for template in OPENAPI["paths"]:
        tsegs = [s for s in template.split("/") if s]
        if len(tsegs) != len(segs):
            continue
        score = 0
        for t, s in zip(tsegs, segs):
            if t.startswith("{"):
                if not _segment_matches(s, _param_schema(template, t[1:-1])):
                    break
            elif t != s:
                break
            else:
                score += 1
        else:
            if best is None or score > best[0]:
                best = (score, template)
    return best[1] if best else None


# --- a small JSON Schema validator (the keywords the file uses) -----------------------

def _type_ok(value, kind):
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }[kind](value)


def validate(value, schema, where="$"):
    """A list of error strings; empty when value is valid."""
    schema = resolve(schema)
    errors = []
    if schema is True or schema == {}:
        return errors
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, k) for k in kinds):
            return errors + [f"{where}: {value!r} is not {kinds}"]
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not validate(value, s, where)]
        if len(ok) != 1:
            errors.append(f"{where}: matches {len(ok)} of oneOf")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: missing required member {name!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, member in value.items():
            if name in props:
                errors += validate(member, props[name], f"{where}.{name}")
            elif extra is False:
                errors.append(f"{where}: member {name!r} not allowed")
            elif isinstance(extra, dict):
                errors += validate(member, extra, f"{where}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10 ** 9):
            errors.append(f"{where}: {len(value)} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, str):
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10 ** 9):
            errors.append(f"{where}: length {len(value)}")
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    return errors


class TheFile(unittest.TestCase):
    def test_openapi_3_1(self):
        self.assertRegex(OPENAPI["openapi"], r"^3\.1\.\d+$")
        self.assertTrue(OPENAPI["info"]["title"])
        self.assertTrue(OPENAPI["info"]["version"])
        self.assertEqual([s["url"] for s in OPENAPI["servers"]], [MOUNT])

    def test_every_ref_resolves(self):
        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    try:
                        resolve(node)
                    except (KeyError, AssertionError) as exc:
                        self.fail(f"{where}: {node['$ref']} does not resolve ({exc})")
                for k, v in node.items():
                    walk(v, f"{where}/{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}/{i}")
        walk(OPENAPI, "")

    def test_every_operation_is_complete(self):
        ids = set()
        for path, method, op in operations():
            with self.subTest(path=path, method=method):
                self.assertNotIn(op["operationId"], ids)
                ids.add(op["operationId"])
                self.assertTrue(op.get("summary"))
                self.assertTrue(op["responses"])
                for code, resp in op["responses"].items():
                    self.assertRegex(code, r"^[1-5][0-9][0-9]$")
                    resp = resolve(resp)
                    self.assertTrue(resp.get("description"), code)
                    if code[0] in "45":
                        self.assertEqual(list(resp["content"]), ["application/problem+json"])
                        self.assertEqual(resolve(resp["content"]["application/problem+json"]
                                                 ["schema"]),
                                         OPENAPI["components"]["schemas"]["Problem"])
                names = {t.strip("{}") for t in path.split("/") if t.startswith("{")}
                declared = {resolve(p)["name"] for p in OPENAPI["paths"][path].get("parameters", [])
                            if resolve(p)["in"] == "path"}
                self.assertEqual(names, declared)

    def test_problem_schema(self):
        problem = OPENAPI["components"]["schemas"]["Problem"]
        self.assertEqual(set(problem["required"]), {"type", "title", "status", "detail"})
        for member in ("pointer", "current_version", "allowed_actions", "links",
                       "failed_index"):
            self.assertIn(member, problem["properties"])

    def test_security_is_bearer_except_health(self):
        schemes = OPENAPI["components"]["securitySchemes"]
        self.assertEqual(OPENAPI["security"], [{"bearerAuth": []}])
        self.assertEqual(schemes["bearerAuth"]["type"], "http")
        self.assertEqual(schemes["bearerAuth"]["scheme"].lower(), "bearer")
        self.assertEqual(OPENAPI["paths"]["/healthz"]["get"]["security"], [])
        for path, method, op in operations():
            if path != "/healthz":
                self.assertNotIn("security", op, (path, method))
                self.assertIn("401", op["responses"], (path, method))

    def test_the_headers_are_described(self):
        headers = OPENAPI["components"]["headers"]
        for name in ("ETag", "Location", "Allow", "Accept-Patch", "Idempotent-Replayed"):
            self.assertIn(name, headers)
        params = {resolve(p)["name"]: resolve(p)
                  for p in OPENAPI["components"]["parameters"].values()}
        for name in ("If-Match", "If-None-Match", "Idempotency-Key"):
            self.assertEqual(params[name]["in"], "header")
        changes = [(p, m, op) for p, m, op in operations() if m in ("POST", "PATCH", "DELETE")
                   and p != "/{type}"]
        for path, method, op in changes:
            names = {resolve(p)["name"] for p in op.get("parameters", [])}
            self.assertIn("If-Match", names, (path, method))
            self.assertIn("Idempotency-Key", names, (path, method))
        read = OPENAPI["paths"]["/{type}/{id}"]["get"]
        self.assertIn("If-None-Match", {resolve(p)["name"] for p in read["parameters"]})
        patch = OPENAPI["paths"]["/{type}/{id}"]["patch"]
        self.assertEqual(set(patch["requestBody"]["content"]),
                         {JSON_PATCH, MERGE_PATCH})
        self.assertIn("Accept-Patch", resolve(patch["responses"]["415"])["headers"])
        self.assertIn("Accept-Patch", read["responses"]["200"]["headers"])


class AgainstTheServer(VocabTestCase):
    """Fixtures: one resource of each kind the templates need."""

    def setUp(self):
        self.clip = self.create("clips", with_data=False)
        self.job = self.create("analysis_jobs", with_data=False)
        self.board = self.create("dashboards", with_data=False)
        self.doc = self.create("documents", {"a": 1})

    def concrete(self, template, fresh=False):
        """A concrete path for a template, on a resource that exists (a new one when
        `fresh`, for requests that may change or delete it)."""
        if fresh:
            job = self.create("analysis_jobs", with_data=False)
        else:
            job = self.job
        return (template.replace("{type}", "analysis_jobs").replace("{id}", str(job["id"]))
                .replace("{verb}", "suspend"))

    def documented(self, template, method):
        op = OPENAPI["paths"][template][method.lower()]
        return op, {code: resolve(r) for code, r in op["responses"].items()}

    def check(self, method, path, resp, expect_template=None):
        """The response is documented for the operation the path and method name:
        status, headers, and body schema. Returns the response."""
        bare = path.split("?")[0]
        template = match_template(bare)
        self.assertIsNotNone(template, f"{path} matches no path of the file")
        if expect_template:
            self.assertEqual(template, expect_template)
        self.assertIn(method, documented_methods(template), (method, template))
        op, responses = self.documented(template, method)
        code = str(resp.status)
        self.assertIn(code, responses, f"{method} {path} answered {resp!r}, documented: "
                                       f"{sorted(responses)}")
        documented = responses[code]
        for name in documented.get("headers", {}):
            if name.lower() in CONDITIONAL_HEADERS:
                continue
            self.assertIsNotNone(resp.header(name), f"{method} {path} {code}: no {name} header")
        content = documented.get("content")
        if method != "HEAD" and content:
            ctype = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
            self.assertIn(ctype, content, f"{method} {path} {code}")
            schema = content[ctype].get("schema")
            if schema is not None:
                errors = validate(resp.body, schema)
                self.assertEqual(errors, [], f"{method} {path} {code}: {resp!r}")
        elif not content:
            self.assertEqual(resp.raw, b"", f"{method} {path} {code} has a body")
        return resp

    # --- the routes in the file are routed ----------------------------------------------

    def test_every_documented_method_is_routed(self):
        for template, method, _ in operations():
            with self.subTest(template=template, method=method):
                path = "/healthz" if template == "/healthz" else self.concrete(template, fresh=True)
                resp = request_or_stream(method, path)
                self.assertNotEqual(resp.status, 405, resp)
                if resp.status == 404:
                    self.assertTrue(resp.body["type"].endswith(("unknown-action",)),
                                    f"{method} {path}: {resp!r}")
                self.check(method, path, resp, expect_template=template)

    def test_undocumented_methods_answer_405_with_the_documented_allow(self):
        for template in OPENAPI["paths"]:
            path = "/healthz" if template == "/healthz" else self.concrete(template)
            allowed = documented_methods(template)
            for method in METHODS:
                if method in allowed:
                    continue
                with self.subTest(template=template, method=method):
                    resp = request(method, path)
                    self.assertEqual(resp.status, 405, f"{method} {path}: {resp!r}")
                    allow = {m.strip().upper() for m in (resp.header("Allow") or "").split(",")
                             if m.strip()}
                    self.assertEqual(allow, allowed, f"{method} {path}")

    def test_paths_outside_the_file_are_not_routes(self):
        cid = self.clip["id"]
        outside = ["/", "/clips/abc", "/clips/0", "/clips/01", f"/clips/{cid}/actions/1",
                   f"/clips/{cid}/undo/x", "/clips/1/2/3/4", "/no_such_type",
                   "/No-Such-Type/1", f"/no_such_type/{cid}/actions"]
        for path in outside:
            template = match_template(path)
            for method in METHODS:
                with self.subTest(path=path, method=method):
                    resp = request(method, path)
                    if template is None:
                        self.assertEqual(resp.status, 404, f"{method} {path}: {resp!r}")
                    else:
                        # a path the file matches by shape (an unknown type name): the
                        # server may only answer what the template documents
                        self.assertNotEqual(resp.status, 405,
                                            f"{method} {path} has template {template}")

    def test_paths_in_the_file_match_the_routes(self):
        cid = self.clip["id"]
        expectations = {
            "/healthz": "/healthz",
            "/clips": "/{type}",
            f"/clips/{cid}": "/{type}/{id}",
            f"/clips/{cid}/actions": "/{type}/{id}/actions",
            f"/clips/{cid}/undo": "/{type}/{id}/undo",
            f"/clips/{cid}/redo": "/{type}/{id}/redo",
            f"/clips/{cid}/duplicate": "/{type}/{id}/{verb}",
            f"/analysis_jobs/{cid}/suspend": "/{type}/{id}/{verb}",
            f"/clips/{cid}/events": "/{type}/{id}/events",
            "/catalog": "/catalog",
        }
        for path, template in expectations.items():
            self.assertEqual(match_template(path), template, path)

    # --- real requests answer what the file says ------------------------------------------

    def test_resource_lifecycle(self):
        doc_id = self.doc["id"]
        self.check("GET", "/healthz", request("GET", "/healthz", token=None))
        self.check("POST", "/documents", request("POST", "/documents", body={"data": [1]}))
        self.check("POST", "/documents", request("POST", "/documents"))
        self.check("POST", "/documents", request("POST", "/documents", body={"x": 1}))
        self.check("POST", "/documents", request("POST", "/documents", body="{",
                                                 content_type="application/json"))
        self.check("POST", "/documents", request("POST", "/documents", body={"data": 1},
                                                 content_type="text/plain"))
        self.check("POST", "/nope", request("POST", "/nope", body={}))
        self.check("GET", "/documents?limit=2", request("GET", "/documents?limit=2"))
        self.check("GET", "/documents?limit=0", request("GET", "/documents?limit=0"))
        self.check("GET", f"/documents/{doc_id}", request("GET", f"/documents/{doc_id}"))
        self.check("HEAD", f"/documents/{doc_id}", request("HEAD", f"/documents/{doc_id}"))
        self.check("GET", f"/documents/{doc_id}",
                   request("GET", f"/documents/{doc_id}", headers={"If-None-Match": etag(1)}))
        self.check("GET", "/documents/999999999", request("GET", "/documents/999999999"))
        self.check("GET", f"/documents/{doc_id}", request("GET", f"/documents/{doc_id}",
                                                          token=None))
        p = f"/documents/{doc_id}"
        self.check("PATCH", p, self.patch("documents", doc_id, [{"op": "add", "path": "/b",
                                                                 "value": 2}], version=1))
        self.check("PATCH", p, self.patch("documents", doc_id, {"c": 3},
                                          content_type=MERGE_PATCH, version=2))
        self.check("PATCH", p, self.patch("documents", doc_id, {"c": 3}, version=None,
                                          content_type=MERGE_PATCH))
        self.check("PATCH", p, self.patch("documents", doc_id, {"c": 3}, version=1,
                                          content_type=MERGE_PATCH))
        self.check("PATCH", p, self.patch("documents", doc_id, [], version=3,
                                          content_type="application/json"))
        self.check("PATCH", p, self.patch("documents", doc_id,
                                          [{"op": "test", "path": "/a", "value": 9}], version=3))
        self.check("PATCH", p, self.patch("documents", doc_id,
                                          [{"op": "remove", "path": "/zz"}], version=3))
        self.check("PATCH", p, self.patch("documents", doc_id, [{"op": "nope"}], version=3))
        self.check("GET", f"{p}/actions", request("GET", f"{p}/actions"))
        self.check("GET", f"{p}/actions?since=1&limit=1",
                   request("GET", f"{p}/actions?since=1&limit=1"))
        self.check("GET", f"{p}/actions?since=x", request("GET", f"{p}/actions?since=x"))
        self.check("POST", f"{p}/undo", request("POST", f"{p}/undo", body={"expected_version": 3}))
        self.check("POST", f"{p}/redo", request("POST", f"{p}/redo", body={"expected_version": 4}))
        self.check("POST", f"{p}/redo", request("POST", f"{p}/redo", body={"expected_version": 5}))
        self.check("POST", f"{p}/undo", request("POST", f"{p}/undo"))
        self.check("DELETE", p, request("DELETE", p))
        self.check("DELETE", p, request("DELETE", p, headers={"If-Match": etag(1)}))
        self.check("DELETE", p, request("DELETE", p, headers={"If-Match": etag(5)}))
        self.check("GET", p, request("GET", p))
        self.check("DELETE", p, request("DELETE", p, headers={"If-Match": etag(6)}))

    def test_feed_and_catalog(self):
        cat = self.check("GET", "/catalog", request("GET", "/catalog"))
        self.check("GET", "/catalog", request("GET", "/catalog",
                                              headers={"If-None-Match": cat.header("ETag")}))
        self.check("HEAD", "/catalog", request("HEAD", "/catalog"))
        self.check("GET", "/catalog", request("GET", "/catalog", token=None))
        cid = self.clip["id"]
        p = f"/clips/{cid}/events"
        self.check("GET", p, request_or_stream("GET", p))
        self.check("GET", f"{p}?since=0", request_or_stream("GET", f"{p}?since=0"))
        self.check("GET", f"{p}?since=x", request("GET", f"{p}?since=x"))
        self.check("GET", p, request("GET", p, token=None))
        self.check("GET", "/clips/999999999/events", request("GET", "/clips/999999999/events"))
        self.assertEqual(request("DELETE", f"/clips/{cid}", headers={"If-Match": etag(1)}).status,
                         204)
        self.check("GET", p, request("GET", p))

    def test_actions(self):
        cid = self.clip["id"]
        p = f"/clips/{cid}/actions"
        add = {"action": "add_crop_keyframe",
               "data": {"frame": 100, "x": 50, "y": 50, "width": 640, "height": 360}}
        self.check("POST", p, request("POST", p, body=dict(add, expected_version=1)))
        self.check("POST", p, request("POST", p, body=dict(add, expected_version=2)))
        self.check("POST", p, request("POST", p, body=dict(add, expected_version=1)))
        self.check("POST", p, request("POST", p, body=add))
        self.check("POST", p, request("POST", p, body={"action": "nope", "expected_version": 2}))
        self.check("POST", p, request("POST", p, body={"action": 5}))
        self.check("POST", p, request("POST", p, body={
            "expected_version": 2, "actions": [{"action": "create_region",
                                                "data": {"start_time": 0, "end_time": 1}}]}))
        self.check("POST", p, request("POST", p, body={
            "expected_version": 3, "actions": [{"action": "delete_region",
                                                "target": {"region_id": "x"}}]}))
        key = f'"openapi-{uuid.uuid4()}"'
        body = {"action": "create_annotation", "expected_version": 3,
                "data": {"start_time": 1, "end_time": 2, "name": "n"}}
        self.check("POST", p, request("POST", p, body=body, headers={"Idempotency-Key": key}))
        self.check("POST", p, request("POST", p, body=body, headers={"Idempotency-Key": key}))
        self.check("POST", p, request("POST", p, body=dict(body, data={"start_time": 1,
                                                                       "end_time": 2,
                                                                       "name": "m"}),
                                      headers={"Idempotency-Key": key}))
        self.check("POST", p, request("POST", p, body=dict(add, expected_version=4),
                                      headers={"If-Match": etag(1)}))
        self.check("POST", p, request("POST", p, body=dict(add, expected_version=4),
                                      content_type="text/plain"))

    def test_verbs(self):
        jid = self.job["id"]
        for verb in ("suspend", "suspend", "complete", "resume"):
            path = f"/analysis_jobs/{jid}/{verb}"
            self.check("POST", path, request("POST", path))
        path = f"/analysis_jobs/{jid}/suspend"
        self.check("POST", path, request("POST", path, body={"data": {}}))
        self.check("POST", path, request("POST", path, headers={"If-Match": etag(1)}))
        bid = self.board["id"]
        path = f"/dashboards/{bid}/duplicate"
        resp = self.check("POST", path, request("POST", path))
        self.assertEqual(resp.status, 201, resp)
        path = "/dashboards/999999999/duplicate"
        self.check("POST", path, request("POST", path))


if __name__ == "__main__":
    unittest.main()
