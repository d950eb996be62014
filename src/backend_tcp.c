/*
 * Socket backend: a non-blocking connect to the route's TCP or unix
 * target (or the one set before start, a token's), finished before the
 * 101 is sent; connect_timeout bounds it. A unix listener whose backlog
 * is full answers EAGAIN (nothing is connecting): the connect is tried
 * again on the backend's timer, with a short backoff, until
 * connect_timeout, then 502. The loop (libev's default) never waits.
 * The connect's watcher and timer are the backend's own, allocated for
 * the connect only.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "net.h"

#define BACKEND_RETRY_FIRST	0.005	/* seconds, doubled each time */
#define BACKEND_RETRY_MAX	0.2

/* A connect under way. */
struct backend_connect {
	ev_io		 io;		/* the connect finished */
	ev_timer	 timer;		/* connect_timeout, or the next try */
	ev_tstamp	 until;		/* connect_timeout's end */
	ev_tstamp	 retry;		/* backoff of a full unix backlog */
	int		 fd;		/* -1 when none */
	uint64_t	 id;		/* the owner's, for log lines */
	const char	*peer, *path;
};

static int	tcp_try(struct backend *, char *, size_t);

/* The connect is over: hand the fd out or close it, free the state. */
static void
tcp_connect_done(struct backend *b, bool ok)
{
	struct backend_connect	*s = b->u.sock;

	ev_io_stop(EV_DEFAULT_UC, &s->io);
	ev_timer_stop(EV_DEFAULT_UC, &s->timer);
	if (ok)
		b->rfd = b->wfd = s->fd;
	else if (s->fd != -1)
		close(s->fd);
	free(s);
	b->u.sock = NULL;
}

static void
tcp_fail(struct backend *b, const char *why)
{
	tcp_connect_done(b, false);
	b->owner->failed(b->arg, why);
}

/* Fires when the pending connect finished, one way or the other. */
static void
tcp_connected_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct backend	*b = w->data;
	int		 err = 0;
	socklen_t	 len = sizeof(err);
	char		 why[128];

	(void)loop, (void)revents;
	if (getsockopt(b->u.sock->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		tcp_fail(b, why);
		return;
	}
	tcp_connect_done(b, true);
	b->owner->ready(b->arg);
}

/* Fires at connect_timeout, or when a full backlog may have room. */
static void
tcp_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct backend	*b = w->data;
	char		 err[256];
	int		 rv;

	(void)loop, (void)revents;
	if (b->u.sock->retry == 0) {
		tcp_fail(b, "connect: timed out");
		return;
	}
	if ((rv = tcp_try(b, err, sizeof(err))) == -1)
		tcp_fail(b, err);
	else if (rv == 0)
		b->owner->ready(b->arg);
}

/* Arm the timer for the next try, within connect_timeout. */
static void
tcp_retry_later(struct backend *b)
{
	struct backend_connect	*s = b->u.sock;
	ev_tstamp		 now = ev_now(EV_DEFAULT_UC), at;

	s->retry = s->retry == 0 ? BACKEND_RETRY_FIRST : s->retry * 2;
	if (s->retry > BACKEND_RETRY_MAX)
		s->retry = BACKEND_RETRY_MAX;
	at = now + s->retry;
	if (at > s->until)
		at = s->until;
	ev_timer_stop(EV_DEFAULT_UC, &s->timer);
	ev_timer_set(&s->timer, at > now ? at - now : 0., 0.);
	ev_timer_start(EV_DEFAULT_UC, &s->timer);
}

/*
 * One connect attempt: 0 connected, 1 in progress or to be tried
 * again; -1 with a reason in err.
 */
static int
tcp_try(struct backend *b, char *err, size_t errsz)
{
	struct backend_connect	*s = b->u.sock;
	ev_tstamp		 left;
	int			 fd, pending;

	fd = net_connect(b->addr, b->addrlen,
	    &pending, err, errsz);
	if (fd == -1) {
		if (errno != EAGAIN || ev_now(EV_DEFAULT_UC) >= s->until)
			return -1;
		log_debug("conn %llu %s %s: backend: %s, trying again",
		    (unsigned long long)s->id, s->peer, s->path, err);
		tcp_retry_later(b);
		return 1;
	}
	s->retry = 0;
	s->fd = fd;
	if (!pending) {
		tcp_connect_done(b, true);
		return 0;
	}
	ev_io_set(&s->io, fd, EV_WRITE);
	ev_io_start(EV_DEFAULT_UC, &s->io);
	ev_timer_stop(EV_DEFAULT_UC, &s->timer);
	left = s->until - ev_now(EV_DEFAULT_UC);
	ev_timer_set(&s->timer, left > 0 ? left : 0., 0.);
	ev_timer_start(EV_DEFAULT_UC, &s->timer);
	return 1;
}

static int
tcp_start(struct backend *b, const struct backend_params *bp, char *err,
    size_t errsz)
{
	struct backend_connect	*s;
	const struct route	*r = bp->route;
	int			 rv;

	if (b->addr == NULL) {
		b->addr = (const struct sockaddr *)&r->addr;
		b->addrlen = r->addrlen;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	b->u.sock = s;
	s->fd = -1;
	s->id = bp->id;
	ev_init(&s->io, tcp_connected_cb);
	ev_init(&s->timer, tcp_timer_cb);
	s->io.data = s->timer.data = b;
	s->until = ev_now(EV_DEFAULT_UC) +
	    r->limits.connect_timeout_ms / 1000.;
	s->retry = 0;
	s->peer = bp->peer;
	s->path = bp->path;
	if ((rv = tcp_try(b, err, errsz)) == -1)
		tcp_connect_done(b, false);
	return rv;
}

/* The owner left while connecting: abandon the connect. */
static void
tcp_stop(struct backend *b)
{
	if (b->u.sock != NULL)
		tcp_connect_done(b, false);
}

/* "127.0.0.1:5900", "[::1]:5900", "unix:/path". */
static void
tcp_name(const struct backend *b, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];
	int	 port;

	if (b->addr == NULL)
		snprintf(buf, len, "no process");
	else if (b->addr->sa_family == AF_UNIX)
		snprintf(buf, len, "unix:%s",
		    ((const struct sockaddr_un *)b->addr)->sun_path);
	else {
		net_addr_string(b->addr, host, sizeof(host), &port);
		snprintf(buf, len, b->addr->sa_family == AF_INET6 ?
		    "[%s]:%d" : "%s:%d", host, port);
	}
}

const struct backend_ops backend_tcp_ops = {
	.flags = BACKEND_F_SOCKET,
	.start = tcp_start,
	.stop = tcp_stop,
	.name = tcp_name,
};
