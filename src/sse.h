/*
 * The event-stream encoding (HTML standard, "Server-sent events"): a
 * message, or pieces of one, as one event; the close event. Pure: bytes
 * into a struct buf, no I/O (transport_sse.c sends them).
 */
#ifndef SSE_H
#define SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct buf;
struct iovec;

/* The event type an event cut short becomes: no client listens to it. */
#define SSE_DROPPED_EVENT	"dropped"

struct sse_enc {
	uint64_t	 seq;		/* id of the last event begun */
	bool		 open;		/* an event's data is open */
	bool		 cr;		/* text: last byte was CR */
	uint8_t		 carry[3];	/* binary: bytes short of 3 */
	size_t		 ncarry;
};

/*
 * A message toward the client or a piece of one (fin false: more
 * follows): the first piece opens the event ("id: seq"), fin ends it.
 * 0, or -1 out of memory.
 */
int	sse_enc_message(struct sse_enc *, struct buf *, enum msg_type,
	    const struct iovec *, int iovcnt, bool fin);
/*
 * "event: close" with {"code":..,"reason":..}. An event still open (a
 * message cut short) must not reach the client as a message: it ends as
 * event SSE_DROPPED_EVENT, and the close says "dropped": its id.
 * 0, or -1 out of memory.
 */
int	sse_enc_close(struct sse_enc *, struct buf *, unsigned code,
	    const char *reason);
/* s as the body of a JSON string (quotes, backslashes, controls). */
void	sse_json_string(char *dst, size_t len, const char *s);

#endif
