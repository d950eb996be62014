/*
 * Hang-ups of sockets nobody is reading. libev can't ask epoll for
 * EPOLLRDHUP, so the paused sockets sit in an epoll set of their own,
 * registered for EPOLLRDHUP alone (EPOLLERR and EPOLLHUP always come
 * with it), and that set's descriptor is one libev io watcher. Data
 * arriving never wakes it, so a paused socket costs nothing until its
 * peer leaves; the owner unwatches a socket on its first report, so a
 * level-triggered hang-up can't spin either.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <unistd.h>

#include "hangup.h"
#include "log.h"

#define HANGUP_BATCH	64

static int	 hangup_fd = -1;
static ev_io	 hangup_io;
static void	(*hangup_cb)(void *, int);

/* Fires when a watched socket's peer shut down or reset. */
static void
hangup_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epoll_event	 ev[HANGUP_BATCH];
	int			 i, n;

	(void)loop, (void)w, (void)revents;
	if ((n = epoll_wait(hangup_fd, ev, HANGUP_BATCH, 0)) == -1) {
		if (errno != EINTR)
			log_warn("hangup: epoll_wait");
		return;
	}
	for (i = 0; i < n; i++)
		hangup_cb(ev[i].data.ptr, ev[i].events &
		    (EPOLLERR | EPOLLHUP) ? HANGUP_ERROR : HANGUP_EOF);
}

int
hangup_init(struct ev_loop *loop, void (*cb)(void *, int))
{
	if (hangup_fd != -1)
		close(hangup_fd);
	if ((hangup_fd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	hangup_cb = cb;
	ev_io_init(&hangup_io, hangup_io_cb, hangup_fd, EV_READ);
	ev_io_start(loop, &hangup_io);
	/* Like the reaper: this watcher alone doesn't keep the loop alive. */
	ev_unref(loop);
	return 0;
}

int
hangup_watch(int fd, void *arg)
{
	struct epoll_event	 ev = { .events = EPOLLRDHUP };

	if (hangup_fd == -1) {
		errno = EBADF;
		return -1;
	}
	ev.data.ptr = arg;
	return epoll_ctl(hangup_fd, EPOLL_CTL_ADD, fd, &ev);
}

void
hangup_unwatch(int fd)
{
	if (hangup_fd != -1)
		(void)epoll_ctl(hangup_fd, EPOLL_CTL_DEL, fd, NULL);
}
