/*
 * Socket backend: a non-blocking connect to the route's TCP or unix
 * target, finished before the 101 is sent; connect_timeout bounds it.
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

int
backend_tcp_connect(struct conn *c, char *err, size_t errsz)
{
	const struct route	*r = c->route;
	int			 fd, pending;

	fd = net_connect((const struct sockaddr *)&c->backend_addr,
	    c->backend_addrlen, &pending, err, errsz);
	if (fd == -1)
		return -1;
	c->backend.rfd = c->backend.wfd = fd;
	if (!pending) {
		conn_backend_connected(c);
		return 0;
	}
	ev_io_init(&c->backend.wr, backend_tcp_connected_cb, fd, EV_WRITE);
	c->backend.wr.data = c;
	ev_io_start(server.loop, &c->backend.wr);
	ev_timer_stop(server.loop, &c->deadline);
	ev_timer_set(&c->deadline, r->limits.connect_timeout_ms / 1000., 0.);
	ev_timer_start(server.loop, &c->deadline);
	return 0;
}
