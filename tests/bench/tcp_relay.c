/*
 * tcp_relay: a plain TCP relay on 127.0.0.1 (no WebSocket work at all), the
 * reference for what any single-threaded bridge can do on this machine: it
 * makes the same two extra socket hops as wsbridge's TCP route.
 *
 *   tcp_relay --port N --to M
 *
 * Each accepted connection gets its own connection to port M; bytes are
 * read into one shared buffer and written to the other side at once, and
 * what the other side does not take waits (reading stops meanwhile).
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RELAY_READ_SIZE		(1024 * 1024)	/* as wsbridge's bulk route */
#define RELAY_MAX_EVENTS	256

/* One side of a relayed pair; pend holds bytes this side did not take. */
struct side {
	int		 fd;
	char		*pend;
	size_t		 plen, poff;
	struct side	*peer;
};

static int	 epfd, lfd;
static struct sockaddr_in to;
static char	 rbuf[RELAY_READ_SIZE];
/* Pairs closed during this batch of events, freed after it. */
static struct side	**dead;
static size_t		 ndead, deadcap;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
tcp_socket(void)
{
	int	 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Read from s unless its peer still holds bytes; write s's own pending. */
static void
side_arm(struct side *s, int op)
{
	struct epoll_event	 ev;

	ev.events = (s->peer->pend == NULL ? EPOLLIN : 0) |
	    (s->pend != NULL ? EPOLLOUT : 0);
	ev.data.ptr = s;
	if (epoll_ctl(epfd, op, s->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("fcntl");
}

/* Close both sides now; the memory goes after this batch of events. */
static void
pair_close(struct side *s)
{
	struct side	*a = s < s->peer ? s : s->peer;

	close(a[0].fd);
	close(a[1].fd);
	a[0].fd = a[1].fd = -1;
	if (ndead == deadcap) {
		deadcap = deadcap ? 2 * deadcap : 64;
		if ((dead = realloc(dead, deadcap * sizeof(*dead))) == NULL)
			die("realloc");
	}
	dead[ndead++] = a;
}

static void
free_dead(void)
{
	for (; ndead > 0; ndead--) {
		free(dead[ndead - 1][0].pend);
		free(dead[ndead - 1][1].pend);
		free(dead[ndead - 1]);
	}
}

/* A new client: connect its backend (blocking, loopback) and watch both. */
static void
relay_accept(void)
{
	struct side	*a;
	int		 fd, bfd, one = 1;

	while ((fd = accept(lfd, NULL, NULL)) != -1) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		bfd = tcp_socket();
		if (connect(bfd, (struct sockaddr *)&to, sizeof(to)) == -1) {
			perror("connect");
			close(fd);
			close(bfd);
			continue;
		}
		if ((a = calloc(2, sizeof(*a))) == NULL)
			die("calloc");
		a[0].fd = fd;
		a[1].fd = bfd;
		a[0].peer = &a[1];
		a[1].peer = &a[0];
		set_nonblock(fd);
		set_nonblock(bfd);
		side_arm(&a[0], EPOLL_CTL_ADD);
		side_arm(&a[1], EPOLL_CTL_ADD);
	}
	if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
		perror("accept");
}

/* Write s's pending bytes; 0 when done or blocked, -1 on error. */
static int
side_flush(struct side *s)
{
	ssize_t	 w;

	w = write(s->fd, s->pend + s->poff, s->plen - s->poff);
	if (w == -1)
		return errno == EAGAIN ? 0 : -1;
	s->poff += (size_t)w;
	if (s->poff == s->plen) {
		free(s->pend);
		s->pend = NULL;
	}
	return 0;
}

/* Move what s has to its peer; the rest waits in the peer's pend. */
static int
side_read(struct side *s)
{
	struct side	*p = s->peer;
	ssize_t		 n, w;

	n = read(s->fd, rbuf, sizeof(rbuf));
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n == -1)
		return 0;
	w = write(p->fd, rbuf, (size_t)n);
	if (w == -1 && errno != EAGAIN)
		return -1;
	if (w == -1)
		w = 0;
	if (w < n) {
		if ((p->pend = malloc((size_t)(n - w))) == NULL)
			die("malloc");
		memcpy(p->pend, rbuf + w, (size_t)(n - w));
		p->plen = (size_t)(n - w);
		p->poff = 0;
	}
	return 0;
}

static void
relay_event(struct epoll_event *ev)
{
	struct side	*s = ev->data.ptr;
	int		 rv = 0;

	if (s == NULL) {
		relay_accept();
		return;
	}
	if (s->fd == -1)
		return;		/* its pair closed earlier in this batch */
	if ((ev->events & EPOLLOUT) && s->pend != NULL)
		rv = side_flush(s);
	if (rv == 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    s->peer->pend == NULL)
		rv = side_read(s);
	if (rv == -1) {
		pair_close(s);
		return;
	}
	side_arm(s, EPOLL_CTL_MOD);
	side_arm(s->peer, EPOLL_CTL_MOD);
}

static int
parse_port(const char *s)
{
	char	*end;
	long	 port = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "tcp_relay: bad port %s\n", s);
		exit(2);
	}
	return (int)port;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[RELAY_MAX_EVENTS], ev;
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	int			 i, n, one = 1;

	if (argc != 5 || strcmp(argv[1], "--port") != 0 ||
	    strcmp(argv[3], "--to") != 0) {
		fprintf(stderr, "usage: tcp_relay --port N --to M\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(parse_port(argv[4]));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin = to;
	sin.sin_port = htons(parse_port(argv[2]));
	lfd = tcp_socket();
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(lfd, 4096) == -1)
		die("listen");
	set_nonblock(lfd);
	if ((epfd = epoll_create1(0)) == -1)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
		die("epoll_ctl");
	for (;;) {
		if ((n = epoll_wait(epfd, evs, RELAY_MAX_EVENTS, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++)
			relay_event(&evs[i]);
		free_dead();
	}
}
