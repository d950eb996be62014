/*
 * tls_echo_server: an epoll TLS echo server on 127.0.0.1 written the plain
 * way (one SSL per socket, SSL_read then SSL_write, OpenSSL's defaults
 * but for the TLS 1.3 suites, preferred in wsbridge's order so that both
 * encrypt with the same cipher): what TLS itself costs here, the
 * reference for wsbridge's wss rows (tests/bench/run.sh). No WebSocket,
 * and one hop fewer than a route.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TECHO_READ_SIZE		(64 * 1024)
#define TECHO_MAX_EVENTS	256

/* Bytes SSL_write did not take yet; while any wait we stop reading. */
struct techo_conn {
	int		 fd;
	SSL		*ssl;
	int		 handshaken;
	uint32_t	 events;		/* registered with epoll */
	char		*pend;
	size_t		 plen;
	size_t		 poff;
};

static SSL_CTX	*ctx;
static int	 epfd;
static int	 lfd;
static char	 rbuf[TECHO_READ_SIZE];

static void
techo_die(const char *what)
{
	fprintf(stderr, "tls_echo_server: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
techo_listen(int port)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		techo_die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		techo_die("bind");
	if (listen(lfd, 4096) == -1)
		techo_die("listen");
}

static void
techo_ctl(int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event	 ev;

	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(epfd, op, fd, &ev) == -1)
		techo_die("epoll_ctl");
}

/* Wait for ev on c, with an epoll_ctl only when that changes. */
static void
techo_wait(struct techo_conn *c, int ev)
{
	if (c->events != (uint32_t)ev)
		techo_wait(c, ev);
	c->events = (uint32_t)ev;
}

static void
techo_close(struct techo_conn *c)
{
	SSL_free(c->ssl);
	close(c->fd);
	free(c->pend);
	free(c);
}

static void
techo_accept(void)
{
	struct techo_conn	*c;
	int			 fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) != -1) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->ssl = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1)
			techo_die("SSL_new");
		SSL_set_accept_state(c->ssl);
		c->fd = fd;
		c->events = EPOLLIN;
		techo_ctl(EPOLL_CTL_ADD, fd, EPOLLIN, c);
	}
}

/* Readiness an SSL call waits for; -1 when the connection is done. */
static int
techo_want(struct techo_conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return EPOLLIN;
	case SSL_ERROR_WANT_WRITE:
		return EPOLLOUT;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Write p; what SSL_write does not take waits for EPOLLOUT. */
static int
techo_send(struct techo_conn *c, const char *p, size_t n)
{
	int	 w, ev;

	while (n > 0) {
		if ((w = SSL_write(c->ssl, p, (int)n)) <= 0) {
			if ((ev = techo_want(c, w)) == -1)
				return -1;
			if ((c->pend = malloc(n)) == NULL)
				techo_die("malloc");
			memcpy(c->pend, p, n);
			c->plen = n;
			c->poff = 0;
			techo_wait(c, ev);
			return 0;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Echo what arrived, until the socket (and OpenSSL) is drained. */
static int
techo_read(struct techo_conn *c)
{
	int	 n, ev;

	for (;;) {
		if ((n = SSL_read(c->ssl, rbuf, sizeof(rbuf))) <= 0) {
			if ((ev = techo_want(c, n)) == -1)
				return -1;
			techo_wait(c, ev);
			return 0;
		}
		if (techo_send(c, rbuf, (size_t)n) == -1)
			return -1;
		if (c->pend != NULL)
			return 0;
	}
}

static int
techo_flush(struct techo_conn *c)
{
	int	 w, ev;

	while (c->poff < c->plen) {
		w = SSL_write(c->ssl, c->pend + c->poff,
		    (int)(c->plen - c->poff));
		if (w <= 0) {
			if ((ev = techo_want(c, w)) == -1)
				return -1;
			techo_wait(c, ev);
			return 0;
		}
		c->poff += (size_t)w;
	}
	free(c->pend);
	c->pend = NULL;
	return techo_read(c);
}

static int
techo_handshake(struct techo_conn *c)
{
	int	 rc, ev;

	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		c->handshaken = 1;
		return techo_read(c);
	}
	if ((ev = techo_want(c, rc)) == -1)
		return -1;
	techo_wait(c, ev);
	return 0;
}

static void
techo_event(struct epoll_event *ev)
{
	struct techo_conn	*c = ev->data.ptr;
	int			 rv;

	if (c == NULL) {
		techo_accept();
		return;
	}
	if (!c->handshaken)
		rv = techo_handshake(c);
	else if (c->pend != NULL)
		rv = techo_flush(c);
	else
		rv = techo_read(c);
	if (rv == -1)
		techo_close(c);
}

static void
techo_usage(void)
{
	fprintf(stderr, "usage: tls_echo_server --port N --cert PEM "
	    "--key PEM\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[TECHO_MAX_EVENTS];
	struct rlimit		 rl;
	const char		*cert = NULL, *key = NULL;
	char			*end;
	long			 port = 0;
	int			 i, n;

	for (i = 1; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--port") == 0) {
			port = strtol(argv[i + 1], &end, 10);
			if (*end != '\0' || port < 1 || port > 65535)
				techo_usage();
		} else if (strcmp(argv[i], "--cert") == 0)
			cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else
			techo_usage();
	if (i != argc || port == 0 || cert == NULL || key == NULL)
		techo_usage();
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		techo_die("certificate");
	/* src/tls.c TLS_SUITES, with the server's preference */
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
		techo_die("ciphersuites");
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_PRIORITIZE_CHACHA);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	techo_listen((int)port);
	if ((epfd = epoll_create1(0)) == -1)
		techo_die("epoll_create1");
	techo_ctl(EPOLL_CTL_ADD, lfd, EPOLLIN, NULL);
	for (;;) {
		n = epoll_wait(epfd, evs, TECHO_MAX_EVENTS, -1);
		if (n == -1 && errno != EINTR)
			techo_die("epoll_wait");
		for (i = 0; i < n; i++)
			techo_event(&evs[i]);
	}
}
