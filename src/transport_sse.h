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

#define SSE_ID_HEX	TRANSPORT_ID_HEX

/* NULL when out of memory or without random bytes. */
struct transport *transport_sse_new(struct conn *);
/* The 200 head with extra "Name: value" lines; NULL out of memory. */
char		*transport_sse_head(char *const *hv, size_t nhv, size_t *len);

#endif
