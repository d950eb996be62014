/*
 * Reverse lookups on their own pool: a slow resolver holds these
 * threads, never the hashing threads or the loop.
 */
#include <netdb.h>
#include <string.h>

#include "jobpool.h"
#include "rdns.h"

struct rdns_data {
	struct sockaddr_storage	 addr;
	socklen_t		 len;
	int			 rv;
	char			 host[NI_MAXHOST];
	void			(*done)(void *, const char *);
	void			*arg;
};

static void
rdns_work(void *data)
{
	struct rdns_data	*d = data;

	d->rv = getnameinfo((struct sockaddr *)&d->addr, d->len, d->host,
	    sizeof(d->host), NULL, 0, NI_NAMEREQD);
}

static struct jobpool	pool = JOBPOOL_INIT("reverse lookup", RDNS_THREADS,
    RDNS_QUEUE, 0, rdns_work);

static void
rdns_done(void *arg, void *data)
{
	struct rdns_data	*d = data;

	(void)arg;
	d->done(d->arg, d->rv == 0 && d->host[0] != '\0' ? d->host : NULL);
}

struct jobpool_job *
rdns_submit(struct ev_loop *loop, const struct sockaddr *sa, socklen_t len,
    const char *peer, void (*done)(void *, const char *), void *arg)
{
	struct rdns_data	 d;
	const char		*why;

	memset(&d, 0, sizeof(d));
	if (len > sizeof(d.addr))
		return NULL;
	memcpy(&d.addr, sa, len);
	d.len = len;
	d.done = done;
	d.arg = arg;
	return jobpool_submit(&pool, loop, &d, sizeof(d), peer, rdns_done,
	    NULL, &why);
}

void
rdns_cancel(struct jobpool_job *j)
{
	jobpool_cancel(&pool, j);
}
