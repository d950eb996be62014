/*
 * An event stream's reconnect (issue 16): a GET for text/event-stream
 * with ?session=ID (the id its session event gave) takes over the stream
 * ID of this route (sse_stream.c) after the same access checks as a new
 * stream, and goes on after message SEQ, the Last-Event-ID header's (or
 * ?last_event_id=, for a client that opens a new EventSource itself;
 * none: 0, all that is kept): no program is started. An event's id is
 * the session's sequence number alone, so a browser's own reconnect to
 * a URL without ?session= is no resume: a new stream. The old form of
 * id, "SEQ-ID", still names the stream by itself. 404 when that stream
 * is gone (never was, expired, or ended: an EventSource stops at a
 * non-200 answer rather than start the program again unasked); 403
 * another user's. On a route with share = id, a ?session= that names no
 * stream is the shared session's key, as for a new stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "handshake.h"
#include "log.h"
#include "session.h"
#include "sse_stream.h"
#include "transport_sse.h"

/*
 * The place to resume from, the header's, else the query's (id: the
 * stream an old "SEQ-ID" names, else ""): 1 found, 0 none.
 */
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

static bool
conn_sse_has_session(const struct conn *c)
{
	const char	*v;
	size_t		 n;

	return hs_query_param(c->query, "session", &v, &n);
}

/*
 * The stream ID that ?session= (else an old Last-Event-ID) names: 1, 0
 * none (a new stream), -1 a ?session= that cannot be one of ours.
 */
static int
conn_sse_stream_id(const struct conn *c, const char *old, char *id)
{
	const char	*v;
	size_t		 n;

	if (!hs_query_param(c->query, "session", &v, &n)) {
		snprintf(id, SSE_ID_HEX + 1, "%s", old);
		return id[0] != '\0';
	}
	if (n != SSE_ID_HEX || strspn(v, "0123456789abcdef") < n)
		return -1;
	memcpy(id, v, n);
	id[n] = '\0';
	return 1;
}

int
conn_sse_resume(struct conn *c, struct route *r)
{
	struct session_member	*m;
	struct sse_stream	*st = NULL;
	const char		*owner;
	const struct route	*sr = r->view_of != NULL ? r->view_of : r;
	char			 id[SSE_ID_HEX + 1], old[SSE_ID_HEX + 1] = "";
	uint64_t		 after = 0;
	int			 named;

	if (!conn_sse_last_id(c, old, &after))
		after = 0;
	named = conn_sse_stream_id(c, old, id);
	explicit_bzero(old, sizeof(old));
	if (named == 1 && (m = session_find_member(r, id)) != NULL)
		st = sse_stream_of(m);
	if (named == 1)
		explicit_bzero(id, sizeof(id));
	/* No stream named, or ?session= is the shared session's key. */
	if (named == 0 || (st == NULL && sr->share == SHARE_ID &&
	    conn_sse_has_session(c)))
		return 0;
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
