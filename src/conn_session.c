/*
 * A client's side of its session: the session is made at routing, and
 * calls the client back only through these (struct session_peer).
 */
#include <sys/uio.h>

#include "conn_int.h"
#include "session.h"

static struct conn *
conn_of(void *arg)
{
	return arg;
}

/* Output for the client: counted, dropped once our goodbye is said. */
static int
conn_peer_deliver(void *arg, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct conn	*c = conn_of(arg);
	int		 i;

	if (c->state == CONN_CLOSED)
		return -1;
	if (c->close_sent)
		return 0;
	if (fin)
		c->stats.msgs_out++;
	for (i = 0; i < iovcnt; i++)
		c->stats.bytes_out += iov[i].iov_len;
	return conn_deliverv(c, type, iov, iovcnt, fin);
}

static size_t
conn_peer_room(void *arg)
{
	struct conn	*c = conn_of(arg);

	if (c->state != CONN_OPEN || c->close_sent)
		return 0;
	return buf_room(&c->client.out);
}

/* Connected; or a terminal spawned after the 101 (its env is made). */
static void
conn_peer_ready(void *arg)
{
	struct conn	*c = conn_of(arg);

	if (c->state == CONN_BACKEND)
		conn_backend_connected(c);
	else
		conn_free_request(c);
}

static void
conn_peer_failed(void *arg, const char *why)
{
	conn_backend_failed(conn_of(arg), why);
}

static void
conn_peer_ended(void *arg, unsigned code, const char *reason)
{
	struct conn	*c = conn_of(arg);

	if (c->client.eof) {
		conn_close(c, "client gone");
		return;
	}
	conn_transport_close(c, code, reason);
	conn_maybe_finish(c);
}

static void
conn_peer_fail(void *arg, unsigned code, const char *why)
{
	conn_fail(conn_of(arg), code, why);
}

static void
conn_peer_abort(void *arg, const char *why)
{
	conn_close(conn_of(arg), why);
}

static void
conn_peer_input_moved(void *arg, bool drained)
{
	struct conn	*c = conn_of(arg);

	if (c->state == CONN_CLOSED)
		return;
	/* The backend takes a half-closed client's data: wait on. */
	if (c->client_hup && c->state == CONN_OPEN)
		conn_deadline(c, c->cref->cfg->close_timeout_ms);
	if (!drained)
		return;
	conn_maybe_finish(c);
	if (c->state != CONN_CLOSED && c->input_blocked)
		conn_process_input(c);
}

static void
conn_peer_activity(void *arg)
{
	struct conn	*c = conn_of(arg);

	c->last_activity = ev_now(server.loop);
}

static void
conn_peer_params(void *arg, struct backend_params *bp,
    struct proc_request *q, unsigned short cols, unsigned short rows)
{
	conn_backend_params(conn_of(arg), bp, q, cols, rows);
}

static const struct session_peer_ops conn_peer_ops = {
	.deliver = conn_peer_deliver,
	.room = conn_peer_room,
	.ready = conn_peer_ready,
	.failed = conn_peer_failed,
	.ended = conn_peer_ended,
	.fail = conn_peer_fail,
	.abort = conn_peer_abort,
	.input_moved = conn_peer_input_moved,
	.activity = conn_peer_activity,
	.params = conn_peer_params,
};

/* The route is chosen: its session, with this client attached. */
int
conn_session_new(struct conn *c)
{
	struct session_params	 sp = {
		.route = c->route,
		.id = c->id,
		.peer = c->peer,
		.path = c->path,
		.label = conn_route_name(c),
	};
	struct session_peer	 peer = { &conn_peer_ops, c };

	if ((c->session = session_new(&sp, &peer)) == NULL)
		return -1;
	return 0;
}
