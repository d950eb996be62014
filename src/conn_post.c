/*
 * Input for Server-Sent Events and long-polling sessions (issue 16): POST
 * /route?session=ID, the body one message (application/octet-stream:
 * binary; anything else: text) for the program of the session member
 * with that id (an open stream, a poll session), as if its client had
 * sent it over a WebSocket. The route's access rules apply as to a
 * WebSocket (origin, authentication). 204 queued; 413 over
 * max_message_size; 429 + Retry-After while the program's input is full
 * (nothing dropped: send it again); 404 no such session on this route;
 * 403 a disallowed Origin, another user's session (by user name) or a
 * view route's (read-only); 415 binary on a text route; 400 text that is
 * not UTF-8 or a bad body.
 *
 * DELETE /route?session=ID: the client is done (a page closed), so the
 * session need not wait session_timeout for a reconnect or a poll: its
 * member ends as a WebSocket client's close would (alone, the program's
 * stdin is closed and its grace sequence follows; a shared session goes
 * on without it). The same checks as for input; 204, or 404 when there
 * is no such session (any more).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "conn_cors.h"
#include "conn_int.h"
#include "conn_post.h"
#include "handshake.h"
#include "listener.h"
#include "pollq.h"
#include "session.h"
#include "sse_stream.h"
#include "transport_sse.h"
#include "ws.h"

/* Body bytes decoded per step (hs_body copies at most what it takes). */
#define CONN_POST_CHUNK	(16 * 1024)

struct conn_post {
	char		 id[SSE_ID_HEX + 1];
	enum msg_type	 type;
	size_t		 max;		/* the route's max_message_size */
	struct buf	 body;
};

/* ?session=ID (32 hex digits): 1, 0 absent, -1 malformed. */
static int
conn_post_id(const char *query, char *id)
{
	const char	*v;
	size_t		 n;

	if (!hs_query_param(query, "session", &v, &n))
		return 0;
	if (n != SSE_ID_HEX || strspn(v, "0123456789abcdef") < SSE_ID_HEX)
		return -1;
	memcpy(id, v, SSE_ID_HEX);
	id[SSE_ID_HEX] = '\0';
	return 1;
}

/* The session member of this route with that id, still running, or NULL. */
static struct session_member *
conn_post_member(const struct conn *c, const char *id)
{
	struct session_member	*m = session_find_member(c->matched, id);

	if (m == NULL || session_ended(session_of(m)))
		return NULL;
	return m;
}

void
conn_post_free(struct conn *c)
{
	if (c->post == NULL)
		return;
	buf_free(&c->post->body);
	free(c->post);
	c->post = NULL;
}

/* An error answer; the body is not read further. */
static void
conn_post_refuse(struct conn *c, int status, const char *why)
{
	conn_post_free(c);
	conn_http_respond(c, status, why);
}

/* The whole body is here: hand it to the stream's session. */
static void
conn_post_deliver(struct conn *c)
{
	struct conn_post	*q = c->post;
	struct session_member	*m = conn_post_member(c, q->id);
	struct session		*s;
	const uint8_t		*p = buf_head(&q->body);
	size_t			 n = buf_len(&q->body), room;

	if (m == NULL) {
		conn_post_refuse(c, 404, "no such session");
		return;
	}
	s = session_of(m);
	if (q->type == MSG_BINARY && session_route(s)->mode == MODE_TEXT &&
	    !session_messages_only(s)) {
		conn_post_refuse(c, 415, "binary message on a text route");
		return;
	}
	if (q->type == MSG_TEXT && !ws_utf8_valid(p, n)) {
		conn_post_refuse(c, 400, "text that is not UTF-8");
		return;
	}
	/*
	 * Whole messages: one that fits, or any once the queue is empty;
	 * none while another writer of a shared session is mid-message.
	 */
	room = session_input_room(m);
	if (room == 0 || (room < n + 1 && session_input_pending(m))) {
		conn_post_refuse(c, 429, "session input full");
		return;
	}
	if (session_post(m, q->type, p, n) == -1) {
		conn_post_refuse(c, 404, "session ended");
		return;
	}
	conn_post_free(c);
	conn_cors_no_content(c, c->matched, false);
}

/* Decode the body from c->in as it comes; bounded by the message limit. */
void
conn_post_pump(struct conn *c)
{
	struct conn_post	*q = c->post;
	uint8_t			*out;
	size_t			 outlen, take;
	ssize_t			 used;
	int			 status;
	const char		*why;

	while (c->req->has_body && !c->req->body_done) {
		if (buf_len(&c->in) == 0) {
			watcher_set(&c->client.rd, true);
			return;
		}
		take = buf_len(&c->in) < CONN_POST_CHUNK ? buf_len(&c->in) :
		    CONN_POST_CHUNK;
		if ((out = buf_reserve(&q->body, take)) == NULL) {
			conn_post_refuse(c, 503, "out of memory");
			return;
		}
		used = hs_body(c->req, (const char *)buf_head(&c->in), take,
		    (char *)out, take, &outlen, &status, &why);
		if (used == -1) {
			conn_post_refuse(c, 400, why != NULL ? why :
			    "malformed request body");
			return;
		}
		buf_commit(&q->body, outlen);
		buf_consume(&c->in, (size_t)used);
		if (buf_len(&q->body) > q->max) {
			conn_post_refuse(c, 413, "message too large");
			return;
		}
	}
	watcher_set(&c->client.rd, false);
	conn_post_deliver(c);
}

/* Content-Length over the limit: refused before a byte is read. */
static bool
conn_post_too_long(const struct conn *c, size_t max)
{
	const char	*cl = hs_header(c->req, "Content-Length");
	char		*end;
	unsigned long long v;

	if (cl == NULL)
		return false;
	v = strtoull(cl, &end, 10);
	return *end == '\0' && v > max;
}

struct route *
conn_post_route(struct conn *c)
{
	const char	*rest = "", *v;
	struct route	*r;
	size_t		 n;

	if ((c->req->method != HTTP_POST && c->req->method != HTTP_DELETE) ||
	    (c->listener != NULL && c->listener->metrics_only) ||
	    !hs_query_param(c->query, "session", &v, &n))
		return NULL;
	r = config_match(c->cref->cfg, c->path, &rest);
	if (r == NULL || !(r->transports & (ROUTE_TRANSPORT_SSE |
	    ROUTE_TRANSPORT_POLL)))
		return NULL;
	return r;
}

/* DELETE: end the member named id (its session may have ended). */
static void
conn_post_end(struct conn *c, const char *id)
{
	struct session_member	*m = session_find_member(c->matched, id);
	struct sse_stream	*st;
	struct pollq		*q;
	struct conn		*sc;
	const char		*owner;
	const char		*why = "ended by the client";

	if (m == NULL) {
		conn_http_respond(c, 404, "no such session");
		return;
	}
	owner = session_owner(session_of(m));
	if (owner != NULL && (c->remote_user == NULL ||
	    strcmp(owner, c->remote_user) != 0)) {
		conn_http_respond(c, 403, "the session belongs to another "
		    "user");
		return;
	}
	if ((st = sse_stream_of(m)) != NULL) {
		/* The stream's member leaves: its connection lets go of it. */
		if (!sse_stream_told(st) && (sc = sse_stream_client(st)) != NULL)
			sc->member = NULL;
		if (sse_stream_end_by_client(st, why) == -1) {
			conn_http_respond(c, 404, "no such session");
			return;
		}
	} else if ((q = pollq_of(m)) != NULL)
		pollq_end_by_client(q, why);
	else {
		conn_http_respond(c, 404, "no such session");
		return;
	}
	conn_cors_no_content(c, c->matched, false);
}

void
conn_post_begin(struct conn *c, struct route *r)
{
	struct session_member	*m;
	const char		*type, *owner;
	char			 id[SSE_ID_HEX + 1];

	if (conn_post_id(c->query, id) != 1)
		conn_http_respond(c, 404, "malformed session id");
	else if (c->req->method == HTTP_DELETE)
		conn_post_end(c, id);
	else if ((m = conn_post_member(c, id)) == NULL)
		conn_http_respond(c, 404, "no such session");
	else if ((owner = session_owner(session_of(m))) != NULL &&
	    (c->remote_user == NULL || strcmp(owner, c->remote_user) != 0))
		conn_http_respond(c, 403, "the session belongs to another "
		    "user");
	else if (session_member_viewer(m))
		conn_http_respond(c, 403, "a read-only (view) session");
	else if (conn_post_too_long(c, (size_t)r->limits.max_message_size))
		conn_http_respond(c, 413, "message too large");
	else if ((c->post = calloc(1, sizeof(*c->post))) == NULL)
		conn_http_respond(c, 503, "out of memory");
	else {
		memcpy(c->post->id, id, sizeof(id));
		type = hs_header(c->req, "Content-Type");
		c->post->type = type != NULL && strncasecmp(type,
		    "application/octet-stream", 24) == 0 ? MSG_BINARY :
		    MSG_TEXT;
		c->post->max = (size_t)r->limits.max_message_size;
		buf_init(&c->post->body, c->post->max + 1);
		/* curl waits a second for this before a larger body. */
		if (hs_header_has_token(c->req, "Expect", "100-continue") &&
		    conn_send_raw(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) ==
		    -1)
			return;
		conn_post_pump(c);
	}
}
