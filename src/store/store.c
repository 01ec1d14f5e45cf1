/*
 * store.c: resources, the action log and tokens in PostgreSQL, behind one libpq
 * connection per process. Every statement is prepared once
 * per connection and run with text parameters. Statements that belong together go out
 * as one libpq pipeline, so they cost one network round trip: an action is two
 * statements in two round trips (the row lock; the update with the log row), a
 * creation one.
 *
 * A change runs in the extended protocol's implicit transaction instead of a
 * BEGIN ... COMMIT block: everything the server executes between two Sync messages
 * is one transaction. store_lock sends its locking read with a Flush, which returns the
 * row and keeps the transaction (and the lock) open; store_commit sends the writes with
 * the Sync that commits them. That saves the BEGIN and COMMIT statements, and nothing
 * is written before that last Sync, so ending the transaction early (store_rollback)
 * only releases the lock. After an error the server skips everything up to the Sync
 * and rolls the transaction back.
 */
#include "store/store.h"

#include <ctype.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "doc/jsonp.h"
#include "base/xalloc.h"

/* Seconds to wait for a new connection when neither the conninfo nor PGCONNECT_TIMEOUT
 * says: a worker should answer 503 promptly, not after the kernel's TCP timeout. */
#define STORE_CONNECT_TIMEOUT "5"

/* Timestamps come as PostgreSQL's ISO text in UTC ("2026-11-23 13:25:17.123456+00"),
 * which col_time() turns into RFC 3339: cheaper for the server than to_json(), whose
 * JSON text the statement would also have to parse back (docs/performance.md). */
/* Every session also bounds how long one statement may run ($1 ms), how long it may
 * wait for a row lock ($2 ms), and how long a transaction may sit idle holding locks
 * ($1 ms again: a worker between its locking read and its commit only compiles the
 * change, so a longer pause means a stuck worker whose locks must not outlive it).
 * Each ends with an error the worker answers 503 with Retry-After, nothing committed. */
#define STORE_SESSION_SQL                                                                          \
    "SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO', false),"          \
    " set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),"          \
    " set_config('idle_in_transaction_session_timeout', $1, false)"

/* Room for a timestamp in RFC 3339 ("2026-11-23T13:25:17.123456+00:00" is 32). */
#define STORE_TIME_MAX 48

/* The name of the unique index on (actor, idempotency_key) in sql/001_core.sql. */
#define STORE_IDEM_INDEX "action_log_idempotency_key"

/* The channel sql/007_tokens.sql's triggers announce token changes on; every
 * connection LISTENs on it. */
#define STORE_TOKEN_CHANNEL "actiond_tokens"

/* Reads of what the server sent that store_poll_revocations makes, at most, before it
 * gives up on reading the rest and reports every token changed. */
#define STORE_POLL_READS 16

enum stmt {
    ST_PING,
    ST_TOKEN,
    ST_TOKEN_USED,
    ST_READ,
    ST_META,
    ST_LIST,
    ST_LOG,
    ST_LOCK,
    ST_FIND_KEY,
    ST_WRITE,
    ST_APPEND,
    ST_CREATE,
    ST_ENTRIES,
    ST_TOUCHES,
    ST_STACK_TOP,
    ST_COUNT
};

/* The columns read_row() expects, in its order, with `data` as the document's column;
 * statements may add columns after them. */
#define ROW_COLS_DATA(data)                                                                        \
    "id, type, version, " data ", state, owner, created_at, updated_at, deleted_at IS NOT NULL, "  \
    "coalesce(undo_top, 0), coalesce(redo_top, 0), access"
#define ROW_COLS ROW_COLS_DATA("data")
/* ROW_COLS without the document at version $3: a revalidation naming it gets a 304. */
#define READ_COLS ROW_COLS_DATA("CASE WHEN version = $3 THEN NULL ELSE data END")
#define ROW_NCOLS 12
#define ROW_DATA_COL 3
#define ROW_ACCESS_COL 11

/* The log columns an action's entries are inserted with: by ST_WRITE for the first, by
 * ST_APPEND for the rest of a batch. tests/integration/test_bench_sql.py compares it
 * with bench/pgbench/action.sql's transaction. */
#define LOG_INSERT                                                                                 \
    "INSERT INTO action_log (resource_id, version, action, target, data, actor,"                   \
    " idempotency_key, fingerprint, response, forward, inverse, state, stack_prev, unit_first,"    \
    " reverts, touches, based_on, merged_over)"

/* One entry of a stack ST_STACK_TOP walks, the version the text ends with: its version,
 * the entry below it, and whether it is what the walk looks for: by actor $3 (any when
 * NULL), and not reverted by an entry named $4. As a LATERAL subquery that cannot be
 * pulled up into a join (its LIMIT), it reads exactly the entry it names per step,
 * never the resource's whole log; and what reverted an entry came
 * after it, so whichever index the planner picks, the question reads only the entries
 * newer than the one asked about (none, for the top of the stack). */
#define STACK_ENTRY                                                                                \
    "SELECT l.version, l.stack_prev, ($3::text IS NULL OR l.actor = $3) AND NOT EXISTS"            \
    " (SELECT 1 FROM action_log d WHERE d.resource_id = $1 AND d.version > l.version"              \
    " AND d.reverts = l.version AND d.action = $4)"                                                \
    " FROM action_log l WHERE l.resource_id = $1 AND l.version = "

static const struct {
    const char *name;
    const char *sql;
} stmts[ST_COUNT] = {
    [ST_PING] = {"ping", "SELECT 1"},
    /* Revoked and expired tokens too: the caller says which it refuses, and why. The
     * expiry comes as seconds since the epoch, which the worker keeps and checks itself
     * for as long as it trusts the token without asking again. */
    [ST_TOKEN] = {"token", "SELECT id, actor, extract(epoch FROM expires_at),"
                           " revoked_at IS NOT NULL, coalesce(expires_at <= now(), false)"
                           " FROM tokens WHERE hash = $1"},
    /* Last use, to about a minute: a row another worker wrote less than $2 seconds ago
     * is left alone, so a token's row changes at most once per $2 seconds however many
     * workers accept it. */
    [ST_TOKEN_USED] = {"token_used",
                       "UPDATE tokens SET last_used_at = now()"
                       " WHERE id = ANY ($1::bigint[]) AND (last_used_at IS NULL"
                       " OR last_used_at <= now() - $2::integer * interval '1 second')"},
    [ST_READ] = {"read", "SELECT " READ_COLS " FROM resources WHERE id = $1 AND type = $2"},
    [ST_META] = {"meta", "SELECT id, version, deleted_at IS NOT NULL, owner, access"
                         " FROM resources WHERE id = $1 AND type = $2"},
    /* what $4 may read: its own, and what was shared with it or with everyone */
    [ST_LIST] = {"list", "SELECT " ROW_COLS " FROM resources"
                         " WHERE type = $1 AND id > $2 AND deleted_at IS NULL"
                         " AND (owner = $4 OR access ?| ARRAY[$4, '*'])"
                         " ORDER BY id LIMIT $3"},
    [ST_LOG] = {"log", "SELECT version, action, target, data, actor,"
                       " applied_at, idempotency_key, forward, inverse,"
                       " state, reverts, touches, based_on, to_json(merged_over)"
                       " FROM action_log WHERE resource_id = $1 AND version > $2"
                       " ORDER BY version LIMIT $3"},
    /* now() is the transaction's start time, which every row the transaction appends
     * gets as applied_at: the caller can answer with it before committing. */
    /* With $3, a row at another version is not locked at all: PostgreSQL checks the
     * condition before taking the lock and again once a holder commits, so a stale
     * request never queues behind the lock it would only be refused after. */
    [ST_LOCK] = {"lock", "SELECT " ROW_COLS ", now() FROM resources"
                         " WHERE id = $1 AND type = $2 AND ($3::bigint IS NULL OR version = $3)"
                         " FOR UPDATE"},
    [ST_FIND_KEY] = {"find_key", "SELECT resource_id, version, fingerprint, response"
                                 " FROM action_log WHERE actor = $1 AND idempotency_key = $2"},
    /* The row's new state and its first log entry, in one statement: $1..$7 for the
     * row, then ST_APPEND's parameters without the resource id, then $25, the version
     * the entries were compiled against, and $26, the row's grants. Under store_lock's lock that
     * test always holds; store_write_at, without the lock, relies on it (PostgreSQL re-checks it on
     * the newest row version once a concurrent writer commits). */
    [ST_WRITE] = {"write", "WITH u AS (UPDATE resources SET version = $2, data = $3::json,"
                           " state = $4, updated_at = now(), deleted_at = CASE WHEN $5::boolean"
                           " THEN coalesce(deleted_at, now()) END,"
                           " undo_top = nullif($6::bigint, 0), redo_top = nullif($7::bigint, 0),"
                           " access = $26::jsonb"
                           " WHERE id = $1 AND version = $25 RETURNING id) " LOG_INSERT
                           " SELECT u.id, $8, $9, $10::jsonb, $11::jsonb, $12, $13, $14, $15::json,"
                           " $16::jsonb, $17::jsonb, $18, nullif($19::bigint, 0),"
                           " nullif($20::bigint, 0), nullif($21::bigint, 0), $22::jsonb,"
                           " nullif($23::bigint, 0), $24::bigint[] FROM u"
                           " RETURNING applied_at"},
    [ST_APPEND] = {"append",
                   LOG_INSERT " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9::json,"
                              " $10::jsonb, $11::jsonb, $12, nullif($13::bigint, 0),"
                              " nullif($14::bigint, 0), nullif($15::bigint, 0), $16::jsonb,"
                              " nullif($17::bigint, 0), $18::bigint[])"},
    /* One statement is one transaction: the resource and its first log entry exist
     * together or not at all, in a single round trip. */
    [ST_CREATE] = {"create", "WITH r AS (INSERT INTO resources (type, version, data, state, owner,"
                             " access) VALUES ($1, 1, $2::json, $3, $4, $14::jsonb) RETURNING *),"
                             " l AS (INSERT INTO action_log (resource_id, version, action, target,"
                             " data, actor, forward, inverse, state, idempotency_key, fingerprint,"
                             " response, touches) SELECT id, 1, $5, $6::jsonb, $7::jsonb, $4,"
                             " $8::jsonb, $9::jsonb, $3, $10, $11, $12::json, $13::jsonb FROM r)"
                             " SELECT " ROW_COLS " FROM r"},
    [ST_ENTRIES] = {"entries", "SELECT version, action, actor, forward, inverse, state,"
                               " coalesce(stack_prev, 0), coalesce(unit_first, version),"
                               " coalesce(reverts, 0), applied_at, touches, data"
                               " FROM action_log"
                               " WHERE resource_id = $1 AND version BETWEEN $2 AND $3"
                               " ORDER BY version"},
    [ST_TOUCHES] = {"touches",
                    "SELECT version, touches FROM action_log"
                    " WHERE resource_id = $1 AND version > $2 ORDER BY version LIMIT $3"},
    /* Walks a stack (a linked list through stack_prev) from its top and returns the first
     * entry not already reverted by an entry named $4 (by actor $3 when it is not NULL).
     * The walk stops at that entry (the recursive term continues only from entries that
     * do not qualify), so a plain undo reads one entry whatever the history's length;
     * sql/010's index answers "was it reverted" without reading the resource's log. The
     * walk is bounded so a corrupt chain cannot loop. */
    [ST_STACK_TOP] = {"stack_top", "WITH RECURSIVE walk(version, stack_prev, found, depth) AS ("
                                   " SELECT s.*, 1 FROM (" STACK_ENTRY "$2) s"
                                   " UNION ALL SELECT s.*, w.depth + 1 FROM walk w"
                                   " CROSS JOIN LATERAL (" STACK_ENTRY "w.stack_prev LIMIT 1) s"
                                   " WHERE NOT w.found AND w.depth < 100000)"
                                   " SELECT version FROM walk WHERE found"},
};

struct store {
    char *conninfo;
    char timeout_text[2][24]; /* statement and lock timeouts in ms, as text */
    const char *timeouts[2];  /* STORE_SESSION_SQL's parameters: timeout_text */
    PGconn *conn;             /* NULL before the first use and after a loss; otherwise prepared */
    int in_txn;  /* store_lock's transaction is open: conn is in pipeline mode, unsynced */
    int checked; /* store_ready found conn alive, and no statement has run since */
    int unread;  /* the last look at the socket left something there unread */
    unsigned long connects; /* connections made so far */
    unsigned long polled;   /* `connects` at the last store_poll_revocations */
};

/* How a pipeline ends. */
enum pipe_end {
    PIPE_SYNC, /* Sync: the server ends the transaction (commits, or rolls back after an error) */
    PIPE_FLUSH /* Flush: the results come back and the transaction stays open */
};

/* One message of a pipeline. */
enum call_kind {
    CALL_EXEC,    /* run prepared statement `st` with `params` */
    CALL_PREPARE, /* prepare statement `st` */
    CALL_SESSION, /* STORE_SESSION_SQL, once per connection */
    CALL_LISTEN   /* LISTEN on STORE_TOKEN_CHANNEL, once per connection */
};

struct stmt_call {
    enum call_kind kind;
    enum stmt st;
    int nparams;
    const char *const *params; /* text values; NULL is SQL NULL */
    ExecStatusType expect;
};

/* Parameter strings built for one request, released together. */
struct params {
    char **own;
    size_t n;
    size_t cap;
};

static void log_store(const char *what, const char *sqlstate, const char *msg);
static void store_notice(void *arg, const char *message);
static void drop_conn(struct store *s);
static int drain(PGconn *c, int reads);
static int conn_alive(struct store *s);
static enum err_code store_connect(struct store *s, struct err *err);
static enum err_code ensure_conn(struct store *s, struct err *err);
static const char *call_name(const struct stmt_call *k);
static int send_call(PGconn *c, const struct stmt_call *k);
static size_t pipeline(struct store *s, const struct stmt_call *calls, size_t n, PGresult **res,
                       enum pipe_end end);
static int end_pipeline(PGconn *c);
static size_t run(struct store *s, const struct stmt_call *calls, size_t n, PGresult **res,
                  int may_retry, enum pipe_end end);
static void clear_results(PGresult **res, size_t n);
static int transient(const char *sqlstate);
static int run_in_txn_or_alone(struct store *s, const struct stmt_call *k, PGresult **res,
                               struct err *err);
static enum err_code fail(struct store *s, const struct stmt_call *k, const PGresult *r,
                          struct err *err);
static int key_taken(const PGresult *r);
static enum err_code not_found(struct err *err, const char *type, int64_t id);
static const char *keep(struct params *p, char *s);
static const char *int_param(struct params *p, int64_t v);
static const char *json_param(struct params *p, json_object *v);
static const char *opt_json_param(struct params *p, json_object *v);
static void params_free(struct params *p);
static int64_t col_i64(const PGresult *r, int row, int col);
static char *col_str(const PGresult *r, int row, int col);
static enum err_code col_json(const PGresult *r, int row, int col, json_object **out,
                              struct err *err);
static void read_row_meta(const PGresult *r, int row, struct store_row *out);
static enum err_code read_row(const PGresult *r, int row, struct store_row *out, struct err *err);

/*
 * One line on stderr: what failed, the SQLSTATE when there is one, and the first line
 * of the message. Parameters and rows are never logged: they hold documents and
 * token digests.
 */
static void
log_store(const char *what, const char *sqlstate, const char *msg)
{
    int n;

    if (msg == NULL)
        msg = "";
    n = (int)strcspn(msg, "\r\n");
    fprintf(stderr, "actiond: store: %s: %s%s%.*s\n", what, sqlstate ? sqlstate : "",
            sqlstate ? " " : "", n, msg);
}

/* libpq prints server notices to stderr as they come; give them our one-line shape. */
static void
store_notice(void *arg, const char *message)
{
    (void)arg;
    log_store("server says", NULL, message);
}

/* Forgets the connection. The server rolls back whatever transaction it had open. */
static void
drop_conn(struct store *s)
{
    PQfinish(s->conn);
    s->conn = NULL;
    s->in_txn = 0;
}

/*
 * Reads what the server has sent on an idle connection, without waiting for more and
 * without a round trip, in at most `reads` reads. libpq keeps what it reads: notices go
 * to store_notice, notifications wait for PQnotifies. Returns 1 when nothing is left
 * waiting on the socket, 0 when something still is, -1 when the connection is gone.
 */
static int
drain(PGconn *c, int reads)
{
    struct pollfd p;
    int i;

    if (PQstatus(c) != CONNECTION_OK)
        return -1;
    p.fd = PQsocket(c);
    p.events = POLLIN;
    for (i = 0; i < reads; i++) {
        p.revents = 0;
        if (poll(&p, 1, 0) <= 0)
            return PQstatus(c) == CONNECTION_OK ? 1 : -1;
        if (!PQconsumeInput(c))
            return -1;
    }
    return PQstatus(c) == CONNECTION_OK ? 0 : -1;
}

/*
 * Whether an idle connection is still there, without a round trip. An idle session
 * receives nothing unless the server speaks on its own, and the case that matters is
 * a terminated backend: its farewell message and end of file are waiting on the
 * socket, and reading them is how libpq learns the connection is gone. The reads are
 * bounded because a live server may also send notices and notifications; s->unread
 * says whether some were left for later.
 */
static int
conn_alive(struct store *s)
{
    int r = drain(s->conn, 4);

    s->unread = r == 0;
    return r >= 0;
}

/*
 * Opens a new connection, sets the session up, LISTENs for token changes and prepares
 * every statement, all in one round trip after the handshake. ERR_UNAVAILABLE when the
 * server cannot be reached; ERR_INTERNAL when it refuses a statement (typically: the
 * schema is missing, run `actionctl migrate`). On failure s->conn stays NULL.
 */
static enum err_code
store_connect(struct store *s, struct err *err)
{
    const char *keys[5], *vals[5];
    struct stmt_call calls[2 + ST_COUNT];
    PGresult *res[2 + ST_COUNT];
    size_t n = 0, bad;
    int k = 0, i;
    enum err_code rc = ERR_OK;

    /* Keywords before "dbname" are defaults the expanded conninfo may override; those
     * after it are forced. An explicit keyword would also override the environment,
     * hence the test. JSON goes over the wire as UTF-8 whatever the conninfo says. */
    if (getenv("PGCONNECT_TIMEOUT") == NULL) {
        keys[k] = "connect_timeout";
        vals[k++] = STORE_CONNECT_TIMEOUT;
    }
    keys[k] = "fallback_application_name";
    vals[k++] = "actiond";
    keys[k] = "dbname";
    vals[k++] = s->conninfo;
    keys[k] = "client_encoding";
    vals[k++] = "UTF8";
    keys[k] = NULL;
    vals[k] = NULL;

    s->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        log_store("connect", NULL, PQerrorMessage(s->conn));
        drop_conn(s);
        return err_fail(err, ERR_UNAVAILABLE, NULL, "database unavailable");
    }
    PQsetNoticeProcessor(s->conn, store_notice, NULL);

    calls[n++] = (struct stmt_call){CALL_SESSION, ST_COUNT, 2, s->timeouts, PGRES_TUPLES_OK};
    calls[n++] = (struct stmt_call){CALL_LISTEN, ST_COUNT, 0, NULL, PGRES_COMMAND_OK};
    for (i = 0; i < ST_COUNT; i++)
        calls[n++] = (struct stmt_call){CALL_PREPARE, (enum stmt)i, 0, NULL, PGRES_COMMAND_OK};
    bad = pipeline(s, calls, n, res, PIPE_SYNC);
    if (bad < n)
        rc = fail(s, &calls[bad], res[bad], err);
    clear_results(res, n);
    if (rc != ERR_OK && s->conn != NULL)
        drop_conn(s);
    if (rc == ERR_OK) {
        s->connects++;
        s->unread = 0;
    }
    return rc;
}

/*
 * Readies the connection for a statement outside a caller's transaction: drops a dead
 * one, connects when there is none, and rolls back a transaction some earlier request
 * left open, so its row locks cannot outlive it.
 */
static enum err_code
ensure_conn(struct store *s, struct err *err)
{
    /* a request's first statement comes microseconds after store_ready's check: a
     * second one would be one more system call per request for the same answer */
    int checked = s->checked;

    s->checked = 0;
    if (s->conn != NULL && !checked && !conn_alive(s)) {
        log_store("connection lost", NULL, PQerrorMessage(s->conn));
        drop_conn(s);
    }
    if (s->conn != NULL && s->in_txn) {
        log_store("connection", NULL, "a transaction was left open; rolling it back");
        store_rollback(s);
    }
    if (s->conn == NULL)
        return store_connect(s, err);
    return ERR_OK;
}

static const char *
call_name(const struct stmt_call *k)
{
    if (k->kind == CALL_SESSION)
        return "session";
    if (k->kind == CALL_LISTEN)
        return "listen";
    return stmts[k->st].name;
}

/* Queues one call on a connection in pipeline mode; 0 when libpq refuses. */
static int
send_call(PGconn *c, const struct stmt_call *k)
{
    if (k->kind == CALL_PREPARE)
        return PQsendPrepare(c, stmts[k->st].name, stmts[k->st].sql, 0, NULL);
    if (k->kind == CALL_SESSION)
        return PQsendQueryParams(c, STORE_SESSION_SQL, k->nparams, NULL, k->params, NULL, NULL, 0);
    if (k->kind == CALL_LISTEN)
        return PQsendQueryParams(c, "LISTEN " STORE_TOKEN_CHANNEL, 0, NULL, NULL, NULL, NULL, 0);
    return PQsendQueryPrepared(c, stmts[k->st].name, k->nparams, k->params, NULL, NULL, 0);
}

/*
 * Sends calls[0..n) as one pipeline closed by a single Sync or Flush (`end`) and
 * collects one result per call into res[] (NULL where none arrived; the caller clears
 * them all). Returns the index of the first call whose result has another status than
 * expected (later calls of the pipeline then report PGRES_PIPELINE_ABORTED), or n when
 * all succeeded. After a Flush the connection stays in pipeline mode with the
 * transaction open (s->in_txn), even when a call failed: only a Sync ends it.
 *
 * When the exchange itself breaks (the connection is lost, the server ends the
 * session, libpq refuses a message) the result stream can no longer be trusted: the
 * failure is logged once, the connection is dropped, and the caller's failure reads
 * as ERR_UNAVAILABLE through fail(). Without a connection nothing is sent and 0 is
 * returned.
 */
static size_t
pipeline(struct store *s, const struct stmt_call *calls, size_t n, PGresult **res,
         enum pipe_end end)
{
    PGconn *c = s->conn;
    PGresult *r;
    size_t i, at = 0, bad = n;

    for (i = 0; i < n; i++)
        res[i] = NULL;
    if (c == NULL)
        return 0;
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c))
        goto lost;
    for (at = 0; at < n; at++)
        if (!send_call(c, &calls[at]))
            goto lost;
    at = 0;
    if (end == PIPE_SYNC ? !PQpipelineSync(c) : !PQsendFlushRequest(c) || PQflush(c) != 0)
        goto lost;
    for (at = 0; at < n; at++) {
        res[at] = PQgetResult(c);
        if (res[at] == NULL)
            goto lost;
        if (bad == n && PQresultStatus(res[at]) != calls[at].expect)
            bad = at;
        /* Each call's results end with a NULL; none of ours returns several. */
        r = PQgetResult(c);
        if (r != NULL) {
            PQclear(r);
            goto lost;
        }
    }
    at = bad < n ? bad : 0;
    s->in_txn = end == PIPE_FLUSH;
    if ((end == PIPE_SYNC && !end_pipeline(c)) || PQstatus(c) != CONNECTION_OK)
        goto lost;
    return bad;

lost:
    if (at >= n)
        at = n - 1;
    log_store(call_name(&calls[at]), NULL, PQerrorMessage(c));
    drop_conn(s);
    return bad < n ? bad : at;
}

/* After a Sync: reads its result and leaves pipeline mode. 0 when that fails. */
static int
end_pipeline(PGconn *c)
{
    PGresult *r = PQgetResult(c);
    int synced = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;

    PQclear(r);
    return synced && PQexitPipelineMode(c);
}

/*
 * pipeline(), repeated once on a new connection when the old one turns out to be gone
 * (a restarted server, a terminated backend): only for `may_retry` calls, those whose
 * effect dies with the session that ran them (reads; the row lock), and only outside
 * a transaction, which ensure_conn() guarantees for every caller that sets it.
 */
static size_t
run(struct store *s, const struct stmt_call *calls, size_t n, PGresult **res, int may_retry,
    enum pipe_end end)
{
    size_t bad = pipeline(s, calls, n, res, end);

    if (bad == n || s->conn != NULL || !may_retry)
        return bad;
    clear_results(res, n);
    if (store_connect(s, NULL) != ERR_OK)
        return 0;
    return pipeline(s, calls, n, res, end);
}

/*
 * One call inside the transaction store_lock opened, which stays open (a Flush; a lost
 * connection took the transaction with it, so nothing is retried), or, with none open,
 * as a transaction of its own (a Sync; retried once on a new connection). Returns 1
 * when the call succeeded, else 0 with `err` filled (and any transaction rolled back).
 */
static int
run_in_txn_or_alone(struct store *s, const struct stmt_call *k, PGresult **res, struct err *err)
{
    int in_txn = s->in_txn;

    if (!in_txn && ensure_conn(s, err) != ERR_OK)
        return 0;
    if (run(s, k, 1, res, !in_txn, in_txn ? PIPE_FLUSH : PIPE_SYNC) == 1)
        return 1;
    fail(s, k, *res, err);
    store_rollback(s);
    return 0;
}

static void
clear_results(PGresult **res, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
}

/*
 * SQLSTATEs after which the same request can succeed later: connection exceptions,
 * transaction rollbacks (serialization failure, deadlock), insufficient resources,
 * operator intervention (shutdown, statement timeout) and lock_not_available.
 */
static int
transient(const char *sqlstate)
{
    static const char *const classes[] = {"08", "40", "53", "57"};
    size_t i;

    if (strcmp(sqlstate, "55P03") == 0)
        return 1;
    for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strncmp(sqlstate, classes[i], 2) == 0)
            return 1;
    return 0;
}

/*
 * The error for call `k` that did not succeed with result `r`: ERR_UNAVAILABLE when the
 * connection is gone (already logged by pipeline()) or the failure is transient,
 * ERR_INTERNAL otherwise; both logged as one line with the SQLSTATE.
 */
static enum err_code
fail(struct store *s, const struct stmt_call *k, const PGresult *r, struct err *err)
{
    const char *state = NULL, *msg;

    if (s->conn == NULL)
        return err_fail(err, ERR_UNAVAILABLE, NULL, "database unavailable");
    if (r != NULL && PQresultStatus(r) == PGRES_FATAL_ERROR) {
        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    } else {
        msg = r != NULL ? PQresStatus(PQresultStatus(r)) : "no result";
    }
    log_store(call_name(k), state, msg);
    if (state != NULL && transient(state))
        return err_fail(err, ERR_UNAVAILABLE, NULL, "database unavailable (SQLSTATE %s)", state);
    return err_fail(err, ERR_INTERNAL, NULL, "database error (SQLSTATE %s) in %s",
                    state ? state : "none", call_name(k));
}

/* Whether `r` is a unique violation of the idempotency key index. */
static int
key_taken(const PGresult *r)
{
    const char *state, *constraint;

    if (r == NULL || PQresultStatus(r) != PGRES_FATAL_ERROR)
        return 0;
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    return state != NULL && strcmp(state, "23505") == 0 && constraint != NULL &&
           strcmp(constraint, STORE_IDEM_INDEX) == 0;
}

static enum err_code
not_found(struct err *err, const char *type, int64_t id)
{
    return err_fail(err, ERR_NOT_FOUND, NULL, "%s %" PRId64 " does not exist", type, id);
}

static const char *
keep(struct params *p, char *s)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->own = xrealloc(p->own, p->cap * sizeof(*p->own));
    }
    p->own[p->n++] = s;
    return s;
}

static const char *
int_param(struct params *p, int64_t v)
{
    struct sbuf b;

    sbuf_init(&b);
    sbuf_add_int64(&b, v);
    return keep(p, b.data);
}

/* The JSON text of `v` ("null" for NULL), owned by `p`. */
static const char *
json_param(struct params *p, json_object *v)
{
    struct sbuf b;

    sbuf_init(&b);
    jsonp_write(&b, v);
    return keep(p, b.data);
}

/* Like json_param, but SQL NULL for NULL (an absent target or data). */
static const char *
opt_json_param(struct params *p, json_object *v)
{
    return v == NULL ? NULL : json_param(p, v);
}

/* A bigint[] literal "{1,2,3}" for `n` values. */
static const char *
array_param(struct params *p, const int64_t *v, size_t n)
{
    struct sbuf b;
    size_t i;

    sbuf_init(&b);
    sbuf_adds(&b, "{");
    for (i = 0; i < n; i++) {
        if (i > 0)
            sbuf_add(&b, ",", 1);
        sbuf_add_int64(&b, v[i]);
    }
    sbuf_adds(&b, "}");
    return keep(p, b.data);
}

static void
params_free(struct params *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->own[i]);
    free(p->own);
    p->own = NULL;
    p->n = p->cap = 0;
}

/* Reads an integer column; the server's bigint text always parses. */
static int64_t
col_i64(const PGresult *r, int row, int col)
{
    return (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A malloc'd copy of a text column, or NULL for SQL NULL. */
static char *
col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

/*
 * Writes a timestamptz column's text, PostgreSQL's ISO style in UTC, into buf as RFC
 * 3339 ("2026-11-23T13:25:17.123456+00:00", as to_json() writes it) and returns its
 * length. Text of another shape, which a session in UTC and ISO style does not
 * produce, gets at most those two changes and is cut to fit.
 */
static size_t
time_text(const char *pg, char buf[STORE_TIME_MAX])
{
    size_t len = strlen(pg);
    char *space;

    if (len > STORE_TIME_MAX - 4)
        len = STORE_TIME_MAX - 4;
    memcpy(buf, pg, len);
    buf[len] = '\0';
    space = strchr(buf, ' ');
    if (space == NULL)
        return len;
    *space = 'T';
    /* a whole-hour offset ("+00") gains its minutes */
    if (len >= 3 && (buf[len - 3] == '+' || buf[len - 3] == '-') &&
        isdigit((unsigned char)buf[len - 2]) && isdigit((unsigned char)buf[len - 1])) {
        memcpy(buf + len, ":00", 4);
        len += 3;
    }
    return len;
}

/* A malloc'd RFC 3339 copy of a timestamptz column (time_text), or NULL for SQL NULL. */
static char *
col_time(const PGresult *r, int row, int col)
{
    char buf[STORE_TIME_MAX];

    if (PQgetisnull(r, row, col))
        return NULL;
    time_text(PQgetvalue(r, row, col), buf);
    return xstrdup(buf);
}

/*
 * Parses a json or jsonb column into a new reference (NULL for SQL NULL and for JSON null).
 * A stored value the reader rejects is a server-side fault: ERR_INTERNAL, logged
 * without the reader's detail, which may quote the document.
 */
static enum err_code
col_json(const PGresult *r, int row, int col, json_object **out, struct err *err)
{
    struct err perr = {0};
    enum err_code rc;

    *out = NULL;
    if (PQgetisnull(r, row, col))
        return ERR_OK;
    rc = jsonp_parse(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col),
                     &jsonp_stored_limits, out, &perr);
    err_clear(&perr);
    if (rc == ERR_OK)
        return ERR_OK;
    log_store(PQfname(r, col), NULL, "stored JSON value cannot be read back");
    return err_fail(err, ERR_INTERNAL, NULL, "a stored JSON value cannot be read back");
}

/* Fills *out from the ROW_COLS columns of row `row`, all but the document. */
static void
read_row_meta(const PGresult *r, int row, struct store_row *out)
{
    out->id = col_i64(r, row, 0);
    out->type = col_str(r, row, 1);
    out->version = col_i64(r, row, 2);
    out->state = col_str(r, row, 4);
    out->owner = col_str(r, row, 5);
    out->created_at = col_time(r, row, 6);
    out->updated_at = col_time(r, row, 7);
    out->deleted = PQgetvalue(r, row, 8)[0] == 't';
    out->undo_top = col_i64(r, row, 9);
    out->redo_top = col_i64(r, row, 10);
}

/* Fills *out from the ROW_COLS columns of row `row`; on failure *out is left to clear. */
static enum err_code
read_row(const PGresult *r, int row, struct store_row *out, struct err *err)
{
    enum err_code rc;

    read_row_meta(r, row, out);
    rc = col_json(r, row, ROW_ACCESS_COL, &out->access, err);
    if (rc == ERR_OK)
        rc = col_json(r, row, ROW_DATA_COL, &out->data, err);
    return rc;
}

void
store_row_clear(struct store_row *r)
{
    if (r == NULL)
        return;
    free(r->type);
    json_object_put(r->data);
    free(r->data_text);
    free(r->state);
    free(r->owner);
    free(r->created_at);
    free(r->updated_at);
    json_object_put(r->access);
    memset(r, 0, sizeof(*r));
}

void
store_replay_clear(struct store_replay *r)
{
    if (r == NULL)
        return;
    free(r->fingerprint);
    json_object_put(r->response);
    memset(r, 0, sizeof(*r));
}

struct store *
store_open(const char *conninfo, int statement_timeout_ms, int lock_timeout_ms)
{
    struct store *s = xcalloc(1, sizeof(*s));

    s->conninfo = xstrdup(conninfo != NULL ? conninfo : "");
    snprintf(s->timeout_text[0], sizeof(s->timeout_text[0]), "%d", statement_timeout_ms);
    snprintf(s->timeout_text[1], sizeof(s->timeout_text[1]), "%d", lock_timeout_ms);
    s->timeouts[0] = s->timeout_text[0];
    s->timeouts[1] = s->timeout_text[1];
    return s;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    drop_conn(s);
    free(s->conninfo);
    free(s);
}

enum err_code
store_ready(struct store *s, struct err *err)
{
    enum err_code rc;

    s->checked = 0; /* left set by a request that ran no statement */
    rc = ensure_conn(s, err);
    s->checked = rc == ERR_OK;
    return rc;
}

enum err_code
store_ping(struct store *s, struct err *err)
{
    struct stmt_call k = {CALL_EXEC, ST_PING, 0, NULL, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc;

    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1)
        rc = fail(s, &k, res, err);
    PQclear(res);
    return rc;
}

void
store_token_clear(struct store_token *t)
{
    if (t == NULL)
        return;
    free(t->actor);
    memset(t, 0, sizeof(*t));
}

enum err_code
store_token_lookup(struct store *s, const char *hash_hex, struct store_token *out, struct err *err)
{
    const char *vals[1] = {hash_hex};
    struct stmt_call k = {CALL_EXEC, ST_TOKEN, 1, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1) {
        rc = fail(s, &k, res, err);
    } else if (PQntuples(res) == 0) {
        rc = err_fail(err, ERR_NOT_FOUND, NULL, "no token has this digest");
    } else {
        out->id = col_i64(res, 0, 0);
        out->actor = col_str(res, 0, 1);
        /* numeric text such as "1733620000.123456"; always parses */
        out->expires_at = PQgetisnull(res, 0, 2) ? 0 : strtod(PQgetvalue(res, 0, 2), NULL);
        out->revoked = PQgetvalue(res, 0, 3)[0] == 't';
        out->expired = PQgetvalue(res, 0, 4)[0] == 't';
    }
    PQclear(res);
    return rc;
}

int
store_poll_revocations(struct store *s, struct store_revoked *out)
{
    PGnotify *note;
    char *end;
    long long id;
    int r;

    out->all = 0;
    out->n = 0;
    /* a new connection: what was announced while there was none is lost */
    if (s->conn == NULL || s->connects != s->polled) {
        out->all = 1;
        s->polled = s->connects;
    }
    if (s->conn == NULL)
        return 1;
    /* store_ready has just read the socket, unless it left something there */
    if (!s->checked || s->unread) {
        r = drain(s->conn, STORE_POLL_READS);
        s->unread = r == 0;
        /* more waiting than was read (any token may be named there), or a connection
         * going away: the next statement finds it gone (checked no more) and reconnects */
        if (r <= 0)
            out->all = 1;
        if (r < 0)
            s->checked = 0;
    }
    while ((note = PQnotifies(s->conn)) != NULL) {
        if (strcmp(note->relname, STORE_TOKEN_CHANNEL) == 0) {
            id = strtoll(note->extra, &end, 10);
            if (note->extra[0] == '\0' || *end != '\0' || id <= 0 || out->n == STORE_REVOKED_MAX)
                out->all = 1;
            else
                out->ids[out->n++] = (int64_t)id;
        }
        PQfreemem(note);
    }
    return out->all || out->n > 0;
}

enum err_code
store_token_used(struct store *s, const int64_t *ids, size_t n, int interval_seconds,
                 struct err *err)
{
    struct params own = {0};
    const char *vals[2];
    struct stmt_call k = {CALL_EXEC, ST_TOKEN_USED, 2, vals, PGRES_COMMAND_OK};
    PGresult *res = NULL;
    enum err_code rc = ERR_OK;

    if (n == 0)
        return ERR_OK;
    /* never a new connection (or a wait for one) between requests: the next request
     * connects, and records its token's use after its own answer */
    if (s->conn == NULL || s->in_txn)
        return err_fail(err, ERR_UNAVAILABLE, NULL, "database unavailable");
    s->checked = 0;
    vals[0] = array_param(&own, ids, n);
    vals[1] = int_param(&own, interval_seconds);
    if (pipeline(s, &k, 1, &res, PIPE_SYNC) != 1)
        rc = fail(s, &k, res, err);
    PQclear(res);
    params_free(&own);
    return rc;
}

enum err_code
store_create(struct store *s, const char *type, json_object *data, const char *state,
             json_object *access, const char *actor, const struct store_entry *entry,
             const struct store_idem *idem, struct store_row *out, struct err *err)
{
    struct params own = {0};
    const char *vals[14];
    struct stmt_call k = {CALL_EXEC, ST_CREATE, 14, vals, PGRES_TUPLES_OK};
    int keyed = idem != NULL && idem->key != NULL;
    PGresult *res = NULL;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = type;
    vals[1] = json_param(&own, data);
    vals[2] = state;
    vals[3] = actor;
    vals[4] = entry->action;
    vals[5] = opt_json_param(&own, entry->target);
    vals[6] = opt_json_param(&own, entry->data);
    vals[7] = json_param(&own, entry->forward);
    vals[8] = json_param(&own, entry->inverse);
    vals[9] = keyed ? idem->key : NULL;
    vals[10] = keyed ? idem->fingerprint : NULL;
    vals[11] = keyed ? idem->response : NULL;
    vals[12] = opt_json_param(&own, entry->touches);
    vals[13] = opt_json_param(&own, access);

    /* Never retried: when the connection drops after the server received the insert,
     * whether it committed is unknown, and a second insert would be a second resource. */
    if (run(s, &k, 1, &res, 0, PIPE_SYNC) != 1) {
        if (key_taken(res)) {
            rc = err_fail(err, ERR_CONFLICT, NULL,
                          "a request with this idempotency key is being applied; retry later");
        } else {
            rc = fail(s, &k, res, err);
        }
        goto cleanup;
    }
    rc = read_row(res, 0, out, err);
    if (rc != ERR_OK)
        store_row_clear(out);

cleanup:
    PQclear(res);
    params_free(&own);
    return rc;
}

/*
 * One resource by id and type (ST_READ), without the document at `unless_version`
 * (0: always with it). With `parse` the document is parsed into out->data, else kept
 * as the text PostgreSQL renders in out->data_text.
 */
static enum err_code
read_one(struct store *s, const char *type, int64_t id, int64_t unless_version, int parse,
         struct store_row *out, struct err *err)
{
    struct params own = {0};
    const char *vals[3];
    struct stmt_call k = {CALL_EXEC, ST_READ, 3, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = int_param(&own, id);
    vals[1] = type;
    vals[2] = unless_version > 0 ? int_param(&own, unless_version) : NULL;
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1) {
        rc = fail(s, &k, res, err);
    } else if (PQntuples(res) == 0) {
        rc = not_found(err, type, id);
    } else if (parse) {
        if ((rc = read_row(res, 0, out, err)) != ERR_OK)
            store_row_clear(out);
    } else {
        read_row_meta(res, 0, out);
        out->data_text = col_str(res, 0, ROW_DATA_COL);
        if ((rc = col_json(res, 0, ROW_ACCESS_COL, &out->access, err)) != ERR_OK)
            store_row_clear(out);
    }
    PQclear(res);
    params_free(&own);
    return rc;
}

enum err_code
store_get(struct store *s, const char *type, int64_t id, struct store_row *out, struct err *err)
{
    return read_one(s, type, id, 0, 1, out, err);
}

enum err_code
store_read(struct store *s, const char *type, int64_t id, int64_t unless_version,
           struct store_row *out, struct err *err)
{
    return read_one(s, type, id, unless_version, 0, out, err);
}

enum err_code
store_meta(struct store *s, const char *type, int64_t id, struct store_row *out, struct err *err)
{
    struct params own = {0};
    const char *vals[2];
    struct stmt_call k = {CALL_EXEC, ST_META, 2, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = int_param(&own, id);
    vals[1] = type;
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1) {
        rc = fail(s, &k, res, err);
    } else if (PQntuples(res) == 0) {
        rc = not_found(err, type, id);
    } else {
        out->id = col_i64(res, 0, 0);
        out->version = col_i64(res, 0, 1);
        out->deleted = PQgetvalue(res, 0, 2)[0] == 't';
        out->owner = col_str(res, 0, 3);
        if ((rc = col_json(res, 0, 4, &out->access, err)) != ERR_OK)
            store_row_clear(out);
    }
    PQclear(res);
    params_free(&own);
    return rc;
}

enum err_code
store_list(struct store *s, const char *type, const char *actor, int64_t after, int limit,
           struct store_row **rows, size_t *n, struct err *err)
{
    struct params own = {0};
    const char *vals[4];
    struct stmt_call k = {CALL_EXEC, ST_LIST, 4, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    struct store_row *out = NULL;
    size_t i, count = 0;
    enum err_code rc;

    *rows = NULL;
    *n = 0;
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = type;
    vals[1] = int_param(&own, after);
    vals[2] = int_param(&own, limit);
    vals[3] = actor;
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1) {
        rc = fail(s, &k, res, err);
        goto cleanup;
    }
    count = (size_t)PQntuples(res);
    out = xcalloc(count, sizeof(*out));
    for (i = 0; i < count; i++) {
        rc = read_row(res, (int)i, &out[i], err);
        if (rc != ERR_OK)
            goto cleanup;
    }
    *rows = out;
    *n = count;
    out = NULL;

cleanup:
    if (out != NULL) {
        for (i = 0; i < count; i++)
            store_row_clear(&out[i]);
        free(out);
    }
    PQclear(res);
    params_free(&own);
    return rc;
}

/* A column written into a JSON text: `kind` says how; SQL NULL is null. */
enum log_col {
    LOG_NUMBER, /* a bigint, whose text is a JSON number */
    LOG_STRING, /* text, as a JSON string */
    LOG_TIME,   /* timestamptz, as a JSON string in RFC 3339 (time_text) */
    LOG_JSON,   /* json or jsonb, whose text is JSON */
};

static void
write_col(struct sbuf *b, const PGresult *r, int row, int col, enum log_col kind)
{
    const char *v = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);

    char t[STORE_TIME_MAX];

    if (PQgetisnull(r, row, col))
        sbuf_add(b, "null", 4);
    else if (kind == LOG_TIME)
        jsonp_write_string(b, t, time_text(v, t));
    else if (kind == LOG_STRING)
        jsonp_write_string(b, v, len);
    else
        sbuf_add(b, v, len);
}

enum err_code
store_log(struct store *s, int64_t id, int64_t since, int limit, struct sbuf *out, size_t *n,
          int64_t *last, struct err *err)
{
    /* Member order is the documented one (docs/api.md), one per ST_LOG column. */
    static const struct {
        const char *name;
        enum log_col kind;
    } members[] = {
        {"version", LOG_NUMBER},
        {"action", LOG_STRING},
        {"target", LOG_JSON},
        {"data", LOG_JSON},
        {"actor", LOG_STRING},
        {"applied_at", LOG_TIME},
        {"idempotency_key", LOG_STRING},
        {"forward", LOG_JSON},
        {"inverse", LOG_JSON},
        {"state", LOG_STRING},
        {"reverts", LOG_NUMBER},
        {"touches", LOG_JSON},
        {"based_on", LOG_NUMBER},
        {"merged_over", LOG_JSON},
    };
    struct params own = {0};
    const char *vals[3];
    struct stmt_call k = {CALL_EXEC, ST_LOG, 3, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    int i, ntuples;
    size_t m;
    enum err_code rc;

    *n = 0;
    *last = since;
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = int_param(&own, id);
    vals[1] = int_param(&own, since);
    vals[2] = int_param(&own, limit);
    if (run(s, &k, 1, &res, 1, PIPE_SYNC) != 1) {
        rc = fail(s, &k, res, err);
        goto cleanup;
    }
    ntuples = PQntuples(res);
    sbuf_add(out, "[", 1);
    for (i = 0; i < ntuples; i++) {
        sbuf_adds(out, i ? ",{" : "{");
        for (m = 0; m < sizeof(members) / sizeof(members[0]); m++) {
            sbuf_addf(out, "%s\"%s\":", m ? "," : "", members[m].name);
            write_col(out, res, i, (int)m, members[m].kind);
        }
        sbuf_add(out, "}", 1);
    }
    sbuf_add(out, "]", 1);
    *n = (size_t)ntuples;
    if (ntuples > 0)
        *last = col_i64(res, ntuples - 1, 0);

cleanup:
    PQclear(res);
    params_free(&own);
    return rc;
}

void
store_touches_clear(struct store_touches *t)
{
    if (t == NULL)
        return;
    store_logent_free(t->ents, t->n);
    t->ents = NULL;
    t->n = 0;
}

/* Fills t->ents from a result of ST_TOUCHES. */
static enum err_code
read_touches(const PGresult *r, struct store_touches *t, struct err *err)
{
    int i, ntuples = PQntuples(r);
    enum err_code rc = ERR_OK;

    store_touches_clear(t);
    t->ents = xcalloc((size_t)ntuples + 1, sizeof(*t->ents));
    t->n = (size_t)ntuples;
    for (i = 0; i < ntuples && rc == ERR_OK; i++) {
        struct store_logent *e = &t->ents[i];
        e->version = col_i64(r, i, 0);
        e->has_touches = !PQgetisnull(r, i, 1);
        if (e->has_touches)
            rc = col_json(r, i, 1, &e->touches, err);
    }
    if (rc != ERR_OK)
        store_touches_clear(t);
    return rc;
}

enum err_code
store_lock(struct store *s, const char *type, int64_t id, int64_t only_version,
           struct store_touches *touches, struct store_row *out, char **txn_time, struct err *err)
{
    struct params own = {0};
    const char *vals[3], *tvals[3];
    struct stmt_call calls[2] = {
        {CALL_EXEC, ST_LOCK, 3, vals, PGRES_TUPLES_OK},
        {CALL_EXEC, ST_TOUCHES, 3, tvals, PGRES_TUPLES_OK},
    };
    PGresult *res[2] = {NULL, NULL};
    size_t ncalls = touches != NULL ? 2 : 1, bad;
    int stale = 0;
    enum err_code rc;

    memset(out, 0, sizeof(*out));
    *txn_time = NULL;
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    vals[0] = int_param(&own, id);
    vals[1] = type;
    vals[2] = only_version > 0 ? int_param(&own, only_version) : NULL;
    if (touches != NULL) {
        tvals[0] = vals[0];
        tvals[1] = int_param(&own, touches->after);
        tvals[2] = int_param(&own, touches->limit);
    }

    /* The locking read opens the transaction, which stays open after the Flush. The
     * touches come after it, so their snapshot sees every entry committed before the
     * lock was granted, and nobody can add one while it is held. */
    bad = run(s, calls, ncalls, res, 1, PIPE_FLUSH);
    if (bad < ncalls) {
        rc = fail(s, &calls[bad], res[bad], err);
        goto cleanup;
    }
    if (PQntuples(res[0]) == 0) {
        store_rollback(s);
        if (only_version == 0) {
            rc = not_found(err, type, id);
            goto cleanup;
        }
        /* absent, or at another version: an unlocked read tells which, and the caller
         * gets that row with the conflict */
        rc = store_get(s, type, id, out, err);
        if (rc == ERR_OK) {
            rc = err_fail(err, ERR_CONFLICT, NULL, "%s %lld is not at version %lld", type,
                          (long long)id, (long long)only_version);
            stale = 1;
        }
        goto cleanup;
    }
    rc = read_row(res[0], 0, out, err);
    if (rc == ERR_OK)
        *txn_time = col_time(res[0], 0, ROW_NCOLS);
    if (rc == ERR_OK && touches != NULL)
        rc = read_touches(res[1], touches, err);

cleanup:
    if (rc != ERR_OK && !stale) {
        store_rollback(s);
        store_row_clear(out);
        free(*txn_time);
        *txn_time = NULL;
    }
    clear_results(res, 2);
    params_free(&own);
    return rc;
}

enum err_code
store_find_key(struct store *s, const char *actor, const char *key, int *found,
               struct store_replay *out, struct err *err)
{
    const char *vals[2] = {actor, key};
    struct stmt_call k = {CALL_EXEC, ST_FIND_KEY, 2, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc = ERR_OK;

    *found = 0;
    memset(out, 0, sizeof(*out));
    if (!run_in_txn_or_alone(s, &k, &res, err)) {
        rc = err->code;
        goto cleanup;
    }
    if (PQntuples(res) == 0)
        goto cleanup;
    out->resource_id = col_i64(res, 0, 0);
    out->version = col_i64(res, 0, 1);
    out->fingerprint = col_str(res, 0, 2);
    rc = col_json(res, 0, 3, &out->response, err);
    if (rc == ERR_OK)
        *found = 1;

cleanup:
    if (rc != ERR_OK) {
        store_replay_clear(out);
        store_rollback(s);
    }
    PQclear(res);
    return rc;
}

enum err_code
store_entries(struct store *s, int64_t id, int64_t from, int64_t to, struct store_logent **out,
              size_t *n, struct err *err)
{
    struct params own = {0};
    const char *vals[3];
    struct stmt_call k = {CALL_EXEC, ST_ENTRIES, 3, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    struct store_logent *list = NULL;
    int i, ntuples = 0;
    enum err_code rc = ERR_OK;

    *out = NULL;
    *n = 0;
    vals[0] = int_param(&own, id);
    vals[1] = int_param(&own, from);
    vals[2] = int_param(&own, to);
    if (!run_in_txn_or_alone(s, &k, &res, err)) {
        rc = err->code;
        goto cleanup;
    }
    ntuples = PQntuples(res);
    list = xcalloc((size_t)ntuples + 1, sizeof(*list));
    for (i = 0; i < ntuples; i++) {
        struct store_logent *e = &list[i];
        e->version = col_i64(res, i, 0);
        e->action = col_str(res, i, 1);
        e->actor = col_str(res, i, 2);
        e->state = col_str(res, i, 5);
        e->stack_prev = col_i64(res, i, 6);
        e->unit_first = col_i64(res, i, 7);
        e->reverts = col_i64(res, i, 8);
        e->applied_at = col_time(res, i, 9);
        e->has_touches = !PQgetisnull(res, i, 10);
        if ((rc = col_json(res, i, 3, &e->forward, err)) != ERR_OK ||
            (rc = col_json(res, i, 4, &e->inverse, err)) != ERR_OK ||
            (e->has_touches && (rc = col_json(res, i, 10, &e->touches, err)) != ERR_OK) ||
            (rc = col_json(res, i, 11, &e->data, err)) != ERR_OK)
            goto cleanup;
    }
    *out = list;
    *n = (size_t)ntuples;
    list = NULL;

cleanup:
    if (list != NULL) {
        store_logent_free(list, (size_t)ntuples);
        store_rollback(s);
    } else if (rc != ERR_OK) {
        store_rollback(s);
    }
    PQclear(res);
    params_free(&own);
    return rc;
}

void
store_logent_free(struct store_logent *list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++) {
        free(list[i].action);
        free(list[i].actor);
        free(list[i].state);
        free(list[i].applied_at);
        json_object_put(list[i].data);
        json_object_put(list[i].touches);
        json_object_put(list[i].forward);
        json_object_put(list[i].inverse);
    }
    free(list);
}

enum err_code
store_stack_top(struct store *s, int64_t id, int64_t top, const char *actor,
                const char *reverted_by, int64_t *version, struct err *err)
{
    struct params own = {0};
    const char *vals[4];
    struct stmt_call k = {CALL_EXEC, ST_STACK_TOP, 4, vals, PGRES_TUPLES_OK};
    PGresult *res = NULL;
    enum err_code rc = ERR_OK;

    *version = 0;
    if (top == 0)
        return ERR_OK;
    vals[0] = int_param(&own, id);
    vals[1] = int_param(&own, top);
    vals[2] = actor;
    vals[3] = reverted_by;
    if (run(s, &k, 1, &res, 0, PIPE_FLUSH) != 1) {
        rc = fail(s, &k, res, err);
        store_rollback(s);
    } else if (PQntuples(res) == 1) {
        *version = col_i64(res, 0, 0);
    }
    PQclear(res);
    params_free(&own);
    return rc;
}

/* The 17 values of ST_APPEND after the resource id (ST_WRITE's $8..$24), into v. */
static void
entry_params(struct params *own, const char **v, const struct store_entry *e, int64_t version,
             const char *actor, const struct store_idem *idem)
{
    int keyed = idem != NULL && idem->key != NULL;

    v[0] = int_param(own, version);
    v[1] = e->action;
    v[2] = opt_json_param(own, e->target);
    v[3] = opt_json_param(own, e->data);
    v[4] = actor;
    v[5] = keyed ? idem->key : NULL;
    v[6] = keyed ? idem->fingerprint : NULL;
    v[7] = keyed ? idem->response : NULL;
    v[8] = json_param(own, e->forward);
    v[9] = json_param(own, e->inverse);
    v[10] = e->state;
    v[11] = int_param(own, e->stack_prev);
    v[12] = int_param(own, e->unit_first);
    v[13] = int_param(own, e->reverts);
    v[14] = opt_json_param(own, e->touches);
    v[15] = int_param(own, e->based_on);
    v[16] = e->merged_over ? array_param(own, e->merged_over, e->n_merged_over) : NULL;
}

/*
 * The row's new state and `n` entries in one round trip, whose Sync commits: inside
 * store_lock's transaction, or as a transaction of its own. *written is 0 when the row
 * was not at version row->version - n (nothing was written); *applied_at, when not
 * NULL, gets the entries' time (malloc'd).
 */
static enum err_code
write_row(struct store *s, const struct store_row *row, const char *data_text,
          const struct store_entry *entries, size_t n, const char *actor,
          const struct store_idem *idem, int *written, char **applied_at, struct err *err)
{
    enum { ROW_PARAMS = 7, ENTRY_PARAMS = 17, WRITE_PARAMS = ROW_PARAMS + ENTRY_PARAMS + 2 };
    struct params own = {0};
    const char **vals = NULL, **v;
    struct stmt_call *calls = NULL;
    PGresult **res = NULL;
    size_t i, bad;
    int64_t first = row->version - (int64_t)n + 1;
    const char *id;
    enum err_code rc = ERR_OK;

    *written = 0;
    vals = xcalloc(WRITE_PARAMS + (1 + ENTRY_PARAMS) * (n - 1), sizeof(*vals));
    calls = xcalloc(n, sizeof(*calls));
    res = xcalloc(n, sizeof(*res));

    id = int_param(&own, row->id);
    vals[0] = id;
    vals[1] = int_param(&own, row->version);
    vals[2] = data_text;
    vals[3] = row->state;
    vals[4] = row->deleted ? "t" : "f";
    vals[5] = int_param(&own, row->undo_top);
    vals[6] = int_param(&own, row->redo_top);
    entry_params(&own, vals + ROW_PARAMS, &entries[0], first, actor, idem);
    vals[WRITE_PARAMS - 2] = int_param(&own, first - 1);
    vals[WRITE_PARAMS - 1] = opt_json_param(&own, row->access);
    calls[0] = (struct stmt_call){CALL_EXEC, ST_WRITE, WRITE_PARAMS, vals, PGRES_TUPLES_OK};
    for (i = 1; i < n; i++) {
        v = vals + WRITE_PARAMS + (1 + ENTRY_PARAMS) * (i - 1);
        v[0] = id;
        entry_params(&own, v + 1, &entries[i], first + (int64_t)i, actor, NULL);
        calls[i] = (struct stmt_call){CALL_EXEC, ST_APPEND, 1 + ENTRY_PARAMS, v, PGRES_COMMAND_OK};
    }

    /* Never retried: if the connection drops once it is sent, the outcome is unknown
     * (the client finds out by retrying with its idempotency key). */
    bad = pipeline(s, calls, n, res, PIPE_SYNC);
    if (bad < n) {
        if (key_taken(res[bad])) {
            /* Another request with this key committed first (store_find_key could not
             * see it yet); it is a retry in flight, not a failure of the store. */
            rc = err_fail(err, ERR_CONFLICT, NULL,
                          "a request with this idempotency key is being applied; retry later");
        } else {
            rc = fail(s, &calls[bad], res[bad], err);
        }
    } else if (PQntuples(res[0]) == 1) {
        *written = 1;
        if (applied_at != NULL)
            *applied_at = col_time(res[0], 0, 0);
    }

    clear_results(res, n);
    free(res);
    free(calls);
    free(vals);
    params_free(&own);
    return rc;
}

enum err_code
store_commit(struct store *s, const struct store_row *row, const char *data_text,
             const struct store_entry *entries, size_t n, const char *actor,
             const struct store_idem *idem, struct err *err)
{
    enum err_code rc;
    int written;

    /* Without the transaction store_lock opened, these writes would run without the
     * row lock the caller's version check relied on. */
    if (s->conn == NULL || !s->in_txn || n == 0) {
        log_store("commit", NULL, "no open transaction or no entry to commit");
        store_rollback(s);
        return err_fail(err, ERR_INTERNAL, NULL, "no open transaction or no entry to commit");
    }
    rc = write_row(s, row, data_text, entries, n, actor, idem, &written, NULL, err);
    if (rc == ERR_OK && !written) {
        /* The locked row was not there to update, so nothing was written. */
        log_store("write", NULL, "the locked row was not updated");
        rc = err_fail(err, ERR_INTERNAL, NULL, "the locked row was not updated");
    }
    return rc;
}

enum err_code
store_write_at(struct store *s, const struct store_row *row, const char *data_text,
               const struct store_entry *entry, const char *actor, char **applied_at,
               struct err *err)
{
    enum err_code rc;
    int written;

    *applied_at = NULL;
    rc = ensure_conn(s, err);
    if (rc != ERR_OK)
        return rc;
    rc = write_row(s, row, data_text, entry, 1, actor, NULL, &written, applied_at, err);
    if (rc == ERR_OK && !written) {
        rc = err_fail(err, ERR_CONFLICT, NULL, "resource %lld is not at version %lld",
                      (long long)row->id, (long long)(row->version - 1));
    }
    return rc;
}

void
store_rollback(struct store *s)
{
    if (s == NULL || s->conn == NULL || !s->in_txn)
        return;
    /* The Sync ends the transaction; nothing was written in it (store_commit's writes
     * travel with their own Sync), so this only releases the row lock. A session whose
     * transaction state is unknown must not serve another request: closing it makes
     * the server roll back. */
    s->in_txn = 0;
    if (!PQpipelineSync(s->conn) || !end_pipeline(s->conn)) {
        log_store("rollback", NULL, "failed; closing the connection");
        drop_conn(s);
    }
}
