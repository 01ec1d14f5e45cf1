/*
 * worker.c: the FastCGI accept loop and the prefork supervisor. A child owns one
 * database connection and one api handler for its whole life; a request's memory is
 * released before the next one. A child takes SIGTERM only while it waits for work,
 * so a shutdown never cuts a request or a transaction in half.
 */
#define _GNU_SOURCE /* accept4 */
#include "http/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/api.h"
#include "http/req.h"
#include "http/resp.h"
#include "store/store.h"
#include "base/xalloc.h"

#define SHUTDOWN_GRACE_SECONDS 30

/* After a request whose body and answer together reach this many bytes, the child gives
 * the memory it freed back to the kernel (see serve). */
#define TRIM_AFTER_BYTES (64 * 1024)

static volatile sig_atomic_t stopping;

/* The catalog file as the process loaded it, read once before any child starts, so
 * that every child (a respawned one too) answers GET /catalog with what it runs. At file
 * scope like `table` below: a forked child inherits it. */
static struct {
    char *text;
    size_t len;
} catalog_file;

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
 * request to the next, so a typical answer costs no allocation for its text. Returns
 * the bytes of the request body and of the answer.
 */
static size_t
handle_one(struct api *api, FCGX_Request *rq, struct resp *resp, struct sbuf *out)
{
    size_t handled;
    struct req r;
    struct err err = {0};

    resp_reset(resp);
    if (req_init(&r, rq->envp, fcgi_read, rq->in, &err) != ERR_OK)
        resp_problem(resp, &err);
    else
        api_handle(api, &r, resp);
    if (resp->status >= 500)
        fprintf(stderr, "actiond[%d]: %d %s %s\n", (int)getpid(), resp->status, r.method, r.path);
    sbuf_recycle(out, RESP_KEEP_BYTES);
    resp_write(resp, out);
    FCGX_PutStr(out->data, (int)out->len, rq->out);
    handled = r.body_len + out->len;
    req_free(&r);
    err_clear(&err);
    return handled;
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

/*
 * A child watches every connection it accepted in its epoll set, beside its listening
 * sockets, and connections the web server keeps open between requests (FCGI_KEEP_CONN;
 * nginx's fastcgi_keep_conn) stay there: an idle kept connection never stands between
 * the child and a request on another one. (A single-threaded worker that read the next
 * request from its last connection would leave every other connection to it queued
 * until the web server gave the idle one up.) A child keeps at most this many open;
 * past them it closes a connection after its answer.
 */
#define MAX_KEPT_CONNECTIONS 256

/* What an epoll event is about: a listening socket (rq.listen_sock; rq.ipcFd -1), or a
 * connection (rq.ipcFd), in the child's list while it is open. */
struct source {
    FCGX_Request rq;
    int listening;
    int close_after; /* accepted past MAX_KEPT_CONNECTIONS: closed after its answer */
    struct source *prev, *next;
};

struct sources {
    int ep;
    struct source listeners[2];
    struct source *conns; /* every open connection, a doubly linked list */
    size_t n_conns;
    char *allowed; /* FCGI_WEB_SERVER_ADDRS: the web servers' IPv4 addresses, or NULL */
};

/* Frees a connection's state and closes it, unlisting it. */
static void
release(struct sources *s, struct source *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->n_conns--;
    FCGX_Free(&c->rq, 1);
    free(c);
}

static void
sources_close(struct sources *s)
{
    while (s->conns != NULL)
        release(s, s->conns);
    if (s->ep >= 0)
        close(s->ep);
    s->ep = -1;
    free(s->allowed);
    s->allowed = NULL;
}

/*
 * A child's listening sockets go into an epoll set of its own: the shared socket, and
 * with --worker-sockets the child's own one too. EPOLLEXCLUSIVE wakes one of the
 * children waiting on the shared socket per connection, not all of them. Returns 0 or
 * -1; either way the caller releases *s with sources_close.
 */
static int
sources_open(struct sources *s, int shared_fd, int own_fd)
{
    int fds[2] = {shared_fd, own_fd};
    size_t i;

    memset(s, 0, sizeof(*s));
    if (getenv("FCGI_WEB_SERVER_ADDRS") != NULL)
        s->allowed = xstrdup(getenv("FCGI_WEB_SERVER_ADDRS"));
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0)
        goto fail;
    for (i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->listeners[i]};
        FCGX_InitRequest(&s->listeners[i].rq, fds[i], 0);
        s->listeners[i].listening = 1;
        if (fds[i] >= 0 && epoll_ctl(s->ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "actiond[%d]: epoll: %s\n", (int)getpid(), strerror(errno));
    return -1;
}

/*
 * Sleeps until a listening socket has a connection or a kept connection has a request
 * (or has ended), and returns its source; NULL when asked to stop or on error. SIGTERM
 * and SIGINT are blocked everywhere else in a child, and unblocked only inside
 * epoll_pwait, so a stop request either arrives before the wait (and `stopping` is
 * seen) or interrupts it: it is never lost.
 */
static struct source *
wait_for_work(const struct sources *s)
{
    struct epoll_event ev;
    sigset_t none;

    sigemptyset(&none);
    while (!stopping) {
        int n = epoll_pwait(s->ep, &ev, 1, -1, &none);
        if (n == 1)
            return ev.data.ptr;
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "actiond[%d]: epoll_wait: %s\n", (int)getpid(), strerror(errno));
            return NULL;
        }
    }
    return NULL;
}

/*
 * Whether a peer may talk to this worker: with FCGI_WEB_SERVER_ADDRS set (libfcgi's
 * convention, a comma-separated list of IPv4 addresses), a TCP peer must be one of
 * them; unix socket peers are the file mode's business.
 */
static int
peer_allowed(const struct sources *s, const struct sockaddr_storage *sa)
{
    char addr[INET_ADDRSTRLEN];
    const char *at;
    size_t n;

    if (s->allowed == NULL || sa->ss_family != AF_INET)
        return 1;
    if (inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr)) == NULL)
        return 0;
    n = strlen(addr);
    for (at = s->allowed; *at != '\0'; at += strcspn(at, ",")) {
        at += strspn(at, ", ");
        if (strncmp(at, addr, n) == 0 && (at[n] == ',' || at[n] == ' ' || at[n] == '\0'))
            return 1;
    }
    return 0;
}

/*
 * Takes every connection waiting on `listener` into the epoll set, where it waits for
 * its request like any kept connection: a connection left in the backlog would wait a
 * whole round of the others per accept. Returns 0; -1 when accepting fails for a
 * reason other than an empty backlog (another child was first).
 */
static int
accept_all(struct sources *s, const struct source *listener)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        struct epoll_event ev = {.events = EPOLLIN};
        struct source *c;
        int fd = accept4(listener->rq.listen_sock, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return 0;
            fprintf(stderr, "actiond[%d]: accept failed (%s); exiting\n", (int)getpid(),
                    strerror(errno));
            return -1;
        }
        if (!peer_allowed(s, &sa)) {
            close(fd);
            continue;
        }
        c = xcalloc(1, sizeof(*c));
        /* listen_sock -1: libfcgi, finding the connection ended, never accepts another
         * behind the epoll set's back; keepConnection until the first request says,
         * or FCGX_Accept_r would close the connection before reading from it */
        FCGX_InitRequest(&c->rq, -1, 0);
        c->rq.ipcFd = fd;
        c->rq.keepConnection = 1;
        c->close_after = s->n_conns >= MAX_KEPT_CONNECTIONS;
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        ev.data.ptr = c;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            fprintf(stderr, "actiond[%d]: epoll: %s\n", (int)getpid(), strerror(errno));
            release(s, c);
            return -1;
        }
    }
}

/*
 * Serves the request waiting on connection `c`, or releases `c` when it has ended (the
 * web server closed it); a connection is also released once closed after its answer.
 * Returns the bytes of the request body and of the answer.
 */
static size_t
serve_one(struct sources *s, struct source *c, struct api *api, struct resp *resp, struct sbuf *out)
{
    size_t handled;

    if (FCGX_Accept_r(&c->rq) < 0) {
        release(s, c);
        return 0;
    }
    handled = handle_one(api, &c->rq, resp, out);
    if (c->close_after)
        c->rq.keepConnection = 0;
    finish(&c->rq);
    if (c->rq.ipcFd < 0)
        release(s, c);
    return handled;
}

/*
 * The accept loop of one process, on the shared socket and (own_fd >= 0) the process's
 * own one. Both are non-blocking: a connection another child took first makes accept
 * fail with EAGAIN, and the loop waits again. Returns the process's exit status: 0
 * when asked to stop, 1 when it cannot go on (the prefork parent then waits a moment
 * before it starts another, see supervise).
 */
static int
serve(const struct config *cfg, const struct catalog *cat, int shared_fd, int own_fd)
{
    struct store *store =
        store_open(cfg->database_url, cfg->statement_timeout_ms, cfg->lock_timeout_ms);
    struct api *api = api_new(cfg, store, cat);
    struct sources src;
    struct resp resp;
    struct sbuf out;
    sigset_t term;
    size_t handled;
    int status = 1;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigprocmask(SIG_BLOCK, &term, NULL);
    install_stop_handler(on_stop_signal);
    resp_init(&resp);
    sbuf_init(&out);
    if (catalog_file.text != NULL)
        api_set_catalog_json(api, catalog_file.text, catalog_file.len);
    if (sources_open(&src, shared_fd, own_fd) < 0)
        goto cleanup;
    for (;;) {
        struct source *c = wait_for_work(&src);
        if (c == NULL) {
            status = stopping ? 0 : 1;
            break;
        }
        if (c->listening) {
            if (accept_all(&src, c) < 0)
                break;
            continue;
        }
        handled = serve_one(&src, c, api, &resp, &out);
        /* the answer has reached the web server: bookkeeping no client waits for */
        api_after_response(api);
        /* A large request's objects are freed between allocations that outlive it (kept
         * documents, the connection), so glibc can return none of that memory at the top
         * of the heap, and a child would keep the peak of its largest request for good
         * (87 MB after a 1 MB JSON Patch, against 3.4 MB before it). malloc_trim also
         * releases free pages inside the heap; it costs a walk of the free lists, so it
         * runs only after requests big enough to have left such pages. */
        if (handled >= TRIM_AFTER_BYTES)
            malloc_trim(0);
    }
cleanup:
    sources_close(&src);
    resp_free(&resp);
    sbuf_free(&out);
    api_free(api);
    store_close(store);
    return status;
}

static int
is_unix_path(const char *listen)
{
    return listen != NULL && strchr(listen, ':') == NULL;
}

static int
set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fprintf(stderr, "actiond: cannot make a socket non-blocking: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Opens the listening socket `addr`: "host:port" or ":port" for TCP, otherwise a unix
 * socket path, created with cfg->socket_mode in place of a stale one of an earlier run.
 * The socket is non-blocking (see serve). Returns the descriptor, or -1.
 */
static int
open_socket(const struct config *cfg, const char *addr)
{
    struct stat st;
    int fd;

    if (is_unix_path(addr) && lstat(addr, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(addr);
    fd = FCGX_OpenSocket(addr, cfg->backlog);
    if (fd < 0) {
        fprintf(stderr, "actiond: cannot listen on %s: %s\n", addr, strerror(errno));
        return -1;
    }
    if (is_unix_path(addr) && chmod(addr, (mode_t)cfg->socket_mode) < 0)
        fprintf(stderr, "actiond: chmod %s: %s\n", addr, strerror(errno));
    if (set_nonblocking(fd) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens cfg->listen, or takes the inherited fd 0 of spawn-fcgi; non-blocking. */
static int
open_listener(const struct config *cfg)
{
    if (cfg->listen != NULL)
        return open_socket(cfg, cfg->listen);
    if (FCGX_IsCGI()) {
        fputs("actiond: no --listen and fd 0 is not a FastCGI socket "
              "(run under spawn-fcgi, or pass --listen)\n",
              stderr);
        return -1;
    }
    return set_nonblocking(0) < 0 ? -1 : 0;
}

/* Child n's own socket path, "<listen>.<n>", into buf. Returns -1 when it does not fit. */
static int
own_socket_path(const struct config *cfg, int n, char *buf, size_t size)
{
    int len = snprintf(buf, size, "%s.%d", cfg->listen, n);
    return len < 0 || (size_t)len >= size ? -1 : 0;
}

/* The listening sockets of a prefork parent. */
struct sockets {
    int shared; /* every child accepts here */
    int *own;   /* own[n]: child n's alone (--worker-sockets); NULL without */
    int count;  /* entries of own */
};

/* Closes and unlinks every own socket of *s and frees the array. */
static void
close_own_sockets(const struct config *cfg, struct sockets *s)
{
    char path[PATH_MAX];
    int n;

    for (n = 0; n < s->count; n++) {
        if (s->own[n] < 0)
            continue;
        close(s->own[n]);
        if (own_socket_path(cfg, n, path, sizeof(path)) == 0)
            unlink(path);
    }
    free(s->own);
    s->own = NULL;
    s->count = 0;
}

/* With --worker-sockets, opens "<listen>.<n>" for every child n. Returns -1 on failure,
 * having closed what it opened. */
static int
open_own_sockets(const struct config *cfg, struct sockets *s)
{
    char path[PATH_MAX];
    int n;

    if (!cfg->worker_sockets)
        return 0;
    s->own = malloc((size_t)cfg->workers * sizeof(int));
    if (s->own == NULL)
        return -1;
    for (n = 0; n < cfg->workers; n++)
        s->own[n] = -1;
    s->count = cfg->workers;
    for (n = 0; n < cfg->workers; n++) {
        if (own_socket_path(cfg, n, path, sizeof(path)) < 0) {
            fprintf(stderr, "actiond: the socket path %s.%d is too long\n", cfg->listen, n);
            goto fail;
        }
        s->own[n] = open_socket(cfg, path);
        if (s->own[n] < 0)
            goto fail;
    }
    return 0;
fail:
    close_own_sockets(cfg, s);
    return -1;
}

/* Starts child n on the shared socket and its own one; the child keeps no other
 * child's socket open. A parent killed outright cannot forward SIGTERM, so the kernel
 * sends it to the child instead (PR_SET_PDEATHSIG): no orphan keeps serving. */
static pid_t
spawn(const struct config *cfg, const struct catalog *cat, struct sockets *s, int n)
{
    pid_t parent = getpid(), pid;
    int i;

    fflush(NULL); /* a child's exit() must not flush the parent's buffered output again */
    pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
            fprintf(stderr, "actiond: prctl: %s\n", strerror(errno));
            exit(1);
        }
        if (getppid() != parent) /* it died before the line above */
            exit(0);
        for (i = 0; i < s->count; i++)
            if (i != n)
                close(s->own[i]);
        /* exit(), not _exit(): LeakSanitizer checks a worker's memory at exit */
        exit(serve(cfg, cat, s->shared, s->own != NULL ? s->own[n] : -1));
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

static void
log_child_end(pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        fprintf(stderr, "actiond: worker %d killed by signal %d; starting another\n", (int)pid,
                WTERMSIG(status));
    else
        fprintf(stderr, "actiond: worker %d exited with status %d; starting another\n", (int)pid,
                WEXITSTATUS(status));
}

/* The prefork parent's table of children: kids[n] is child n's pid (-1: none), born[n]
 * when it started (monotonic seconds). At file scope so that a forked child, which
 * inherits the table, still holds a reference to it for LeakSanitizer. */
static struct {
    pid_t *kids;
    double *born;
} table;

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts a child in every slot that has none. Returns how many are still missing
 * because fork failed. */
static int
start_missing(const struct config *cfg, const struct catalog *cat, struct sockets *s)
{
    int n, missing = 0;

    for (n = 0; n < cfg->workers && !stopping; n++) {
        if (table.kids[n] >= 0)
            continue;
        table.kids[n] = spawn(cfg, cat, s, n);
        table.born[n] = now_seconds();
        if (table.kids[n] < 0)
            missing++;
    }
    return missing;
}

/*
 * The prefork parent: keeps cfg->workers children alive until told to stop. A child
 * that fails within a second of its start, or a fork that fails, is retried after a
 * second, so that a broken setup cannot make the parent spin.
 */
static int
supervise(const struct config *cfg, const struct catalog *cat, struct sockets *s)
{
    int i;

    table.kids = malloc((size_t)cfg->workers * sizeof(pid_t));
    table.born = calloc((size_t)cfg->workers, sizeof(double));
    if (table.kids == NULL || table.born == NULL)
        goto cleanup;
    for (i = 0; i < cfg->workers; i++)
        table.kids[i] = -1;
    install_stop_handler(on_stop_signal);
    while (!stopping) {
        int status, missing = start_missing(cfg, cat, s);
        pid_t pid = waitpid(-1, &status, missing ? WNOHANG : 0);
        if (pid <= 0) {
            if (pid == 0 || errno != EINTR)
                sleep(1);
            continue;
        }
        for (i = 0; i < cfg->workers; i++) {
            if (table.kids[i] != pid)
                continue;
            table.kids[i] = -1;
            if (stopping)
                break;
            log_child_end(pid, status);
            if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) &&
                now_seconds() - table.born[i] < 1.0)
                sleep(1);
        }
    }
    stop_children(table.kids, cfg->workers);
cleanup:
    free(table.kids);
    free(table.born);
    table.kids = NULL;
    table.born = NULL;
    return stopping ? 0 : 1;
}

/* Reads the catalog file into catalog_file; 0, or -1 (logged). */
static int
read_catalog_file(const char *path)
{
    struct sbuf b;
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int failed;

    if (f == NULL) {
        fprintf(stderr, "actiond: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    sbuf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sbuf_add(&b, chunk, n);
    failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "actiond: cannot read %s\n", path);
        sbuf_free(&b);
        return -1;
    }
    catalog_file.text = b.data;
    catalog_file.len = b.len;
    return 0;
}

int
worker_run(const struct config *cfg, const struct catalog *cat)
{
    struct sockets socks = {.shared = -1};
    int rc = 1;

    if (FCGX_Init() != 0) {
        fputs("actiond: FCGX_Init failed\n", stderr);
        return 1;
    }
    if (read_catalog_file(cfg->catalog_path) < 0)
        return 1;
    socks.shared = open_listener(cfg);
    if (socks.shared < 0)
        goto cleanup;
    if (open_own_sockets(cfg, &socks) < 0)
        goto cleanup;
    if (cfg->pid_file != NULL)
        write_pid_file(cfg->pid_file);
    rc = cfg->workers > 0 ? supervise(cfg, cat, &socks) : serve(cfg, cat, socks.shared, -1);
    if (cfg->pid_file != NULL)
        unlink(cfg->pid_file);
cleanup:
    close_own_sockets(cfg, &socks);
    if (socks.shared >= 0 && is_unix_path(cfg->listen))
        unlink(cfg->listen);
    free(catalog_file.text);
    catalog_file.text = NULL;
    return rc;
}
