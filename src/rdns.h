/*
 * --reverselookup: the client's host name (getnameinfo, NI_NAMEREQD) on
 * threads of a jobpool, never on the event loop.
 */
#ifndef RDNS_H
#define RDNS_H

#include <sys/socket.h>

#include <ev.h>

#define RDNS_TIMEOUT_MS	3000	/* then REMOTE_HOST is the address */
#define RDNS_THREADS	2
#define RDNS_QUEUE	64	/* lookups waiting for a thread */

struct jobpool_job;

/*
 * Look sa up; done(arg, name) runs on loop, name NULL when the address
 * has no name (or the lookup failed). NULL at once when the queue is
 * full: the caller goes on with the address.
 */
struct jobpool_job	*rdns_submit(struct ev_loop *, const struct sockaddr *,
			    socklen_t, const char *peer,
			    void (*done)(void *arg, const char *name),
			    void *arg);
/* done will not run. */
void			 rdns_cancel(struct jobpool_job *);

#endif
