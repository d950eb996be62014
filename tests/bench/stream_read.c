/*
 * stream_read: read a route whose program only writes (issue 16), over
 * WebSocket or Server-Sent Events, as fast as the server sends; count
 * messages for --seconds and the daemon's own CPU (not its children's:
 * the program's work is the same either way) per message.
 *
 *   stream_read ws|sse|poll|post --port P [--path /r] [--conns N]
 *               [--seconds T] [--pid DAEMON_PID]
 *
 * poll: open a long-polling session (POST ?transport=poll), then poll it
 * one request after another (GET ?session=ID&after=SEQ, each answer
 * acknowledging the last) for --seconds.
 *
 * post: open one event stream, then POST 64-byte messages to its
 * session one after another (a connection each, as wsbridge answers
 * with Connection: close) for --seconds: accepted (204) per second,
 * refused (429) counted apart.
 *
 * Prints "RESULT mode=stream.ws|stream.sse conns=N msgs=M msgs_per_s=R
 * cpu_us_per_msg=C errors=E" as wsbench does. Loopback only; every wait
 * is bounded (poll with a timeout; the run ends at its deadline).
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SR_MAX_CONNS	256
#define SR_READ		(256 * 1024)
#define SR_OPEN_WAIT	10.0		/* seconds for the response heads */

struct sr_conn {
	int		 fd;
	bool		 open;		/* response head read */
	char		 head[8192];
	size_t		 hlen;
	/* WebSocket: the frame header being read, the payload left. */
	uint8_t		 hdr[14];
	size_t		 hdrlen;
	uint64_t	 frem;
	/* SSE: how much of "id:" the current line has matched (3: no). */
	int		 idm;
	uint64_t	 msgs;
};

static bool	 sse;
static uint64_t	 errors;

#define SR_POST_WAIT	5000		/* ms for a POST's answer */

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *why)
{
	fprintf(stderr, "stream_read: %s\n", why);
	exit(1);
}

/* The daemon's utime + stime, in clock ticks; -1 when unreadable. */
static long long
cpu_ticks(long pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* After "pid (comm) ": state is field 3, utime 14, stime 15. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static int
sr_connect_raw(int port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	int			 fd;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect failed");
	return fd;
}

static int
sr_connect(int port, const char *path)
{
	char	 req[1024];
	int	 fd = sr_connect_raw(port), n;

	n = snprintf(req, sizeof(req), sse ?
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Accept: text/event-stream\r\n\r\n" :
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", path, port);
	if (write(fd, req, (size_t)n) != n)
		die("request not sent");
	return fd;
}

/* SSE: a message event is one whose lines include "id:". */
static void
sr_sse(struct sr_conn *c, const uint8_t *p, size_t n)
{
	static const char	 id[] = "id:";
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			c->idm = 0;
			continue;
		}
		if (c->idm < 3 && p[i] == (uint8_t)id[c->idm]) {
			if (++c->idm == 3)
				c->msgs++;
		} else
			c->idm = 3;
	}
}

/* WebSocket: server frames (unmasked); a data frame with FIN ends one. */
static void
sr_ws(struct sr_conn *c, const uint8_t *p, size_t n)
{
	size_t	 need, k;

	while (n > 0) {
		if (c->frem > 0) {
			k = n < c->frem ? n : (size_t)c->frem;
			c->frem -= k;
			p += k;
			n -= k;
			continue;
		}
		c->hdr[c->hdrlen++] = *p++;
		n--;
		if (c->hdrlen < 2)
			continue;
		need = 2 + ((c->hdr[1] & 0x7f) == 126 ? 2 :
		    (c->hdr[1] & 0x7f) == 127 ? 8 : 0);
		if (c->hdrlen < need)
			continue;
		if (need == 2)
			c->frem = c->hdr[1] & 0x7f;
		else if (need == 4)
			c->frem = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
		else
			for (k = 2, c->frem = 0; k < 10; k++)
				c->frem = c->frem << 8 | c->hdr[k];
		if ((c->hdr[0] & 0x80) && (c->hdr[0] & 0x0f) < 0x8)
			c->msgs++;
		if ((c->hdr[0] & 0x0f) == 0x8)
			errors++;	/* a Close: the stream ended early */
		c->hdrlen = 0;
	}
}

/* The response head first (101 or 200), then the stream. */
static int
sr_read(struct sr_conn *c, uint8_t *buf)
{
	ssize_t		 r;
	size_t		 off = 0;
	char		*end;

	if ((r = read(c->fd, buf, SR_READ)) <= 0)
		return -1;
	if (!c->open) {
		size_t	 k = (size_t)r < sizeof(c->head) - 1 - c->hlen ?
			    (size_t)r : sizeof(c->head) - 1 - c->hlen;

		memcpy(c->head + c->hlen, buf, k);
		c->hlen += k;
		c->head[c->hlen] = '\0';
		if ((end = strstr(c->head, "\r\n\r\n")) == NULL)
			return c->hlen < sizeof(c->head) - 1 ? 0 : -1;
		if (strncmp(c->head, sse ? "HTTP/1.1 200" : "HTTP/1.1 101",
		    12) != 0)
			die("the server refused the stream");
		c->open = true;
		off = (size_t)(end + 4 - c->head) - (c->hlen - k);
	}
	if (sse)
		sr_sse(c, buf + off, (size_t)r - off);
	else
		sr_ws(c, buf + off, (size_t)r - off);
	return 0;
}

/* One POST of a 64-byte message: its status, or -1. */
static int
sr_post(int port, const char *path, const char *id)
{
	char		 req[1024], resp[1024];
	struct pollfd	 pf;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd, n, status = -1;

	fd = sr_connect_raw(port);
	n = snprintf(req, sizeof(req), "POST %s?session=%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nContent-Length: 64\r\n\r\n"
	    "%063d\n", path, id, port, 0);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	pf.fd = fd;
	pf.events = POLLIN;
	while (got < sizeof(resp) - 1 && poll(&pf, 1, SR_POST_WAIT) > 0 &&
	    (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0) {
		got += (size_t)r;
		resp[got] = '\0';
		if (strstr(resp, "\r\n\r\n") != NULL) {
			if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
				status = -1;
			break;
		}
	}
	close(fd);
	return status;
}

/* The session event's id (32 hex digits) from the stream's start. */
static void
sr_session_id(struct sr_conn *c, uint8_t *buf, char *id)
{
	struct pollfd	 pf = { .fd = c->fd, .events = POLLIN };
	char		 seen[4096] = "", *p;
	size_t		 n = 0;
	ssize_t		 r;
	double		 until = now_s() + SR_OPEN_WAIT;

	while ((p = strstr(seen, "\"id\":\"")) == NULL ||
	    strlen(p) < 6 + 32) {
		if (now_s() > until || n >= sizeof(seen) - 1)
			die("no session event in time");
		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((r = read(c->fd, buf, sizeof(seen) - 1 - n)) <= 0)
			die("stream closed before its session event");
		memcpy(seen + n, buf, (size_t)r);
		n += (size_t)r;
		seen[n] = '\0';
	}
	memcpy(id, p + 6, 32);
	id[32] = '\0';
}

/* POST for secs to the stream's session: accepted, refused, errors. */
static int
sr_post_run(int port, const char *path, long secs, long pid)
{
	struct sr_conn	 c = { 0 };
	static uint8_t	 buf[SR_READ];
	char		 id[33];
	uint64_t	 ok = 0, refused = 0;
	long long	 t0, t1;
	double		 start, el;
	int		 st;

	c.fd = sr_connect(port, path);
	sr_session_id(&c, buf, id);
	t0 = pid != 0 ? cpu_ticks(pid) : -1;
	start = now_s();
	while (now_s() < start + (double)secs) {
		st = sr_post(port, path, id);
		if (st == 204)
			ok++;
		else if (st == 429)
			refused++;
		else
			errors++;
	}
	el = now_s() - start;
	t1 = pid != 0 ? cpu_ticks(pid) : -1;
	close(c.fd);
	printf("post: %.1f s, %llu accepted, %.0f/s, %llu refused (429)\n",
	    el, (unsigned long long)ok, (double)ok / el,
	    (unsigned long long)refused);
	printf("RESULT mode=post msgs=%llu msgs_per_s=%.0f refused=%llu",
	    (unsigned long long)ok, (double)ok / el,
	    (unsigned long long)refused);
	if (t0 >= 0 && t1 >= 0 && ok > 0)
		printf(" cpu_us_per_msg=%.3f", (double)(t1 - t0) * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)ok);
	printf(" errors=%llu\n", (unsigned long long)errors);
	return errors > 0 || ok == 0;
}

/* The whole answer to req on a new connection (Connection: close). */
static size_t
sr_exchange(int port, const char *req, char *resp, size_t max)
{
	struct pollfd	 pf;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd = sr_connect_raw(port);

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return 0;
	}
	pf.fd = fd;
	pf.events = POLLIN;
	while (got < max - 1 && poll(&pf, 1, SR_POST_WAIT) > 0 &&
	    (r = read(fd, resp + got, max - 1 - got)) > 0)
		got += (size_t)r;
	resp[got] = '\0';
	close(fd);
	return got;
}

/* Poll a long-polling session for secs: messages (by their seq). */
static int
sr_poll_run(int port, const char *path, long secs, long pid)
{
	static char	 resp[16 << 20];
	char		 req[1024], id[33], *p, *q;
	uint64_t	 after = 0, first = 0, seq;
	long long	 t0, t1;
	double		 start, el;

	snprintf(req, sizeof(req), "POST %s?transport=poll HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n", path, port);
	if (sr_exchange(port, req, resp, sizeof(resp)) == 0 ||
	    strncmp(resp, "HTTP/1.1 201", 12) != 0 ||
	    (p = strstr(resp, "\"id\":\"")) == NULL || strlen(p) < 6 + 32)
		die("no poll session");
	memcpy(id, p + 6, 32);
	id[32] = '\0';
	t0 = pid != 0 ? cpu_ticks(pid) : -1;
	start = now_s();
	while (now_s() < start + (double)secs) {
		snprintf(req, sizeof(req), "GET %s?session=%s&after=%llu "
		    "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, id,
		    (unsigned long long)after, port);
		if (sr_exchange(port, req, resp, sizeof(resp)) == 0 ||
		    strncmp(resp, "HTTP/1.1 200", 12) != 0) {
			errors++;
			break;
		}
		/* The last message's seq: what the next poll acknowledges. */
		for (q = resp; (p = strstr(q, "{\"seq\":")) != NULL; q = p + 7)
			if ((seq = strtoull(p + 7, NULL, 10)) > after)
				after = seq;
		if (first == 0)
			first = after;	/* the queue before the clock */
	}
	el = now_s() - start;
	t1 = pid != 0 ? cpu_ticks(pid) : -1;
	after -= first;
	printf("stream poll: %.1f s, %llu messages, %.0f/s\n", el,
	    (unsigned long long)after, (double)after / el);
	printf("RESULT mode=stream.poll conns=1 msgs=%llu msgs_per_s=%.0f",
	    (unsigned long long)after, (double)after / el);
	if (t0 >= 0 && t1 >= 0 && after > 0)
		printf(" cpu_us_per_msg=%.3f", (double)(t1 - t0) * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)after);
	printf(" errors=%llu\n", (unsigned long long)errors);
	return errors > 0 || after == 0;
}

static long
num(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		die("bad number");
	return v;
}

int
main(int argc, char **argv)
{
	static struct sr_conn	 c[SR_MAX_CONNS];
	static uint8_t		 buf[SR_READ];
	struct pollfd		 pf[SR_MAX_CONNS];
	const char		*path = "/";
	long			 port = 0, conns = 1, secs = 3, pid = 0, i;
	long long		 t0 = -1, t1;
	uint64_t		 m0 = 0, m1 = 0;
	double			 start, until, el;
	int			 a;

	if (argc < 2 || (strcmp(argv[1], "ws") != 0 &&
	    strcmp(argv[1], "sse") != 0 && strcmp(argv[1], "post") != 0 &&
	    strcmp(argv[1], "poll") != 0))
		die("usage: stream_read ws|sse|poll|post --port P [--path /r] "
		    "[--conns N] [--seconds T] [--pid PID]");
	sse = strcmp(argv[1], "ws") != 0;
	for (a = 2; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--port") == 0)
			port = num(argv[a + 1], 1, 65535);
		else if (strcmp(argv[a], "--path") == 0)
			path = argv[a + 1];
		else if (strcmp(argv[a], "--conns") == 0)
			conns = num(argv[a + 1], 1, SR_MAX_CONNS);
		else if (strcmp(argv[a], "--seconds") == 0)
			secs = num(argv[a + 1], 1, 3600);
		else if (strcmp(argv[a], "--pid") == 0)
			pid = num(argv[a + 1], 1, 1 << 22);
		else
			die("unknown option");
	}
	if (port == 0 || a != argc)
		die("--port is needed; options take a value");
	if (strcmp(argv[1], "post") == 0)
		return sr_post_run((int)port, path, secs, pid);
	if (strcmp(argv[1], "poll") == 0)
		return sr_poll_run((int)port, path, secs, pid);
	for (i = 0; i < conns; i++) {
		c[i].fd = sr_connect((int)port, path);
		pf[i].fd = c[i].fd;
		pf[i].events = POLLIN;
	}
	/* Every stream open before the clock starts. */
	start = now_s();
	for (;;) {
		for (i = 0; i < conns && c[i].open; i++)
			;
		if (i == conns)
			break;
		if (now_s() - start > SR_OPEN_WAIT)
			die("no response head in time");
		if (poll(&pf[i], 1, 100) > 0 && sr_read(&c[i], buf) == -1)
			die("closed before the stream opened");
	}
	for (i = 0; i < conns; i++)
		m0 += c[i].msgs;
	if (pid != 0)
		t0 = cpu_ticks(pid);
	start = now_s();
	until = start + (double)secs;
	while (now_s() < until) {
		if (poll(pf, (nfds_t)conns, 100) <= 0)
			continue;
		for (i = 0; i < conns; i++)
			if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    pf[i].fd >= 0 && sr_read(&c[i], buf) == -1) {
				errors++;	/* the stream ended early */
				close(pf[i].fd);
				pf[i].fd = -1;
			}
	}
	el = now_s() - start;
	t1 = pid != 0 ? cpu_ticks(pid) : -1;
	for (i = 0; i < conns; i++) {
		m1 += c[i].msgs;
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	}
	m1 -= m0;
	printf("stream %s: %ld conns, %.1f s, %llu messages, %.0f/s\n",
	    sse ? "sse" : "ws", conns, el, (unsigned long long)m1,
	    (double)m1 / el);
	printf("RESULT mode=stream.%s conns=%ld msgs=%llu msgs_per_s=%.0f",
	    sse ? "sse" : "ws", conns, (unsigned long long)m1,
	    (double)m1 / el);
	if (t0 >= 0 && t1 >= 0 && m1 > 0)
		printf(" cpu_us_per_msg=%.3f", (double)(t1 - t0) * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)m1);
	printf(" errors=%llu\n", (unsigned long long)errors);
	return errors > 0 || m1 == 0;
}
