/*
 * fanout_ref: a plain TCP fan-out on 127.0.0.1 (no WebSocket, no
 * messages), the physical reference for a shared session: one program's
 * output, read from a pipe, written to every connected socket.
 *
 *   fanout_ref --port N [--buffer-size SIZE] -- PROGRAM [ARGS...]
 *
 * The first client starts PROGRAM (stdout a pipe); every client gets the
 * stream from the next line start after it joined. What a socket does not
 * take is queued for that client; a client whose queue would pass SIZE
 * (default 256K, wsbridge's buffer_size) is closed. The pipe is read while
 * every client has taken everything so far (the slowest reader sets the
 * pace, through the kernel's socket buffers), except a stuck one: a
 * client whose socket took nothing for 100 ms while another took it all
 * no longer holds the others back (its queue then fills and it is
 * closed), so a stopped reader costs them one such pause. Runs until
 * killed.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF_READ_SIZE		(64 * 1024)
#define REF_MAX_EVENTS		256
#define REF_MAX_CLIENTS		100000
#define REF_MAX_BUFFER		(64L * 1024 * 1024)
#define REF_DRAIN_SIZE		4096
#define REF_STUCK_NS		(100 * 1000000ULL)
#define REF_TICK_MS		10	/* while a client waits: stuck scans */

struct client {
	int		 fd;
	bool		 synced;	/* at a line start of the stream */
	bool		 dead;
	bool		 waiting;	/* bytes queued */
	uint64_t	 since;		/* waiting: its last progress */
	char		*q;		/* bytes the socket did not take */
	size_t		 qoff, qlen;
};

static int		 epfd, lfd, pfd = -1;
static bool		 pipe_armed;
static char		 rbuf[REF_READ_SIZE];
static struct client	**clients;
static size_t		 nclients, ndead;
static size_t		 nwaiting;	/* clients with bytes queued */
static uint64_t		 now;
static size_t		 bufsize = 256 * 1024;
static char		**prog;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
ctl(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event	 ev;

	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(epfd, op, fd, &ev) == -1)
		die("epoll_ctl");
}

static uint64_t
clock_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * A waiting client that is not stuck holds the program back. Stuck: no
 * progress for 100 ms while another client has taken everything (when
 * all wait, the reader is slow, or descheduled, not one client).
 */
static bool
held_back(void)
{
	size_t	 i;

	if (nwaiting == 0)
		return false;
	if (nwaiting == nclients - ndead)
		return true;
	for (i = 0; i < nclients; i++)
		if (!clients[i]->dead && clients[i]->waiting &&
		    now - clients[i]->since < REF_STUCK_NS)
			return true;
	return false;
}

/* The pipe is watched only while every live reader has taken it all. */
static void
pipe_arm(void)
{
	bool	 want = pfd != -1 && !held_back();

	if (want == pipe_armed)
		return;
	ctl(want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, pfd, EPOLLIN, &pfd);
	pipe_armed = want;
}

/* Start the program with its stdout a non-blocking pipe to us. */
static void
prog_start(void)
{
	int	 p[2], null;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe2");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if ((null = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(null, STDIN_FILENO) == -1 ||
		    dup2(p[1], STDOUT_FILENO) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execvp(prog[0], prog);
		_exit(127);
	}
	close(p[1]);
	pfd = p[0];
	if (fcntl(pfd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
}

static void
client_close(struct client *c)
{
	if (c->dead)
		return;
	if (c->waiting)
		nwaiting--;
	ctl(EPOLL_CTL_DEL, c->fd, 0, c);
	close(c->fd);
	c->dead = true;
	ndead++;
}

/* Drop the closed clients once no event of this batch can name them. */
static void
reap_dead(void)
{
	size_t	 i = 0;

	while (ndead > 0 && i < nclients) {
		if (!clients[i]->dead) {
			i++;
			continue;
		}
		free(clients[i]->q);
		free(clients[i]);
		clients[i] = clients[--nclients];
		ndead--;
	}
}

static void
client_accept(void)
{
	struct client	*c;
	int		 fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		if (nclients == REF_MAX_CLIENTS) {
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			die("calloc");
		c->fd = fd;
		clients[nclients++] = c;
		ctl(EPOLL_CTL_ADD, fd, EPOLLIN, c);
	}
	if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
		perror("accept");
	if (pfd == -1 && prog != NULL)
		prog_start();
}

/* Write at once what the socket takes; queue the rest, within bufsize. */
static void
client_send(struct client *c, const char *p, size_t n)
{
	ssize_t	 w = 0;
	char	*nl;

	if (!c->synced) {
		if ((nl = memchr(p, '\n', n)) == NULL)
			return;
		c->synced = true;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (n == 0)
		return;
	if (c->qoff == c->qlen) {
		w = write(c->fd, p, n);
		if (w == -1 && errno != EAGAIN) {
			client_close(c);
			return;
		}
		if (w == -1)
			w = 0;
		if ((size_t)w == n)
			return;
		p += w;
		n -= (size_t)w;
		c->qoff = c->qlen = 0;
		c->waiting = true;
		c->since = now;
		nwaiting++;
		ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLOUT, c);
	}
	if (c->qlen - c->qoff + n > bufsize) {
		client_close(c);	/* too slow */
		return;
	}
	if (c->q == NULL && (c->q = malloc(bufsize)) == NULL)
		die("malloc");
	if (c->qlen + n > bufsize) {
		memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
		c->qlen -= c->qoff;
		c->qoff = 0;
	}
	memcpy(c->q + c->qlen, p, n);
	c->qlen += n;
}

static void
client_flush(struct client *c)
{
	ssize_t	 w;

	w = write(c->fd, c->q + c->qoff, c->qlen - c->qoff);
	if (w == -1 && errno != EAGAIN) {
		client_close(c);
		return;
	}
	if (w > 0) {
		c->qoff += (size_t)w;
		c->since = now;
	}
	if (c->qoff < c->qlen)
		return;
	c->qoff = c->qlen = 0;
	c->waiting = false;
	nwaiting--;
	ctl(EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
}

/* Clients send nothing: a readable socket is its end (or junk, dropped). */
static void
client_input(struct client *c)
{
	char	 junk[REF_DRAIN_SIZE];
	ssize_t	 n;

	n = read(c->fd, junk, sizeof(junk));
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		client_close(c);
}

static void
pipe_read(void)
{
	ssize_t	 n;
	size_t	 i, k = nclients;

	n = read(pfd, rbuf, sizeof(rbuf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fprintf(stderr, "fanout_ref: the program ended\n");
		exit(1);
	}
	for (i = 0; i < k; i++)
		if (!clients[i]->dead)
			client_send(clients[i], rbuf, (size_t)n);
}

static void
event(const struct epoll_event *ev)
{
	struct client	*c = ev->data.ptr;

	if (ev->data.ptr == NULL) {
		client_accept();
		return;
	}
	if (ev->data.ptr == &pfd) {
		pipe_read();
		return;
	}
	if (c->dead)
		return;
	if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_input(c);
	if (!c->dead && (ev->events & EPOLLOUT) && c->waiting)
		client_flush(c);
}

static long
arg_size(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (errno != 0 || end == s || *end != '\0' || v < 1)
		return -1;
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: fanout_ref --port N [--buffer-size SIZE] -- "
	    "PROGRAM [ARGS...]\n");
	exit(2);
}

static int
parse_args(int argc, char *argv[])
{
	long	 port = 0, v;
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			prog = argv + i + 1;
			break;
		}
		if (i + 1 == argc)
			usage();
		v = arg_size(argv[i + 1]);
		if (strcmp(argv[i], "--port") == 0 && v >= 1 && v <= 65535)
			port = v;
		else if (strcmp(argv[i], "--buffer-size") == 0 &&
		    v >= REF_READ_SIZE && v <= REF_MAX_BUFFER)
			bufsize = (size_t)v;
		else
			usage();
		i++;
	}
	if (port == 0 || prog == NULL || prog[0] == NULL)
		usage();
	return (int)port;
}

static void
listen_on(int port)
{
	struct sockaddr_in	 sin;
	struct rlimit		 rl;
	int			 one = 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(lfd, 4096) == -1)
		die("listen");
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[REF_MAX_EVENTS];
	int			 i, n;

	listen_on(parse_args(argc, argv));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if ((clients = calloc(REF_MAX_CLIENTS, sizeof(*clients))) == NULL)
		die("calloc");
	if ((epfd = epoll_create1(0)) == -1)
		die("epoll_create1");
	ctl(EPOLL_CTL_ADD, lfd, EPOLLIN, NULL);
	for (;;) {
		n = epoll_wait(epfd, evs, REF_MAX_EVENTS,
		    nwaiting > 0 ? REF_TICK_MS : -1);
		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		now = clock_ns();
		for (i = 0; i < n; i++)
			event(&evs[i]);
		reap_dead();
		pipe_arm();
	}
}
