/*
 * A transport carries messages between one client connection and what
 * it talks to: WebSocket (transport_ws.c) today; Server-Sent Events and
 * long polling fit the same table. The client calls it only through
 * c->transport->ops. Toward the client it takes whole messages or
 * pieces of one (deliver); from the client it decodes c->in and hands
 * each piece of a message up with conn_deliver_input(). "Can take more"
 * is the room in the client's output buffer (conn_client_room()).
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

struct conn;
struct iovec;


struct transport_ops {
	const char	*name;
	/* The handshake is answered: start the transport's clocks. */
	void	(*open)(struct conn *);
	/* Decode what the client sent (c->in) as far as the sink takes. */
	void	(*input)(struct conn *);
	/*
	 * A message toward the client, or a piece of one (fin false: more
	 * follows). The pieces of iov are one payload. 0, or -1 when the
	 * connection was closed (out of memory).
	 */
	int	(*deliver)(struct conn *, enum msg_type, const struct iovec *,
		    int iovcnt, bool fin);
	/*
	 * Optional (NULL: every message goes through deliver): how this
	 * client's whole messages look on the wire now, or NULL when its
	 * bytes are its own (compression, a message open). Bytes made with
	 * it go out with conn_send_wire().
	 */
	const struct msg_wire *(*wire)(struct conn *);
	/* Say goodbye with a close code and reason; nothing follows. */
	void	(*close)(struct conn *, unsigned code, const char *reason);
	/* Is the client still there? Something it must answer (a ping). */
	void	(*probe)(struct conn *);
	/* The connection is closed: stop clocks, free the state. */
	void	(*free)(struct conn *);
};

struct transport {
	const struct transport_ops *ops;
};

/* Hex digits of a session id (event streams, polls): 128 random bits. */
#define TRANSPORT_ID_HEX	32

/* A fresh id, NUL-terminated (TRANSPORT_ID_HEX + 1); -1 no randomness. */
int	transport_random_id(char *id);

#endif
