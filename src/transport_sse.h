/*
 * Server-Sent Events (the HTML standard's text/event-stream): a transport
 * toward the client only. Made when a GET asks for text/event-stream on a
 * route whose transports include sse.
 */
#ifndef TRANSPORT_SSE_H
#define TRANSPORT_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

struct conn;

/* Hex digits of a session id: 128 random bits. */
#define SSE_ID_HEX	32

/* NULL when out of memory or without random bytes. */
struct transport *transport_sse_new(struct conn *);
/* The open stream (its client) whose session id is id, or NULL. */
struct conn	*transport_sse_find(const char *id);
/*
 * May client c's request send input to stream sc? Yes when sc has no
 * user; else only with the credentials that proved sc's user.
 */
bool		 transport_sse_same_user(const struct conn *sc,
		    const struct conn *c);
/* The 200 head with extra "Name: value" lines; NULL out of memory. */
char		*transport_sse_head(char *const *hv, size_t nhv, size_t *len);

#endif
