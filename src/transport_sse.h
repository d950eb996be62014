/*
 * Server-Sent Events (the HTML standard's text/event-stream): a transport
 * toward the client only. Made when a GET asks for text/event-stream on a
 * route whose transports include sse.
 */
#ifndef TRANSPORT_SSE_H
#define TRANSPORT_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

struct conn;
struct sse_stream;

#define SSE_ID_HEX	TRANSPORT_ID_HEX

/*
 * NULL when out of memory or without random bytes. With resume, the
 * connection takes that stream over, going on after message after.
 */
struct transport *transport_sse_new(struct conn *, struct sse_stream *resume,
	    uint64_t after);
/*
 * A Last-Event-ID, "SEQ" (id: "") or the old "SEQ-ID": 0 and the parts,
 * or -1 when it is not one of ours.
 */
int		 transport_sse_last_id(const char *, size_t, char *id,
		    uint64_t *seq);
/* The 200 head with extra "Name: value" lines; NULL out of memory. */
char		*transport_sse_head(char *const *hv, size_t nhv, size_t *len);

#endif
