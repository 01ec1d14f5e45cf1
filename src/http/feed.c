/*
 * feed.c: the live feed, between a worker and nchan on the web server's feed socket
 * (nginx/actiond.conf.in). Three requests go there, one at a time on one kept
 * connection: POST /pub/<type>/<id> publishes a message and answers its nchan id;
 * GET /last/<type>/<id> answers the newest message and its id; DELETE /pub/... ends
 * a channel and the streams that follow it. A subscriber is redirected to the internal
 * location /_feed/sub/<type>/<id>?after=<nchan id>, where nchan sends every message
 * after that id, then each new one.
 *
 * A channel carries one message per log entry, "id: <version>\ndata: <entry>\n\n", as
 * a run of consecutive versions: this process is the only one that publishes to it
 * (nginx pins the resource to it), it publishes entries in order, and it fills any
 * gap from the log first. For each channel it follows it keeps the run's position (the
 * next version) and the nchan ids of its last FEED_RING messages; a subscriber whose
 * version is among them starts right after that message, so nchan gives it the rest
 * of the run and then live entries, none missed or repeated. A subscriber further
 * behind is answered up to FEED_CATCHUP entries from the log in a response that ends;
 * reconnecting with the last id it got, it lands within the run.
 *
 * Nothing is published for a resource nobody follows: a channel is followed from a
 * subscription on until nchan reports no subscribers, FEED_GRACE seconds at least (a
 * redirected subscriber reaches nchan a moment after the worker answered). When nobody
 * follows, the next subscription starts a new run wherever it needs.
 *
 * What this process knew of nchan is trusted only on the connection it learnt it on:
 * a new connection (nginx reloaded or restarted) makes it ask nchan for the newest
 * message of a channel before publishing the next one.
 */
#include "http/feed.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/sbuf.h"
#include "base/xalloc.h"

/* The locations of nginx/actiond.conf.in this module talks to or redirects to. */
#define FEED_PUB "/pub/"
#define FEED_LAST "/last/"
#define FEED_SUB "/_feed/sub/"

/* nchan keeps the last 32 messages of a channel for 15 minutes
 * (nchan_message_buffer_length, nchan_message_timeout). A cursor is the id of a message
 * whose successor nchan must still hold when the redirected subscriber arrives: a
 * channel keeps the ids of its last FEED_RING messages, younger than FEED_CURSOR_TTL,
 * and a subscription publishes at most FEED_RUN_MAX entries to start a run, which
 * leaves room for as many published before the subscriber reaches nchan. */
#define FEED_RING 16
#define FEED_RUN_MAX 16
#define FEED_CURSOR_TTL (14.0 * 60)

/* Seconds a subscription keeps its channel published before a count of 0 subscribers
 * from nchan is believed. */
#define FEED_GRACE 60.0

/* Channels one process keeps state for; the least recently used goes first (and is
 * deleted in nchan if it was followed, so that its subscribers come back). */
#define FEED_CHANNELS 4096
#define FEED_BUCKETS 1024

/* The most entries a response that ends carries (a subscriber far behind). */
#define FEED_CATCHUP 200

/* The reconnection time a feed without nchan asks for: the client polls that often. */
#define FEED_POLL_MS 5000

/* The longest wait for nginx on one read or write, and how long after a failure no
 * connection is tried (publishing is skipped; followers are healed later). */
#define FEED_IO_MS 500
#define FEED_DOWN_SECONDS 1.0

/* An nchan message id, "<time>:<tag>", and the most a reply from nginx may hold. */
#define FEED_ID_MAX 48
#define FEED_REPLY_MAX (64 * 1024)

struct cursor {
    int64_t version;
    double at; /* when it was published */
    char id[FEED_ID_MAX];
};

/* One resource's channel as this process knows it. */
struct chan {
    const char *type; /* the catalog's name, borrowed */
    int64_t id;
    unsigned gen;           /* the connection its state was learnt on (feed.gen); 0: unknown */
    int followed;           /* publishing: someone follows, or may */
    double follow_till;     /* a subscription's grace: followed at least until then */
    int64_t next;           /* the version of the run's next message; 0: no run */
    char base[FEED_ID_MAX]; /* the id the run starts after ("": the channel's start) */
    size_t first, n;        /* the run's last n cursors, the oldest at ring[first] */
    struct cursor ring[FEED_RING];
    struct chan *hnext;         /* hash chain */
    struct chan *older, *newer; /* use order */
};

struct note {
    const char *type;
    int64_t id;
    int64_t version;
};

struct feed {
    char *path; /* nginx's feed socket; NULL: none */
    int fd;     /* the kept connection, -1 */
    unsigned gen;
    double down_till;
    struct chan *buckets[FEED_BUCKETS];
    size_t nchans;
    struct chan *oldest, *newest;
    struct note *notes;
    size_t nnotes, cap;
    struct sbuf out; /* the request being sent */
    struct sbuf in;  /* the reply being read */
};

/* A reply of nginx; the pointers are into feed.in. */
struct reply {
    int status;
    const char *etag;
    size_t etag_len;
    const char *body;
    size_t body_len;
};

static double now_seconds(void);
static int wait_fd(int fd, short events, double deadline);
static void disconnect(struct feed *f);
static int connect_feed(struct feed *f);
static int send_all(struct feed *f, double deadline);
static int read_reply(struct feed *f, struct reply *rep, int *close_after, double deadline);
static int call(struct feed *f, const char *method, const struct chan *ch, const char *body,
                size_t len, struct reply *rep);
static struct chan *chan_find(struct feed *f, const char *type, int64_t id);
static struct chan *chan_get(struct feed *f, const char *type, int64_t id);
static void chan_forget(struct chan *ch, unsigned gen);
static int chan_learn(struct feed *f, struct chan *ch);
static int chan_drop(struct feed *f, struct chan *ch);
static void chan_restart(struct chan *ch, int64_t since);
static void chan_expire(struct chan *ch, double now);
static const char *chan_cursor(const struct chan *ch, int64_t since);
static int chan_publish(struct feed *f, struct store *s, struct chan *ch, int64_t to);
static int chan_start(struct feed *f, struct store *s, struct chan *ch, int64_t since,
                      int64_t current, const char **after);
static const char *entry_next(const char *p, const char **end);
static int64_t entry_version(const char *entry);
static int entry_ends_access(const char *entry);
static void add_event(struct sbuf *out, const char *entry, size_t len);

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------------------
 * the connection to nginx */

/* 0 when fd is ready for `events` before `deadline`, -1 on timeout or error. */
static int
wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        double left = deadline - now_seconds();
        int n;

        if (left <= 0)
            return -1;
        n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n > 0)
            return (p.revents & (events | POLLHUP | POLLERR)) ? 0 : -1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static void
disconnect(struct feed *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Connects when there is no connection; a new one starts a new generation. 0 or -1. */
static int
connect_feed(struct feed *f)
{
    struct sockaddr_un sa;
    int fd;

    if (f->fd >= 0)
        return 0;
    if (f->path == NULL || now_seconds() < f->down_till)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(f->path) >= sizeof(sa.sun_path))
        goto fail;
    strcpy(sa.sun_path, f->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
        errno != EAGAIN) {
        close(fd);
        goto fail;
    }
    f->fd = fd;
    f->gen++;
    if (f->gen == 0) /* 0 means "unknown" in a channel */
        f->gen = 1;
    return 0;
fail:
    fprintf(stderr, "actiond[%d]: feed: cannot connect to %s: %s\n", (int)getpid(), f->path,
            strerror(errno));
    f->down_till = now_seconds() + FEED_DOWN_SECONDS;
    return -1;
}

static int
send_all(struct feed *f, double deadline)
{
    size_t done = 0;

    while (done < f->out.len) {
        ssize_t n = send(f->fd, f->out.data + done, f->out.len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(f->fd, POLLOUT, deadline) == 0)
            continue;
        return -1;
    }
    return 0;
}

/* The value of header `name` in the header block [p, end), or NULL; *len its length. */
static const char *
header_value(const char *p, const char *end, const char *name, size_t *len)
{
    size_t n = strlen(name);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *v;
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            v = p + n + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            *len = (size_t)(eol - v);
            while (*len > 0 && (v[*len - 1] == '\r' || v[*len - 1] == ' '))
                (*len)--;
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

/*
 * Reads one reply into f->in: nginx answers these locations with a Content-Length,
 * which bounds the body; anything else (chunked, too long, malformed) is a failure.
 */
static int
read_reply(struct feed *f, struct reply *rep, int *close_after, double deadline)
{
    const char *head_end = NULL, *v;
    size_t head_len = 0, body_len = 0, vlen;
    char num[24];

    sbuf_reset(&f->in);
    sbuf_reserve(&f->in, 4096);
    for (;;) {
        ssize_t n;
        if (head_end == NULL && (head_end = strstr(f->in.data, "\r\n\r\n")) != NULL) {
            head_len = (size_t)(head_end - f->in.data) + 4;
            if (f->in.len < 12 || strncmp(f->in.data, "HTTP/1.1 ", 9) != 0)
                return -1;
            rep->status = atoi(f->in.data + 9);
            if (header_value(f->in.data, head_end, "Transfer-Encoding", &vlen) != NULL)
                return -1;
            v = header_value(f->in.data, head_end, "Content-Length", &vlen);
            if (v == NULL || vlen == 0 || vlen >= sizeof(num))
                return -1;
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            body_len = strtoul(num, NULL, 10);
            if (body_len > FEED_REPLY_MAX)
                return -1;
            v = header_value(f->in.data, head_end, "Connection", &vlen);
            *close_after = v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0;
        }
        if (head_end != NULL && f->in.len >= head_len + body_len)
            break;
        if (f->in.len > FEED_REPLY_MAX + 8192)
            return -1;
        sbuf_reserve(&f->in, 4096);
        n = recv(f->fd, f->in.data + f->in.len, f->in.cap - f->in.len - 1, 0);
        if (n > 0) {
            f->in.len += (size_t)n;
            f->in.data[f->in.len] = '\0';
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(f->fd, POLLIN, deadline) == 0)
            continue;
        return -1;
    }
    if (f->in.len != head_len + body_len) /* nothing is pipelined: more is a fault */
        return -1;
    rep->etag = header_value(f->in.data, head_end, "Etag", &rep->etag_len);
    rep->body = f->in.data + head_len;
    rep->body_len = body_len;
    return 0;
}

/*
 * One request about channel `ch`: `method` on FEED_PUB or, for GET, FEED_LAST, with
 * `body` for a POST. Fills *rep (valid until the next call) and returns 0 whatever the
 * status; -1 when nginx could not be asked (the connection is closed, the failure
 * logged). A message is published only on the connection its channel was learnt on:
 * on a new one (nginx restarted, or reloaded) the channel's ids may name nothing.
 */
static int
call(struct feed *f, const char *method, const struct chan *ch, const char *body, size_t len,
     struct reply *rep)
{
    double deadline = now_seconds() + FEED_IO_MS / 1000.0;
    int close_after = 0, kept = f->fd >= 0;

    if (connect_feed(f) < 0 || (body != NULL && ch->gen != f->gen))
        return -1;
    sbuf_reset(&f->out);
    sbuf_addf(&f->out, "%s %s%s/%lld HTTP/1.1\r\nHost: actiond-feed\r\nAccept: text/json\r\n",
              method, strcmp(method, "GET") == 0 ? FEED_LAST : FEED_PUB, ch->type,
              (long long)ch->id);
    if (body != NULL) {
        sbuf_adds(&f->out, "Content-Type: text/event-stream\r\nContent-Length: ");
        sbuf_add_decimal(&f->out, len, 0);
        sbuf_adds(&f->out, "\r\n");
    }
    sbuf_adds(&f->out, "\r\n");
    if (body != NULL)
        sbuf_add(&f->out, body, len);
    if (send_all(f, deadline) < 0 || read_reply(f, rep, &close_after, deadline) < 0) {
        fprintf(stderr, "actiond[%d]: feed: %s %s/%lld failed on %s\n", (int)getpid(), method,
                ch->type, (long long)ch->id, f->path);
        disconnect(f);
        /* a kept connection nginx closed (a reload) is tried again at once */
        if (!kept)
            f->down_till = now_seconds() + FEED_DOWN_SECONDS;
        return -1;
    }
    if (close_after)
        disconnect(f);
    return 0;
}

/* Copies an nchan id ("<time>:<tag>", digits, '-' and ':' only) of `len` bytes into
 * `out`; 0, or -1 when it is not one. */
static int
copy_id(char *out, const char *id, size_t len)
{
    size_t i;

    if (id == NULL || len == 0 || len >= FEED_ID_MAX || memchr(id, ':', len) == NULL)
        return -1;
    for (i = 0; i < len; i++)
        if (!(id[i] == ':' || id[i] == '-' || (id[i] >= '0' && id[i] <= '9')))
            return -1;
    memcpy(out, id, len);
    out[len] = '\0';
    return 0;
}

/* A member of the publisher's JSON reply ({"messages": 1, "requested": -1,
 * "subscribers": 0, "last_message_id": "1796694622:0" }): the text after `name`. */
static const char *
reply_member(const struct reply *rep, const char *name, size_t *len)
{
    const char *end = rep->body + rep->body_len, *p, *q;
    size_t n = strlen(name);

    for (p = rep->body; p + n < end; p++) {
        if (*p != '"' || strncmp(p + 1, name, n) != 0 || p[n + 1] != '"')
            continue;
        p += n + 2;
        while (p < end && (*p == ':' || *p == ' '))
            p++;
        if (p < end && *p == '"')
            p++;
        for (q = p; q < end && *q != '"' && *q != ',' && *q != ' ' && *q != '}'; q++)
            ;
        *len = (size_t)(q - p);
        return p;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------
 * channels */

static size_t
bucket(const char *type, int64_t id)
{
    size_t h = (size_t)id * 2654435761u;

    for (; *type != '\0'; type++)
        h = h * 31 + (unsigned char)*type;
    return h % FEED_BUCKETS;
}

static void
use_unlink(struct feed *f, struct chan *ch)
{
    if (ch->older != NULL)
        ch->older->newer = ch->newer;
    else
        f->oldest = ch->newer;
    if (ch->newer != NULL)
        ch->newer->older = ch->older;
    else
        f->newest = ch->older;
    ch->older = ch->newer = NULL;
}

static void
use_append(struct feed *f, struct chan *ch)
{
    ch->older = f->newest;
    ch->newer = NULL;
    if (f->newest != NULL)
        f->newest->newer = ch;
    else
        f->oldest = ch;
    f->newest = ch;
}

static struct chan *
chan_find(struct feed *f, const char *type, int64_t id)
{
    struct chan *ch;

    for (ch = f->buckets[bucket(type, id)]; ch != NULL; ch = ch->hnext)
        if (ch->id == id && strcmp(ch->type, type) == 0)
            return ch;
    return NULL;
}

/* Unlinks and frees `ch`; a followed channel is deleted in nchan first, so that its
 * subscribers reconnect to a worker that knows it. */
static void
chan_evict(struct feed *f, struct chan *ch)
{
    struct chan **pp = &f->buckets[bucket(ch->type, ch->id)];

    if (ch->followed)
        chan_drop(f, ch);
    while (*pp != ch)
        pp = &(*pp)->hnext;
    *pp = ch->hnext;
    use_unlink(f, ch);
    f->nchans--;
    free(ch);
}

/* The channel of (type, id), made (unknown) when there is none; most recently used. */
static struct chan *
chan_get(struct feed *f, const char *type, int64_t id)
{
    struct chan *ch = chan_find(f, type, id);
    size_t b;

    if (ch != NULL) {
        use_unlink(f, ch);
        use_append(f, ch);
        return ch;
    }
    if (f->nchans >= FEED_CHANNELS)
        chan_evict(f, f->oldest);
    ch = xcalloc(1, sizeof(*ch));
    ch->type = type;
    ch->id = id;
    b = bucket(type, id);
    ch->hnext = f->buckets[b];
    f->buckets[b] = ch;
    use_append(f, ch);
    f->nchans++;
    return ch;
}

/* Known, on generation `gen`, as a channel with no run that nobody follows. */
static void
chan_forget(struct chan *ch, unsigned gen)
{
    ch->gen = gen;
    ch->followed = 0;
    ch->follow_till = 0;
    ch->next = 0;
    ch->base[0] = '\0';
    ch->first = ch->n = 0;
}

/*
 * Asks nchan for the channel's newest message: its version and id position the run
 * right after it, and, since someone may follow, it is published on until nchan says
 * nobody does. A channel that exists without messages is deleted (a subscriber may be
 * waiting on it from before this process knew it), one that does not exist is empty.
 */
static int
chan_learn(struct feed *f, struct chan *ch)
{
    struct reply rep;
    char id[FEED_ID_MAX];
    const char *p;
    int64_t v = 0;

    if (call(f, "GET", ch, NULL, 0, &rep) < 0)
        return -1;
    switch (rep.status) {
    case 200:
        if (rep.body_len < 5 || strncmp(rep.body, "id: ", 4) != 0 ||
            copy_id(id, rep.etag, rep.etag_len) < 0)
            break;
        for (p = rep.body + 4; p < rep.body + rep.body_len && *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (*p - '0');
        if (v <= 0)
            break;
        chan_forget(ch, f->gen);
        strcpy(ch->base, id);
        ch->next = v + 1;
        ch->followed = 1;
        return 0;
    case 304: /* no message */
        return chan_drop(f, ch);
    case 403: /* no channel (the probe creates none) */
        chan_forget(ch, f->gen);
        return 0;
    default:
        break;
    }
    fprintf(stderr, "actiond[%d]: feed: nchan answered %d about %s/%lld\n", (int)getpid(),
            rep.status, ch->type, (long long)ch->id);
    return -1;
}

/* Deletes the channel in nchan, which ends the streams that follow it (they reconnect
 * and are placed again), and forgets the run. */
static int
chan_drop(struct feed *f, struct chan *ch)
{
    struct reply rep;

    if (call(f, "DELETE", ch, NULL, 0, &rep) < 0 || (rep.status != 200 && rep.status != 404)) {
        ch->gen = 0;
        return -1;
    }
    chan_forget(ch, f->gen);
    return 0;
}

/* Starts a new run after the channel's newest message, positioned for a subscriber at
 * `since`: only when nobody follows the old one. */
static void
chan_restart(struct chan *ch, int64_t since)
{
    if (ch->n > 0)
        strcpy(ch->base, ch->ring[(ch->first + ch->n - 1) % FEED_RING].id);
    ch->first = ch->n = 0;
    ch->next = since + 1;
}

/* Lets go of cursors whose successor nchan may have dropped by now. */
static void
chan_expire(struct chan *ch, double now)
{
    while (ch->n > 0 && now - ch->ring[ch->first].at > FEED_CURSOR_TTL) {
        strcpy(ch->base, ch->ring[ch->first].id);
        ch->first = (ch->first + 1) % FEED_RING;
        ch->n--;
    }
}

/* The nchan id after which the channel holds exactly the versions after `since`, or
 * NULL when the run does not reach back that far. */
static const char *
chan_cursor(const struct chan *ch, int64_t since)
{
    int64_t oldest = ch->next - (int64_t)ch->n;

    if (ch->next == 0 || since < oldest - 1 || since >= ch->next)
        return NULL;
    if (since == oldest - 1)
        return ch->base;
    return ch->ring[(ch->first + (size_t)(since - oldest)) % FEED_RING].id;
}

/*
 * Publishes the log entries from ch->next to `to`, in order, advancing the run. An
 * entry that deletes the resource or may take access away (unshare, transfer) ends the
 * channel right after it: its subscribers reconnect and are authorized again. 0, or -1
 * when the log or nchan failed (the channel is then learnt again before its next use).
 */
static int
chan_publish(struct feed *f, struct store *s, struct chan *ch, int64_t to)
{
    struct sbuf entries, msg;
    struct err err = {0};
    const char *p, *end;
    int64_t last;
    size_t n;
    int rc = -1;

    sbuf_init(&entries);
    sbuf_init(&msg);
    if (store_log(s, ch->id, ch->next - 1, (int)(to - ch->next + 1), &entries, &n, &last, &err) !=
        ERR_OK) {
        fprintf(stderr, "actiond[%d]: feed: reading the log of %s/%lld: %s\n", (int)getpid(),
                ch->type, (long long)ch->id, err.detail);
        goto cleanup;
    }
    for (p = entry_next(entries.data, &end); p != NULL; p = entry_next(end, &end)) {
        struct reply rep;
        const char *v;
        size_t vlen;
        int64_t version = entry_version(p);
        struct cursor *c;

        if (version != ch->next) {
            fprintf(stderr, "actiond[%d]: feed: %s/%lld: the log gave version %lld for %lld\n",
                    (int)getpid(), ch->type, (long long)ch->id, (long long)version,
                    (long long)ch->next);
            goto cleanup;
        }
        sbuf_reset(&msg);
        add_event(&msg, p, (size_t)(end - p));
        if (call(f, "POST", ch, msg.data, msg.len, &rep) < 0)
            goto cleanup;
        if (rep.status != 201 && rep.status != 202) {
            /* nchan refused it (out of memory: 507): its followers would wait for it in
             * vain, so they are sent away to come back (and read the log meanwhile) */
            fprintf(stderr, "actiond[%d]: feed: nchan answered %d to a message of %s/%lld\n",
                    (int)getpid(), rep.status, ch->type, (long long)ch->id);
            chan_drop(f, ch);
            goto cleanup;
        }
        if (ch->n == FEED_RING) {
            strcpy(ch->base, ch->ring[ch->first].id);
            ch->first = (ch->first + 1) % FEED_RING;
            ch->n--;
        }
        c = &ch->ring[(ch->first + ch->n) % FEED_RING];
        v = reply_member(&rep, "last_message_id", &vlen);
        if (copy_id(c->id, v, vlen) < 0)
            goto cleanup;
        c->version = version;
        c->at = now_seconds();
        ch->n++;
        ch->next = version + 1;
        v = reply_member(&rep, "subscribers", &vlen);
        if (v != NULL && vlen == 1 && *v == '0' && c->at >= ch->follow_till)
            ch->followed = 0;
        if (entry_ends_access(p)) {
            rc = chan_drop(f, ch);
            goto cleanup;
        }
    }
    rc = ch->next == to + 1 ? 0 : -1;
cleanup:
    if (rc < 0)
        ch->gen = 0;
    err_clear(&err);
    sbuf_free(&msg);
    sbuf_free(&entries);
    return rc;
}

/*
 * Positions a subscriber at `since` on a resource now at `current`: brings the run up
 * to `current`, or starts a new one when nobody follows the channel. 1 with *after the
 * nchan id to start after; 0 when nchan cannot start there (too far behind, or the run
 * ended); -1 when nchan or the log failed.
 */
static int
chan_start(struct feed *f, struct store *s, struct chan *ch, int64_t since, int64_t current,
           const char **after)
{
    double now = now_seconds();

    if (ch->gen != f->gen && chan_learn(f, ch) < 0)
        return -1;
    chan_expire(ch, now);
    /* a run far behind (its followers start again), or ahead of the log (nchan outlived a
     * database this process no longer writes to) */
    if (ch->followed && (current - (ch->next - 1) > FEED_RUN_MAX || ch->next > current + 1) &&
        chan_drop(f, ch) < 0)
        return -1;
    if (!ch->followed || ch->next == 0) {
        if (current - since > FEED_RUN_MAX)
            return 0;
        chan_restart(ch, since);
    }
    ch->followed = 1;
    ch->follow_till = now + FEED_GRACE;
    if (ch->next <= current && chan_publish(f, s, ch, current) < 0)
        return -1;
    if (ch->next != current + 1)
        return 0;
    *after = chan_cursor(ch, since);
    return *after != NULL;
}

/* ---------------------------------------------------------------------------------
 * log entries as events */

/* The next element of store_log's JSON array text (valid JSON, written by store.c)
 * from `p` (the array's start, or the end of the previous element): its start, with
 * *end after it; NULL when there is none. */
static const char *
entry_next(const char *p, const char **end)
{
    const char *start;
    int depth = 0, in_string = 0;

    while (*p == '[' || *p == ',' || *p == ' ')
        p++;
    if (*p != '{')
        return NULL;
    start = p;
    for (; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                in_string = 0;
            continue;
        }
        if (*p == '"')
            in_string = 1;
        else if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0) {
            *end = p + 1;
            return start;
        }
    }
    return NULL;
}

/* An entry's version: store_log writes {"version":N,"action":"...",...}. */
static int64_t
entry_version(const char *entry)
{
    static const char prefix[] = "{\"version\":";
    int64_t v = 0;
    const char *p;

    if (strncmp(entry, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    for (p = entry + sizeof(prefix) - 1; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v;
}

/* Whether an entry deletes its resource or may take someone's access away. */
static int
entry_ends_access(const char *entry)
{
    static const char *const names[] = {"delete", "unshare", "transfer"};
    const char *p = strstr(entry, ",\"action\":\"");
    size_t i, n;

    if (p == NULL)
        return 0;
    p += 11;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i]);
        if (strncmp(p, names[i], n) == 0 && p[n] == '"')
            return 1;
    }
    return 0;
}

/* One event: "id: <version>\ndata: <entry>\n\n" (the entry is one line of JSON). */
static void
add_event(struct sbuf *out, const char *entry, size_t len)
{
    sbuf_adds(out, "id: ");
    sbuf_add_int64(out, entry_version(entry));
    sbuf_adds(out, "\ndata: ");
    sbuf_add(out, entry, len);
    sbuf_adds(out, "\n\n");
}

/* ---------------------------------------------------------------------------------
 * the public side */

struct feed *
feed_new(const char *socket_path)
{
    struct feed *f = xcalloc(1, sizeof(*f));

    f->path = socket_path != NULL ? xstrdup(socket_path) : NULL;
    f->fd = -1;
    f->gen = 1; /* a channel's 0 is "unknown"; nothing is learnt before a connection */
    sbuf_init(&f->out);
    sbuf_init(&f->in);
    return f;
}

void
feed_free(struct feed *f)
{
    if (f == NULL)
        return;
    while (f->oldest != NULL)
        chan_evict(f, f->oldest);
    disconnect(f);
    free(f->notes);
    sbuf_free(&f->out);
    sbuf_free(&f->in);
    free(f->path);
    free(f);
}

void
feed_note(struct feed *f, const char *type, int64_t id, int64_t version)
{
    if (f->path == NULL)
        return;
    if (f->nnotes == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->notes = xrealloc(f->notes, f->cap * sizeof(*f->notes));
    }
    f->notes[f->nnotes].type = type;
    f->notes[f->nnotes].id = id;
    f->notes[f->nnotes].version = version;
    f->nnotes++;
}

void
feed_flush(struct feed *f, struct store *s)
{
    size_t i;

    for (i = 0; i < f->nnotes; i++) {
        struct note *nt = &f->notes[i];
        struct chan *ch = chan_find(f, nt->type, nt->id);

        if (ch == NULL || !ch->followed)
            continue;
        if (ch->gen != f->gen && chan_learn(f, ch) < 0)
            continue;
        if (!ch->followed || nt->version < ch->next)
            continue;
        if (nt->version - (ch->next - 1) > FEED_RUN_MAX) {
            chan_drop(f, ch); /* too much to catch up: its followers start again */
            continue;
        }
        /* once more on a new connection, should the kept one have ended (a reload) */
        if (chan_publish(f, s, ch, nt->version) < 0 && chan_learn(f, ch) == 0 && ch->followed &&
            nt->version >= ch->next && nt->version - (ch->next - 1) <= FEED_RUN_MAX)
            chan_publish(f, s, ch, nt->version);
    }
    f->nnotes = 0;
}

enum err_code
feed_start_point(const struct req *r, int64_t *since, struct err *err)
{
    const char *p = r->last_event_id;
    size_t n;

    *since = -1;
    if (r->if_none_match != NULL)
        return err_fail(err, ERR_BAD_REQUEST, NULL,
                        "the feed takes Last-Event-ID or ?since=, not If-None-Match");
    if (p != NULL && *p != '\0') {
        n = strlen(p);
        if (n > 18 || strspn(p, "0123456789") != n || (n > 1 && p[0] == '0'))
            return err_fail(err, ERR_BAD_REQUEST, NULL,
                            "Last-Event-ID must be a version: an integer from 0");
        *since = strtoll(p, NULL, 10);
    } else if (req_query_int(r, "since", 0, INT64_MAX / 2, since, err) < 0) {
        return ERR_BAD_REQUEST;
    }
    return ERR_OK;
}

enum err_code
feed_answer(struct feed *f, struct store *s, const struct req *r, const char *type,
            const struct store_row *meta, int64_t since, struct resp *out, struct err *err)
{
    struct sbuf body, entries;
    const char *after = NULL;
    int64_t last;
    size_t n;
    const char *p, *end;
    enum err_code rc;
    int started = 0;

    if (since < 0)
        since = meta->version;
    if (since > meta->version)
        return err_fail(err, ERR_BAD_REQUEST, NULL,
                        "the feed cannot start after version %lld: the resource is at version "
                        "%lld",
                        (long long)since, (long long)meta->version);
    if (meta->deleted && since >= meta->version)
        return err_fail(err, ERR_GONE, NULL, "%s %lld was deleted", type, (long long)meta->id);
    if (strcmp(r->method, "HEAD") == 0) {
        /* what GET would answer, without the stream */
        resp_text(out, 200, "text/event-stream", "", 0);
        resp_header(out, "Cache-Control", "no-store");
        return ERR_OK;
    }
    if (f->path != NULL && !meta->deleted)
        started = chan_start(f, s, chan_get(f, type, meta->id), since, meta->version, &after);
    resp_header(out, "Cache-Control", "no-store");
    if (started > 0) {
        /* nchan answers from here on; nginx keeps this response's Content-Type */
        resp_text(out, 200, "text/event-stream", "", 0);
        resp_header(out, "X-Accel-Redirect", FEED_SUB "%s/%lld?after=%s", type, (long long)meta->id,
                    after);
        return ERR_OK;
    }
    /* the entries the log has after `since`, in a response that ends */
    sbuf_init(&body);
    sbuf_init(&entries);
    rc = store_log(s, meta->id, since, FEED_CATCHUP, &entries, &n, &last, err);
    if (rc == ERR_OK) {
        if (f->path == NULL || started < 0)
            sbuf_addf(&body, "retry: %d\n\n", FEED_POLL_MS);
        for (p = entry_next(entries.data, &end); p != NULL; p = entry_next(end, &end))
            add_event(&body, p, (size_t)(end - p));
        resp_text(out, 200, "text/event-stream", body.data, body.len);
    }
    sbuf_free(&entries);
    sbuf_free(&body);
    return rc;
}
