/*
 * The hashing threads: a jobpool whose work is auth_job_hash, with a
 * crypt_data per thread (crypt(3)'s own is not thread-safe).
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "auth_pool.h"
#include "jobpool.h"
#include "log.h"

/* What a pool job carries: the check and whom to tell. */
struct auth_pool_data {
	struct auth_job	 job;
	void		(*done)(void *, struct auth_job *);
	void		*arg;
};

static void
auth_pool_work(void *data)
{
	static _Thread_local struct crypt_data	*cd;	/* 32K */

	if (cd == NULL && (cd = calloc(1, sizeof(*cd))) == NULL)
		fatal("calloc");
	auth_job_hash(&((struct auth_pool_data *)data)->job, cd);
}

/* On the loop: the verdict to the submitter. */
static void
auth_pool_done(void *arg, void *data)
{
	struct auth_pool_data	*d = data;

	(void)arg;
	d->done(d->arg, &d->job);
}

static struct jobpool	pool = JOBPOOL_INIT("password hashing",
    AUTH_POOL_THREADS, AUTH_POOL_QUEUE, AUTH_POOL_PER_PEER, auth_pool_work);

struct auth_pool_job *
auth_pool_submit(struct ev_loop *loop, const struct auth_job *job,
    const char *peer, void (*done)(void *, struct auth_job *), void *arg,
    const char **why)
{
	struct jobpool_job	*j;
	struct auth_pool_data	 d;

	d.job = *job;
	d.done = done;
	d.arg = arg;
	j = jobpool_submit(&pool, loop, &d, sizeof(d), peer, auth_pool_done,
	    NULL, why);
	explicit_bzero(&d, sizeof(d));
	if (j == NULL && strncmp(*why, "too many", 8) == 0)
		*why = "too many password checks from this address";
	else if (j == NULL && strcmp(*why, "queue full") == 0)
		*why = "password check queue full";
	else if (j == NULL && strcmp(*why, "no worker thread") == 0)
		*why = "no hashing thread";
	return (struct auth_pool_job *)j;
}

void
auth_pool_cancel(struct auth_pool_job *pj)
{
	jobpool_cancel(&pool, (struct jobpool_job *)pj);
}
