"""merge_util.py: what the merge tests share: sending stale actions with
on_conflict, checking the 409 merge-conflict problem, and a small independent Python
model of the clip operations and of their semantic touches, so a test can predict what
the server must accept, refuse, and end up with.

Python 3 standard library only.

The touch model follows the overlap rule of docs/merge.md, written here without looking
at the server's representation of touches:
  - a touch is (kind, path) with kind "w" (write), "r" (read) or "add" (set addition)
    and path a tuple of tokens; a token is a member name (str) or a keyed element
    Key(name, value), so a keyframe is named by its frame, never by its position;
  - two touches overlap when one path equals, or is an ancestor or descendant of, the
    other; unless both are reads, or both are set additions;
  - a transition touches the state, STATE, which overlaps only another STATE.
"""

import bisect
import collections
import copy

from client import assert_problem, link_href

MERGE_CONFLICT = "urn:actiond:problem:merge-conflict"
STALE_VERSION = "urn:actiond:problem:stale-version"

Key = collections.namedtuple("Key", "name value")
STATE = ("<state>",)

KF = "crop_keyframes"


# ---------------------------------------------------------------------------------
# touches

def action_touches(action, target=None, data=None):
    """The touch set of a clip catalog action, as a list of (kind, path)."""
    target = target or {}
    data = data or {}
    if action == "add_crop_keyframe":
        return [("w", (KF, Key("frame", data["frame"])))]
    if action == "update_crop_keyframe":
        return [("w", (KF, Key("frame", target["frame"]), m)) for m in data]
    if action == "delete_crop_keyframe":
        return [("w", (KF, Key("frame", target["frame"])))]
    if action == "move_crop_keyframe":
        return [("w", (KF, Key("frame", target["frame"]))),
                ("w", (KF, Key("frame", data["new_frame"])))]
    if action == "set_trim_range":
        return [("w", ("trim_range",))]
    if action == "set_effect_type":
        return [("w", ("effect_type",))]
    raise ValueError(f"no touch model for {action!r}")


def _prefix(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def touch_overlap(x, y):
    (kx, px), (ky, py) = x, y
    if kx == ky and kx in ("r", "add"):
        return False
    if px == STATE or py == STATE:
        return px == py
    return _prefix(px, py)


def sets_overlap(ours, theirs):
    return any(touch_overlap(a, b) for a in ours for b in theirs)


# ---------------------------------------------------------------------------------
# the clip operations

def _frames(doc):
    return [k["frame"] for k in doc[KF]]


def _find(doc, frame):
    for i, k in enumerate(doc[KF]):
        if k["frame"] == frame:
            return i
    raise KeyError(f"no keyframe {frame}")


def _insert_sorted(doc, element):
    frames = _frames(doc)
    if element["frame"] in frames:
        raise KeyError(f"duplicate keyframe {element['frame']}")
    doc[KF].insert(bisect.bisect_right(frames, element["frame"]), element)


def apply_action(doc, action, target=None, data=None):
    """A copy of clip document `doc` after the catalog action (KeyError when the
    action cannot apply: a missing target or a duplicate key)."""
    doc = copy.deepcopy(doc)
    target = target or {}
    data = copy.deepcopy(data or {})
    if action == "add_crop_keyframe":
        _insert_sorted(doc, data)
    elif action == "update_crop_keyframe":
        doc[KF][_find(doc, target["frame"])].update(data)
    elif action == "delete_crop_keyframe":
        del doc[KF][_find(doc, target["frame"])]
    elif action == "move_crop_keyframe":
        element = doc[KF].pop(_find(doc, target["frame"]))
        element["frame"] = data["new_frame"]
        _insert_sorted(doc, element)
    elif action == "set_trim_range":
        doc["trim_range"] = data
    elif action == "set_effect_type":
        doc["effect_type"] = data["effect_type"]
    else:
        raise ValueError(f"no model for {action!r}")
    return doc


# ---------------------------------------------------------------------------------
# checks on answers

def check_merge_conflict(test, resp, current_version, conflicting, since):
    """resp is the 409 merge-conflict problem: current_version, conflicting_versions
    (exactly `conflicting` when it is a list; when None, any non-empty ascending list
    within (since, current_version]) and links.missed_actions since `since`. Returns the
    problem."""
    problem = assert_problem(resp, 409)
    test.assertEqual(problem["type"], MERGE_CONFLICT, problem)
    test.assertEqual(problem.get("current_version"), current_version, problem)
    got = problem.get("conflicting_versions")
    test.assertIsInstance(got, list, problem)
    if conflicting is not None:
        test.assertEqual(got, conflicting, problem)
    else:
        test.assertTrue(got, problem)
        test.assertEqual(got, sorted(set(got)), problem)
        for v in got:
            test.assertTrue(since < v <= current_version, problem)
    missed = link_href((problem.get("links") or {}).get("missed_actions"))
    test.assertIsNotNone(missed, problem)
    test.assertTrue(missed.endswith(f"/actions?since={since}"), missed)
    test.assertIn("no-store", resp.header("Cache-Control") or "")
    return problem


def check_merged(test, body, based_on, merged_over, version):
    """body is the 200 of an action merged from `based_on` over `merged_over`."""
    test.assertIs(body.get("success"), True, body)
    test.assertEqual(body.get("version"), version, body)
    test.assertEqual(body.get("based_on"), based_on, body)
    test.assertEqual(body.get("merged_over"), merged_over, body)
    test.assertIsInstance(body.get("applied_at"), str, body)


def not_merged(entry_or_body):
    """True when a log entry or answer carries no merge (no based_on/merged_over, or
    null, or an empty merged_over)."""
    return not entry_or_body.get("merged_over") and entry_or_body.get("based_on") in (
        None, entry_or_body.get("version", 0) - 1)
