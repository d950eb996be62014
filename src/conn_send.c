/*
 * Frames to the client: raw bytes, data frames (deflated when negotiated,
 * with a ttyd prefix byte on pty routes), the Close, and when a finished
 * connection may end.
 */
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "log.h"
#include "pmd.h"
#include "tls.h"

/* --- output to the client -------------------------------------------- */

int
conn_send_raw(struct conn *c, const void *p, size_t n)
{
	if (buf_append(&c->client.out, p, n) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	endpoint_flush_later(&c->client);
	return 0;
}


/*
 * A data frame under permessage-deflate: the message's first frame has
 * RSV1, its pieces are one deflate stream, control frames never are.
 */
static int
conn_send_deflated(struct conn *c, bool fin, int opcode, int prefix,
    const void *p, size_t n)
{
	uint8_t	*in = (uint8_t *)(uintptr_t)p, *out, hdr[WS_MAX_HEADER];
	size_t	 inlen = n, outlen, hlen;
	int	 rv = -1;

	if (prefix >= 0) {
		if ((in = malloc(n + 1)) == NULL)
			return conn_send_frame_prefixed(c, fin, opcode, -2, p, 0);
		in[0] = (uint8_t)prefix;
		memcpy(in + 1, p, n);
		inlen = n + 1;
	}
	if (pmd_deflate(c->pmd, in, inlen, fin, &out, &outlen) == 0) {
		hlen = ws_build_header(hdr, fin, opcode, outlen);
		if (opcode != WS_OP_CONT)
			hdr[0] |= 0x40;		/* RSV1: compressed */
		if (buf_append(&c->client.out, hdr, hlen) == 0 &&
		    buf_append(&c->client.out, out, outlen) == 0)
			rv = 0;
		free(out);
	}
	if (in != p)
		free(in);
	if (rv == -1)
		conn_close(c, "out of memory");
	else
		endpoint_flush_later(&c->client);
	return rv;
}

/* One frame; prefix (a ttyd command byte) goes first unless -1. */
int
conn_send_frame_prefixed(struct conn *c, bool fin, int opcode, int prefix,
    const void *p, size_t n)
{
	uint8_t	 hdr[WS_MAX_HEADER + 1], *dst;
	size_t	 plen = prefix >= 0 ? 1 : 0;
	size_t	 hlen;

	if (prefix == -2) {
		conn_close(c, "out of memory");
		return -1;
	}
	if (c->pmd != NULL && opcode < WS_OP_CLOSE)
		return conn_send_deflated(c, fin, opcode, prefix, p, n);
	hlen = ws_build_header(hdr, fin, opcode, n + plen);

	if (prefix >= 0)
		hdr[hlen++] = (uint8_t)prefix;
	if (c->tls == NULL && n >= CONN_WRITE_THROUGH_MIN) {
		struct iovec	 iov[2] = { { hdr, hlen },
				    { (void *)(uintptr_t)p, n } };

		if (endpoint_write_through(&c->client, iov, 2) == -1) {
			conn_close(c, "out of memory");
			return -1;
		}
		return 0;
	}
	if ((dst = buf_reserve(&c->client.out, hlen + n)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	memcpy(dst, hdr, hlen);
	if (n > 0)
		memcpy(dst + hlen, p, n);
	buf_commit(&c->client.out, hlen + n);
	endpoint_flush_later(&c->client);
	return 0;
}

int
conn_send_frame(struct conn *c, bool fin, int opcode, const void *p,
    size_t n)
{
	return conn_send_frame_prefixed(c, fin, opcode, -1, p, n);
}

/* Queue a Close frame; from now on nothing but the close handshake. */
void
conn_ws_close(struct conn *c, unsigned code, const char *reason)
{
	uint8_t	 frame[WS_MAX_HEADER + WS_MAX_CONTROL_PAYLOAD];
	size_t	 n;

	if (c->close_sent || c->state == CONN_CLOSED)
		return;
	n = ws_build_close(frame, code == WS_CLOSE_NO_STATUS ? 0 : code,
	    reason);
	c->close_sent = true;
	c->close_code = code;
	if (c->state != CONN_CLOSING)
		conn_set_state(c, CONN_CLOSING);
	ev_timer_stop(server.loop, &c->ping_timer);
	ev_timer_stop(server.loop, &c->idle_timer);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	/* The backend's output no longer has anywhere to go. */
	watcher_set(&c->backend.rd, false);
	conn_send_raw(c, frame, n);
}

/* Fail the WebSocket connection (RFC 6455 7.1.7): Close, then TCP close. */
void
conn_fail(struct conn *c, unsigned code, const char *why)
{
	log_info("conn %llu %s: close %u: %s", (unsigned long long)c->id,
	    c->peer, code, why);
	c->input_blocked = false;
	buf_free(&c->in);
	/* The backend gets no more input: a process sees EOF now. */
	buf_free(&c->backend.out);
	conn_backend_stop_input(c);
	conn_ws_close(c, code, why);
	/* Nothing more is read but EOF: flush, shut down, wait for it. */
	c->linger = true;
	conn_maybe_finish(c);
}

/*
 * Close the connection once everything owed is written: our Close or
 * HTTP response to the client, and the client's data to the backend.
 */
void
conn_maybe_finish(struct conn *c)
{
	bool	 client_done;

	if (c->state == CONN_CLOSED)
		return;
	client_done = c->client.eof || c->linger ||
	    (c->close_sent && c->close_received);
	if (!client_done || client_unsent(c) > 0 || c->file_fd != -1)
		return;
	if (c->backend.wfd != -1 && buf_len(&c->backend.out) > 0)
		return;
	if (c->linger && !c->client.eof) {
		/* Lingering close: the client reads all we sent, then EOF. */
		if (!c->client.wr_shut && c->client.wfd != -1)
			shutdown(c->client.wfd, SHUT_WR);
		c->client.wr_shut = true;
		watcher_set(&c->client.rd, true);
		/* A finished download waits for EOF no longer than this. */
		if (!ev_is_active(&c->deadline))
			conn_deadline(c, c->cref->cfg->close_timeout_ms);
		return;
	}
	conn_close(c, c->close_received ? "closed" : "client gone");
}
