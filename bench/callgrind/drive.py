# drive.py N: for bench/callgrind/run: one clip with 20 keyframes, then N update_crop_keyframe actions in order
import http.client, json, os, sys, urllib.parse
u = urllib.parse.urlparse(os.environ["ACTIOND_URL"])
h = {"Authorization": "Bearer " + os.environ["ACTIOND_TOKEN"], "Content-Type": "application/json"}
c = http.client.HTTPConnection(u.hostname, u.port)
def req(m, p, body=None):
    c.request(m, u.path + p, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse(); d = r.read(); return r.status, d
s, d = req("POST", "/clips"); cid = json.loads(d)["id"]; v = 1
for f in range(20):
    s, d = req("POST", f"/clips/{cid}/actions", {"action": "add_crop_keyframe", "expected_version": v,
               "data": {"frame": 30*f, "x": 10, "y": 20, "width": 640, "height": 360}})
    assert s == 200, (s, d); v += 1
for i in range(int(sys.argv[1])):
    s, d = req("POST", f"/clips/{cid}/actions", {"action": "update_crop_keyframe", "target": {"frame": 30*(i % 20)},
               "data": {"x": 100 + i % 1000}, "expected_version": v})
    assert s == 200, (s, d); v += 1
print("done", v)
