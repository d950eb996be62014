/*
 * Blocking work off the event loop: a pool of a few threads runs jobs
 * from a bounded queue and hands each back to the loop with an ev_async.
 * The loop never waits. Password hashing (auth_pool.c) and reverse DNS
 * (rdns.c) each have a pool, so a slow resolver never delays a login.
 */
#ifndef JOBPOOL_H
#define JOBPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/queue.h>

#include <ev.h>

struct jobpool_job;
TAILQ_HEAD(jobpool_list, jobpool_job);

struct jobpool {
	/* Set by the owner before the first submit. */
	const char		*name;		/* "password hashing" */
	int			 nthreads;
	size_t			 max_queued;	/* jobs waiting for a thread */
	int			 max_per_peer;	/* in flight per address, 0 any */
	void			(*work)(void *data);	/* on a thread */
	/* Private. */
	bool			 started;
	struct ev_loop		*loop;
	ev_async		 async;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct jobpool_list	 queue, done;	/* under lock */
	size_t			 nqueued;	/* under lock */
	struct jobpool_list	 all;		/* loop thread only */
};

#define JOBPOOL_INIT(nm, n, q, pp, fn) {				\
	.name = (nm), .nthreads = (n), .max_queued = (q),		\
	.max_per_peer = (pp), .work = (fn),				\
	.lock = PTHREAD_MUTEX_INITIALIZER,				\
	.cond = PTHREAD_COND_INITIALIZER,				\
}

/*
 * Run pool->work on a copy of data (size bytes) on a pool thread (the
 * threads start at the first call); then done(arg, copy) runs on loop,
 * and the copy is wiped and freed. NULL at once, with why set, when the
 * queue is full or peer already has max_per_peer jobs in flight.
 */
struct jobpool_job	*jobpool_submit(struct jobpool *, struct ev_loop *,
			    const void *data, size_t size, const char *peer,
			    void (*done)(void *arg, void *data), void *arg,
			    const char **why);

/*
 * The owner is going away: done will not run. A waiting job is dropped;
 * one being worked on finishes and is thrown away.
 */
void			 jobpool_cancel(struct jobpool *, struct jobpool_job *);

#endif
