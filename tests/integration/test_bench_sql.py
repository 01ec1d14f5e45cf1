"""test_bench_sql.py: bench/pgbench/action.sql still runs the worker's own action.

bench/run measures actiond against a ceiling: pgbench running the transaction the worker
runs for one action (the locking read, the update of the resource, the log insert). That
ceiling means something only while bench/pgbench/action.sql names what the store's SQL
names. This test reads both and fails on drift:
  - the log insert's columns (the store's LOG_INSERT, used by ST_WRITE);
  - the columns the update assigns, and those its WHERE tests (ST_WRITE);
  - the columns the locking read tests (ST_LOCK), and its select list, which the
    pgbench script repeats (with aliases for \\gset) before reading extra values.

It needs no server: it reads src/store/store.c, or src/store/store.c in a tree from before
the sources moved into folders. Run it alone with
`python3 tests/integration/test_bench_sql.py`; tests/integration/run runs it too.
"""

import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STORE_CANDIDATES = ("src/store/store.c",)
BENCH_SQL = ROOT / "bench" / "pgbench" / "action.sql"


def store_source():
    """The path of the store's C source in this tree."""
    for rel in STORE_CANDIDATES:
        path = ROOT / rel
        if path.is_file():
            return path
    raise AssertionError(f"no store source: looked for {', '.join(STORE_CANDIDATES)}"
                         f" under {ROOT}")


# --- reading the C source -------------------------------------------------------------

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|[(),{}\[\]=]|\S')


def strip_comments(text):
    """C text without its comments, string literals left whole."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text[i] == '"':
            m = re.compile(r'"(?:[^"\\\n]|\\.)*"').match(text, i)
            out.append(m.group(0))
            i = m.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def macros(text):
    """{name: (params or None, body tokens)} for every #define, continuation lines
    joined. Only macros made of string literals and other macros matter here."""
    found = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        m = re.match(r"\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)(\([^)]*\))?(.*)$", line)
        if m:
            params = None
            if m.group(2) is not None:
                params = [p.strip() for p in m.group(2)[1:-1].split(",") if p.strip()]
            found[m.group(1)] = (params, TOKEN.findall(m.group(3)))
    return found


def split_args(tokens, start):
    """The arguments of a macro call whose "(" is at tokens[start]: (args, index after
    the closing parenthesis)."""
    depth, args, cur, i = 0, [], [], start
    while i < len(tokens):
        tok = tokens[i]
        if tok == "(":
            depth += 1
            if depth > 1:
                cur.append(tok)
        elif tok == ")":
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args, i + 1
            cur.append(tok)
        elif tok == "," and depth == 1:
            args.append(cur)
            cur = []
        else:
            cur.append(tok)
        i += 1
    raise AssertionError("unbalanced macro call")


def expand(tokens, defs, depth=0):
    """tokens with every macro replaced by its expansion (object- and function-like)."""
    if depth > 20:
        raise AssertionError("macro expansion does not end")
    out, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in defs:
            params, body = defs[tok]
            if params is None:
                out.extend(expand(body, defs, depth + 1))
                i += 1
                continue
            if i + 1 < len(tokens) and tokens[i + 1] == "(":
                args, i = split_args(tokens, i + 1)
                bound = dict(zip(params, args))
                replaced = []
                for b in body:
                    replaced.extend(bound.get(b, [b]))
                out.extend(expand(replaced, defs, depth + 1))
                continue
        out.append(tok)
        i += 1
    return out


def literal_text(tokens):
    """The concatenation of the string literals among tokens, as the compiler joins
    adjacent literals."""
    text = []
    for tok in tokens:
        if tok.startswith('"'):
            text.append(re.sub(r"\\(.)", r"\1", tok[1:-1]))
    return "".join(text)


def statement(source, name):
    """The SQL text of entry [name] of the store's statement table."""
    text = strip_comments(source)
    defs = macros(text)
    m = re.search(r"\[\s*" + re.escape(name) + r"\s*\]\s*=\s*\{", text)
    if m is None:
        raise AssertionError(f"the store source has no statement [{name}]")
    tokens, depth, i = TOKEN.findall(text[m.end():]), 1, 0
    body = []
    while i < len(tokens) and depth > 0:
        tok = tokens[i]
        if tok in "({":
            depth += 1
        elif tok in ")}":
            depth -= 1
        if depth > 0:
            body.append(tok)
        i += 1
    # {"name", sql...}: the SQL is what follows the first top-level comma
    if "," not in body:
        raise AssertionError(f"[{name}] is not a {{\"name\", sql}} entry")
    sql = literal_text(expand(body[body.index(",") + 1:], defs))
    return " ".join(sql.split())


# --- reading SQL ------------------------------------------------------------------------

def split_top(text, sep=","):
    """text split at `sep` outside parentheses and quotes."""
    parts, cur, depth, quote = [], [], 0, None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def compared_columns(condition):
    """The columns a WHERE clause compares with `=`, in order."""
    return re.findall(r"([a-z_]+)\s*=\s*(?!=)", condition)


def shape(sql):
    """What the drift check compares, from one SQL text holding the log insert, the
    update and the locking read (in any order)."""
    found = {}
    m = re.search(r"INSERT INTO action_log\s*\(([^)]*)\)", sql)
    if m:
        found["log insert columns"] = [c.strip() for c in m.group(1).split(",")]
    m = re.search(r"UPDATE resources SET (.*?) WHERE (.*?)(?: RETURNING |;|$)", sql)
    if m:
        found["update assigns"] = [a.split("=", 1)[0].strip() for a in split_top(m.group(1))]
        found["update's WHERE compares"] = compared_columns(m.group(2))
    m = re.search(r"SELECT (.*?) FROM resources WHERE (.*?) FOR UPDATE", sql)
    if m:
        items = split_top(m.group(1))
        found["locking read selects"] = [re.sub(r"\s+AS\s+[a-z_0-9]+$", "", it) for it in items]
        found["locking read's WHERE compares"] = compared_columns(m.group(2))
    return found


def pgbench_sql(text):
    """bench/pgbench/action.sql as one line: comments and pgbench's meta-commands out,
    \\gset ending its statement like a semicolon."""
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--") or stripped.startswith("\\"):
            continue
        kept.append(stripped.replace("\\gset", ";"))
    return " ".join(" ".join(kept).split())


class BenchTransactionMatchesTheStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store_path = store_source()
        source = cls.store_path.read_text(encoding="utf-8")
        cls.worker_sql = {name: statement(source, name) for name in ("ST_WRITE", "ST_LOCK")}
        cls.worker = shape(cls.worker_sql["ST_WRITE"])
        cls.worker.update(shape(cls.worker_sql["ST_LOCK"]))
        cls.bench = shape(pgbench_sql(BENCH_SQL.read_text(encoding="utf-8")))

    def where(self):
        return (f"{BENCH_SQL.relative_to(ROOT)} no longer matches"
                f" {self.store_path.relative_to(ROOT)}; update the pgbench script (or,"
                " if the statements were renamed, this test)")

    def test_the_store_statements_were_found(self):
        for what in ("log insert columns", "update assigns", "update's WHERE compares",
                     "locking read selects", "locking read's WHERE compares"):
            with self.subTest(what=what):
                self.assertTrue(self.worker.get(what),
                                f"{what}: not found in the store's ST_WRITE/ST_LOCK:"
                                f" {self.worker_sql}")
                self.assertTrue(self.bench.get(what), f"{what}: not found in {BENCH_SQL}")

    def test_the_log_insert_names_the_same_columns(self):
        self.assertEqual(self.bench.get("log insert columns"),
                         self.worker.get("log insert columns"), self.where())

    def test_the_update_assigns_and_tests_the_same_columns(self):
        for what in ("update assigns", "update's WHERE compares"):
            with self.subTest(what=what):
                self.assertEqual(self.bench.get(what), self.worker.get(what), self.where())

    def test_the_locking_read_tests_the_same_columns(self):
        self.assertEqual(self.bench.get("locking read's WHERE compares"),
                         self.worker.get("locking read's WHERE compares"), self.where())

    def test_the_locking_read_selects_what_the_worker_selects_first(self):
        ours = self.worker.get("locking read selects") or []
        theirs = self.bench.get("locking read selects") or []
        self.assertEqual(theirs[:len(ours)], ours, self.where())


if __name__ == "__main__":
    unittest.main()
