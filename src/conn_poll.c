/*
 * Long polling (issue 16, transports = poll), the HTTP side: POST
 * /route?transport=poll starts the route's backend as a WebSocket would
 * (same checks, limits, environment) and answers 201 with the session's
 * id; the session then lives in a poll session (pollq.c), not in this
 * connection. GET /route?session=ID&after=SEQ acknowledges the messages
 * up to SEQ and answers with those after it as JSON, at once or when
 * some come (poll_timeout at most). 404 unknown or expired session, 403
 * another user's. Each answer closes its connection, so each poll is one
 * line in the access log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn_int.h"
#include "conn_poll.h"
#include "listener.h"
#include "log.h"
#include "pollq.h"
#include "session.h"
#include "transport.h"

bool
conn_poll_wants_open(const struct conn *c, const struct route *r)
{
	const char	*v;
	size_t		 n;

	return r != NULL && (r->transports & ROUTE_TRANSPORT_POLL) &&
	    c->req->method == HTTP_POST && (c->listener == NULL ||
	    !c->listener->metrics_only) &&
	    hs_query_param(c->query, "transport", &v, &n) && n == 4 &&
	    strncmp(v, "poll", 4) == 0;
}

bool
conn_poll_wants_poll(const struct conn *c, const struct route *r)
{
	const char	*v;
	size_t		 n;

	return r != NULL && (r->transports & ROUTE_TRANSPORT_POLL) &&
	    (c->req->method == HTTP_GET || c->req->method == HTTP_HEAD) &&
	    (c->listener == NULL || !c->listener->metrics_only) &&
	    hs_query_param(c->query, "session", &v, &n);
}

void
conn_poll_open(struct conn *c)
{
	struct session_member	*m = c->member;
	struct pollq		*q;
	char			 body[4096 * 2 + 200];

	if ((q = pollq_new(c->session, m, c->route, c->id, c->peer)) ==
	    NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	/* The poll session's now, with the reference: this line is logged now. */
	c->member = NULL;
	c->session = NULL;
	log_info("conn %llu %s %s: poll session %.8s... opened",
	    (unsigned long long)c->id, c->peer, c->path, pollq_id(q));
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"send\":\"%s?session=%s\","
	    "\"poll\":\"%s?session=%s\"}", pollq_id(q), c->path, pollq_id(q),
	    c->path, pollq_id(q));
	c->refusal = "poll session opened";
	conn_http_answer(c, 201, "application/json", body, strlen(body));
	session_open(m, (size_t)c->route->limits.buffer_size);
}

/* The poll is answered (json NULL: out of memory). */
static void
conn_poll_answered(void *waiter, const char *json, size_t len,
    unsigned nmsgs)
{
	struct conn	*c = waiter;

	c->pollq = NULL;
	if (json == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	c->stats.msgs_out += nmsgs;
	c->stats.bytes_out += len;
	c->refusal = "polled";
	conn_http_answer(c, 200, "application/json", json, len);
}

/* ?after=SEQ: 1 (in *after), 0 absent, -1 malformed. */
static int
conn_poll_after(const char *query, int64_t *after)
{
	const char	*v;
	size_t		 n, i;
	uint64_t	 x = 0;

	if (!hs_query_param(query, "after", &v, &n))
		return 0;
	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*after = (int64_t)x;
	return 1;
}

void
conn_poll_get(struct conn *c, const struct route *r)
{
	struct session_member	*m = NULL;
	struct pollq		*q = NULL;
	const char		*v, *owner;
	char			 id[TRANSPORT_ID_HEX + 1];
	size_t			 n;
	int64_t			 after = -1;

	if (hs_query_param(c->query, "session", &v, &n) &&
	    n == TRANSPORT_ID_HEX && strspn(v, "0123456789abcdef") >= n) {
		memcpy(id, v, n);
		id[n] = '\0';
		if ((m = session_find_member(r, id)) != NULL)
			q = pollq_of(m);
	}
	if (q == NULL) {
		conn_http_respond(c, 404, "no such session");
		return;
	}
	owner = session_owner(session_of(m));
	if (owner != NULL && (c->remote_user == NULL ||
	    strcmp(owner, c->remote_user) != 0)) {
		conn_http_respond(c, 403, "the session belongs to another user");
		return;
	}
	if (conn_poll_after(c->query, &after) == -1) {
		conn_http_respond(c, 400, "malformed after=");
		return;
	}
	/* Until it is answered: no deadline, no next request read. */
	conn_deadline(c, 0);
	watcher_set(&c->client.rd, false);
	c->pollq = q;
	if (pollq_poll(q, after, c, conn_poll_answered) == -1) {
		c->pollq = NULL;
		conn_http_respond(c, 503, "out of memory");
	} else if (c->pollq != NULL)
		log_debug("conn %llu %s: poll waits", (unsigned long long)c->id,
		    c->peer);
}

void
conn_poll_cancel(struct conn *c)
{
	if (c->pollq != NULL)
		pollq_cancel(c->pollq, c);
	c->pollq = NULL;
}
