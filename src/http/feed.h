/*
 * feed.h: the live feed of a resource's log (docs/api.md, "Live feed"). A worker
 * authorizes GET /{type}/{id}/events and hands the connection to the web server's
 * pub/sub module (nchan) with X-Accel-Redirect, so that a waiting subscriber holds no
 * worker; once a response is out, the worker publishes the log entries of the changes
 * it made to nchan, for the resources someone follows.
 *
 * Exactness (every entry after the subscriber's version once, in order) rests on one
 * publisher per resource: the worker nginx pins the resource's writes and feed requests
 * to (nginx/actiond.conf.in). It keeps, per followed resource, the nchan message id of
 * each version it published lately, and names the id of the subscriber's version as
 * the point nchan starts after, so nchan itself delivers the backlog and then the
 * live entries from one buffer; entries it has not published yet (written by another
 * process) it publishes from the log first.
 */
#ifndef ACTIOND_FEED_H
#define ACTIOND_FEED_H

#include <stdint.h>

#include "base/err.h"
#include "http/req.h"
#include "http/resp.h"
#include "store/store.h"

struct feed;

/*
 * The feed of one worker process, talking to nchan on the unix socket `socket_path`
 * (copied; connected on first use). NULL `socket_path`: no nchan, and GET .../events
 * answers the log entries it can and ends (feed_answer). Never NULL.
 */
struct feed *feed_new(const char *socket_path);

/*
 * Ends what the worker kept alive: every channel it publishes to is deleted, so that
 * its subscribers reconnect to the worker that takes over. Accepts NULL.
 */
void feed_free(struct feed *f);

/*
 * Records that resource `id` of `type` (the catalog's name, borrowed for the process's
 * life) changed and is now at `version`. Nothing is sent until feed_flush.
 */
void feed_note(struct feed *f, const char *type, int64_t id, int64_t version);

/*
 * Publishes what feed_note recorded, for the resources that have subscribers: reads
 * the new entries from the log and posts each to nchan. For the moment after a
 * response is out; never fails (a resource whose publishing failed is learnt again
 * from nchan before its next entry).
 */
void feed_flush(struct feed *f, struct store *s);

/*
 * The version GET .../events names to start after, into *since: Last-Event-ID (what a
 * reconnecting EventSource sends), else ?since=, else -1 (the current version).
 * ERR_BAD_REQUEST when it is not an integer from 0, or the request has an
 * If-None-Match (nchan would take that for a position of its own).
 */
enum err_code feed_start_point(const struct req *r, int64_t *since, struct err *err);

/*
 * Answers GET .../events for the resource `meta` (store_meta's row; the caller has
 * checked that the caller may read it) after version `since` (feed_start_point's) into
 * `out`: a redirection to nchan that starts there or, when nchan cannot, a finite
 * text/event-stream of the entries after it, read from the log, which the client
 * follows by reconnecting. ERR_BAD_REQUEST for a version beyond the current one,
 * ERR_GONE when the resource was deleted and its deletion is not after `since`,
 * ERR_UNAVAILABLE as the store reports it. A HEAD request gets GET's status and
 * headers, and starts nothing.
 */
enum err_code feed_answer(struct feed *f, struct store *s, const struct req *r, const char *type,
                          const struct store_row *meta, int64_t since, struct resp *out,
                          struct err *err);

#endif
