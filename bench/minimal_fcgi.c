/*
 * minimal_fcgi.c: the HTTP ceiling for bench/run. The least a libfcgi responder can
 * do behind the same nginx as actiond: accept, read the parameters, answer a fixed
 * JSON body of the size of a clip representation with an ETag, or 304 when
 * If-None-Match carries that ETag. No database, no parsing, no allocation per
 * request. Same process model as actiond: a prefork parent and N single-threaded
 * children blocking in FCGX_Accept_r on one shared socket.
 *
 * usage: minimal_fcgi SOCKET WORKERS BODY_BYTES PIDFILE
 * Build: cc -O2 -o minimal_fcgi minimal_fcgi.c -lfcgi
 * SIGTERM to the parent stops the children and removes the socket and the pid file.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ETAG "\"1\""
#define MAX_WORKERS 256

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
    FCGX_ShutdownPending();
}

static void
serve(int fd, const char *head, const char *body, int body_len)
{
    FCGX_Request rq;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    FCGX_InitRequest(&rq, fd, FCGI_FAIL_ACCEPT_ON_INTR);
    while (!stop && FCGX_Accept_r(&rq) >= 0) {
        const char *inm = FCGX_GetParam("HTTP_IF_NONE_MATCH", rq.envp);

        if (inm != NULL && strcmp(inm, ETAG) == 0) {
            FCGX_PutS("Status: 304 Not Modified\r\nETag: " ETAG "\r\n"
                      "Cache-Control: no-cache\r\n\r\n",
                      rq.out);
        } else {
            FCGX_PutS(head, rq.out);
            FCGX_PutStr(body, body_len, rq.out);
        }
        FCGX_Finish_r(&rq);
    }
    FCGX_Free(&rq, 0);
}

int
main(int argc, char **argv)
{
    static pid_t kids[MAX_WORKERS];
    static char head[256];
    char *body;
    int fd, n, len, i;
    FILE *f;
    struct sigaction sa;

    if (argc != 5) {
        fputs("usage: minimal_fcgi SOCKET WORKERS BODY_BYTES PIDFILE\n", stderr);
        return 2;
    }
    n = atoi(argv[2]);
    len = atoi(argv[3]);
    if (n < 1 || n > MAX_WORKERS || len < 2 || len > 1 << 20) {
        fputs("minimal_fcgi: WORKERS must be 1..256 and BODY_BYTES 2..1048576\n", stderr);
        return 2;
    }
    /* A JSON string of the right length: {"p":"xxx...x"} */
    body = malloc((size_t)len + 1);
    if (body == NULL)
        return 1;
    memset(body, 'x', (size_t)len);
    if (len >= 8) {
        memcpy(body, "{\"p\":\"", 6);
        memcpy(body + len - 2, "\"}", 2);
    }
    body[len] = '\0';
    snprintf(head, sizeof(head),
             "Status: 200 OK\r\nContent-Type: application/json\r\nETag: " ETAG "\r\n"
             "Cache-Control: no-cache\r\nContent-Length: %d\r\n\r\n",
             len);

    if (FCGX_Init() != 0)
        return 1;
    unlink(argv[1]);
    fd = FCGX_OpenSocket(argv[1], 1024);
    if (fd < 0) {
        fprintf(stderr, "minimal_fcgi: cannot listen on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    chmod(argv[1], 0666);
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (i = 0; i < n; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            serve(fd, head, body, len);
            _exit(0);
        }
    }
    f = fopen(argv[4], "w");
    if (f != NULL) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    while (!stop) {
        pid_t pid = wait(NULL);
        if (pid < 0 && errno != EINTR)
            break;
    }
    for (i = 0; i < n; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    unlink(argv[1]);
    unlink(argv[4]);
    free(body);
    return 0;
}
