/*
 * An event stream's place in its session (issue 16): the member behind a
 * Server-Sent Events client, which outlives the connection so that a
 * reconnect with Last-Event-ID resumes it. It numbers the output by the
 * session's sequence, keeps the last buffer_size bytes that went out (a
 * dropped connection may have lost them in flight) and passes every
 * other call of the session to the connection attached to it, if any.
 * Detached, it keeps what comes (the backend waits once buffer_size of it
 * is unsent) for session_timeout; then it leaves the session (alone: the
 * program goes through its grace sequence).
 */
#ifndef SSE_STREAM_H
#define SSE_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct config_ref;
struct route;
struct session;
struct session_member;
struct session_peer;
struct sse_stream;

/*
 * The stream takes member m of s over from the client attached to it
 * (client: its peer, which the stream calls on), with a reference of its
 * own on s, and names it id on route r. NULL: out of memory.
 */
struct sse_stream *sse_stream_new(struct session *, struct session_member *,
	    const struct session_peer *client, struct route *r,
	    struct config_ref *, const char *id, uint64_t log_id,
	    const char *peer);
/* The stream behind member m, or NULL (another kind of client). */
struct sse_stream *sse_stream_of(struct session_member *);
const char	*sse_stream_id(const struct sse_stream *);
struct session_member *sse_stream_member(const struct sse_stream *);
/* Is the client with this argument (its peer's) the one attached? */
bool		 sse_stream_attached_to(const struct sse_stream *,
		    const void *arg);
/* The number of the message being handed to the client now. */
uint64_t	 sse_stream_seq(const struct sse_stream *);
/*
 * Can a client that saw every message up to after (0: none) go on?
 * NULL yes, else the reason it cannot (that output is gone, or an id
 * that was never sent).
 */
const char	*sse_stream_check(const struct sse_stream *, uint64_t after);
/*
 * A client takes the stream over (a client still attached is closed):
 * it gets what came after after, then live output; a session that
 * ended meanwhile says its goodbye. -1: the client was closed.
 */
int		 sse_stream_attach(struct sse_stream *,
		    const struct session_peer *client, uint64_t after);
/*
 * The client's connection is closed. After the session's goodbye went to
 * it (or when the server stops) the stream ends now; else it waits for
 * a reconnect, session_timeout at most.
 */
void		 sse_stream_detach(struct sse_stream *);
/* The argument of the client attached (its peer's), or NULL. */
void		*sse_stream_client(const struct sse_stream *);
/* Its goodbye went to a client, or it ends: nothing more to end. */
bool		 sse_stream_told(const struct sse_stream *);
/*
 * The client is done (DELETE ?session=): the member leaves the session
 * now (the attached client must no longer use it), an attached
 * connection gets the close event (1000, reason) and its end ends the
 * stream; a detached stream ends now. -1: it had its goodbye already.
 */
int		 sse_stream_end_by_client(struct sse_stream *,
		    const char *reason);
/* The server stops: streams without a client end now, others at detach. */
void		 sse_stream_shutdown(void);

#endif
