/*
 * Client to backend: what the transport decoded goes to the route's
 * message mode (ttyd's protocol, websockify's base64, lines, bytes).
 */
#include "conn_int.h"

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

/* A piece of the client's message (type), decoded by the transport. */
int
conn_deliver_input(struct conn *c, enum msg_type type, const uint8_t *p,
    size_t n, bool msg_end)
{
	if (c->close_sent)
		return 0;
	c->in_type = (uint8_t)type;
	if (msg_end)
		c->stats.msgs_in++;
	c->stats.bytes_in += n;
	if (backend_flags(&c->be) & BACKEND_F_MESSAGES)
		return backend_input(&c->be, (int)type, p, n, msg_end);
	if (c->route->mode == MODE_PTY)
		return conn_pty_input(c, p, n, msg_end);
	if (c->base64)
		return conn_deliver_base64(c, p, n, msg_end);
	return conn_sink_backend(c, p, n, msg_end);
}

/* Decode what the client sent, as far as the sink takes it. */
void
conn_process_input(struct conn *c)
{
	if (c->transport != NULL && c->state != CONN_CLOSED)
		c->transport->ops->input(c);
}

/* A text route takes text; echo gives back whatever it gets. */
bool
conn_input_refuses(const struct conn *c, enum msg_type type, unsigned *code,
    const char **why)
{
	if (type == MSG_BINARY && c->route->mode == MODE_TEXT &&
	    !(backend_flags(&c->be) & BACKEND_F_MESSAGES)) {
		*code = WS_CLOSE_UNSUPPORTED;
		*why = "binary message on a text route";
		return true;
	}
	return false;
}
