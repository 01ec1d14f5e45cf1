/*
 * actionctl.c: the administration command. Applies the schema files in order
 * (`migrate`), issues, lists and revokes bearer tokens (`token`), lists and changes who
 * may reach a resource (`grant`, `transfer`), and checks that the action log accounts
 * for every stored resource and that its hash chain is intact (`verify`).
 * It connects as the owner of the schema, never as the workers' role;
 * docs/database.md describes all three.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "doc/access.h"
#include "doc/replay.h"
#include "base/digest.h"
#include "base/xalloc.h"

#ifndef ACTIOND_DATADIR
#define ACTIOND_DATADIR "/usr/local/share/actiond"
#endif

#define EXIT_USAGE 2

/* Random bytes in a token: 160 bits, beyond any guessing; 40 hex digits on the wire. */
#define TOKEN_BYTES 20
#define TOKEN_PREFIX "adt_"

/* The longest lifetime `token create --expires-in` gives: ten years, in seconds. */
#define TOKEN_EXPIRES_MAX 315360000L

/* to_char()'s format for times in `token create` and `token list`: UTC (the statements
 * say AT TIME ZONE 'UTC'), to the second, RFC 3339. */
#define TOKEN_TIME_FORMAT "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\""

/* A migration file larger than this is not one of ours. */
#define MIGRATION_MAX ((size_t)16 * 1024 * 1024)

/*
 * Serialises concurrent `actionctl migrate` runs (two deploys at once) on one database:
 * a session-level advisory lock with a fixed key, "actn" in ASCII.
 */
#define MIGRATE_LOCK_KEY "1633907822"

/*
 * verify reads resources and log entries through two cursors, a page at a time, so
 * memory stays bounded by one page and one document whatever the size of the log.
 * Log pages are larger: most entries are small patches, while a resource row carries
 * a whole document.
 */
#define VERIFY_RESOURCE_PAGE "100"
#define VERIFY_LOG_PAGE "500"

/* Seconds between progress lines on stderr: every second on a terminal, less often
 * into a log file. */
#define VERIFY_PROGRESS_TTY 1
#define VERIFY_PROGRESS_FILE 10

/*
 * Both cursors take the same filter ($1 type, $2 id, each NULL for all) and come out in
 * resource id order, so cmd_verify merges them in one pass. The log cursor recomputes
 * each row's hash with the SQL function the insert trigger used for it, chosen by the
 * row's hash_version (1: sql/003's action_log_row_hash, 2: sql/009's
 * action_log_row_hash_v2 over every column; any other: NULL, which replay reports), in
 * the query that reads the row, so what is checked is exactly what was stored.
 */
#define VERIFY_RESOURCES_SQL                                                                       \
    "DECLARE verify_resources NO SCROLL CURSOR FOR"                                                \
    " SELECT id, type, version, data, state, deleted_at IS NOT NULL, owner, access FROM resources" \
    " WHERE ($1::text IS NULL OR type = $1) AND ($2::bigint IS NULL OR id = $2)"                   \
    " ORDER BY id"
#define VERIFY_LOG_SQL                                                                             \
    "DECLARE verify_log NO SCROLL CURSOR FOR"                                                      \
    " SELECT l.resource_id, l.version, l.action, l.actor, to_json(l.applied_at) #>> '{}',"         \
    " l.state, l.forward, l.prev_hash, l.hash,"                                                    \
    " CASE l.hash_version"                                                                         \
    " WHEN 1 THEN action_log_row_hash(l.prev_hash, l.resource_id, l.version, l.action, l.target,"  \
    " l.data, l.actor, l.applied_at, l.idempotency_key, l.forward, l.inverse, l.state, l.reverts)" \
    " WHEN 2 THEN action_log_row_hash_v2(l.prev_hash, l.resource_id, l.version, l.action,"         \
    " l.target, l.data, l.actor, l.applied_at, l.idempotency_key, l.fingerprint, l.response,"      \
    " l.forward, l.inverse, l.state, l.stack_prev, l.unit_first, l.reverts, l.touches,"            \
    " l.based_on, l.merged_over) END,"                                                             \
    " l.data, l.hash_version"                                                                      \
    " FROM resources r JOIN action_log l ON l.resource_id = r.id"                                  \
    " WHERE ($1::text IS NULL OR r.type = $1) AND ($2::bigint IS NULL OR r.id = $2)"               \
    " ORDER BY l.resource_id, l.version"

enum command {
    CMD_MIGRATE,
    CMD_TOKEN_CREATE,
    CMD_TOKEN_LIST,
    CMD_TOKEN_REVOKE,
    CMD_GRANT_LIST,
    CMD_GRANT_SET,
    CMD_GRANT_REVOKE,
    CMD_TRANSFER,
    CMD_VERIFY
};

/* The actor an operator's change to a resource's access is logged as. */
#define OPERATOR_ACTOR "actionctl"

struct options {
    const char *database;
    const char *dir;
    const char *actor;
    const char *type;
    const char *id; /* verify: a resource id; token revoke: a token id */
    const char *expires_in;
    const char *role;     /* grant set: reader or editor */
    const char *owner;    /* transfer: the new owner */
    const char *words[3]; /* "migrate", "token" ..., "grant" ..., "transfer" or "verify" */
    int nwords;
};

/* A server-side cursor read a page at a time; `page` row `row` is the current row. */
struct cursor {
    const char *fetch; /* the FETCH statement */
    PGresult *page;
    int row;
    int done; /* the last FETCH came back empty */
};

/* What verify has seen so far, and when it last said so. */
struct verify_run {
    long long resources;
    long long entries;
    long long diverged;
    int interval; /* seconds between progress lines */
    struct timespec last;
};

static void usage(FILE *f);
static int parse_options(int argc, char **argv, struct options *o);
static PGconn *connect_db(const char *conninfo);
static PGresult *exec_params(PGconn *c, const char *what, const char *sql, int n,
                             const char *const *vals, ExecStatusType expect);
static int exec_ok(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
                   ExecStatusType expect);
static int is_sql_file(const struct dirent *d);
static int by_name(const struct dirent **a, const struct dirent **b);
static char *read_file(const char *path);
static int apply_one(PGconn *c, const char *dir, const char *name, int *applied);
static int cmd_migrate(PGconn *c, const char *dir);
static int cmd_token_create(PGconn *c, const char *actor, const char *expires_in);
static void print_table(const PGresult *r, const char *const *head, int ncols);
static int cmd_token_list(PGconn *c, const char *actor);
static int cmd_token_revoke(PGconn *c, const char *actor, const char *id);
static int valid_id(const char *s);
static int valid_seconds(const char *s);
static int check_token_command(const struct options *o, enum command *cmd);
static int cmd_grant_list(PGconn *c, const char *type, const char *id, const char *actor);
static int cmd_access_change(PGconn *c, enum command cmd, const char *type, const char *id,
                             const char *actor, const char *role);
static int check_access_command(const struct options *o, enum command *cmd);
static int64_t col_i64(const PGresult *r, int row, int col);
static int cursor_peek(PGconn *c, struct cursor *k);
static void verify_progress(struct verify_run *v, const PGresult *r, int row);
static int verify_resource(PGconn *c, struct cursor *res, struct cursor *log, const char *genesis,
                           struct verify_run *v);
static int cmd_verify(PGconn *c, const char *type, const char *id);
static int check_command(const struct options *o, enum command *cmd);

static void
usage(FILE *f)
{
    fputs("usage: actionctl [--database URL] migrate [--dir DIR]\n"
          "       actionctl [--database URL] token create --actor NAME [--expires-in SECONDS]\n"
          "       actionctl [--database URL] token list [--actor NAME]\n"
          "       actionctl [--database URL] token revoke --id ID | --actor NAME\n"
          "       actionctl [--database URL] grant list [--type TYPE --id ID | --actor NAME]\n"
          "       actionctl [--database URL] grant set --type TYPE --id ID --actor NAME\n"
          "                                  --role reader|editor\n"
          "       actionctl [--database URL] grant revoke --type TYPE --id ID --actor NAME\n"
          "       actionctl [--database URL] transfer --type TYPE --id ID --owner NAME\n"
          "       actionctl [--database URL] verify [--type TYPE] [--id ID]\n"
          "\n"
          "  migrate        apply the schema files (DIR/*.sql, in name order) not yet\n"
          "                 recorded in schema_migrations, each in its own transaction\n"
          "  token create   print a new bearer token for NAME as the last line on stdout\n"
          "                 (its id and expiry go to stderr); only its SHA-256 is stored.\n"
          "                 With --expires-in it stops working SECONDS from now.\n"
          "  token list     every token (of NAME): id, actor, created, expires, last\n"
          "                 used (to about a minute) and status; never a token or digest\n"
          "  token revoke   revoke token ID, or every token of NAME; every worker\n"
          "                 refuses it within a second\n"
          "  grant list     who may reach a resource (its owner and grants), or what\n"
          "                 NAME owns or was granted (\"*\": everyone)\n"
          "  grant set      give NAME (or \"*\") a role on the resource\n"
          "  grant revoke   take NAME's grant back\n"
          "  transfer       make NAME the resource's owner (for when an owner leaves); the\n"
          "                 old owner keeps no access unless granted some\n"
          "                 Grants and transfers are log entries (share, unshare, transfer)\n"
          "                 by the actor \"" OPERATOR_ACTOR "\", as a worker would write them.\n"
          "  verify         rebuild every resource (or those selected) from its action log\n"
          "                 and compare it with the stored one; check the log's hash chain.\n"
          "                 Prints the first divergence of each resource that has one.\n"
          "\n"
          "  --database URL  libpq connection string or URI of the schema owner;\n"
          "                  default $DATABASE_URL, else \"dbname=actiond\" with the PG*\n"
          "                  environment variables\n"
          "  --dir DIR       schema files; default $ACTIOND_SQL_DIR, else " ACTIOND_DATADIR "/sql\n"
          "  --actor NAME    1 to 100 characters of A-Z a-z 0-9 . _ @ -\n"
          "  --type TYPE     verify only resources of this type\n"
          "  --id ID         verify only this resource; token revoke: the token's id\n"
          "  --expires-in SECONDS  1 to 315360000 (ten years)\n"
          "\n"
          "Exit status: 0 success (verify: everything matches), 1 failure (verify: a\n"
          "mismatch), 2 usage error.\n",
          f);
}

/* Fills *o from argv. Returns -1 after --help, EXIT_USAGE on a usage error, else 0. */
static int
parse_options(int argc, char **argv, struct options *o)
{
    int i;

    memset(o, 0, sizeof(*o));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        const char *eq;
        size_t len;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->nwords == (int)(sizeof(o->words) / sizeof(o->words[0]))) {
                fprintf(stderr, "actionctl: unexpected argument \"%s\"\n", a);
                return EXIT_USAGE;
            }
            o->words[o->nwords++] = a;
            continue;
        }
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        if (len == strlen("--database") && strncmp(a, "--database", len) == 0)
            slot = &o->database;
        else if (len == strlen("--dir") && strncmp(a, "--dir", len) == 0)
            slot = &o->dir;
        else if (len == strlen("--actor") && strncmp(a, "--actor", len) == 0)
            slot = &o->actor;
        else if (len == strlen("--type") && strncmp(a, "--type", len) == 0)
            slot = &o->type;
        else if (len == strlen("--id") && strncmp(a, "--id", len) == 0)
            slot = &o->id;
        else if (len == strlen("--expires-in") && strncmp(a, "--expires-in", len) == 0)
            slot = &o->expires_in;
        else if (len == strlen("--role") && strncmp(a, "--role", len) == 0)
            slot = &o->role;
        else if (len == strlen("--owner") && strncmp(a, "--owner", len) == 0)
            slot = &o->owner;
        if (slot == NULL) {
            fprintf(stderr, "actionctl: unknown option \"%.*s\"\n", (int)len, a);
            return EXIT_USAGE;
        }
        if (eq != NULL) {
            *slot = eq + 1;
        } else if (i + 1 < argc) {
            *slot = argv[++i];
        } else {
            fprintf(stderr, "actionctl: %s needs a value\n", a);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* A connection, or NULL after printing why. The caller PQfinish()es it. */
static PGconn *
connect_db(const char *conninfo)
{
    static const char *const keys[] = {"fallback_application_name", "dbname", NULL};
    const char *vals[] = {"actionctl", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "actionctl: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/*
 * Runs `sql` with text parameters; returns the result when its status is `expect`
 * (the caller PQclear()s it), else prints the server's message and returns NULL.
 */
static PGresult *
exec_params(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
            ExecStatusType expect)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);

    if (PQresultStatus(r) != expect) {
        fprintf(stderr, "actionctl: %s: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* exec_params for statements whose result is not needed: 1 on success. */
static int
exec_ok(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
        ExecStatusType expect)
{
    PGresult *r = exec_params(c, what, sql, n, vals, expect);

    PQclear(r);
    return r != NULL;
}

static int
is_sql_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);

    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

/* Byte order, not the locale's collation: the order files apply in must not depend on
 * who runs the command. */
static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* The whole of a file as a string the caller frees, or NULL after printing why. */
static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t len;

    if (f == NULL) {
        fprintf(stderr, "actionctl: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = xmalloc(MIGRATION_MAX + 1);
    len = fread(buf, 1, MIGRATION_MAX + 1, f);
    if (ferror(f) || len > MIGRATION_MAX || memchr(buf, '\0', len) != NULL) {
        fprintf(stderr, "actionctl: %s: %s\n", path,
                ferror(f) ? strerror(errno) : "too large or not a text file");
        free(buf);
        buf = NULL;
    } else {
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

/*
 * Applies migration `name` unless schema_migrations has it: the file and its record
 * commit together or not at all. Sets *applied; returns 1 on success.
 */
static int
apply_one(PGconn *c, const char *dir, const char *name, int *applied)
{
    const char *vals[1] = {name};
    PGresult *r = NULL;
    char *path = xasprintf("%s/%s", dir, name), *sql = NULL;
    int ok = 0;

    *applied = 0;
    if (!exec_ok(c, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK))
        goto cleanup;
    r = exec_params(c, name, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, vals,
                    PGRES_TUPLES_OK);
    if (r == NULL)
        goto cleanup;
    if (PQntuples(r) > 0) {
        ok = exec_ok(c, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK);
        goto cleanup;
    }
    sql = read_file(path);
    if (sql == NULL)
        goto cleanup;
    PQclear(r);

    /* The one statement actiond runs without parameters: a file of several statements
     * needs the simple query protocol, and its text is our own shipped schema, never
     * input from a client. */
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "actionctl: %s: %s", name, PQresultErrorMessage(r));
        goto cleanup;
    }
    if (!exec_ok(c, name, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, vals,
                 PGRES_COMMAND_OK))
        goto cleanup;
    if (!exec_ok(c, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK))
        goto cleanup;
    *applied = 1;
    ok = 1;

cleanup:
    PQclear(r);
    if (!ok && PQtransactionStatus(c) != PQTRANS_IDLE)
        exec_ok(c, "rollback", "ROLLBACK", 0, NULL, PGRES_COMMAND_OK);
    free(sql);
    free(path);
    return ok;
}

static int
cmd_migrate(PGconn *c, const char *dir)
{
    struct dirent **names = NULL;
    int n = -1, i, applied, count = 0, ok = 0;

    /* IF NOT EXISTS notices on a re-run are noise; warnings and errors still show. */
    if (!exec_ok(c, "setup", "SET client_min_messages = warning", 0, NULL, PGRES_COMMAND_OK) ||
        !exec_ok(c, "lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL,
                 PGRES_TUPLES_OK) ||
        !exec_ok(c, "schema_migrations",
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 "name text PRIMARY KEY, applied_at timestamptz DEFAULT now())",
                 0, NULL, PGRES_COMMAND_OK))
        goto cleanup;

    n = scandir(dir, &names, is_sql_file, by_name);
    if (n < 0) {
        fprintf(stderr, "actionctl: %s: %s\n", dir, strerror(errno));
        goto cleanup;
    }
    if (n == 0) {
        fprintf(stderr, "actionctl: %s: no .sql files\n", dir);
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        if (!apply_one(c, dir, names[i]->d_name, &applied))
            goto cleanup;
        if (applied) {
            printf("applied %s\n", names[i]->d_name);
            count++;
        }
    }
    if (count == 0)
        printf("nothing to apply: %d file%s already applied\n", n, n == 1 ? "" : "s");
    ok = 1;

cleanup:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Issues a token for `actor` that expires `expires_in` seconds from now (NULL: never).
 * The token is the only line on stdout, so `TOKEN=$(actionctl token create ...)` works;
 * its id and expiry go to stderr.
 */
static int
cmd_token_create(PGconn *c, const char *actor, const char *expires_in)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[TOKEN_BYTES];
    char token[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES], hash[DIGEST_SHA256_HEX_LEN + 1];
    const char *vals[4] = {hash, actor, expires_in, TOKEN_TIME_FORMAT};
    size_t i, off = strlen(TOKEN_PREFIX);
    PGresult *r;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        fprintf(stderr, "actionctl: getrandom: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }
    memcpy(token, TOKEN_PREFIX, off);
    for (i = 0; i < sizeof(raw); i++) {
        token[off + 2 * i] = digits[raw[i] >> 4];
        token[off + 2 * i + 1] = digits[raw[i] & 0x0f];
    }
    token[off + 2 * sizeof(raw)] = '\0';
    digest_sha256_hex(token, strlen(token), hash);

    /* now() + NULL is NULL: no --expires-in, no expiry */
    r = exec_params(c, "token create",
                    "INSERT INTO tokens (hash, actor, expires_at)"
                    " VALUES ($1, $2, now() + $3::integer * interval '1 second')"
                    " RETURNING id, coalesce(to_char(expires_at AT TIME ZONE 'UTC', $4), 'never')",
                    4, vals, PGRES_TUPLES_OK);
    if (r != NULL) {
        fprintf(stderr, "actionctl: token %s for %s, expires %s\n", PQgetvalue(r, 0, 0), actor,
                PQgetvalue(r, 0, 1));
        fflush(stderr);
        printf("%s\n", token);
    }
    PQclear(r);
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(token, sizeof(token));
    return r != NULL ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The most columns print_table lays out; the listings have 4 and 6. */
#define TABLE_COLUMNS_MAX 8

/* Prints result `r` as a table under the headings `head` (one per column, `ncols` of
 * them, at most TABLE_COLUMNS_MAX), each column as wide as its widest value. */
static void
print_table(const PGresult *r, const char *const *head, int ncols)
{
    int width[TABLE_COLUMNS_MAX], rows = PQntuples(r), row, col;

    for (col = 0; col < ncols && col < TABLE_COLUMNS_MAX; col++) {
        width[col] = (int)strlen(head[col]);
        for (row = 0; row < rows; row++)
            if (PQgetlength(r, row, col) > width[col])
                width[col] = PQgetlength(r, row, col);
    }
    for (row = -1; row < rows; row++)
        for (col = 0; col < ncols && col < TABLE_COLUMNS_MAX; col++)
            printf("%-*s%s", col + 1 < ncols ? width[col] : 0,
                   row < 0 ? head[col] : PQgetvalue(r, row, col), col + 1 < ncols ? "  " : "\n");
}

/*
 * Prints every token (of `actor`, when not NULL) in id order as aligned columns under a
 * header line: id, actor, created, expires, last used, status (active, expired or
 * revoked). Times are UTC to the second; "-" for none. Never a token or its digest.
 */
static int
cmd_token_list(PGconn *c, const char *actor)
{
    static const char *const head[] = {"ID", "ACTOR", "CREATED", "EXPIRES", "LAST_USED", "STATUS"};
    enum { NCOLS = sizeof(head) / sizeof(head[0]) };
    const char *vals[2] = {actor, TOKEN_TIME_FORMAT};
    PGresult *r;

    r = exec_params(c, "token list",
                    "SELECT id, actor, to_char(created_at AT TIME ZONE 'UTC', $2),"
                    " coalesce(to_char(expires_at AT TIME ZONE 'UTC', $2), '-'),"
                    " coalesce(to_char(last_used_at AT TIME ZONE 'UTC', $2), '-'),"
                    " CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
                    " WHEN expires_at <= now() THEN 'expired' ELSE 'active' END"
                    " FROM tokens WHERE $1::text IS NULL OR actor = $1 ORDER BY id",
                    2, vals, PGRES_TUPLES_OK);
    if (r == NULL)
        return EXIT_FAILURE;
    print_table(r, head, NCOLS);
    PQclear(r);
    return EXIT_SUCCESS;
}

/*
 * Revokes token `id`, or (id NULL) every active token of `actor`. The UPDATE's trigger
 * (sql/007_tokens.sql) announces each token to the workers when the transaction
 * commits. Revoking a token already revoked changes nothing and succeeds; an id no
 * token has fails.
 */
static int
cmd_token_revoke(PGconn *c, const char *actor, const char *id)
{
    const char *vals[1] = {id != NULL ? id : actor};
    PGresult *r;
    const char *n;
    int rc = EXIT_SUCCESS;

    if (id == NULL) {
        r = exec_params(
            c, "token revoke",
            "UPDATE tokens SET revoked_at = now() WHERE actor = $1 AND revoked_at IS NULL", 1, vals,
            PGRES_COMMAND_OK);
        if (r == NULL)
            return EXIT_FAILURE;
        n = PQcmdTuples(r);
        if (strcmp(n, "0") == 0)
            fprintf(stderr, "actionctl: %s has no active tokens\n", actor);
        else
            printf("revoked %s token%s of %s\n", n, strcmp(n, "1") == 0 ? "" : "s", actor);
        PQclear(r);
        return EXIT_SUCCESS;
    }
    /* one statement: the row as it was (revoked before or not), revoked now if it was not */
    r = exec_params(c, "token revoke",
                    "WITH t AS (SELECT id, actor, revoked_at FROM tokens WHERE id = $1 FOR UPDATE),"
                    " u AS (UPDATE tokens SET revoked_at = now() FROM t"
                    " WHERE tokens.id = t.id AND t.revoked_at IS NULL RETURNING tokens.id)"
                    " SELECT t.actor, t.revoked_at IS NOT NULL FROM t",
                    1, vals, PGRES_TUPLES_OK);
    if (r == NULL)
        return EXIT_FAILURE;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "actionctl: there is no token %s\n", id);
        rc = EXIT_FAILURE;
    } else if (PQgetvalue(r, 0, 1)[0] == 't') {
        fprintf(stderr, "actionctl: token %s of %s was already revoked\n", id, PQgetvalue(r, 0, 0));
    } else {
        printf("revoked token %s of %s\n", id, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

/* A resource id as the API spells it: a positive decimal without sign or leading zero
 * that fits a bigint. */
static int
valid_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 19 || s[0] == '0' || strspn(s, "0123456789") != n)
        return 0;
    /* 19 digits may still overflow: compare with INT64_MAX's text */
    return n < 19 || strcmp(s, "9223372036854775807") <= 0;
}

/* A number of seconds for --expires-in: 1 to TOKEN_EXPIRES_MAX, digits only. */
static int
valid_seconds(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 9 || s[0] == '0' || strspn(s, "0123456789") != n)
        return 0;
    return strtol(s, NULL, 10) <= TOKEN_EXPIRES_MAX;
}

/* A bigint column; the server's text always parses. */
static int64_t
col_i64(const PGresult *r, int row, int col)
{
    return (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/*
 * Makes sure cursor `k` has a current row, fetching the next page when the last one is
 * used up. Returns 1 when there is a row, 0 at the end, -1 after printing an error.
 */
static int
cursor_peek(PGconn *c, struct cursor *k)
{
    if (k->page != NULL && k->row < PQntuples(k->page))
        return 1;
    if (k->done)
        return 0;
    PQclear(k->page);
    k->row = 0;
    k->page = exec_params(c, "verify", k->fetch, 0, NULL, PGRES_TUPLES_OK);
    if (k->page == NULL)
        return -1;
    if (PQntuples(k->page) == 0)
        k->done = 1;
    return !k->done;
}

/* A line on stderr when the interval has passed, naming the resource in hand. */
static void
verify_progress(struct verify_run *v, const PGresult *r, int row)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - v->last.tv_sec < v->interval)
        return;
    v->last = now;
    fprintf(stderr, "actionctl: verify: %lld resources, %lld log entries so far (at %s %s)\n",
            v->resources, v->entries, PQgetvalue(r, row, 1), PQgetvalue(r, row, 0));
}

/*
 * Replays the current row of `res` from its entries at the head of `log` (consuming
 * them) and prints its first divergence, if any, on stdout. Returns 1, or 0 after
 * printing an error (a failed FETCH, or log rows out of step with the resources).
 */
static int
verify_resource(PGconn *c, struct cursor *res, struct cursor *log, const char *genesis,
                struct verify_run *v)
{
    const PGresult *rp = res->page;
    int i = res->row, more, ok = 0;
    int64_t id = col_i64(rp, i, 0), lid;
    struct replay rep;
    struct replay_entry e;
    struct replay_stored s;

    replay_begin(&rep, genesis);
    while ((more = cursor_peek(c, log)) > 0) {
        const PGresult *lp = log->page;
        int j = log->row;

        lid = col_i64(lp, j, 0);
        if (lid > id)
            break;
        if (lid < id) {
            /* Both cursors share one filter and one snapshot: this cannot be data. */
            fprintf(stderr,
                    "actionctl: verify: log entries of resource %" PRId64 " arrived out of order\n",
                    lid);
            goto cleanup;
        }
        e.version = col_i64(lp, j, 1);
        e.action = PQgetvalue(lp, j, 2);
        e.actor = PQgetvalue(lp, j, 3);
        e.applied_at = PQgetvalue(lp, j, 4);
        e.state = PQgetisnull(lp, j, 5) ? NULL : PQgetvalue(lp, j, 5);
        e.forward = PQgetvalue(lp, j, 6);
        e.forward_len = (size_t)PQgetlength(lp, j, 6);
        e.prev_hash = PQgetisnull(lp, j, 7) ? NULL : PQgetvalue(lp, j, 7);
        e.hash = PQgetisnull(lp, j, 8) ? NULL : PQgetvalue(lp, j, 8);
        e.content_hash = PQgetisnull(lp, j, 9) ? NULL : PQgetvalue(lp, j, 9);
        e.data = PQgetisnull(lp, j, 10) ? NULL : PQgetvalue(lp, j, 10);
        e.data_len = (size_t)PQgetlength(lp, j, 10);
        e.hash_version = (int)col_i64(lp, j, 11);
        replay_step(&rep, &e);
        v->entries++;
        log->row++;
    }
    if (more < 0)
        goto cleanup;

    s.version = col_i64(rp, i, 2);
    s.data = PQgetvalue(rp, i, 3);
    s.data_len = (size_t)PQgetlength(rp, i, 3);
    s.state = PQgetisnull(rp, i, 4) ? NULL : PQgetvalue(rp, i, 4);
    s.deleted = PQgetvalue(rp, i, 5)[0] == 't';
    s.owner = PQgetvalue(rp, i, 6);
    s.access = PQgetisnull(rp, i, 7) ? NULL : PQgetvalue(rp, i, 7);
    s.access_len = (size_t)PQgetlength(rp, i, 7);
    if (!replay_end(&rep, &s)) {
        printf("%s %s: %s\n", PQgetvalue(rp, i, 1), PQgetvalue(rp, i, 0), rep.why);
        v->diverged++;
    }
    v->resources++;
    ok = 1;

cleanup:
    replay_clear(&rep);
    return ok;
}

/*
 * Replays every selected resource from its log and compares. Everything is read in
 * one read-only REPEATABLE READ transaction: resources and log come from one snapshot,
 * so actions the workers apply meanwhile can neither appear half-done nor be
 * mistaken for a divergence.
 */
static int
cmd_verify(PGconn *c, const char *type, const char *id)
{
    const char *vals[2] = {type, id};
    struct cursor res = {"FETCH FORWARD " VERIFY_RESOURCE_PAGE " FROM verify_resources", NULL, 0,
                         0};
    struct cursor log = {"FETCH FORWARD " VERIFY_LOG_PAGE " FROM verify_log", NULL, 0, 0};
    struct verify_run v = {0};
    PGresult *r = NULL;
    char *genesis = NULL;
    int more, ok = 0;

    v.interval = isatty(STDERR_FILENO) ? VERIFY_PROGRESS_TTY : VERIFY_PROGRESS_FILE;
    clock_gettime(CLOCK_MONOTONIC, &v.last);

    /* applied_at in messages reads as in the API: RFC 3339 in UTC. The names in the
     * statements mean the schema's tables and functions, whatever schemas the login
     * role's own search_path puts first. */
    if (!exec_ok(c, "verify", "SET TIME ZONE 'UTC'", 0, NULL, PGRES_COMMAND_OK) ||
        !exec_ok(c, "verify", "SET search_path = pg_catalog, public", 0, NULL, PGRES_COMMAND_OK) ||
        !exec_ok(c, "verify", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                 PGRES_COMMAND_OK))
        goto cleanup;
    r = exec_params(
        c, "verify",
        "SELECT action_log_genesis_hash(), to_regproc('action_log_row_hash_v2') IS NULL", 0, NULL,
        PGRES_TUPLES_OK);
    if (r == NULL) {
        fputs("actionctl: verify: the schema has no hash chain yet; run actionctl migrate\n",
              stderr);
        goto cleanup;
    }
    if (PQgetvalue(r, 0, 1)[0] == 't') {
        fputs("actionctl: verify: the schema predates sql/009_hash_all_columns.sql; run"
              " actionctl migrate\n",
              stderr);
        goto cleanup;
    }
    genesis = xstrdup(PQgetvalue(r, 0, 0));
    if (!exec_ok(c, "verify", VERIFY_RESOURCES_SQL, 2, vals, PGRES_COMMAND_OK) ||
        !exec_ok(c, "verify", VERIFY_LOG_SQL, 2, vals, PGRES_COMMAND_OK))
        goto cleanup;

    while ((more = cursor_peek(c, &res)) > 0) {
        if (!verify_resource(c, &res, &log, genesis, &v))
            goto cleanup;
        verify_progress(&v, res.page, res.row);
        res.row++;
    }
    if (more < 0)
        goto cleanup;
    /* Every log row belongs to a resource the first cursor returned. */
    more = cursor_peek(c, &log);
    if (more != 0) {
        if (more > 0)
            fprintf(stderr, "actionctl: verify: log entries of resource %s arrived out of order\n",
                    PQgetvalue(log.page, log.row, 0));
        goto cleanup;
    }
    if (!exec_ok(c, "verify", "COMMIT", 0, NULL, PGRES_COMMAND_OK))
        goto cleanup;
    ok = 1;

cleanup:
    PQclear(log.page);
    PQclear(res.page);
    PQclear(r);
    free(genesis);
    if (!ok) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE)
            exec_ok(c, "rollback", "ROLLBACK", 0, NULL, PGRES_COMMAND_OK);
        return EXIT_FAILURE;
    }
    if (id != NULL && v.resources == 0) {
        fprintf(stderr, "actionctl: verify: there is no resource %s%s%s\n", id,
                type ? " of type " : "", type ? type : "");
        return EXIT_FAILURE;
    }
    if (v.diverged == 0) {
        printf("verified %lld resources, %lld log entries: OK\n", v.resources, v.entries);
        return EXIT_SUCCESS;
    }
    printf("verified %lld resources, %lld log entries: %lld resource%s diverge%s from the log\n",
           v.resources, v.entries, v.diverged, v.diverged == 1 ? "" : "s",
           v.diverged == 1 ? "s" : "");
    return EXIT_FAILURE;
}

/*
 * Prints who may reach resource TYPE ID (its owner and every grant), or (actor set)
 * every live resource `actor` owns or was granted a role on, "*" grants included.
 */
static int
cmd_grant_list(PGconn *c, const char *type, const char *id, const char *actor)
{
    static const char *const head[] = {"TYPE", "ID", "ACTOR", "ROLE"};
    enum { NCOLS = sizeof(head) / sizeof(head[0]) };
    const char *vals[3] = {type, id, actor};
    PGresult *r;

    r = exec_params(c, "grant list",
                    "SELECT type, id, actor, role FROM ("
                    " SELECT type, id, owner AS actor, 'owner' AS role, 0 AS o FROM resources"
                    " WHERE deleted_at IS NULL UNION ALL"
                    " SELECT r.type, r.id, g.key, g.value, 1 FROM resources r,"
                    " jsonb_each_text(coalesce(r.access, '{}')) g WHERE r.deleted_at IS NULL) a"
                    " WHERE ($1::text IS NULL OR (type = $1 AND id = $2::bigint))"
                    " AND ($3::text IS NULL OR actor IN ($3, '*'))"
                    " ORDER BY type, id, o, actor",
                    3, vals, PGRES_TUPLES_OK);
    if (r == NULL)
        return EXIT_FAILURE;
    if (PQntuples(r) == 0 && type != NULL) {
        fprintf(stderr, "actionctl: there is no %s %s\n", type, id);
        PQclear(r);
        return EXIT_FAILURE;
    }
    print_table(r, head, NCOLS);
    PQclear(r);
    return EXIT_SUCCESS;
}

/*
 * Changes who may reach resource TYPE ID as a worker would: under the row lock, the
 * row's next version and a log entry of the same transaction, by OPERATOR_ACTOR.
 * `cmd` is CMD_GRANT_SET (`actor` gets `role`), CMD_GRANT_REVOKE (`actor` loses its
 * grant) or CMD_TRANSFER (`actor` becomes the owner and loses any grant). A change
 * that changes nothing is reported and writes nothing.
 */
static int
cmd_access_change(PGconn *c, enum command cmd, const char *type, const char *id, const char *actor,
                  const char *role)
{
    const char *lock_vals[2] = {type, id};
    const char *vals[5];
    const char *action, *owner, *current;
    PGresult *r = NULL;
    int ok = 0;

    if (!exec_ok(c, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK))
        return EXIT_FAILURE;
    r = exec_params(c, "lock",
                    "SELECT owner, access ->> $3, deleted_at IS NOT NULL FROM resources"
                    " WHERE type = $1 AND id = $2::bigint FOR UPDATE",
                    3, (const char *const[]){lock_vals[0], lock_vals[1], actor}, PGRES_TUPLES_OK);
    if (r == NULL)
        goto cleanup;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 2)[0] == 't') {
        fprintf(stderr, "actionctl: there is no %s %s%s\n", type, id,
                PQntuples(r) == 0 ? "" : " (it was deleted)");
        goto cleanup;
    }
    owner = PQgetvalue(r, 0, 0);
    current = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
    if (strcmp(owner, actor) == 0) {
        fprintf(stderr, "actionctl: %s already owns %s %s%s\n", actor, type, id,
                cmd == CMD_TRANSFER ? "" : ": the owner's access is not a grant");
        ok = cmd == CMD_TRANSFER;
        goto cleanup;
    }
    if ((cmd == CMD_GRANT_SET && current != NULL && strcmp(current, role) == 0) ||
        (cmd == CMD_GRANT_REVOKE && current == NULL)) {
        printf("%s %s: %s %s; nothing changed\n", type, id, actor,
               current ? "already has that role" : "has no grant");
        ok = 1;
        goto cleanup;
    }
    action = cmd == CMD_GRANT_SET ? "share" : cmd == CMD_GRANT_REVOKE ? "unshare" : "transfer";
    vals[0] = id;
    vals[1] = action;
    vals[2] = actor;
    vals[3] = role;
    vals[4] = OPERATOR_ACTOR;
    PQclear(r);
    /* One statement: the row's next version and its entry, which the hash chain's
     * trigger links to the one before. */
    r = exec_params(
        c, action,
        "WITH u AS (UPDATE resources SET version = version + 1, updated_at = now(),"
        " owner = CASE WHEN $2 = 'transfer' THEN $3 ELSE owner END,"
        " access = nullif(CASE WHEN $2 = 'share'"
        " THEN coalesce(access, '{}') || jsonb_build_object($3::text, $4::text)"
        " ELSE coalesce(access, '{}') - $3 END, '{}')"
        " WHERE id = $1::bigint RETURNING id, version, state)"
        " INSERT INTO action_log (resource_id, version, action, data, actor, forward, inverse,"
        " state, touches)"
        " SELECT id, version, $2, CASE $2 WHEN 'share' THEN jsonb_build_object('actor', $3::text,"
        " 'role', $4::text) WHEN 'unshare' THEN jsonb_build_object('actor', $3::text)"
        " ELSE jsonb_build_object('owner', $3::text) END, $5, '[]', '[]', state, '[]' FROM u"
        " RETURNING version",
        5, vals, PGRES_TUPLES_OK);
    if (r == NULL || !exec_ok(c, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK))
        goto cleanup;
    printf("%s %s: %s %s (version %s)\n", type, id,
           cmd == CMD_GRANT_SET      ? "shared with"
           : cmd == CMD_GRANT_REVOKE ? "unshared from"
                                     : "transferred to",
           actor, PQgetvalue(r, 0, 0));
    PQclear(r);
    return EXIT_SUCCESS;

cleanup:
    PQclear(r);
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        exec_ok(c, "rollback", "ROLLBACK", 0, NULL, PGRES_COMMAND_OK);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* check_command for "grant list|set|revoke" and "transfer". */
static int
check_access_command(const struct options *o, enum command *cmd)
{
    const char *verb = o->nwords == 2 ? o->words[1] : "";
    int resource = o->type != NULL || o->id != NULL;

    if (o->dir != NULL || o->expires_in != NULL) {
        fputs("actionctl: grant and transfer take --type, --id, --actor, --role, --owner\n",
              stderr);
        return EXIT_USAGE;
    }
    if (strcmp(o->words[0], "transfer") == 0 && o->nwords == 1) {
        *cmd = CMD_TRANSFER;
        if (o->actor != NULL || o->role != NULL || o->owner == NULL || o->type == NULL ||
            o->id == NULL) {
            fputs("actionctl: transfer needs --type TYPE --id ID --owner NAME\n", stderr);
            return EXIT_USAGE;
        }
    } else if (strcmp(verb, "list") == 0) {
        *cmd = CMD_GRANT_LIST;
        if (o->role != NULL || o->owner != NULL || (resource && o->actor != NULL) ||
            (o->type == NULL) != (o->id == NULL)) {
            fputs("actionctl: grant list takes --type TYPE --id ID, or --actor NAME\n", stderr);
            return EXIT_USAGE;
        }
    } else if (strcmp(verb, "set") == 0 || strcmp(verb, "revoke") == 0) {
        *cmd = strcmp(verb, "set") == 0 ? CMD_GRANT_SET : CMD_GRANT_REVOKE;
        if (o->owner != NULL || o->type == NULL || o->id == NULL || o->actor == NULL ||
            (*cmd == CMD_GRANT_SET) != (o->role != NULL)) {
            fprintf(stderr, "actionctl: grant %s needs --type TYPE --id ID --actor NAME%s\n", verb,
                    *cmd == CMD_GRANT_SET ? " --role reader|editor" : "");
            return EXIT_USAGE;
        }
        if (o->role != NULL && access_parse_grant(o->role) == ACCESS_NONE) {
            fputs("actionctl: --role is reader or editor\n", stderr);
            return EXIT_USAGE;
        }
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o->id != NULL && !valid_id(o->id)) {
        fprintf(stderr, "actionctl: --id \"%s\" is not a resource id (a positive integer)\n",
                o->id);
        return EXIT_USAGE;
    }
    if ((o->actor != NULL && !access_valid_actor(o->actor) &&
         !(*cmd != CMD_TRANSFER && strcmp(o->actor, "*") == 0)) ||
        (o->owner != NULL && !access_valid_actor(o->owner))) {
        fputs("actionctl: an actor name is 1 to 100 characters of A-Z a-z 0-9 . _ @ -"
              " (or \"*\" in a grant)\n",
              stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* check_command for "token create|list|revoke". */
static int
check_token_command(const struct options *o, enum command *cmd)
{
    const char *verb = o->words[1];

    if (strcmp(verb, "create") == 0) {
        *cmd = CMD_TOKEN_CREATE;
        if (o->dir != NULL || o->type != NULL || o->id != NULL) {
            fputs("actionctl: token create takes only --actor and --expires-in\n", stderr);
            return EXIT_USAGE;
        }
        if (o->actor == NULL) {
            fputs("actionctl: token create needs --actor NAME\n", stderr);
            return EXIT_USAGE;
        }
        if (o->expires_in != NULL && !valid_seconds(o->expires_in)) {
            fprintf(stderr,
                    "actionctl: --expires-in must be a number of seconds from 1 to %ld, not "
                    "\"%s\"\n",
                    TOKEN_EXPIRES_MAX, o->expires_in);
            return EXIT_USAGE;
        }
    } else if (strcmp(verb, "list") == 0) {
        *cmd = CMD_TOKEN_LIST;
        if (o->dir != NULL || o->type != NULL || o->id != NULL || o->expires_in != NULL) {
            fputs("actionctl: token list takes only --actor\n", stderr);
            return EXIT_USAGE;
        }
    } else if (strcmp(verb, "revoke") == 0) {
        *cmd = CMD_TOKEN_REVOKE;
        if (o->dir != NULL || o->type != NULL || o->expires_in != NULL) {
            fputs("actionctl: token revoke takes only --id or --actor\n", stderr);
            return EXIT_USAGE;
        }
        if ((o->id == NULL) == (o->actor == NULL)) {
            fputs("actionctl: token revoke needs either --id ID or --actor NAME\n", stderr);
            return EXIT_USAGE;
        }
        if (o->id != NULL && !valid_id(o->id)) {
            fprintf(stderr, "actionctl: --id \"%s\" is not a token id (a positive integer)\n",
                    o->id);
            return EXIT_USAGE;
        }
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o->actor != NULL && !access_valid_actor(o->actor)) {
        fputs("actionctl: an actor name is 1 to 100 characters of A-Z a-z 0-9 . _ @ -\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* Which command the words name, with the options it allows. EXIT_USAGE after saying
 * what is wrong, else 0. */
static int
check_command(const struct options *o, enum command *cmd)
{
    if (o->nwords > 0 && strcmp(o->words[0], "grant") != 0 &&
        strcmp(o->words[0], "transfer") != 0 && (o->role != NULL || o->owner != NULL)) {
        fputs("actionctl: --role and --owner belong to grant and transfer\n", stderr);
        return EXIT_USAGE;
    }
    if (o->nwords == 1 && strcmp(o->words[0], "migrate") == 0) {
        *cmd = CMD_MIGRATE;
        if (o->actor != NULL || o->type != NULL || o->id != NULL || o->expires_in != NULL) {
            fputs("actionctl: migrate takes only --dir\n", stderr);
            return EXIT_USAGE;
        }
        return 0;
    }
    if (o->nwords == 2 && strcmp(o->words[0], "token") == 0)
        return check_token_command(o, cmd);
    if ((o->nwords == 2 && strcmp(o->words[0], "grant") == 0) ||
        (o->nwords == 1 && strcmp(o->words[0], "transfer") == 0))
        return check_access_command(o, cmd);
    if (o->nwords == 1 && strcmp(o->words[0], "verify") == 0) {
        *cmd = CMD_VERIFY;
        if (o->dir != NULL || o->actor != NULL || o->expires_in != NULL) {
            fputs("actionctl: verify takes only --type and --id\n", stderr);
            return EXIT_USAGE;
        }
        if (o->type != NULL && o->type[0] == '\0') {
            fputs("actionctl: --type needs a type name\n", stderr);
            return EXIT_USAGE;
        }
        if (o->id != NULL && !valid_id(o->id)) {
            fprintf(stderr, "actionctl: --id \"%s\" is not a resource id (a positive integer)\n",
                    o->id);
            return EXIT_USAGE;
        }
        return 0;
    }
    usage(stderr);
    return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    struct options o;
    enum command cmd;
    PGconn *c = NULL;
    const char *conninfo, *dir;
    int rc;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : rc;
    rc = check_command(&o, &cmd);
    if (rc != 0)
        return rc;

    conninfo = o.database ? o.database : getenv("DATABASE_URL");
    if (conninfo == NULL || conninfo[0] == '\0')
        conninfo = "dbname=actiond";
    c = connect_db(conninfo);
    if (c == NULL)
        return EXIT_FAILURE;

    switch (cmd) {
    case CMD_MIGRATE:
        dir = o.dir ? o.dir : getenv("ACTIOND_SQL_DIR");
        if (dir == NULL || dir[0] == '\0')
            dir = ACTIOND_DATADIR "/sql";
        rc = cmd_migrate(c, dir);
        break;
    case CMD_TOKEN_CREATE:
        rc = cmd_token_create(c, o.actor, o.expires_in);
        break;
    case CMD_TOKEN_LIST:
        rc = cmd_token_list(c, o.actor);
        break;
    case CMD_TOKEN_REVOKE:
        rc = cmd_token_revoke(c, o.id != NULL ? NULL : o.actor, o.id);
        break;
    case CMD_GRANT_LIST:
        rc = cmd_grant_list(c, o.type, o.id, o.actor);
        break;
    case CMD_GRANT_SET:
    case CMD_GRANT_REVOKE:
        rc = cmd_access_change(c, cmd, o.type, o.id, o.actor, o.role);
        break;
    case CMD_TRANSFER:
        rc = cmd_access_change(c, cmd, o.type, o.id, o.owner, NULL);
        break;
    case CMD_VERIFY:
        rc = cmd_verify(c, o.type, o.id);
        break;
    }
    PQfinish(c);
    return rc;
}
