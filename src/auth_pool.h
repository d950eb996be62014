/*
 * Password hashing off the event loop: a few threads run auth jobs
 * (crypt(3), slow on purpose) from a bounded queue and hand them back
 * to the loop with an ev_async. The loop never waits for a hash, so a
 * flood of wrong passwords costs CPU, not everyone's logins.
 */
#ifndef AUTH_POOL_H
#define AUTH_POOL_H

#include <ev.h>

#include "auth.h"

#define AUTH_POOL_THREADS	2	/* hashing threads per process */
#define AUTH_POOL_QUEUE		32	/* checks waiting for a thread */
#define AUTH_POOL_PER_PEER	4	/* checks in flight per address */

struct auth_pool_job;

/*
 * Hash a copy of job on a pool thread (started at the first call); then
 * done(arg, job) runs on loop, and the copy is wiped and freed. NULL at
 * once, with why set, when the queue is full or peer (a client address)
 * already has AUTH_POOL_PER_PEER checks in flight: answer 503.
 */
struct auth_pool_job	*auth_pool_submit(struct ev_loop *loop,
			    const struct auth_job *job, const char *peer,
			    void (*done)(void *arg, struct auth_job *),
			    void *arg, const char **why);

/*
 * The owner is going away: done will not run. A waiting job is dropped;
 * one being hashed finishes and is thrown away.
 */
void			 auth_pool_cancel(struct auth_pool_job *);

#endif
