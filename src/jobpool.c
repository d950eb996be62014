/*
 * The job threads: a queue and a done list under one mutex, job data
 * copied in and wiped on the way out, results delivered on the loop by
 * an ev_async. Only the loop thread submits, cancels and frees; a thread
 * touches a job only between taking it from the queue and putting it on
 * the done list, and then only its data.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobpool.h"
#include "log.h"

struct jobpool_job {
	struct jobpool		*pool;
	char			 peer[64];
	void			(*done)(void *, void *);
	void			*arg;
	bool			 queued;	/* lock: still in the queue */
	bool			 cancelled;	/* loop: drop the result */
	TAILQ_ENTRY(jobpool_job) q;		/* lock: queue or done list */
	TAILQ_ENTRY(jobpool_job) all;		/* loop: every job in flight */
	size_t			 size;
	max_align_t		 data[];
};

static void
jobpool_free(struct jobpool_job *j)
{
	explicit_bzero(j->data, j->size);
	free(j);
}

/* A pool thread: take a job, work, hand it back; forever. */
static void *
jobpool_main(void *arg)
{
	struct jobpool		*pool = arg;
	struct jobpool_job	*j;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		while ((j = TAILQ_FIRST(&pool->queue)) == NULL)
			pthread_cond_wait(&pool->cond, &pool->lock);
		TAILQ_REMOVE(&pool->queue, j, q);
		pool->nqueued--;
		j->queued = false;
		pthread_mutex_unlock(&pool->lock);
		pool->work(j->data);
		pthread_mutex_lock(&pool->lock);
		TAILQ_INSERT_TAIL(&pool->done, j, q);
		pthread_mutex_unlock(&pool->lock);
		ev_async_send(pool->loop, &pool->async);
	}
	return NULL;
}

/* Fires on the loop when threads finished jobs: deliver the results. */
static void
jobpool_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct jobpool		*pool = w->data;
	struct jobpool_list	 done;
	struct jobpool_job	*j;

	(void)loop, (void)revents;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&pool->lock);
	TAILQ_CONCAT(&done, &pool->done, q);
	pthread_mutex_unlock(&pool->lock);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, q);
		TAILQ_REMOVE(&pool->all, j, all);
		if (!j->cancelled)
			j->done(j->arg, j->data);
		jobpool_free(j);
	}
}

/* The threads, with every signal blocked: signals are the loop's. */
static int
jobpool_start(struct jobpool *pool, struct ev_loop *loop)
{
	sigset_t	 all, old;
	pthread_t	 t;
	int		 i, n = 0, rv;

	TAILQ_INIT(&pool->queue);
	TAILQ_INIT(&pool->done);
	TAILQ_INIT(&pool->all);
	pool->loop = loop;
	ev_async_init(&pool->async, jobpool_done_cb);
	pool->async.data = pool;
	ev_async_start(loop, &pool->async);
	ev_unref(loop);		/* pending jobs do not keep the loop alive */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < pool->nthreads; i++) {
		rv = pthread_create(&t, NULL, jobpool_main, pool);
		if (rv != 0) {
			log_warnx("%s thread: %s", pool->name, strerror(rv));
			continue;
		}
		pthread_detach(t);
		n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool->started = n > 0;
	return n > 0 ? 0 : -1;
}

/* Jobs in flight for one client address. */
static int
jobpool_peer_count(struct jobpool *pool, const char *peer)
{
	struct jobpool_job	*j;
	int			 n = 0;

	TAILQ_FOREACH(j, &pool->all, all)
		n += strcmp(j->peer, peer) == 0;
	return n;
}

struct jobpool_job *
jobpool_submit(struct jobpool *pool, struct ev_loop *loop, const void *data,
    size_t size, const char *peer, void (*done)(void *, void *), void *arg,
    const char **why)
{
	struct jobpool_job	*j;
	bool			 full;

	if (!pool->started && jobpool_start(pool, loop) == -1) {
		*why = "no worker thread";
		return NULL;
	}
	if (pool->max_per_peer > 0 &&
	    jobpool_peer_count(pool, peer) >= pool->max_per_peer) {
		*why = "too many jobs from this address";
		return NULL;
	}
	pthread_mutex_lock(&pool->lock);
	full = pool->nqueued >= pool->max_queued;
	pthread_mutex_unlock(&pool->lock);
	if (full) {
		*why = "queue full";
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j) + size)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	j->pool = pool;
	memcpy(j->data, data, size);
	j->size = size;
	snprintf(j->peer, sizeof(j->peer), "%s", peer);
	j->done = done;
	j->arg = arg;
	j->queued = true;
	TAILQ_INSERT_TAIL(&pool->all, j, all);
	pthread_mutex_lock(&pool->lock);
	TAILQ_INSERT_TAIL(&pool->queue, j, q);
	pool->nqueued++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return j;
}

void
jobpool_cancel(struct jobpool *pool, struct jobpool_job *j)
{
	bool	 queued;

	pthread_mutex_lock(&pool->lock);
	if ((queued = j->queued)) {
		TAILQ_REMOVE(&pool->queue, j, q);
		pool->nqueued--;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!queued) {
		j->cancelled = true;	/* being worked on: freed when back */
		return;
	}
	TAILQ_REMOVE(&pool->all, j, all);
	jobpool_free(j);
}
