/*
 * Output to the client: raw bytes, messages through the transport, the
 * start of the close, and when a finished connection may end.
 */
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "log.h"
#include "session.h"

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
 * Whole messages already on the transport's wire (its wire op): written
 * at once when nothing waits and they are large, else queued.
 */
int
conn_send_wire(struct conn *c, const void *p, size_t n)
{
	struct iovec	 iov = { (void *)(uintptr_t)p, n };

	if (c->transport == NULL || c->state == CONN_CLOSED)
		return -1;
	return conn_client_write_through(c, &iov, 1);
}

int
conn_deliverv(struct conn *c, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	if (c->transport == NULL || c->state == CONN_CLOSED)
		return -1;
	return c->transport->ops->deliver(c, type, iov, iovcnt, fin);
}

int
conn_deliver(struct conn *c, enum msg_type type, const void *p, size_t n,
    bool fin)
{
	struct iovec	 iov = { (void *)(uintptr_t)p, n };

	return conn_deliverv(c, type, &iov, 1, fin);
}

/* From now on nothing but the transport's goodbye. */
void
conn_transport_close(struct conn *c, unsigned code, const char *reason)
{
	if (c->close_sent || c->state == CONN_CLOSED || c->transport == NULL)
		return;
	c->close_sent = true;
	c->close_code = code;
	if (c->state != CONN_CLOSING)
		conn_set_state(c, CONN_CLOSING);
	ev_timer_stop(server.loop, &c->idle_timer);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	c->transport->ops->close(c, code, reason);
	/* The backend's output no longer has anywhere to go. */
	conn_output_resume(c);
}

/* The client said goodbye: the backend gets what is queued, then EOF. */
void
conn_close_received(struct conn *c)
{
	c->close_received = true;
	if (c->member != NULL)
		session_input_end(c->member);
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
	if (c->member != NULL)
		session_input_abort(c->member);
	conn_transport_close(c, code, why);
	/* Nothing more is read but EOF: flush, shut down, wait for it. */
	c->linger = true;
	c->failed = true;
	conn_maybe_finish(c);
}

/*
 * Why a connection ended once the client has our last byte: not "client
 * gone" when we ended it (a failed WebSocket, a finished HTTP response).
 */
static const char *
conn_end_reason(const struct conn *c)
{
	if (c->close_received)
		return "closed";
	if (c->failed)
		switch (c->close_code) {
		case 1002:	return "protocol error";
		case 1003:	return "unsupported data";
		case 1007:	return "invalid data";
		case 1008:	return "policy violation";
		case 1009:	return "message too big";
		default:	return "failed";
		}
	if (c->linger && c->session == NULL && c->status != 101)
		return "response sent";
	return "client gone";
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
	if (c->member != NULL && !c->sse && session_input_pending(c->member))
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
	conn_close(c, conn_end_reason(c));
}
