/*
 * worker.c: the FastCGI accept loop and the prefork supervisor. A child owns one
 * database connection and one api handler for its whole life; a request's memory is
 * released before the next accept. SIGTERM is blocked while a request is handled, so
 * a shutdown never cuts a transaction in half.
 */
#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "req.h"
#include "resp.h"
#include "store.h"

#define SHUTDOWN_GRACE_SECONDS 30

static volatile sig_atomic_t stopping;

static void
on_stop_signal(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

/* Installs `handler` for SIGTERM and SIGINT without SA_RESTART, so accept() returns. */
static void
install_stop_handler(void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static long
fcgi_read(void *ctx, char *buf, size_t n)
{
    int want = n > (size_t)(1 << 30) ? 1 << 30 : (int)n;
    return FCGX_GetStr(buf, want, (FCGX_Stream *)ctx);
}

/*
 * Answers one request. `resp` and `out` belong to the process and are reused from one
 * request to the next, so a typical answer costs no allocation for its text.
 */
static void
handle_one(struct api *api, FCGX_Request *rq, struct resp *resp, struct sbuf *out)
{
    struct req r;
    struct ad_error err = {0};

    resp_reset(resp);
    if (req_init(&r, rq->envp, fcgi_read, rq->in, &err) != AD_OK)
        resp_problem(resp, &err);
    else
        api_handle(api, &r, resp);
    if (resp->status >= 500)
        fprintf(stderr, "actiond[%d]: %d %s %s\n", (int)getpid(), resp->status, r.method, r.path);
    sbuf_recycle(out, RESP_KEEP_BYTES);
    resp_write(resp, out);
    FCGX_PutStr(out->data, (int)out->len, rq->out);
    req_free(&r);
    ad_error_clear(&err);
}

/*
 * Ends a request. libfcgi's own close shuts the socket down and waits until the web
 * server closes its side, so that unread input cannot turn the close into a reset;
 * that wait is a context switch per request on the worker's critical path. The body
 * is read to its end here instead (nothing is left to reset the connection), and the
 * request is detached so that the close is immediate.
 */
static void
finish(FCGX_Request *rq)
{
    char sink[4096];

    while (FCGX_GetStr(sink, sizeof(sink), rq->in) > 0)
        ;
    FCGX_Detach(rq);
    FCGX_Finish_r(rq);
}

/* The accept loop of one process. Returns when asked to stop or accept fails. */
static void
serve(const struct config *cfg, const struct catalog *cat, int listen_fd)
{
    struct store *store = store_open(cfg->database_url);
    struct api *api = api_new(cfg, store, cat);
    FCGX_Request rq;
    struct resp resp;
    struct sbuf out;
    sigset_t term, none;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigemptyset(&none);
    install_stop_handler(on_stop_signal);
    resp_init(&resp);
    sbuf_init(&out);
    FCGX_InitRequest(&rq, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    sigprocmask(SIG_BLOCK, &term, NULL);
    while (!stopping) {
        int rc;
        sigprocmask(SIG_SETMASK, &none, NULL);
        rc = stopping ? -1 : FCGX_Accept_r(&rq);
        sigprocmask(SIG_BLOCK, &term, NULL);
        if (rc < 0) {
            if (!stopping)
                fprintf(stderr, "actiond[%d]: accept failed (%d); exiting\n", (int)getpid(), rc);
            break;
        }
        handle_one(api, &rq, &resp, &out);
        finish(&rq);
    }
    FCGX_Free(&rq, 0);
    resp_free(&resp);
    sbuf_free(&out);
    api_free(api);
    store_close(store);
}

/* Opens cfg->listen: "host:port" or ":port" for TCP, otherwise a unix socket path. */
static int
open_listener(const struct config *cfg)
{
    struct stat st;
    int fd;

    if (cfg->listen == NULL) {
        if (FCGX_IsCGI()) {
            fputs("actiond: no --listen and fd 0 is not a FastCGI socket "
                  "(run under spawn-fcgi, or pass --listen)\n",
                  stderr);
            return -1;
        }
        return 0;
    }
    if (strchr(cfg->listen, ':') == NULL && lstat(cfg->listen, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(cfg->listen); /* a stale socket of an earlier run */
    fd = FCGX_OpenSocket(cfg->listen, cfg->backlog);
    if (fd < 0) {
        fprintf(stderr, "actiond: cannot listen on %s: %s\n", cfg->listen, strerror(errno));
        return -1;
    }
    if (strchr(cfg->listen, ':') == NULL && chmod(cfg->listen, (mode_t)cfg->socket_mode) < 0)
        fprintf(stderr, "actiond: chmod %s: %s\n", cfg->listen, strerror(errno));
    return fd;
}

static pid_t
spawn(const struct config *cfg, const struct catalog *cat, int fd)
{
    pid_t pid;

    fflush(NULL); /* a child's exit() must not flush the parent's buffered output again */
    pid = fork();
    if (pid == 0) {
        serve(cfg, cat, fd);
        /* exit(), not _exit(): LeakSanitizer checks a worker's memory at exit */
        exit(0);
    }
    if (pid < 0)
        fprintf(stderr, "actiond: fork: %s\n", strerror(errno));
    return pid;
}

static void
write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "actiond: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

/* Forwards SIGTERM to every child and waits; children still busy after the grace
 * period are killed so a stuck request cannot block a shutdown forever. */
static void
stop_children(pid_t *kids, int n)
{
    time_t deadline = time(NULL) + SHUTDOWN_GRACE_SECONDS;
    int i, alive;

    for (i = 0; i < n; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    do {
        alive = 0;
        for (i = 0; i < n; i++) {
            if (kids[i] <= 0)
                continue;
            if (waitpid(kids[i], NULL, WNOHANG) == kids[i])
                kids[i] = 0;
            else
                alive++;
        }
        if (alive && time(NULL) >= deadline)
            for (i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], SIGKILL);
        if (alive)
            usleep(20000);
    } while (alive);
}

/* The prefork parent: keeps cfg->workers children alive until told to stop. */
static int
supervise(const struct config *cfg, const struct catalog *cat, int fd)
{
    pid_t *kids = calloc((size_t)cfg->workers, sizeof(pid_t));
    time_t *born = calloc((size_t)cfg->workers, sizeof(time_t));
    int i;

    if (kids == NULL || born == NULL) {
        free(kids);
        free(born);
        return 1;
    }
    install_stop_handler(on_stop_signal);
    for (i = 0; i < cfg->workers; i++) {
        kids[i] = spawn(cfg, cat, fd);
        born[i] = time(NULL);
    }
    while (!stopping) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            sleep(1);
            continue;
        }
        for (i = 0; i < cfg->workers; i++) {
            if (kids[i] != pid)
                continue;
            if (stopping) {
                kids[i] = 0;
                break;
            }
            fprintf(stderr, "actiond: worker %d ended (status %d); starting another\n", (int)pid,
                    status);
            /* a worker that dies as soon as it starts must not spin the parent */
            if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) && time(NULL) - born[i] < 1)
                sleep(1);
            kids[i] = spawn(cfg, cat, fd);
            born[i] = time(NULL);
        }
    }
    stop_children(kids, cfg->workers);
    free(kids);
    free(born);
    return 0;
}

int
worker_run(const struct config *cfg, const struct catalog *cat)
{
    int fd, rc = 0;

    if (FCGX_Init() != 0) {
        fputs("actiond: FCGX_Init failed\n", stderr);
        return 1;
    }
    fd = open_listener(cfg);
    if (fd < 0)
        return 1;
    if (cfg->pid_file != NULL)
        write_pid_file(cfg->pid_file);
    if (cfg->workers > 0)
        rc = supervise(cfg, cat, fd);
    else
        serve(cfg, cat, fd);
    if (cfg->pid_file != NULL)
        unlink(cfg->pid_file);
    if (cfg->listen != NULL && strchr(cfg->listen, ':') == NULL)
        unlink(cfg->listen);
    return rc;
}
