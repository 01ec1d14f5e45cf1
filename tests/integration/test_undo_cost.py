"""test_undo_cost.py: what an undo reads does not grow with the history. The walk down
the undo stack to the entry it reverts stops at that entry, and whether an entry was
reverted is an index lookup (sql/010_undo_walk.sql); measured by the buffers the
worker's own statement touches (EXPLAIN ANALYZE BUFFERS), never by a timer. A plain
undo on a clip with 1,000 entries once cost about 90 ms of database CPU, against about
1 ms for an action."""

import json
import unittest

import test_bench_sql
from client import DATABASE_URL, ApiTestCase, psql_value


def buffers(plan):
    """Shared blocks the whole statement touched (the top node counts its children)."""
    top = plan[0]["Plan"]
    return top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)


class UndoCost(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.walk = test_bench_sql.statement(
            test_bench_sql.store_source().read_text(), "ST_STACK_TOP")

    def clip_with_history(self, entries):
        clip, _ = self.create_clip()
        for version in range(1, entries):
            self.act_ok(clip, {"action": "set_trim_range", "expected_version": version,
                               "data": {"start": version, "end": version + 1}})
        return clip

    def walk_plan(self, clip):
        top = psql_value(DATABASE_URL, f"SELECT undo_top FROM resources WHERE id = {clip}")
        out = psql_value(DATABASE_URL,
                         f"PREPARE walk(bigint, bigint, text, text) AS {self.walk};"
                         " EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
                         f" EXECUTE walk({clip}, {top}, NULL, 'undo')")
        return json.loads(out)

    def test_the_walk_reads_the_same_on_a_long_history(self):
        short = self.clip_with_history(10)
        long_ = self.clip_with_history(1000)
        plan_short, plan_long = self.walk_plan(short), self.walk_plan(long_)
        cost_short, cost_long = buffers(plan_short), buffers(plan_long)
        # a few index pages more for a deeper index, never a page per entry
        self.assertLessEqual(cost_long, cost_short + 12,
                             f"{cost_short} against {cost_long} buffers: "
                             f"{json.dumps(plan_long)}")
        # and the undo itself reverts the newest change
        body = self.act_ok(long_, {"action": "undo", "expected_version": 1000})
        self.assertEqual(body["reverts"], 1000)
        self.assertEqual(body["data"]["trim_range"], {"start": 998, "end": 999})


if __name__ == "__main__":
    unittest.main()
