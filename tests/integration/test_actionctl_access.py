"""test_actionctl_access.py: operators list and change who may reach a resource with
actionctl (grant list|set|revoke, transfer). Each change is a log entry by the actor
"actionctl" that takes a version, as a worker's share or unshare would, and verify
accounts for it; a change that changes nothing writes nothing."""

import unittest

from client import TOKEN_BOB, ApiTestCase, request
from test_audit import actionctl, run_actionctl


class OperatorGrants(ApiTestCase):
    def setUp(self):
        self.assertTrue(actionctl(), "ACTIOND_BUILD_DIR has no actionctl")
        self.clip, _ = self.create_clip()

    def ctl(self, *args):
        proc = run_actionctl(*args)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        return proc.stdout

    def as_bob(self, method="GET", path=None):
        return request(method, path or f"/clips/{self.clip}", token=TOKEN_BOB)

    def test_grant_list_set_revoke_and_transfer(self):
        where = ("--type", "clips", "--id", str(self.clip))
        self.assertEqual(self.as_bob().status, 404)
        listing = self.ctl("grant", "list", *where)
        self.assertIn("alice", listing)
        self.assertIn("owner", listing)
        self.ctl("grant", "set", *where, "--actor", "bob", "--role", "reader")
        self.assertEqual(self.as_bob().status, 200)
        self.assertIn("bob", self.ctl("grant", "list", "--actor", "bob"))
        self.assertEqual(self.get_clip(self.clip)["access"], {"bob": "reader"})
        # the same grant again changes nothing and writes nothing
        version = self.get_clip(self.clip)["version"]
        self.ctl("grant", "set", *where, "--actor", "bob", "--role", "reader")
        self.assertEqual(self.get_clip(self.clip)["version"], version)
        self.ctl("grant", "revoke", *where, "--actor", "bob")
        self.assertEqual(self.as_bob().status, 404)
        # the owner leaves: bob owns it now, alice keeps nothing
        self.ctl("transfer", *where, "--owner", "bob")
        self.assertEqual(self.get_clip(self.clip, token=TOKEN_BOB)["owner"], "bob")
        self.assertEqual(request("GET", f"/clips/{self.clip}").status, 404)
        entries = self.log_entries(self.clip, token=TOKEN_BOB)
        self.assertEqual([(e["action"], e["actor"]) for e in entries],
                         [("create", "alice"), ("share", "actionctl"),
                          ("unshare", "actionctl"), ("transfer", "actionctl")])
        self.assertEqual(entries[1]["data"], {"actor": "bob", "role": "reader"})
        self.assertEqual(entries[3]["data"], {"owner": "bob"})
        self.assertIn("OK", self.ctl("verify", *where))

    def test_refusals(self):
        where = ("--type", "clips", "--id", str(self.clip))
        for args in (("grant", "set", *where, "--actor", "bob"),
                     ("grant", "set", *where, "--actor", "bob", "--role", "owner"),
                     ("grant", "revoke", "--type", "clips", "--actor", "bob"),
                     ("transfer", *where),
                     ("token", "list", "--role", "reader")):
            self.assertEqual(run_actionctl(*args).returncode, 2, args)
        # the owner's access is not a grant, and a missing resource is an error
        self.assertEqual(run_actionctl("grant", "set", *where, "--actor", "alice",
                                       "--role", "editor").returncode, 1)
        self.assertEqual(run_actionctl("grant", "set", "--type", "clips", "--id", "999999999",
                                       "--actor", "bob", "--role", "reader").returncode, 1)
        self.assertEqual(self.get_clip(self.clip)["version"], 1)


if __name__ == "__main__":
    unittest.main()
