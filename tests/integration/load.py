"""load.py: a bounded, mixed request load for leak hunting (deploy/check runs one worker
under valgrind and sends it this). It walks every route and most refusals, including
hostile bodies, so that every code path that allocates is taken many times.

It checks little: it fails only on a 5xx, on a connection error, or when nothing
succeeded. The contract is tested by the test_*.py modules.

usage: python3 load.py [--requests N]   (environment as for the tests: ACTIOND_URL,
ACTIOND_TOKEN; see client.py)
"""

import argparse
import collections
import json
import sys
import uuid

from client import MIB, TOKEN, request

HOSTILE = [
    b'{"action": "set_trim_range", "data": {"start": 1.0,',
    b'{"action": "set_trim_range", "id": "\xff\xfe", "expected_version": 1}',
    b'{"action": "set_trim_range\x00", "expected_version": 1}',
    b'{"action": "a", "action": "b", "expected_version": 1}',
    b'{"action": "set_trim_range", "expected_version": "7"}',
    b'{"action": "set_trim_range", "expected_version": 1e400}',
    b'{"action": "set_trim_range", "foo": 1}',
    b'{"action": "add_crop_keyframe", "expected_version": 1, "data": {"frame": 1,'
    b' "x": 1, "y": 1, "width": 1, "height": 1, "label": "a\\u0000b"}}',
    b'{"data": ' + b"[" * 10000 + b"]" * 10000 + b"}",
    b"[]",
    b"",
]


class Load:
    def __init__(self):
        self.statuses = collections.Counter()
        self.failures = []
        self.clip = None
        self.version = 0
        self.frames = []

    def send(self, method, path, **kw):
        try:
            resp = request(method, path, **kw)
        except OSError as exc:
            self.failures.append(f"{method} {path}: {exc}")
            return None
        self.statuses[resp.status] += 1
        if resp.status >= 500:
            self.failures.append(f"{method} {path}: {resp!r}")
        return resp

    def act(self, envelope, **kw):
        resp = self.send("POST", f"/clips/{self.clip}/actions", body=envelope, **kw)
        if resp is not None and resp.status == 200 and isinstance(resp.body, dict):
            self.version = resp.body.get("version", self.version)
        return resp

    def new_clip(self):
        resp = self.send("POST", "/clips")
        if resp is not None and resp.status == 201:
            self.clip = resp.body["id"]
            self.version = 1
            self.frames = []

    def step(self, i):
        if self.clip is None or i % 60 == 0:
            self.new_clip()
            if self.clip is None:
                return
        kind = i % 20
        frame = i
        if kind in (0, 1, 2, 3):
            self.act({"action": "add_crop_keyframe", "expected_version": self.version,
                      "data": {"frame": frame, "x": 1, "y": 2, "width": 3, "height": 4}})
            self.frames.append(frame)
        elif kind == 4 and self.frames:
            self.act({"action": "update_crop_keyframe", "target": {"frame": self.frames[-1]},
                      "data": {"x": 9}, "expected_version": self.version})
        elif kind == 5 and self.frames:
            old = self.frames.pop()
            self.act({"action": "move_crop_keyframe", "target": {"frame": old},
                      "data": {"new_frame": old + 100000}, "expected_version": self.version})
            self.frames.append(old + 100000)
        elif kind == 6 and self.frames:
            self.act({"action": "delete_crop_keyframe", "target": {"frame": self.frames.pop()}},
                     headers={"If-Match": f'"{self.version}"'})
        elif kind == 7:
            key = str(uuid.uuid4())
            envelope = {"action": "set_trim_range", "data": {"start": 1.0, "end": 2.0},
                        "expected_version": self.version, "id": key}
            self.act(envelope)
            self.act(envelope)  # replay
            self.act(dict(envelope, action="add_crop_keyframe"))  # 422
        elif kind == 8:
            self.send("GET", f"/clips/{self.clip}")
            self.send("GET", f"/clips/{self.clip}",
                      headers={"If-None-Match": f'"{self.version}"'})
        elif kind == 9:
            self.send("GET", "/clips?limit=3")
            self.send("GET", f"/clips/{self.clip}/actions?since=0&limit=5")
        elif kind == 10:
            self.act({"action": "set_trim_range", "data": {"start": 1.0, "end": 2.0},
                      "expected_version": 1})  # 409 (stale) once the clip moved on
            self.act({"action": "update_crop_keyframe", "target": {"frame": 1},
                      "data": {"x": 1}})  # 428
            self.act({"action": "update_crop_keyframe", "target": {"frame": -5},
                      "data": {"x": 1}, "expected_version": self.version})  # 422
        elif kind == 11:
            self.act({"action": "set_trim_range", "data": {"start": 1.0, "end": 2.0}},
                     headers={"If-Match": '"999999"'})  # 412
            self.act({"action": "no_such_action", "expected_version": self.version})  # 404
        elif kind == 12:
            self.send("POST", f"/clips/{self.clip}/actions",
                      body=HOSTILE[(i // 20) % len(HOSTILE)])
        elif kind == 13:
            self.send("GET", "/clips", token=None)  # 401
            self.send("GET", "/clips", token="bogus-token")  # 401
            self.send("GET", "/healthz", token=None)
        elif kind == 14:
            self.send("DELETE", "/clips")  # 405
            self.send("GET", "/no_such_type/1")  # 404
            self.send("GET", "/clips/999999999")  # 404
        elif kind == 15:
            self.send("POST", f"/clips/{self.clip}/actions", body="{}",
                      content_type="text/plain")  # 415
        elif kind == 16 and i % 200 == 16:
            self.send("POST", f"/clips/{self.clip}/actions",
                      body=b'{"x": "' + b"a" * (MIB + 1000) + b'"}')  # 413 from the worker
        elif kind == 17:
            self.send("POST", "/clips", body={"data": {"n": i, "s": "x" * (i % 500)}})
        else:
            self.send("GET", f"/clips/{self.clip}/actions?since={max(0, self.version - 3)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000,
                        help="steps to run (a step sends 1 to 3 requests)")
    args = parser.parse_args()
    if not TOKEN:
        sys.exit("ACTIOND_TOKEN is not set")
    load = Load()
    for i in range(args.requests):
        load.step(i)
        if len(load.failures) > 20:
            break
    total = sum(load.statuses.values())
    print(f"load: {total} requests; statuses "
          + json.dumps(dict(sorted(load.statuses.items()))))
    for failure in load.failures[:20]:
        print(f"load: FAILED {failure}", file=sys.stderr)
    ok = sum(n for status, n in load.statuses.items() if 200 <= status < 300)
    if load.failures or ok == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
