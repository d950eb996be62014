/*
 * Client to session: what the transport decoded goes to the session,
 * whose message mode makes it the backend's bytes.
 */
#include "conn_int.h"
#include "session.h"

/* A piece of the client's message (type), decoded by the transport. */
int
conn_deliver_input(struct conn *c, enum msg_type type, const uint8_t *p,
    size_t n, bool msg_end)
{
	if (c->close_sent || c->member == NULL)
		return 0;
	if (msg_end)
		c->stats.msgs_in++;
	c->stats.bytes_in += n;
	return session_input(c->member, type, p, n, msg_end);
}

/* Decode what the client sent, as far as the sink takes it. */
void
conn_process_input(struct conn *c)
{
	if (c->transport != NULL && c->state != CONN_CLOSED)
		c->transport->ops->input(c);
}

/* Where client payload goes, and how much it can take now. */
size_t
conn_sink_room(struct conn *c)
{
	if (c->close_sent || c->member == NULL)
		return SIZE_MAX;	/* discarded */
	return session_input_room(c->member);
}

/* A text route takes text; echo gives back whatever it gets. */
bool
conn_input_refuses(const struct conn *c, enum msg_type type, unsigned *code,
    const char **why)
{
	if (type == MSG_BINARY && c->route->mode == MODE_TEXT &&
	    c->session != NULL && !session_messages_only(c->session)) {
		*code = WS_CLOSE_UNSUPPORTED;
		*why = "binary message on a text route";
		return true;
	}
	return false;
}
