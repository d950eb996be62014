/*
 * Socket backend: a non-blocking connect to the route's TCP or unix
 * target, finished before the 101 is sent; connect_timeout bounds it.
 * A unix listener whose backlog is full answers EAGAIN (nothing is
 * connecting): the connect is tried again on the deadline timer, with a
 * short backoff, until connect_timeout, then 502. The loop never waits.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "conn.h"
#include "log.h"
#include "net.h"

#define BACKEND_RETRY_FIRST	0.005	/* seconds, doubled each time */
#define BACKEND_RETRY_MAX	0.2

/* Fires when the pending connect finished, one way or the other. */
static void
backend_tcp_connected_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)revents;
	ev_io_stop(loop, w);
	if (getsockopt(c->backend.wfd, SOL_SOCKET, SO_ERROR, &err, &len) ==
	    -1)
		err = errno;
	if (err != 0) {
		char	 why[128];

		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		conn_backend_failed(c, why);
		return;
	}
	conn_backend_connected(c);
}

/* Arm the deadline timer for the next try, within connect_timeout. */
static void
backend_tcp_retry_later(struct conn *c)
{
	ev_tstamp	 now = ev_now(server.loop), at;

	c->connect_retry = c->connect_retry == 0 ? BACKEND_RETRY_FIRST :
	    c->connect_retry * 2;
	if (c->connect_retry > BACKEND_RETRY_MAX)
		c->connect_retry = BACKEND_RETRY_MAX;
	at = now + c->connect_retry;
	if (at > c->connect_until)
		at = c->connect_until;
	ev_timer_stop(server.loop, &c->deadline);
	ev_timer_set(&c->deadline, at > now ? at - now : 0., 0.);
	ev_timer_start(server.loop, &c->deadline);
}

/*
 * One connect attempt: 0 when connected, in progress or to be tried
 * again; -1 with a reason in err.
 */
static int
backend_tcp_try(struct conn *c, char *err, size_t errsz)
{
	ev_tstamp	 left;
	int		 fd, pending;

	fd = net_connect((const struct sockaddr *)&c->backend_addr,
	    c->backend_addrlen, &pending, err, errsz);
	if (fd == -1) {
		if (errno != EAGAIN || ev_now(server.loop) >= c->connect_until)
			return -1;
		log_debug("conn %llu %s %s: backend: %s, trying again",
		    (unsigned long long)c->id, c->peer, c->path, err);
		backend_tcp_retry_later(c);
		return 0;
	}
	c->connect_retry = 0;
	c->backend.rfd = c->backend.wfd = fd;
	if (!pending) {
		ev_timer_stop(server.loop, &c->deadline);
		conn_backend_connected(c);
		return 0;
	}
	ev_io_init(&c->backend.wr, backend_tcp_connected_cb, fd, EV_WRITE);
	c->backend.wr.data = c;
	ev_io_start(server.loop, &c->backend.wr);
	ev_timer_stop(server.loop, &c->deadline);
	left = c->connect_until - ev_now(server.loop);
	ev_timer_set(&c->deadline, left > 0 ? left : 0., 0.);
	ev_timer_start(server.loop, &c->deadline);
	return 0;
}

int
backend_tcp_connect(struct conn *c, char *err, size_t errsz)
{
	c->connect_until = ev_now(server.loop) +
	    c->route->limits.connect_timeout_ms / 1000.;
	c->connect_retry = 0;
	return backend_tcp_try(c, err, errsz);
}

void
backend_tcp_deadline(struct conn *c)
{
	char	 err[256];

	if (c->connect_retry == 0) {
		conn_backend_failed(c, "connect: timed out");
		return;
	}
	if (backend_tcp_try(c, err, sizeof(err)) == -1)
		conn_backend_failed(c, err);
}
