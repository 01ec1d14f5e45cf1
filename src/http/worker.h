/*
 * worker.h: the process model. Serves FastCGI on a listening socket, either in this
 * process or as a prefork parent supervising N children; SIGTERM lets every process
 * finish the request in hand, then exit.
 */
#ifndef ACTIOND_WORKER_H
#define ACTIOND_WORKER_H

#include "doc/catalog.h"
#include "base/config.h"

/*
 * Opens the listening socket (cfg->listen, or the inherited fd 0 of spawn-fcgi) and
 * serves until SIGTERM or SIGINT. Returns the process exit status: 0 after a clean
 * shutdown, 1 when the socket cannot be opened.
 */
int worker_run(const struct config *cfg, const struct catalog *cat);

#endif
