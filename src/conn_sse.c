/*
 * An event stream's reconnect (issue 16): a GET for text/event-stream
 * whose Last-Event-ID (or ?last_event_id=, for a client that opens a new
 * EventSource itself) is one of our ids, "SEQ-ID", takes over the stream
 * ID of this route (sse_stream.c) after the same access checks as a new
 * stream, and goes on after message SEQ: no program is started. 404 when
 * that stream is gone (never was, expired, or ended: an EventSource
 * stops at a non-200 answer rather than start the program again
 * unasked); 403 another user's. An id that is not one of ours is no
 * resume: a new stream.
 */
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "handshake.h"
#include "log.h"
#include "session.h"
#include "sse_stream.h"
#include "transport_sse.h"

/* The id to resume from the header, else the query: 1 found, 0 none. */
static int
conn_sse_last_id(const struct conn *c, char *id, uint64_t *seq)
{
	const char	*v;
	size_t		 n;

	if ((v = hs_header(c->req, "Last-Event-ID")) != NULL &&
	    transport_sse_last_id(v, strlen(v), id, seq) == 0)
		return 1;
	return hs_query_param(c->query, "last_event_id", &v, &n) &&
	    transport_sse_last_id(v, n, id, seq) == 0;
}

int
conn_sse_resume(struct conn *c, struct route *r)
{
	struct session_member	*m;
	struct sse_stream	*st = NULL;
	const char		*owner;
	char			 id[SSE_ID_HEX + 1];
	uint64_t		 after;

	if (!conn_sse_last_id(c, id, &after))
		return 0;
	if ((m = session_find_member(r, id)) != NULL)
		st = sse_stream_of(m);
	explicit_bzero(id, sizeof(id));
	if (st == NULL) {
		conn_http_respond(c, 404, "no such event stream");
		return 1;
	}
	owner = session_owner(session_of(m));
	if (owner != NULL && (c->remote_user == NULL ||
	    strcmp(owner, c->remote_user) != 0)) {
		conn_http_respond(c, 403, "the session belongs to another user");
		return 1;
	}
	c->resume = st;
	c->resume_after = after;
	if (conn_check_limits(c, r) == -1)
		return 1;
	c->route = r;
	r->active++;
	c->session = session_of(m);
	session_ref(c->session);
	c->member = m;
	log_info("conn %llu %s %s: sse session %.8s... resumed after %llu",
	    (unsigned long long)c->id, c->peer, c->path,
	    sse_stream_id(st), (unsigned long long)after);
	conn_open_sse(c);
	return 1;
}
