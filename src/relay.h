/*
 * One side of a byte relay: a descriptor pair (a socket, or a process's
 * stdout and stdin) with its watchers and a bounded output buffer. Large
 * chunks are written straight from where they lie (no copy); small ones
 * gather in the buffer and go out just before the loop polls again.
 * Used by the client connection (its socket) and by the session (its
 * backend's descriptors); it knows neither.
 */
#ifndef RELAY_H
#define RELAY_H

#include <sys/queue.h>
#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "buf.h"

#include <stdint.h>

#define RELAY_WRITE_THROUGH_MIN	(16 * 1024)	/* written without a copy */
/* Socket reads follow a route's buffer_size within these bounds. */
#define RELAY_CHUNK_MIN		(16 * 1024)
#define RELAY_CHUNK_MAX		(1024 * 1024)

/*
 * Reads land here: the loop is single-threaded. RELAY_HEADROOM bytes in
 * front of it belong to no one, so a frame header can go right before a
 * payload read here and both leave in one contiguous piece (TLS encrypts
 * from where they lie instead of from a copy).
 */
#define RELAY_HEADROOM		16
extern struct relay_scratch_area {
	uint8_t		 head[RELAY_HEADROOM];
	uint8_t		 data[RELAY_CHUNK_MAX];
} relay_scratch_area;
#define relay_scratch	(relay_scratch_area.data)
/*
 * p is the start of relay_scratch and len <= RELAY_HEADROOM: where len
 * bytes just before it start. Else NULL.
 */
uint8_t	*relay_headroom(const void *p, size_t len);

struct endpoint {
	int		 rfd, wfd;	/* -1 when closed */
	ev_io		 rd, wr;	/* data: the owner */
	struct buf	 out;		/* bytes waiting to be written to wfd */
	void		*owner;
	/* Write what is queued (called before the loop polls again). */
	void		(*flush)(struct endpoint *);
	bool		 eof;		/* read side finished */
	bool		 wr_shut;	/* write side shut down or closed */
	bool		 flush_queued;	/* on the flush queue */
	TAILQ_ENTRY(endpoint) flush_entry;
};

/* What a write-through did with the bytes it was given. */
enum relay_write {
	RELAY_QUEUED,		/* written, or queued to be flushed soon */
	RELAY_BLOCKED,		/* the descriptor is full: the rest queued */
	RELAY_FAILED,		/* an error (errno); the bytes queued */
};

void	relay_init(struct ev_loop *);
/* How much one socket read takes for this buffer_size. */
size_t	relay_chunk(long long buffer_size);
struct ev_loop *relay_loop(void);
void	endpoint_init(struct endpoint *, void *owner, size_t high,
	    void (*flush)(struct endpoint *));
void	endpoint_watch(struct endpoint *, ev_io *,
	    void (*)(struct ev_loop *, ev_io *, int), int fd, int events);
void	watcher_set(ev_io *, bool on);
/* Flush e's buffer before the next poll. */
void	endpoint_flush_later(struct endpoint *);
/* Run the flushes queued since the last poll. */
void	relay_flush_queued(void);
/*
 * Write iov now if it is large and nothing waits before it, else queue
 * it. *sent: bytes the descriptor took. -1: out of memory.
 * RELAY_FAILED leaves errno set and the bytes queued.
 */
int	endpoint_write_through(struct endpoint *, const struct iovec *,
	    int iovcnt, enum relay_write *, size_t *sent);
/* Stop the watchers, close the descriptors, free the buffer. */
void	endpoint_close(struct endpoint *);

#endif
