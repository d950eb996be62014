/*
 * Client to backend: frame decoding as far as the sink takes it, control
 * frames, permessage-deflate inflation, and delivery to the backend.
 */
#include "pmd.h"
#include "conn_int.h"

/* Inflated client data on its way to a sink. */
static uint8_t	 inflated[CONN_READ_CHUNK];

/*
 * websockify's base64 protocol: decode as it arrives (the scratch buffer
 * is free while input is processed); text that is not base64 is 1007.
 */
static int
conn_deliver_base64(struct conn *c, const uint8_t *p, size_t n,
    bool msg_end)
{
	long	 k;

	while (n > 0 || msg_end) {
		size_t	 take = n < sizeof(conn_scratch) / 2 ?
			    n : sizeof(conn_scratch) / 2;
		bool	 end = msg_end && take == n;

		if ((k = base64_dec_feed(&c->b64, p, take, end,
		    conn_scratch)) == -1) {
			conn_fail(c, WS_CLOSE_BAD_DATA, "invalid base64");
			return -1;
		}
		if (conn_sink_backend(c, conn_scratch, (size_t)k, end) == -1)
			return -1;
		p += take;
		n -= take;
		if (end)
			break;
	}
	return 0;
}

/* Deliver unmasked payload of the current data frame. */
static int
conn_deliver(struct conn *c, const uint8_t *p, size_t n, bool msg_end)
{
	if (c->close_sent)
		return 0;
	if (msg_end)
		c->stats.msgs_in++;
	c->stats.bytes_in += n;
	if (backend_flags(&c->be) & BACKEND_F_MESSAGES)
		return backend_input(&c->be, c->msg_opcode, p, n, msg_end);
	if (c->route->mode == MODE_PTY)
		return conn_pty_input(c, p, n, msg_end);
	if (c->base64)
		return conn_deliver_base64(c, p, n, msg_end);
	return conn_sink_backend(c, p, n, msg_end);
}

static void
conn_handle_close_frame(struct conn *c, const uint8_t *p, size_t n)
{
	unsigned	 code;
	const char	*why;

	if (ws_parse_close(p, n, &code, &why) == -1) {
		conn_fail(c, code, why);
		return;
	}
	c->close_received = true;
	if (!c->close_sent)
		conn_ws_close(c, code, "");
	buf_free(&c->in);
	conn_maybe_finish(c);
}

/* A whole control frame is in c->in (header hlen, unmasked payload). */
static void
conn_handle_control(struct conn *c, uint8_t *p, size_t n)
{
	switch (c->hdr.opcode) {
	case WS_OP_PING:
		if (!c->close_sent)
			conn_send_frame(c, true, WS_OP_PONG, p, n);
		break;
	case WS_OP_PONG:
		if (c->ping_outstanding) {
			c->ping_outstanding = false;
			ev_timer_stop(server.loop, &c->ping_timer);
			ev_timer_set(&c->ping_timer,
			    c->route->limits.ping_interval_ms / 1000., 0.);
			ev_timer_start(server.loop, &c->ping_timer);
		}
		break;
	case WS_OP_CLOSE:
		conn_handle_close_frame(c, p, n);
		break;
	}
}

/* Parse the next frame header; 1 progress, 0 need more or blocked. */
static int
conn_frame_start(struct conn *c)
{
	uint8_t		*p = buf_head(&c->in), ctl[WS_MAX_CONTROL_PAYLOAD];
	size_t		 avail = buf_len(&c->in);
	const char	*why;
	ssize_t		 hlen;
	unsigned	 code;

	if ((hlen = ws_parse_header(p, avail, &c->hdr, &why)) <= 0) {
		/*
		 * The only malformed header is a 64-bit length with its top
		 * bit set: a protocol error (RFC 6455 5.2), not a size.
		 */
		if (hlen == -1)
			conn_fail(c, WS_CLOSE_PROTOCOL, why);
		return 0;
	}
	if ((code = ws_msg_frame(&c->msg, &c->hdr, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (c->hdr.opcode >= WS_OP_CLOSE) {
		if (avail < (size_t)hlen + c->hdr.len)
			return 0;
		/* Pongs and Close need room in the client's buffer too. */
		if (buf_full(&c->client.out) && !c->close_sent) {
			c->input_blocked = true;
			return 0;
		}
		/* Copy out: consuming may free the buffer. */
		memcpy(ctl, p + hlen, c->hdr.len);
		ws_unmask(ctl, c->hdr.len, c->hdr.mask, 0);
		buf_consume(&c->in, (size_t)hlen + c->hdr.len);
		conn_handle_control(c, ctl, c->hdr.len);
		return c->state == CONN_CLOSED ? 0 : 1;
	}
	if (c->hdr.opcode == WS_OP_BINARY && c->route->mode == MODE_TEXT &&
	    !(backend_flags(&c->be) & BACKEND_F_MESSAGES) && !c->close_sent) {
		conn_fail(c, WS_CLOSE_UNSUPPORTED, "binary message on a text "
		    "route");
		return 0;
	}
	if (c->hdr.opcode != WS_OP_CONT)
		c->msg_opcode = c->hdr.opcode;
	buf_consume(&c->in, (size_t)hlen);
	c->in_frame = true;
	c->frame_pos = 0;
	c->frame_unmasked = 0;
	return 1;
}

/* Unmask the bytes of the frame that arrived since the last time. */
static void
conn_unmask_new(struct conn *c, uint8_t *p, size_t k)
{
	uint64_t	 upto = c->frame_pos + k;

	if (c->frame_unmasked >= upto)
		return;
	ws_unmask(p + (c->frame_unmasked - c->frame_pos),
	    (size_t)(upto - c->frame_unmasked), c->hdr.mask, c->frame_unmasked);
	c->frame_unmasked = upto;
}

/*
 * How much of the current frame's payload is here (*k) and how much the
 * sink takes now (*room); false when there is nothing to do until more
 * arrives or the sink drains (input_blocked then).
 */
static bool
conn_frame_ready(struct conn *c, size_t *k, size_t *room)
{
	uint64_t	 left = c->hdr.len - c->frame_pos;

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
conn_frame_inflate(struct conn *c)
{
	size_t		 k, room, used, produced;
	uint64_t	 max = c->msg.max_len;
	uint8_t		*p = buf_head(&c->in);
	const char	*why;
	unsigned	 code = 0;
	bool		 done;

	if (!conn_frame_ready(c, &k, &room))
		return 0;
	if (room > sizeof(inflated))
		room = sizeof(inflated);
	conn_unmask_new(c, p, k);
	if (pmd_inflate(c->pmd, p, k, c->hdr.fin &&
	    c->frame_pos + k == c->hdr.len, inflated,
	    room, &used, &produced, &done, &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return 0;
	}
	if ((c->inflated += produced) > max && max != 0) {
		conn_fail(c, WS_CLOSE_TOO_BIG, "message over the size limit");
		return 0;
	}
	if ((produced > 0 || done) && ((code = ws_msg_payload(&c->msg,
	    inflated, produced, done, &why)) != 0 ||
	    conn_deliver(c, inflated, produced, done) == -1)) {
		if (code != 0)
			conn_fail(c, code, why);
		return 0;
	}
	c->frame_pos += used;
	buf_consume(&c->in, used);
	if (c->frame_pos == c->hdr.len && (!c->hdr.fin || done))
		c->in_frame = false;
	if (done)
		c->inflated = 0;
	/* A frame finished (even an empty one) is progress: go on. */
	return used > 0 || produced > 0 || done || !c->in_frame;
}

/* Move payload of the current frame to its sink; 1 progress, 0 not. */
static int
conn_frame_payload(struct conn *c)
{
	size_t		 k, room;
	bool		 end;
	const char	*why;
	unsigned	 code;
	uint8_t		*p = buf_head(&c->in);

	if (!conn_frame_ready(c, &k, &room))
		return 0;
	if (k > room)
		k = room;
	end = c->frame_pos + k == c->hdr.len && c->hdr.fin;
	ws_unmask(p, k, c->hdr.mask, c->frame_pos);
	if ((code = ws_msg_payload(&c->msg, p, k, end, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (conn_deliver(c, p, k, end) == -1)
		return 0;
	c->frame_pos += k;
	if (c->frame_pos == c->hdr.len)
		c->in_frame = false;
	buf_consume(&c->in, k);
	return 1;
}

/* Decode what the client sent as far as the sinks allow. */
void
conn_process_input(struct conn *c)
{
	int	 progress = 1;

	c->input_blocked = false;
	while (progress && (c->state == CONN_OPEN ||
	    c->state == CONN_CLOSING) && !c->linger && !c->close_received)
		progress = !c->in_frame ? conn_frame_start(c) :
		    c->msg.compressed ? conn_frame_inflate(c) :
		    conn_frame_payload(c);
	if (c->linger || c->close_received)
		buf_free(&c->in);
	if (c->state != CONN_CLOSED)
		conn_update_client_reading(c);
}
