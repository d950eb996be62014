/*
 * The Server-Sent Events transport: one event per message toward the
 * client (text as data lines, binary as base64 under "event: binary"),
 * numbered by id, a comment every ping_interval, and "event: close" with
 * the close code at the end. The client sends nothing on the stream; what
 * it reads is dropped, and its EOF ends the session as a WebSocket
 * client's would.
 */
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base64.h"
#include "conn_int.h"
#include "log.h"
#include "transport_sse.h"

/* The longest event head: "event: binary\nid: N\ndata: ". */
#define SSE_HEAD_MAX	64

struct sse_transport {
	struct transport	 t;		/* first: c->transport */
	struct conn		*conn;
	uint64_t		 seq;		/* id of the last event */
	bool			 out_open;	/* an event's data is open */
	bool			 cr;		/* text: last byte was CR */
	uint8_t			 carry[3];	/* binary: bytes short of 3 */
	size_t			 ncarry;
	ev_timer		 ping_timer;
	char			 id[SSE_ID_HEX + 1];
};

static struct sse_transport *
sse_of(const struct conn *c)
{
	return (struct sse_transport *)(uintptr_t)c->transport;
}

static int
sse_put(struct conn *c, const void *p, size_t n)
{
	if (n > 0 && buf_append(&c->client.out, p, n) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	return 0;
}

static int
sse_puts(struct conn *c, const char *s)
{
	return sse_put(c, s, strlen(s));
}

/*
 * Text: a line break (CRLF, LF or CR, as the SSE parser splits lines)
 * starts another data line, which the client joins back with LF. A CRLF
 * may straddle two pieces.
 */
static int
sse_text(struct conn *c, struct sse_transport *s, const uint8_t *p,
    size_t n)
{
	size_t	 i, start = 0;

	for (i = 0; i < n; i++) {
		if (p[i] != '\r' && p[i] != '\n') {
			s->cr = false;
			continue;
		}
		if (sse_put(c, p + start, i - start) == -1)
			return -1;
		start = i + 1;
		if (p[i] == '\n' && s->cr) {
			s->cr = false;
			continue;
		}
		s->cr = p[i] == '\r';
		if (sse_puts(c, "\ndata: ") == -1)
			return -1;
	}
	return sse_put(c, p + start, n - start);
}

static int
sse_b64(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t	*dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(&c->client.out, BASE64_ENCODED_SIZE(n))) ==
	    NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	buf_commit(&c->client.out, base64_encode((char *)dst, p, n));
	return 0;
}

/* Binary: base64 in groups of three bytes; the rest waits for more. */
static int
sse_binary(struct conn *c, struct sse_transport *s, const uint8_t *p,
    size_t n)
{
	size_t	 k;

	while (n > 0 && s->ncarry > 0 && s->ncarry < 3) {
		s->carry[s->ncarry++] = *p++;
		n--;
	}
	if (s->ncarry == 3) {
		if (sse_b64(c, s->carry, 3) == -1)
			return -1;
		s->ncarry = 0;
	}
	k = n / 3 * 3;
	if (sse_b64(c, p, k) == -1)
		return -1;
	memcpy(s->carry + s->ncarry, p + k, n - k);
	s->ncarry += n - k;
	return 0;
}

/* A message, or a piece of one: the first piece opens its event. */
static int
sse_deliver(struct conn *c, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct sse_transport	*s = sse_of(c);
	char			 head[SSE_HEAD_MAX];
	int			 i, rv = 0;

	if (!s->out_open) {
		snprintf(head, sizeof(head), "%sid: %llu\ndata: ",
		    type == MSG_BINARY ? "event: binary\n" : "",
		    (unsigned long long)++s->seq);
		if (sse_puts(c, head) == -1)
			return -1;
		s->out_open = true;
		s->cr = false;
		s->ncarry = 0;
	}
	for (i = 0; i < iovcnt && rv == 0; i++)
		rv = type == MSG_BINARY ? sse_binary(c, s, iov[i].iov_base,
		    iov[i].iov_len) : sse_text(c, s, iov[i].iov_base,
		    iov[i].iov_len);
	if (rv == 0 && fin) {
		if (sse_b64(c, s->carry, s->ncarry) == -1 ||
		    sse_puts(c, "\n\n") == -1)
			return -1;
		s->ncarry = 0;
		s->out_open = false;
	}
	if (rv == 0)
		endpoint_flush_later(&c->client);
	return rv;
}

/* A JSON string's body: quotes, backslashes and controls escaped. */
static void
sse_json(char *dst, size_t len, const char *s)
{
	size_t	 o = 0;

	for (; *s != '\0' && o + 7 < len; s++) {
		if (*s == '"' || *s == '\\') {
			dst[o++] = '\\';
			dst[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(dst + o, len - o, "\\u%04x",
			    (unsigned char)*s);
		else
			dst[o++] = *s;
	}
	dst[o] = '\0';
}

/* The goodbye: "event: close" with the code; the stream then ends. */
static void
sse_close(struct conn *c, unsigned code, const char *reason)
{
	struct sse_transport	*s = sse_of(c);
	char			 why[256], ev[384];

	ev_timer_stop(server.loop, &s->ping_timer);
	/* A message cut short still ends its event: SSE cannot retract. */
	if (s->out_open && sse_puts(c, "\n\n") == -1)
		return;
	s->out_open = false;
	sse_json(why, sizeof(why), reason != NULL ? reason : "");
	snprintf(ev, sizeof(ev), "event: close\ndata: {\"code\":%u,"
	    "\"reason\":\"%s\"}\n\n", code, why);
	if (conn_send_raw(c, ev, strlen(ev)) == -1)
		return;
	/* Nothing more comes either way: flush, shut down, await EOF. */
	c->linger = true;
	conn_close_received(c);
}

/* A comment line keeps proxies from timing the stream out. */
static void
sse_probe(struct conn *c)
{
	struct sse_transport	*s = sse_of(c);

	/* Not inside an event's data line, nor onto a full buffer. */
	if (s->out_open || c->close_sent || buf_full(&c->client.out))
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

/* The 200 is out: say the session's id and where its input goes. */
static void
sse_open(struct conn *c)
{
	struct sse_transport	*s = sse_of(c);
	int64_t			 every = c->route->limits.ping_interval_ms;
	char			 path[4096 * 3 + 1], *ev;

	sse_url_path(path, sizeof(path), c->path);
	if (asprintf(&ev, "event: session\ndata: {\"id\":\"%s\","
	    "\"send\":\"%s?session=%s\"}\n\n", s->id, path, s->id) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send_raw(c, ev, strlen(ev));
	free(ev);
	/* The id is a credential once input by POST exists: a prefix. */
	log_debug("conn %llu %s: sse session %.8s...",
	    (unsigned long long)c->id, c->peer, s->id);
	if (every > 0) {
		ev_timer_set(&s->ping_timer, every / 1000., every / 1000.);
		ev_timer_start(server.loop, &s->ping_timer);
	}
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
transport_sse_new(struct conn *c)
{
	struct sse_transport	*s;
	uint8_t			 raw[SSE_ID_HEX / 2];
	size_t			 i;

	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
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
