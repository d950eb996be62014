/*
 * The Server-Sent Events transport: one event per message toward the
 * client (text as data lines, binary as base64 under "event: binary"),
 * numbered by id, a comment every ping_interval, and "event: close" with
 * the close code at the end. The client sends nothing on the stream; what
 * it reads is dropped. Its session member is an sse_stream, which
 * outlives the connection: an event's id is the session's sequence
 * number, and a reconnect to ?session=ID with that Last-Event-ID goes
 * on after it (conn_sse.c).
 */
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "config.h"
#include "conn_int.h"
#include "handshake.h"
#include "log.h"
#include "session.h"
#include "sse.h"
#include "sse_stream.h"
#include "transport_sse.h"

struct sse_transport {
	struct transport	 t;		/* first: c->transport */
	struct conn		*conn;
	struct sse_enc		 enc;		/* ids, the open event */
	ev_timer		 ping_timer;
	struct sse_stream	*stream;	/* once open */
	bool			 resume;	/* stream: a reconnect's */
	uint64_t		 after;		/* its Last-Event-ID's seq */
	char			 id[SSE_ID_HEX + 1];
};

static struct sse_transport *
sse_of(const struct conn *c)
{
	return (struct sse_transport *)(uintptr_t)c->transport;
}

/* A message, or a piece of one: the first piece opens its event. */
static int
sse_deliver(struct conn *c, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct sse_transport	*s = sse_of(c);

	/* The id is the session's number for it (the encoder adds one). */
	if (!s->enc.open && s->stream != NULL)
		s->enc.seq = sse_stream_seq(s->stream) - 1;
	if (sse_enc_message(&s->enc, &c->client.out, type, iov,
	    iovcnt, fin) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	endpoint_flush_later(&c->client);
	return 0;
}

/*
 * The goodbye: "event: close" with the code; the stream then ends. A
 * message cut short is dropped, never passed off as whole (sse.c).
 */
static void
sse_close(struct conn *c, unsigned code, const char *reason)
{
	struct sse_transport	*s = sse_of(c);

	ev_timer_stop(server.loop, &s->ping_timer);
	if (sse_enc_close(&s->enc, &c->client.out, code, reason) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	endpoint_flush_later(&c->client);
	/*
	 * Nothing more comes either way: flush, shut down, await EOF. The
	 * program's input is the stream's to end, not this connection's.
	 */
	c->linger = true;
	c->close_received = true;
}

/* A comment line keeps proxies from timing the stream out. */
static void
sse_probe(struct conn *c)
{
	struct sse_transport	*s = sse_of(c);

	/* Not inside an event's data line, nor onto a full buffer. */
	if (s->enc.open || c->close_sent || buf_full(&c->client.out))
		return;
	conn_send_raw(c, ":\n\n", 3);
}

/* Fires every ping_interval. */
static void
sse_ping_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sse_transport	*s = t->data;

	(void)loop, (void)revents;
	sse_probe(s->conn);
}

/* Letters and digits, and what a path may hold as is (RFC 3986). */
static void
sse_url_path(char *dst, size_t len, const char *path)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/!$&'()*+,;=:@";
	size_t		 o = 0;

	for (; *path != '\0' && o + 4 < len; path++)
		if (strchr(ok, *path) != NULL)
			dst[o++] = *path;
		else
			o += (size_t)snprintf(dst + o, len - o, "%%%02X",
			    (unsigned char)*path);
	dst[o] = '\0';
}

/*
 * The 200 is out: say the session's id, where its input and a reconnect
 * go, and (id:) where a reconnect goes on; a reconnect then gets what it
 * missed.
 */
static void
sse_open(struct conn *c)
{
	struct sse_transport	*s = sse_of(c);
	struct session_peer	 peer;
	int64_t			 every = c->route->limits.ping_interval_ms;
	char			 path[4096 * 3 + 1], *ev;

	conn_session_peer(c, &peer);
	/* POST input finds the stream's member by its id (registry). */
	if (s->stream == NULL && (s->stream = sse_stream_new(c->session,
	    c->member, &peer, c->route, c->cref, s->id, c->id, c->peer)) ==
	    NULL) {
		conn_close(c, "out of memory");
		return;
	}
	sse_url_path(path, sizeof(path), c->path);
	if (asprintf(&ev, "event: session\nid: %llu\ndata: {\"id\":\"%s\","
	    "\"send\":\"%s?session=%s\",\"resume\":\"%s?session=%s\"}\n\n",
	    (unsigned long long)s->after, s->id, path, s->id, path, s->id) ==
	    -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send_raw(c, ev, strlen(ev));
	free(ev);
	/* The id is a credential (input by POST, resume): a prefix. */
	log_debug("conn %llu %s: sse session %.8s...%s",
	    (unsigned long long)c->id, c->peer, s->id, s->resume ?
	    " resumed" : "");
	if (every > 0) {
		ev_timer_set(&s->ping_timer, every / 1000., every / 1000.);
		ev_timer_start(server.loop, &s->ping_timer);
	}
	if (s->resume)
		sse_stream_attach(s->stream, &peer, s->after);
}

/* The client has nothing to say on the stream: drop it, read on. */
static void
sse_input(struct conn *c)
{
	c->input_blocked = false;
	buf_free(&c->in);
	if (c->state != CONN_CLOSED)
		conn_update_client_reading(c);
}

static void
sse_free(struct conn *c)
{
	struct sse_transport	*s = sse_of(c);

	ev_timer_stop(server.loop, &s->ping_timer);
	/* The member is the stream's: it leaves, or waits for a reconnect. */
	if (s->stream != NULL && sse_stream_attached_to(s->stream, c)) {
		sse_stream_detach(s->stream);
		c->member = NULL;
	}
	explicit_bzero(s->id, sizeof(s->id));
	free(s);
	c->transport = NULL;
}

static const struct transport_ops sse_ops = {
	.name = "sse",
	.open = sse_open,
	.input = sse_input,
	.deliver = sse_deliver,
	.close = sse_close,
	.probe = sse_probe,
	.free = sse_free,
};

struct transport *
transport_sse_new(struct conn *c, struct sse_stream *resume, uint64_t after)
{
	struct sse_transport	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (resume != NULL) {
		snprintf(s->id, sizeof(s->id), "%s", sse_stream_id(resume));
		s->stream = resume;
		s->resume = true;
		s->after = after;
	} else if (transport_random_id(s->id) == -1) {
		free(s);
		return NULL;
	}
	s->t.ops = &sse_ops;
	s->conn = c;
	ev_init(&s->ping_timer, sse_ping_cb);
	s->ping_timer.data = s;
	return &s->t;
}

char *
transport_sse_head(char *const *hv, size_t nhv, size_t *len)
{
	char	*resp, *more;
	size_t	 i;

	if ((resp = strdup("HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "Connection: close\r\n")) == NULL)
		return NULL;
	for (i = 0; i <= nhv; i++) {
		if (asprintf(&more, "%s%s%s", resp, i < nhv ? hv[i] : "",
		    "\r\n") == -1) {
			free(resp);
			return NULL;
		}
		free(resp);
		resp = more;
	}
	*len = strlen(resp);
	return resp;
}

int
transport_random_id(char *id)
{
	uint8_t	 raw[TRANSPORT_ID_HEX / 2];
	size_t	 i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
transport_sse_last_id(const char *v, size_t n, char *id, uint64_t *seq)
{
	uint64_t	 x = 0;
	size_t		 i;

	/* 1-19 digits (no overflow), then maybe "-" and the id's hex. */
	for (i = 0; i < n && i < 19 && v[i] >= '0' && v[i] <= '9'; i++)
		x = x * 10 + (uint64_t)(v[i] - '0');
	if (i == 0 || (i != n && (n != i + 1 + SSE_ID_HEX || v[i] != '-' ||
	    strspn(v + i + 1, "0123456789abcdef") < SSE_ID_HEX)))
		return -1;
	if (i == n)
		id[0] = '\0';
	else {
		memcpy(id, v + i + 1, SSE_ID_HEX);
		id[SSE_ID_HEX] = '\0';
	}
	*seq = x;
	return 0;
}
