/*
 * The WebSocket transport (RFC 6455, RFC 7692): frame decoding as far as
 * the sink takes it, control frames, permessage-deflate both ways, data
 * frames toward the client, pings and the close handshake.
 */
#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "log.h"
#include "pmd.h"
#include "transport_ws.h"

struct ws_transport {
	struct transport	 t;		/* first: c->transport */
	struct ws_msg		 msg;		/* the client's message */
	struct ws_header	 hdr;		/* its current frame */
	bool			 in_frame;	/* hdr parsed, payload flowing */
	uint64_t		 frame_pos;	/* payload bytes of hdr consumed */
	uint64_t		 frame_unmasked; /* payload bytes unmasked */
	uint64_t		 inflated;	/* bytes of this message so far */
	struct pmd		*pmd;		/* permessage-deflate, if agreed */
	bool			 out_open;	/* a message to the client is open */
	bool			 ping_outstanding;
	ev_timer		 ping_timer;
	struct conn		*conn;
};

/* Inflated client data on its way to a sink. */
static uint8_t	 inflated[CONN_READ_CHUNK];

static struct ws_transport *
ws_of(const struct conn *c)
{
	return (struct ws_transport *)(uintptr_t)c->transport;
}

/* --- toward the client ---------------------------------------------- */

/* Gather iov into one piece: deflate needs its input contiguous. */
static uint8_t *
ws_gather(const struct iovec *iov, int iovcnt, size_t n)
{
	uint8_t	*p;
	size_t	 off = 0;
	int	 i;

	if ((p = calloc(1, n > 0 ? n : 1)) == NULL)
		return NULL;
	for (i = 0; i < iovcnt; i++) {
		memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return p;
}

/*
 * A data frame under permessage-deflate: the message's first frame has
 * RSV1, its pieces are one deflate stream, control frames never are.
 */
static int
ws_send_deflated(struct conn *c, bool fin, int opcode,
    const struct iovec *iov, int iovcnt, size_t n)
{
	struct ws_transport	*w = ws_of(c);
	uint8_t			*in, *out, hdr[WS_MAX_HEADER];
	size_t			 outlen, hlen;
	int			 rv = -1;

	in = iovcnt == 1 ? iov[0].iov_base : ws_gather(iov, iovcnt, n);
	if (in != NULL && pmd_deflate(w->pmd, in, n, fin, &out, &outlen) ==
	    0) {
		hlen = ws_build_header(hdr, fin, opcode, outlen);
		if (opcode != WS_OP_CONT)
			hdr[0] |= 0x40;		/* RSV1: compressed */
		if (buf_append(&c->client.out, hdr, hlen) == 0 &&
		    buf_append(&c->client.out, out, outlen) == 0)
			rv = 0;
		free(out);
	}
	if (iovcnt != 1)
		free(in);
	if (rv == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	endpoint_flush_later(&c->client);
	return 0;
}

/*
 * One frame whose payload is the pieces of iov. Large payloads go out
 * from where they lie (no copy): on a plain socket as they are, over TLS
 * when the payload was read into relay_scratch, whose headroom takes the
 * header (one piece, so the header shares the first record). The rest
 * gathers in client.out so that one write carries many frames.
 */
static int
ws_send_frame(struct conn *c, bool fin, int opcode, const struct iovec *iov,
    int iovcnt)
{
	struct ws_transport	*w = ws_of(c);
	struct iovec		 all[1 + WS_MAX_IOV];
	uint8_t			 hdr[WS_MAX_HEADER], *dst, *head;
	size_t			 n = 0, hlen;
	int			 i;

	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	if (w->pmd != NULL && opcode < WS_OP_CLOSE)
		return ws_send_deflated(c, fin, opcode, iov, iovcnt, n);
	hlen = ws_build_header(hdr, fin, opcode, n);
	if (c->tls == NULL && n >= RELAY_WRITE_THROUGH_MIN &&
	    iovcnt <= WS_MAX_IOV) {
		all[0].iov_base = hdr;
		all[0].iov_len = hlen;
		memcpy(all + 1, iov, (size_t)iovcnt * sizeof(*iov));
		return conn_client_write_through(c, all, 1 + iovcnt);
	}
	if (c->tls != NULL && n >= RELAY_WRITE_THROUGH_MIN && iovcnt == 1 &&
	    (head = relay_headroom(iov[0].iov_base, hlen)) != NULL) {
		memcpy(head, hdr, hlen);
		all[0].iov_base = head;
		all[0].iov_len = hlen + n;
		return conn_client_write_through(c, all, 1);
	}
	if ((dst = buf_reserve(&c->client.out, hlen + n)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	memcpy(dst, hdr, hlen);
	dst += hlen;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0)
			memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
	buf_commit(&c->client.out, hlen + n);
	endpoint_flush_later(&c->client);
	return 0;
}

static int
ws_send_control(struct conn *c, int opcode, const void *p, size_t n)
{
	struct iovec	 iov = { (void *)(uintptr_t)p, n };

	return ws_send_frame(c, true, opcode, &iov, 1);
}

/* A message, or a piece of one: its first frame says its type. */
static int
ws_deliver(struct conn *c, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct ws_transport	*w = ws_of(c);
	int			 opcode = w->out_open ? WS_OP_CONT : (int)type;

	w->out_open = !fin;
	return ws_send_frame(c, fin, opcode, iov, iovcnt);
}

static size_t
ws_wire_header(uint8_t *dst, enum msg_type type, size_t len)
{
	return ws_build_header(dst, true, (int)type, len);
}

static const struct msg_wire ws_wire = { WS_MAX_HEADER, ws_wire_header };

/* Uncompressed, between messages: a whole message is one plain frame. */
static const struct msg_wire *
ws_wire_of(struct conn *c)
{
	struct ws_transport	*w = ws_of(c);

	return w->pmd == NULL && !w->out_open ? &ws_wire : NULL;
}

/* Queue a Close frame; from now on nothing but the close handshake. */
static void
ws_close(struct conn *c, unsigned code, const char *reason)
{
	struct ws_transport	*w = ws_of(c);
	uint8_t			 frame[WS_MAX_HEADER + WS_MAX_CONTROL_PAYLOAD];
	size_t			 n;

	n = ws_build_close(frame, code == WS_CLOSE_NO_STATUS ? 0 : code,
	    reason);
	ev_timer_stop(server.loop, &w->ping_timer);
	conn_send_raw(c, frame, n);
}

/* A ping whose payload is the connection's id. */
static void
ws_probe(struct conn *c)
{
	uint8_t	 payload[8];

	memcpy(payload, &c->id, sizeof(payload));
	ws_send_control(c, WS_OP_PING, payload, sizeof(payload));
}

/* Fires every ping_interval; a ping still unanswered ends the conn. */
static void
ws_ping_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ws_transport	*w = t->data;
	struct conn		*c = w->conn;

	(void)revents;
	/*
	 * While the client's input waits, its pong may wait behind it
	 * unread: ping again instead of giving up, as long as the client
	 * takes what we send. One that took none of our waiting output
	 * for ping_timeout is not reading either: it goes. (A vanished
	 * one shows as a hang-up.)
	 */
	if (w->ping_outstanding && (!c->input_blocked ||
	    conn_client_stalled(c, c->route->limits.ping_timeout_ms))) {
		log_info("conn %llu %s: no pong within %.1fs",
		    (unsigned long long)c->id, c->peer,
		    c->route->limits.ping_timeout_ms / 1000.);
		conn_close(c, "ping timeout");
		return;
	}
	ws_probe(c);
	w->ping_outstanding = true;
	ev_timer_set(t, c->route->limits.ping_timeout_ms / 1000., 0.);
	ev_timer_start(loop, t);
}

static void
ws_open(struct conn *c)
{
	struct ws_transport		*w = ws_of(c);
	const struct route_limits	*l = &c->route->limits;

	ws_msg_init(&w->msg, (uint64_t)l->max_message_size, true);
	w->msg.allow_rsv1 = w->pmd != NULL;
	if (l->ping_interval_ms > 0) {
		ev_timer_set(&w->ping_timer, l->ping_interval_ms / 1000., 0.);
		ev_timer_start(server.loop, &w->ping_timer);
	}
}

static void
ws_free(struct conn *c)
{
	struct ws_transport	*w = ws_of(c);

	ev_timer_stop(server.loop, &w->ping_timer);
	pmd_free(w->pmd);
	free(w);
	c->transport = NULL;
}

/* --- from the client ------------------------------------------------- */

static void
ws_handle_close_frame(struct conn *c, const uint8_t *p, size_t n)
{
	unsigned	 code;
	const char	*why;

	if (ws_parse_close(p, n, &code, &why) == -1) {
		conn_fail(c, code, why);
		return;
	}
	conn_close_received(c);
	if (!c->close_sent)
		conn_transport_close(c, code, "");
	buf_free(&c->in);
	conn_maybe_finish(c);
}

/* A whole control frame, unmasked. */
static void
ws_handle_control(struct conn *c, int opcode, uint8_t *p, size_t n)
{
	struct ws_transport	*w = ws_of(c);

	switch (opcode) {
	case WS_OP_PING:
		if (!c->close_sent)
			ws_send_control(c, WS_OP_PONG, p, n);
		break;
	case WS_OP_PONG:
		if (w->ping_outstanding) {
			w->ping_outstanding = false;
			ev_timer_stop(server.loop, &w->ping_timer);
			ev_timer_set(&w->ping_timer,
			    c->route->limits.ping_interval_ms / 1000., 0.);
			ev_timer_start(server.loop, &w->ping_timer);
		}
		break;
	case WS_OP_CLOSE:
		ws_handle_close_frame(c, p, n);
		break;
	}
}

/* Parse the next frame header; 1 progress, 0 need more or blocked. */
static int
ws_frame_start(struct conn *c, struct ws_transport *w)
{
	uint8_t		*p = buf_head(&c->in), ctl[WS_MAX_CONTROL_PAYLOAD];
	size_t		 avail = buf_len(&c->in);
	const char	*why;
	ssize_t		 hlen;
	unsigned	 code;

	if ((hlen = ws_parse_header(p, avail, &w->hdr, &why)) <= 0) {
		/*
		 * The only malformed header is a 64-bit length with its top
		 * bit set: a protocol error (RFC 6455 5.2), not a size.
		 */
		if (hlen == -1)
			conn_fail(c, WS_CLOSE_PROTOCOL, why);
		return 0;
	}
	if ((code = ws_msg_frame(&w->msg, &w->hdr, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (w->hdr.opcode >= WS_OP_CLOSE) {
		if (avail < (size_t)hlen + w->hdr.len)
			return 0;
		/* Pongs and Close need room in the client's buffer too. */
		if (buf_full(&c->client.out) && !c->close_sent) {
			c->input_blocked = true;
			return 0;
		}
		/* Copy out: consuming may free the buffer. */
		memcpy(ctl, p + hlen, w->hdr.len);
		ws_unmask(ctl, w->hdr.len, w->hdr.mask, 0);
		buf_consume(&c->in, (size_t)hlen + w->hdr.len);
		ws_handle_control(c, w->hdr.opcode, ctl, w->hdr.len);
		return c->state == CONN_CLOSED ? 0 : 1;
	}
	if (w->hdr.opcode != WS_OP_CONT && !c->close_sent &&
	    conn_input_refuses(c, (enum msg_type)w->hdr.opcode, &code, &why)) {
		conn_fail(c, code, why);
		return 0;
	}
	buf_consume(&c->in, (size_t)hlen);
	w->in_frame = true;
	w->frame_pos = 0;
	w->frame_unmasked = 0;
	return 1;
}

/* Unmask the bytes of the frame that arrived since the last time. */
static void
ws_unmask_new(struct ws_transport *w, uint8_t *p, size_t k)
{
	uint64_t	 upto = w->frame_pos + k;

	if (w->frame_unmasked >= upto)
		return;
	ws_unmask(p + (w->frame_unmasked - w->frame_pos),
	    (size_t)(upto - w->frame_unmasked), w->hdr.mask, w->frame_unmasked);
	w->frame_unmasked = upto;
}

/*
 * How much of the current frame's payload is here (*k) and how much the
 * sink takes now (*room); false when there is nothing to do until more
 * arrives or the sink drains (input_blocked then).
 */
static bool
ws_frame_ready(struct conn *c, struct ws_transport *w, size_t *k,
    size_t *room)
{
	uint64_t	 left = w->hdr.len - w->frame_pos;

	*k = buf_len(&c->in);
	if (left < *k)
		*k = (size_t)left;
	if (*k == 0 && left > 0)
		return false;
	if ((*room = conn_sink_room(c)) == 0) {
		c->input_blocked = true;
		return false;
	}
	return true;
}

/*
 * A compressed message: inflate what arrived into what the sink can
 * take now; input that does not fit waits in c->in (backpressure), and
 * the limit applies to the inflated size.
 */
static int
ws_frame_inflate(struct conn *c, struct ws_transport *w)
{
	size_t		 k, room, used, produced;
	uint64_t	 max = w->msg.max_len;
	uint8_t		*p = buf_head(&c->in);
	const char	*why;
	unsigned	 code = 0;
	bool		 done;

	if (!ws_frame_ready(c, w, &k, &room))
		return 0;
	if (room > sizeof(inflated))
		room = sizeof(inflated);
	ws_unmask_new(w, p, k);
	if (pmd_inflate(w->pmd, p, k, w->hdr.fin &&
	    w->frame_pos + k == w->hdr.len, inflated,
	    room, &used, &produced, &done, &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return 0;
	}
	if ((w->inflated += produced) > max && max != 0) {
		conn_fail(c, WS_CLOSE_TOO_BIG, "message over the size limit");
		return 0;
	}
	if ((produced > 0 || done) && ((code = ws_msg_payload(&w->msg,
	    inflated, produced, done, &why)) != 0 ||
	    conn_deliver_input(c, (enum msg_type)w->msg.opcode, inflated,
	    produced, done) == -1)) {
		if (code != 0)
			conn_fail(c, code, why);
		return 0;
	}
	w->frame_pos += used;
	buf_consume(&c->in, used);
	if (w->frame_pos == w->hdr.len && (!w->hdr.fin || done))
		w->in_frame = false;
	if (done)
		w->inflated = 0;
	/* A frame finished (even an empty one) is progress: go on. */
	return used > 0 || produced > 0 || done || !w->in_frame;
}

/* Move payload of the current frame to its sink; 1 progress, 0 not. */
static int
ws_frame_payload(struct conn *c, struct ws_transport *w)
{
	size_t		 k, room;
	bool		 end;
	const char	*why;
	unsigned	 code;
	uint8_t		*p = buf_head(&c->in);

	if (!ws_frame_ready(c, w, &k, &room))
		return 0;
	if (k > room)
		k = room;
	end = w->frame_pos + k == w->hdr.len && w->hdr.fin;
	ws_unmask(p, k, w->hdr.mask, w->frame_pos);
	if ((code = ws_msg_payload(&w->msg, p, k, end, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (conn_deliver_input(c, (enum msg_type)w->msg.opcode, p, k, end) ==
	    -1)
		return 0;
	w->frame_pos += k;
	if (w->frame_pos == w->hdr.len)
		w->in_frame = false;
	buf_consume(&c->in, k);
	return 1;
}

/* Decode what the client sent as far as the sinks allow. */
static void
ws_input(struct conn *c)
{
	struct ws_transport	*w = ws_of(c);
	int			 progress = 1;

	c->input_blocked = false;
	while (progress && (c->state == CONN_OPEN ||
	    c->state == CONN_CLOSING) && !c->linger && !c->close_received)
		progress = !w->in_frame ? ws_frame_start(c, w) :
		    w->msg.compressed ? ws_frame_inflate(c, w) :
		    ws_frame_payload(c, w);
	if (c->linger || c->close_received)
		buf_free(&c->in);
	if (c->state != CONN_CLOSED)
		conn_update_client_reading(c);
}

static const struct transport_ops ws_ops = {
	.name = "websocket",
	.open = ws_open,
	.input = ws_input,
	.deliver = ws_deliver,
	.wire = ws_wire_of,
	.close = ws_close,
	.probe = ws_probe,
	.free = ws_free,
};

struct transport *
transport_ws_new(struct conn *c, struct pmd *pmd)
{
	struct ws_transport	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->t.ops = &ws_ops;
	w->conn = c;
	w->pmd = pmd;
	ev_init(&w->ping_timer, ws_ping_cb);
	w->ping_timer.data = w;
	return &w->t;
}
