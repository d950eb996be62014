/*
 * The hashing threads: a queue and a done list under one mutex, jobs
 * copied in and out, verdicts delivered on the loop by an ev_async.
 * Only the loop thread submits, cancels and frees; a thread touches a
 * job only between taking it from the queue and putting it on the done
 * list, and then only its auth_job.
 */
#include <sys/queue.h>

#include <crypt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_pool.h"
#include "log.h"

struct auth_pool_job {
	struct auth_job		 job;
	char			 peer[64];
	void			(*done)(void *, struct auth_job *);
	void			*arg;
	bool			 queued;	/* lock: still in the queue */
	bool			 cancelled;	/* loop: drop the verdict */
	TAILQ_ENTRY(auth_pool_job) q;		/* lock: queue or done list */
	TAILQ_ENTRY(auth_pool_job) all;		/* loop: every job in flight */
};

TAILQ_HEAD(auth_pool_list, auth_pool_job);

static struct {
	bool			 started;
	struct ev_loop		*loop;
	ev_async		 async;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct auth_pool_list	 queue, done;	/* under lock */
	size_t			 nqueued;	/* under lock */
	struct auth_pool_list	 all;		/* loop thread only */
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void
auth_pool_free(struct auth_pool_job *pj)
{
	explicit_bzero(&pj->job, sizeof(pj->job));
	free(pj);
}

/* A hashing thread: take a job, hash it, hand it back; forever. */
static void *
auth_pool_main(void *arg)
{
	struct crypt_data	*cd;	/* 32K: per thread, crypt(3) is not */
	struct auth_pool_job	*pj;

	(void)arg;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		fatal("calloc");
	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while ((pj = TAILQ_FIRST(&pool.queue)) == NULL)
			pthread_cond_wait(&pool.cond, &pool.lock);
		TAILQ_REMOVE(&pool.queue, pj, q);
		pool.nqueued--;
		pj->queued = false;
		pthread_mutex_unlock(&pool.lock);
		auth_job_hash(&pj->job, cd);
		pthread_mutex_lock(&pool.lock);
		TAILQ_INSERT_TAIL(&pool.done, pj, q);
		pthread_mutex_unlock(&pool.lock);
		ev_async_send(pool.loop, &pool.async);
	}
	return NULL;
}

/* Fires on the loop when threads finished jobs: deliver the verdicts. */
static void
auth_pool_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct auth_pool_list	 done;
	struct auth_pool_job	*pj;

	(void)loop, (void)w, (void)revents;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&pool.lock);
	TAILQ_CONCAT(&done, &pool.done, q);
	pthread_mutex_unlock(&pool.lock);
	while ((pj = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, pj, q);
		TAILQ_REMOVE(&pool.all, pj, all);
		if (!pj->cancelled)
			pj->done(pj->arg, &pj->job);
		auth_pool_free(pj);
	}
}

/* The threads, with every signal blocked: signals are the loop's. */
static int
auth_pool_start(struct ev_loop *loop)
{
	sigset_t	 all, old;
	pthread_t	 t;
	int		 i, n = 0, rv;

	TAILQ_INIT(&pool.queue);
	TAILQ_INIT(&pool.done);
	TAILQ_INIT(&pool.all);
	pool.loop = loop;
	ev_async_init(&pool.async, auth_pool_done_cb);
	ev_async_start(loop, &pool.async);
	ev_unref(loop);		/* pending checks do not keep the loop alive */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < AUTH_POOL_THREADS; i++) {
		rv = pthread_create(&t, NULL, auth_pool_main, NULL);
		if (rv != 0) {
			log_warnx("password hashing thread: %s", strerror(rv));
			continue;
		}
		pthread_detach(t);
		n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool.started = n > 0;
	return n > 0 ? 0 : -1;
}

/* Checks in flight for one client address (at most a queue's worth). */
static int
auth_pool_peer_count(const char *peer)
{
	struct auth_pool_job	*pj;
	int			 n = 0;

	TAILQ_FOREACH(pj, &pool.all, all)
		n += strcmp(pj->peer, peer) == 0;
	return n;
}

struct auth_pool_job *
auth_pool_submit(struct ev_loop *loop, const struct auth_job *job,
    const char *peer, void (*done)(void *, struct auth_job *), void *arg,
    const char **why)
{
	struct auth_pool_job	*pj;
	bool			 full;

	if (!pool.started && auth_pool_start(loop) == -1) {
		*why = "no hashing thread";
		return NULL;
	}
	if (auth_pool_peer_count(peer) >= AUTH_POOL_PER_PEER) {
		*why = "too many password checks from this address";
		return NULL;
	}
	pthread_mutex_lock(&pool.lock);
	full = pool.nqueued >= AUTH_POOL_QUEUE;
	pthread_mutex_unlock(&pool.lock);
	if (full) {
		*why = "password check queue full";
		return NULL;
	}
	if ((pj = calloc(1, sizeof(*pj))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	pj->job = *job;
	snprintf(pj->peer, sizeof(pj->peer), "%s", peer);
	pj->done = done;
	pj->arg = arg;
	pj->queued = true;
	TAILQ_INSERT_TAIL(&pool.all, pj, all);
	pthread_mutex_lock(&pool.lock);
	TAILQ_INSERT_TAIL(&pool.queue, pj, q);
	pool.nqueued++;
	pthread_cond_signal(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	return pj;
}

void
auth_pool_cancel(struct auth_pool_job *pj)
{
	bool	 queued;

	pthread_mutex_lock(&pool.lock);
	if ((queued = pj->queued)) {
		TAILQ_REMOVE(&pool.queue, pj, q);
		pool.nqueued--;
	}
	pthread_mutex_unlock(&pool.lock);
	if (!queued) {
		pj->cancelled = true;	/* being hashed: freed when back */
		return;
	}
	TAILQ_REMOVE(&pool.all, pj, all);
	auth_pool_free(pj);
}
