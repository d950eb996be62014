/*
 * echo_server: a tiny epoll TCP echo server on 127.0.0.1, the backend of the
 * benchmark's TCP route and the raw-TCP reference (tests/bench/run.sh).
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_READ_SIZE	(256 * 1024)
#define ECHO_MAX_EVENTS	256

/* Bytes a peer did not take yet; while any wait we stop reading from it. */
struct echo_conn {
	int		 fd;
	char		*pend;
	size_t		 plen;
	size_t		 poff;
};

static int	 epfd;
static int	 lfd;
static char	 rbuf[ECHO_READ_SIZE];

static void
echo_die(const char *what)
{
	perror(what);
	exit(1);
}

static void
echo_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
echo_listen(int port)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		echo_die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		echo_die("bind");
	if (listen(lfd, 4096) == -1)
		echo_die("listen");
}

static void
echo_ctl(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event	 ev;

	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(epfd, op, fd, &ev) == -1)
		echo_die("epoll_ctl");
}

static void
echo_close(struct echo_conn *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Fires when the listener is readable: take every pending connection. */
static void
echo_accept(void)
{
	struct echo_conn	*c;
	int			 fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			echo_die("calloc");
		c->fd = fd;
		echo_ctl(EPOLL_CTL_ADD, fd, EPOLLIN, c);
	}
	if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
		perror("accept");
}

/* Keep what the peer did not take and wait for it to drain. */
static int
echo_stash(struct echo_conn *c, const char *p, size_t n)
{
	if ((c->pend = malloc(n)) == NULL)
		echo_die("malloc");
	memcpy(c->pend, p, n);
	c->plen = n;
	c->poff = 0;
	echo_ctl(EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
	return 0;
}

/* Fires when a connection is readable: echo what arrived at once. */
static int
echo_read(struct echo_conn *c)
{
	ssize_t	 n, w;

	n = read(c->fd, rbuf, sizeof(rbuf));
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n == -1)
		return 0;
	w = write(c->fd, rbuf, n);
	if (w == -1 && errno != EAGAIN)
		return -1;
	if (w == -1)
		w = 0;
	if (w < n)
		return echo_stash(c, rbuf + w, n - w);
	return 0;
}

/* Fires when a connection with pending bytes is writable again. */
static int
echo_write(struct echo_conn *c)
{
	ssize_t	 w;

	w = write(c->fd, c->pend + c->poff, c->plen - c->poff);
	if (w == -1)
		return errno == EAGAIN ? 0 : -1;
	c->poff += w;
	if (c->poff < c->plen)
		return 0;
	free(c->pend);
	c->pend = NULL;
	echo_ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
	return 0;
}

static void
echo_event(struct epoll_event *ev)
{
	struct echo_conn	*c = ev->data.ptr;
	int			 rv;

	if (c == NULL) {
		echo_accept();
		return;
	}
	if (c->pend != NULL)
		rv = echo_write(c);
	else
		rv = echo_read(c);
	if (rv == -1)
		echo_close(c);
}

static int
echo_port(int argc, char *argv[])
{
	char	*end;
	long	 port;

	if (argc != 3 || strcmp(argv[1], "--port") != 0) {
		fprintf(stderr, "usage: echo_server --port N\n");
		exit(2);
	}
	port = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "echo_server: bad port %s\n", argv[2]);
		exit(2);
	}
	return (int)port;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[ECHO_MAX_EVENTS];
	int			 i, n;

	signal(SIGPIPE, SIG_IGN);
	echo_raise_nofile();
	echo_listen(echo_port(argc, argv));
	if ((epfd = epoll_create1(0)) == -1)
		echo_die("epoll_create1");
	echo_ctl(EPOLL_CTL_ADD, lfd, EPOLLIN, NULL);
	for (;;) {
		n = epoll_wait(epfd, evs, ECHO_MAX_EVENTS, -1);
		if (n == -1 && errno != EINTR)
			echo_die("epoll_wait");
		for (i = 0; i < n; i++)
			echo_event(&evs[i]);
	}
}
