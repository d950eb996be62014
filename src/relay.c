/*
 * The relay's endpoints: watchers, write-through and deferred flushes.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "relay.h"

struct relay_scratch_area relay_scratch_area;

_Static_assert(offsetof(struct relay_scratch_area, data) == RELAY_HEADROOM,
    "relay_scratch follows its headroom");

static struct ev_loop	*loop;
static TAILQ_HEAD(, endpoint) flushq = TAILQ_HEAD_INITIALIZER(flushq);

void
relay_init(struct ev_loop *l)
{
	loop = l;
}

/*
 * The route's buffer_size, so a route tuned for bulk moves it in fewer
 * trips and the default stays small.
 */
size_t
relay_chunk(long long buffer_size)
{
	if (buffer_size < RELAY_CHUNK_MIN)
		return RELAY_CHUNK_MIN;
	return buffer_size > RELAY_CHUNK_MAX ? RELAY_CHUNK_MAX :
	    (size_t)buffer_size;
}

uint8_t *
relay_headroom(const void *p, size_t len)
{
	/* bytes of the one object, so the header and data are contiguous */
	uint8_t	*base = (uint8_t *)&relay_scratch_area;

	if (p != base + RELAY_HEADROOM || len > RELAY_HEADROOM)
		return NULL;
	return base + RELAY_HEADROOM - len;
}

struct ev_loop *
relay_loop(void)
{
	return loop;
}

void
endpoint_init(struct endpoint *e, void *owner, size_t high,
    void (*flush)(struct endpoint *))
{
	e->rfd = e->wfd = -1;
	e->owner = owner;
	e->flush = flush;
	buf_init(&e->out, high);
}

void
endpoint_watch(struct endpoint *e, ev_io *w, void (*cb)(struct ev_loop *,
    ev_io *, int), int fd, int events)
{
	ev_io_init(w, cb, fd, events);
	w->data = e->owner;
}

void
watcher_set(ev_io *w, bool on)
{
	if (w->fd < 0)
		return;
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

/*
 * Data was queued: write it just before the loop polls again (redis's
 * beforeSleep), so most writes need no write watcher and no extra trip
 * through epoll. The watcher runs only while a descriptor is full.
 */
void
endpoint_flush_later(struct endpoint *e)
{
	if (buf_len(&e->out) == 0 || e->wfd == -1 || e->flush_queued ||
	    ev_is_active(&e->wr))
		return;
	e->flush_queued = true;
	TAILQ_INSERT_TAIL(&flushq, e, flush_entry);
}

static void
endpoint_unqueue(struct endpoint *e)
{
	if (e->flush_queued) {
		TAILQ_REMOVE(&flushq, e, flush_entry);
		e->flush_queued = false;
	}
}

void
relay_flush_queued(void)
{
	struct endpoint	*e;

	while ((e = TAILQ_FIRST(&flushq)) != NULL) {
		endpoint_unqueue(e);
		if (e->wfd != -1)
			e->flush(e);
	}
}

/*
 * A large chunk for a socket or pipe with nothing queued goes out at
 * once from where it lies: no copy into the buffer. Small pieces still
 * gather in the buffer so that one write carries many frames. What the
 * descriptor doesn't take is queued, also after an error (errno), which
 * is the caller's to act on.
 */
int
endpoint_write_through(struct endpoint *e, const struct iovec *iov,
    int iovcnt, enum relay_write *res, size_t *sent)
{
	struct msghdr	 mh = { .msg_iov = (struct iovec *)(uintptr_t)iov,
			    .msg_iovlen = (size_t)iovcnt };
	size_t		 total = 0, skip, k;
	ssize_t		 n = -1;
	int		 i, err = 0;

	*res = RELAY_QUEUED;
	*sent = 0;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total >= RELAY_WRITE_THROUGH_MIN && buf_len(&e->out) == 0 &&
	    e->wfd != -1 && !e->wr_shut && !ev_is_active(&e->wr)) {
		/* Sockets without SIGPIPE; a process's stdin is a pipe. */
		n = sendmsg(e->wfd, &mh, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK)
			n = writev(e->wfd, iov, iovcnt);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			*res = RELAY_BLOCKED;
		else if (n == -1 && errno != EINTR) {
			*res = RELAY_FAILED;
			err = errno;
		}
	}
	skip = n > 0 ? (size_t)n : 0;
	*sent = skip;
	for (i = 0; i < iovcnt; i++) {
		k = skip < iov[i].iov_len ? skip : iov[i].iov_len;
		skip -= k;
		if (buf_append(&e->out, (const uint8_t *)iov[i].iov_base + k,
		    iov[i].iov_len - k) == -1)
			return -1;
	}
	if (*res == RELAY_QUEUED)
		endpoint_flush_later(e);
	if (*res == RELAY_FAILED)
		errno = err;
	return 0;
}

void
endpoint_close(struct endpoint *e)
{
	endpoint_unqueue(e);
	watcher_set(&e->rd, false);
	watcher_set(&e->wr, false);
	if (e->rfd != -1)
		close(e->rfd);
	if (e->wfd != -1 && e->wfd != e->rfd)
		close(e->wfd);
	e->rfd = e->wfd = -1;
	buf_free(&e->out);
}
