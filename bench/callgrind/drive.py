"""drive.py N, for bench/callgrind/run: one clip gets 20 crop keyframes, then N
update_crop_keyframe actions, each on the version the previous one made. Requests go
through tests/integration/client.py, which reads the stack from the environment
(deploy/lib.sh's ad_test_env)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import client  # noqa: E402


def act(clip, body):
    resp = client.request("POST", f"/clips/{clip}/actions", body)
    if resp.status != 200:
        sys.exit(f"drive.py: {body['action']} answered {resp!r}")
    return resp.body["version"]


def main():
    actions = int(sys.argv[1])
    resp = client.request("POST", "/clips")
    if resp.status != 201:
        sys.exit(f"drive.py: POST /clips answered {resp!r}")
    clip, version = resp.body["id"], 1
    for k in range(20):
        version = act(clip, {"action": "add_crop_keyframe", "expected_version": version,
                             "data": {"frame": 30 * k, "x": 10, "y": 20, "width": 640,
                                      "height": 360}})
    for i in range(actions):
        version = act(clip, {"action": "update_crop_keyframe", "expected_version": version,
                             "target": {"frame": 30 * (i % 20)}, "data": {"x": 100 + i % 1000}})
    print(f"drive.py: clip {clip} at version {version}")


main()
