/*
 * actionctl.c: the administration command. Applies the schema files in order
 * (`migrate`), issues and revokes bearer tokens (`token`). It connects as the owner of
 * the schema, never as the workers' role; docs/database.md describes both.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libpq-fe.h>

#include "sha256.h"
#include "xalloc.h"

#ifndef ACTIOND_DATADIR
#define ACTIOND_DATADIR "/usr/local/share/actiond"
#endif

#define EXIT_USAGE 2

/* Random bytes in a token: 160 bits, beyond any guessing; 40 hex digits on the wire. */
#define TOKEN_BYTES 20
#define TOKEN_PREFIX "adt_"
#define ACTOR_MAX 100

/* A migration file larger than this is not one of ours. */
#define MIGRATION_MAX ((size_t)16 * 1024 * 1024)

/*
 * Serialises concurrent `actionctl migrate` runs (two deploys at once) on one database:
 * a session-level advisory lock with a fixed key, "actn" in ASCII.
 */
#define MIGRATE_LOCK_KEY "1633907822"

struct options {
    const char *database;
    const char *dir;
    const char *actor;
    const char *words[3]; /* the command: "migrate", or "token" "create"|"revoke" */
    int nwords;
};

static void usage(FILE *f);
static int parse_options(int argc, char **argv, struct options *o);
static PGconn *connect_db(const char *conninfo);
static PGresult *exec_params(PGconn *c, const char *what, const char *sql, int n,
                             const char *const *vals, ExecStatusType expect);
static int exec_ok(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
                   ExecStatusType expect);
static int valid_actor(const char *a);
static int is_sql_file(const struct dirent *d);
static int by_name(const struct dirent **a, const struct dirent **b);
static char *read_file(const char *path);
static int apply_one(PGconn *c, const char *dir, const char *name, int *applied);
static int cmd_migrate(PGconn *c, const char *dir);
static int cmd_token_create(PGconn *c, const char *actor);
static int cmd_token_revoke(PGconn *c, const char *actor);

static void
usage(FILE *f)
{
    fputs("usage: actionctl [--database URL] migrate [--dir DIR]\n"
          "       actionctl [--database URL] token create --actor NAME\n"
          "       actionctl [--database URL] token revoke --actor NAME\n"
          "\n"
          "  migrate        apply the schema files (DIR/*.sql, in name order) not yet\n"
          "                 recorded in schema_migrations, each in its own transaction\n"
          "  token create   print a new bearer token for NAME; only its SHA-256 is stored\n"
          "  token revoke   revoke every token of NAME\n"
          "\n"
          "  --database URL  libpq connection string or URI of the schema owner;\n"
          "                  default $DATABASE_URL, else \"dbname=actiond\" with the PG*\n"
          "                  environment variables\n"
          "  --dir DIR       schema files; default $ACTIOND_SQL_DIR, else " ACTIOND_DATADIR "/sql\n"
          "  --actor NAME    1 to 100 characters of A-Z a-z 0-9 . _ @ -\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n",
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

/* The same rule as the CHECK on tokens.actor in sql/001_core.sql. */
static int
valid_actor(const char *a)
{
    size_t n = strlen(a);

    if (n == 0 || n > ACTOR_MAX)
        return 0;
    return strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n;
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

static int
cmd_token_create(PGconn *c, const char *actor)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[TOKEN_BYTES];
    char token[sizeof(TOKEN_PREFIX) + 2 * TOKEN_BYTES], hash[SHA256_HEX_SIZE];
    const char *vals[2] = {hash, actor};
    size_t i, off = strlen(TOKEN_PREFIX);
    int ok;

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
    sha256_hex(token, strlen(token), hash);

    ok = exec_ok(c, "token create", "INSERT INTO tokens (hash, actor) VALUES ($1, $2)", 2, vals,
                 PGRES_COMMAND_OK);
    if (ok)
        printf("%s\n", token);
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(token, sizeof(token));
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int
cmd_token_revoke(PGconn *c, const char *actor)
{
    const char *vals[1] = {actor};
    PGresult *r;
    const char *n;

    r = exec_params(c, "token revoke",
                    "UPDATE tokens SET revoked_at = now() WHERE actor = $1 AND revoked_at IS NULL",
                    1, vals, PGRES_COMMAND_OK);
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

int
main(int argc, char **argv)
{
    struct options o;
    PGconn *c = NULL;
    const char *conninfo, *dir;
    int rc, migrate = 0;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : rc;

    if (o.nwords == 1 && strcmp(o.words[0], "migrate") == 0) {
        migrate = 1;
        if (o.actor != NULL) {
            fputs("actionctl: migrate takes no --actor\n", stderr);
            return EXIT_USAGE;
        }
    } else if (o.nwords == 2 && strcmp(o.words[0], "token") == 0 &&
               (strcmp(o.words[1], "create") == 0 || strcmp(o.words[1], "revoke") == 0)) {
        if (o.dir != NULL) {
            fputs("actionctl: token takes no --dir\n", stderr);
            return EXIT_USAGE;
        }
        if (o.actor == NULL) {
            fprintf(stderr, "actionctl: token %s needs --actor NAME\n", o.words[1]);
            return EXIT_USAGE;
        }
        if (!valid_actor(o.actor)) {
            fputs("actionctl: an actor name is 1 to 100 characters of A-Z a-z 0-9 . _ @ -\n",
                  stderr);
            return EXIT_USAGE;
        }
    } else {
        usage(stderr);
        return EXIT_USAGE;
    }

    conninfo = o.database ? o.database : getenv("DATABASE_URL");
    if (conninfo == NULL || conninfo[0] == '\0')
        conninfo = "dbname=actiond";
    c = connect_db(conninfo);
    if (c == NULL)
        return EXIT_FAILURE;

    if (migrate) {
        dir = o.dir ? o.dir : getenv("ACTIOND_SQL_DIR");
        if (dir == NULL || dir[0] == '\0')
            dir = ACTIOND_DATADIR "/sql";
        rc = cmd_migrate(c, dir);
    } else if (strcmp(o.words[1], "create") == 0) {
        rc = cmd_token_create(c, o.actor);
    } else {
        rc = cmd_token_revoke(c, o.actor);
    }
    PQfinish(c);
    return rc;
}
