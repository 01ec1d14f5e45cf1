/*
 * config.h: the worker's settings, from command-line flags with environment
 * fallbacks (ACTIOND_*), validated once at start. docs/configuration.md lists them.
 */
#ifndef ACTIOND_CONFIG_H
#define ACTIOND_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* The deepest document the store reads back (and verify replays): what a change may
 * leave in a document can be set lower, never higher, so nothing is stored that
 * cannot be read. */
#define CONFIG_STORED_DEPTH_MAX 512

struct config {
    const char *database_url;  /* libpq conninfo or URI */
    const char *catalog_path;  /* the catalog file */
    const char *listen;        /* unix socket path or host:port; NULL: inherit fd 0 */
    const char *pid_file;      /* written by the parent in prefork mode; may be NULL */
    const char *check_catalog; /* --check-catalog FILE: validate and exit */
    int workers;               /* prefork children; 0 serves in this process */
    int backlog;
    int socket_mode;   /* permissions of a unix socket we create */
    size_t max_body;   /* bytes */
    size_t max_depth;  /* JSON nesting */
    size_t max_string; /* bytes of one JSON string */
    int token_cache_seconds;
    size_t doc_cache_bytes;    /* the per-process document cache (cache.h); 0: none */
    int worker_sockets;        /* prefork child n also listens on "<listen>.<n>" */
    size_t max_document;       /* bytes of a document after a change */
    size_t max_document_depth; /* nesting of a document after a change */
    size_t max_patch_ops;      /* operations in one JSON Patch */
    size_t max_log_bytes;      /* what one request may add to the log */
    int statement_timeout_ms;  /* every statement of a worker's session */
    int lock_timeout_ms;       /* waiting for a row lock */
    const char *feed_socket;   /* the web server's live-feed socket (nchan); NULL: none */
};

enum config_result { CONFIG_RUN, CONFIG_EXIT_OK, CONFIG_EXIT_USAGE };

/*
 * Fills *c from defaults, then the environment, then argv (flags win).
 * Prints help or a usage error to `out`. CONFIG_RUN means start serving.
 * The strings in *c are borrowed from argv/environ and stay valid for the process.
 */
enum config_result config_parse(struct config *c, int argc, char **argv, FILE *out);

#endif
