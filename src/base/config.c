/*
 * config.c: defaults, ACTIOND_* environment variables and command-line flags, in
 * that order of precedence (lowest first). Numbers are range-checked here so the
 * rest of the worker can trust them.
 */
#include "base/config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef ACTIOND_DATADIR
#define ACTIOND_DATADIR "/usr/local/share/actiond"
#endif

enum {
    OPT_DATABASE = 'd',
    OPT_CATALOG = 'c',
    OPT_LISTEN = 'l',
    OPT_WORKERS = 'w',
    OPT_HELP = 'h',
    OPT_PID_FILE = 256,
    OPT_CHECK_CATALOG,
    OPT_BACKLOG,
    OPT_SOCKET_MODE,
    OPT_MAX_BODY,
    OPT_MAX_DEPTH,
    OPT_MAX_STRING,
    OPT_TOKEN_CACHE,
    OPT_DOC_CACHE,
    OPT_WORKER_SOCKETS,
    OPT_MAX_DOCUMENT,
    OPT_MAX_DOCUMENT_DEPTH,
    OPT_MAX_PATCH_OPS,
    OPT_MAX_LOG_BYTES,
    OPT_STATEMENT_TIMEOUT,
    OPT_LOCK_TIMEOUT,
    OPT_FEED
};

static const struct option long_options[] = {
    {"database", required_argument, NULL, OPT_DATABASE},
    {"catalog", required_argument, NULL, OPT_CATALOG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"check-catalog", required_argument, NULL, OPT_CHECK_CATALOG},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"max-string", required_argument, NULL, OPT_MAX_STRING},
    {"token-cache-seconds", required_argument, NULL, OPT_TOKEN_CACHE},
    {"doc-cache", required_argument, NULL, OPT_DOC_CACHE},
    {"worker-sockets", no_argument, NULL, OPT_WORKER_SOCKETS},
    {"max-document", required_argument, NULL, OPT_MAX_DOCUMENT},
    {"max-document-depth", required_argument, NULL, OPT_MAX_DOCUMENT_DEPTH},
    {"max-patch-ops", required_argument, NULL, OPT_MAX_PATCH_OPS},
    {"max-log-bytes", required_argument, NULL, OPT_MAX_LOG_BYTES},
    {"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
    {"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
    {"feed", required_argument, NULL, OPT_FEED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
    fputs("usage: actiond [options]\n"
          "  -d, --database URL           PostgreSQL conninfo/URI (ACTIOND_DATABASE_URL)\n"
          "  -c, --catalog FILE           catalog file (ACTIOND_CATALOG)\n"
          "  -l, --listen ADDR            unix socket path or host:port (ACTIOND_LISTEN);\n"
          "                               without it, serve FastCGI on fd 0 (spawn-fcgi)\n"
          "  -w, --workers N              prefork N worker processes; 0 serves in-process\n"
          "                               (ACTIOND_WORKERS, default 0)\n"
          "      --pid-file FILE          write the parent's pid (ACTIOND_PID_FILE)\n"
          "      --backlog N              listen backlog (default 1024)\n"
          "      --socket-mode OCTAL      mode of a created unix socket (default 0666)\n"
          "      --max-body BYTES         largest request body (ACTIOND_MAX_BODY, 1048576)\n"
          "      --max-depth N            deepest JSON nesting (ACTIOND_MAX_DEPTH, 64)\n"
          "      --max-string BYTES       longest JSON string (ACTIOND_MAX_STRING, 262144)\n"
          "      --token-cache-seconds N  how long a verified token is trusted (10)\n"
          "      --doc-cache BYTES        documents a worker keeps for one-round-trip\n"
          "                               actions (ACTIOND_DOC_CACHE, 8388608; 0: none)\n"
          "      --worker-sockets         each worker also listens on LISTEN.<n>, so a\n"
          "                               web server can pin a resource to a worker\n"
          "                               (ACTIOND_WORKER_SOCKETS=1)\n"
          "      --max-document BYTES     largest document a change may leave\n"
          "                               (ACTIOND_MAX_DOCUMENT, 1048576)\n"
          "      --max-document-depth N   deepest nesting a change may leave in a\n"
          "                               document (ACTIOND_MAX_DOCUMENT_DEPTH, 100; at most\n"
          "                               what reads back, 512)\n"
          "      --max-patch-ops N        operations in one JSON Patch\n"
          "                               (ACTIOND_MAX_PATCH_OPS, 1000)\n"
          "      --max-log-bytes BYTES    what one request may add to the action log\n"
          "                               (ACTIOND_MAX_LOG_BYTES, 4194304)\n"
          "      --statement-timeout MS   longest database statement\n"
          "                               (ACTIOND_STATEMENT_TIMEOUT, 5000)\n"
          "      --lock-timeout MS        longest wait for a resource's row lock\n"
          "                               (ACTIOND_LOCK_TIMEOUT, 2000)\n"
          "      --feed SOCKET            the unix socket of the web server's live feed\n"
          "                               (nchan; ACTIOND_FEED); without it GET\n"
          "                               .../events answers the log and ends\n"
          "      --check-catalog FILE     validate a catalog and exit\n"
          "  -h, --help\n",
          out);
}

/* The options that take a number: the flag that names it in messages, its range and
 * base, and the field of struct config it sets (an int or a size_t). */
enum number_type { NUMBER_INT, NUMBER_SIZE };

static const struct number_option {
    int opt;
    const char *name;
    long min;
    long max;
    int base;
    size_t offset;
    enum number_type type;
} number_options[] = {
    {OPT_WORKERS, "--workers", 0, 1024, 10, offsetof(struct config, workers), NUMBER_INT},
    {OPT_BACKLOG, "--backlog", 1, 65535, 10, offsetof(struct config, backlog), NUMBER_INT},
    {OPT_SOCKET_MODE, "--socket-mode", 0, 0777, 8, offsetof(struct config, socket_mode),
     NUMBER_INT},
    {OPT_MAX_BODY, "--max-body", 64, 64L * 1024 * 1024, 10, offsetof(struct config, max_body),
     NUMBER_SIZE},
    {OPT_MAX_DEPTH, "--max-depth", 2, 1000, 10, offsetof(struct config, max_depth), NUMBER_SIZE},
    {OPT_MAX_STRING, "--max-string", 16, 64L * 1024 * 1024, 10, offsetof(struct config, max_string),
     NUMBER_SIZE},
    {OPT_TOKEN_CACHE, "--token-cache-seconds", 0, 3600, 10,
     offsetof(struct config, token_cache_seconds), NUMBER_INT},
    {OPT_DOC_CACHE, "--doc-cache", 0, 1024L * 1024 * 1024, 10,
     offsetof(struct config, doc_cache_bytes), NUMBER_SIZE},
    {OPT_MAX_DOCUMENT, "--max-document", 1024, 64L * 1024 * 1024, 10,
     offsetof(struct config, max_document), NUMBER_SIZE},
    {OPT_MAX_DOCUMENT_DEPTH, "--max-document-depth", 2, CONFIG_STORED_DEPTH_MAX, 10,
     offsetof(struct config, max_document_depth), NUMBER_SIZE},
    {OPT_MAX_PATCH_OPS, "--max-patch-ops", 1, 100000, 10, offsetof(struct config, max_patch_ops),
     NUMBER_SIZE},
    {OPT_MAX_LOG_BYTES, "--max-log-bytes", 1024, 256L * 1024 * 1024, 10,
     offsetof(struct config, max_log_bytes), NUMBER_SIZE},
    {OPT_STATEMENT_TIMEOUT, "--statement-timeout", 10, 3600000, 10,
     offsetof(struct config, statement_timeout_ms), NUMBER_INT},
    {OPT_LOCK_TIMEOUT, "--lock-timeout", 10, 3600000, 10, offsetof(struct config, lock_timeout_ms),
     NUMBER_INT},
};

/* Parses a number in [min, max] written in `base`, with nothing after it; 0 on success. */
static int
parse_long(const char *s, long min, long max, int base, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
set_number(const struct number_option *n, const char *s, struct config *c, FILE *err)
{
    char *field = (char *)c + n->offset;
    long v;

    if (parse_long(s, n->min, n->max, n->base, &v) < 0) {
        if (n->base == 8)
            fprintf(err, "actiond: %s must be an octal number from %#lo to %#lo, not \"%s\"\n",
                    n->name, (unsigned long)n->min, (unsigned long)n->max, s);
        else
            fprintf(err, "actiond: %s must be a number from %ld to %ld, not \"%s\"\n", n->name,
                    n->min, n->max, s);
        return -1;
    }
    if (n->type == NUMBER_INT)
        *(int *)(void *)field = (int)v;
    else
        *(size_t *)(void *)field = (size_t)v;
    return 0;
}

/* The environment variables that mirror flags, applied before argv. */
static const struct {
    const char *env;
    int opt;
} env_options[] = {
    {"ACTIOND_DATABASE_URL", OPT_DATABASE},
    {"ACTIOND_CATALOG", OPT_CATALOG},
    {"ACTIOND_LISTEN", OPT_LISTEN},
    {"ACTIOND_WORKERS", OPT_WORKERS},
    {"ACTIOND_PID_FILE", OPT_PID_FILE},
    {"ACTIOND_MAX_BODY", OPT_MAX_BODY},
    {"ACTIOND_MAX_DEPTH", OPT_MAX_DEPTH},
    {"ACTIOND_MAX_STRING", OPT_MAX_STRING},
    {"ACTIOND_TOKEN_CACHE_SECONDS", OPT_TOKEN_CACHE},
    {"ACTIOND_DOC_CACHE", OPT_DOC_CACHE},
    {"ACTIOND_WORKER_SOCKETS", OPT_WORKER_SOCKETS},
    {"ACTIOND_MAX_DOCUMENT", OPT_MAX_DOCUMENT},
    {"ACTIOND_MAX_DOCUMENT_DEPTH", OPT_MAX_DOCUMENT_DEPTH},
    {"ACTIOND_MAX_PATCH_OPS", OPT_MAX_PATCH_OPS},
    {"ACTIOND_MAX_LOG_BYTES", OPT_MAX_LOG_BYTES},
    {"ACTIOND_STATEMENT_TIMEOUT", OPT_STATEMENT_TIMEOUT},
    {"ACTIOND_LOCK_TIMEOUT", OPT_LOCK_TIMEOUT},
    {"ACTIOND_FEED", OPT_FEED},
};

static int
apply_option(struct config *c, int opt, const char *arg, FILE *out)
{
    size_t i;

    for (i = 0; i < sizeof(number_options) / sizeof(number_options[0]); i++)
        if (number_options[i].opt == opt)
            return set_number(&number_options[i], arg, c, out);

    switch (opt) {
    case OPT_DATABASE:
        c->database_url = arg;
        return 0;
    case OPT_CATALOG:
        c->catalog_path = arg;
        return 0;
    case OPT_LISTEN:
        c->listen = arg;
        return 0;
    case OPT_PID_FILE:
        c->pid_file = arg;
        return 0;
    case OPT_CHECK_CATALOG:
        c->check_catalog = arg;
        return 0;
    case OPT_FEED:
        c->feed_socket = arg;
        return 0;
    case OPT_WORKER_SOCKETS:
        /* a flag on the command line (arg NULL); "1" or "0" in the environment */
        if (arg == NULL || strcmp(arg, "1") == 0) {
            c->worker_sockets = 1;
            return 0;
        }
        if (strcmp(arg, "0") == 0) {
            c->worker_sockets = 0;
            return 0;
        }
        fprintf(out, "actiond: ACTIOND_WORKER_SOCKETS must be 0 or 1, not \"%s\"\n", arg);
        return -1;
    default:
        return -1;
    }
}

enum config_result
config_parse(struct config *c, int argc, char **argv, FILE *out)
{
    size_t i;
    int opt;

    memset(c, 0, sizeof(*c));
    c->database_url = "postgresql:///actiond";
    c->catalog_path = ACTIOND_DATADIR "/catalog/default.json";
    c->backlog = 1024;
    c->socket_mode = 0666;
    c->max_body = 1024 * 1024;
    c->max_depth = 64;
    c->max_string = 256 * 1024;
    c->token_cache_seconds = 10;
    c->doc_cache_bytes = 8 * 1024 * 1024;
    c->max_document = 1024 * 1024;
    c->max_document_depth = 100;
    c->max_patch_ops = 1000;
    c->max_log_bytes = 4 * 1024 * 1024;
    c->statement_timeout_ms = 5000;
    c->lock_timeout_ms = 2000;

    for (i = 0; i < sizeof(env_options) / sizeof(env_options[0]); i++) {
        const char *v = getenv(env_options[i].env);
        if (v != NULL && *v != '\0' && apply_option(c, env_options[i].opt, v, out) < 0) {
            fprintf(out, "actiond: (from %s)\n", env_options[i].env);
            return CONFIG_EXIT_USAGE;
        }
    }

    optind = 1;
    while ((opt = getopt_long(argc, argv, "d:c:l:w:h", long_options, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(out);
            return CONFIG_EXIT_OK;
        }
        if (opt == '?' || apply_option(c, opt, optarg, out) < 0) {
            usage(out);
            return CONFIG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(out, "actiond: unexpected argument \"%s\"\n", argv[optind]);
        return CONFIG_EXIT_USAGE;
    }
    if (c->worker_sockets && (c->workers == 0 || c->listen == NULL || strchr(c->listen, ':'))) {
        fputs("actiond: --worker-sockets needs --workers N (N > 0) and a unix socket "
              "--listen PATH\n",
              out);
        return CONFIG_EXIT_USAGE;
    }
    return CONFIG_RUN;
}
