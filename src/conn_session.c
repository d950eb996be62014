/*
 * A client's side of its session: the session is made at routing, and
 * calls the client back only through these (struct session_peer).
 */
#include <sys/uio.h>

#include <string.h>

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

static const struct msg_wire *
conn_peer_wire(void *arg)
{
	struct conn	*c = conn_of(arg);

	if (c->state == CONN_CLOSED || c->close_sent || c->transport == NULL ||
	    c->transport->ops->wire == NULL)
		return NULL;
	return c->transport->ops->wire(c);
}

/* Whole messages encoded once for every member (session_fanout.c). */
static int
conn_peer_deliver_wire(void *arg, const void *p, size_t n, unsigned nmsgs,
    size_t payload)
{
	struct conn	*c = conn_of(arg);

	if (c->state == CONN_CLOSED)
		return -1;
	if (c->close_sent)
		return 0;
	c->stats.msgs_out += nmsgs;
	c->stats.bytes_out += payload;
	return conn_send_wire(c, p, n);
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

/* Input by POST for this event stream: its access line counts it. */
static void
conn_peer_posted(void *arg, size_t len)
{
	struct conn	*c = conn_of(arg);

	c->stats.msgs_in++;
	c->stats.bytes_in += len;
}

static void
conn_peer_params(void *arg, struct backend_params *bp,
    struct proc_request *q, unsigned short cols, unsigned short rows)
{
	conn_backend_params(conn_of(arg), bp, q, cols, rows);
}

static const struct session_peer_ops conn_peer_ops = {
	.deliver = conn_peer_deliver,
	.wire = conn_peer_wire,
	.deliver_wire = conn_peer_deliver_wire,
	.room = conn_peer_room,
	.ready = conn_peer_ready,
	.failed = conn_peer_failed,
	.ended = conn_peer_ended,
	.fail = conn_peer_fail,
	.abort = conn_peer_abort,
	.input_moved = conn_peer_input_moved,
	.activity = conn_peer_activity,
	.posted = conn_peer_posted,
	.params = conn_peer_params,
};

void
conn_session_peer(struct conn *c, struct session_peer *p)
{
	p->ops = &conn_peer_ops;
	p->arg = c;
}

/* ?session=ID: 1 found (in id), 0 none, -1 malformed. */
static int
conn_session_id(const char *query, char *id, size_t idsz)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789_-";
	const char		*v;
	size_t			 n;

	if (!hs_query_param(query, "session", &v, &n))
		return 0;
	if (n == 0 || n >= idsz || n > SESSION_ID_MAX || strspn(v, ok) < n)
		return -1;
	memcpy(id, v, n);
	id[n] = '\0';
	return 1;
}

/* What selects a shared session (NULL: answered, -1 from the caller). */
static const char *
conn_session_key(struct conn *c, const struct route *sr, char *id,
    size_t idsz)
{
	switch (sr->share) {
	case SHARE_ROUTE:
		return "";
	case SHARE_USER:
		if (c->remote_user == NULL) {
			conn_http_respond(c, 403, "no user for share = user");
			return NULL;
		}
		return c->remote_user;
	default:
		switch (conn_session_id(c->query, id, idsz)) {
		case 1:
			return id;
		case 0:
			conn_http_respond(c, 400, "session id required "
			    "(?session=ID)");
			return NULL;
		default:
			conn_http_respond(c, 400, "malformed session id "
			    "(1-64 of A-Z a-z 0-9 _ -)");
			return NULL;
		}
	}
}

/*
 * The route is chosen: its session, with this client attached. A shared
 * route's client joins the running session its key selects (a view
 * route's, read-only) or starts one. 0, or -1 when answered.
 */
int
conn_session_new(struct conn *c)
{
	const struct route	*r = c->route;
	const struct route	*sr = r->view_of != NULL ? r->view_of : r;
	bool			 viewer = r->view_of != NULL;
	struct session_peer	 peer = { &conn_peer_ops, c };
	struct session_params	 sp;
	struct session		*s;
	const char		*key = NULL, *owner;
	char			 id[SESSION_ID_MAX + 1];

	if (sr->share != SHARE_NO) {
		if ((key = conn_session_key(c, sr, id, sizeof(id))) == NULL)
			return -1;
		if ((s = session_find(sr, key)) != NULL) {
			owner = session_owner(s);
			if (!viewer && owner != NULL && (c->remote_user ==
			    NULL || strcmp(owner, c->remote_user) != 0)) {
				conn_http_respond(c, 403, "the session "
				    "belongs to another user");
				return -1;
			}
			if ((c->member = session_join(s, &peer, viewer)) ==
			    NULL) {
				conn_http_respond(c, 503, "out of memory");
				return -1;
			}
			c->session = s;
			return 0;
		}
		if (viewer) {
			conn_http_respond(c, 404, "no such session");
			return -1;
		}
	}
	memset(&sp, 0, sizeof(sp));
	sp.route = sr;
	sp.cref = c->cref;
	sp.id = c->id;
	sp.peer = c->peer;
	sp.path = c->path;
	sp.label = conn_route_name(c);
	sp.key = key;
	sp.owner = c->remote_user;
	if ((c->session = session_new(&sp, &peer, &c->member)) == NULL) {
		conn_http_respond(c, 503, "too many sessions, or out of "
		    "memory");
		return -1;
	}
	return 0;
}
