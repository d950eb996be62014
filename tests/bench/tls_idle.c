/*
 * tls_idle: what OpenSSL alone keeps per idle TLS server connection, the
 * floor under wsbridge's idle wss figure (issue 18). A forked client
 * opens N loopback TLS 1.3 connections; this process accepts them with
 * wsbridge's SSL_CTX settings (src/tls.c tls_ctx_options), echoes one
 * small message on each (as an upgrade would) and holds them. Prints
 * RSS and malloc'd bytes per connection, nothing of the client's.
 *
 * --sites: where OpenSSL's live bytes per connection were allocated.
 * The other flags try what could make an idle connection smaller:
 * --no-ticket (SSL_OP_NO_TICKET: no ticket sealed, the session still
 * kept), --free-buffers (SSL_free_buffers after the echo), --trim
 * (malloc_trim(0) before RSS is read).
 *
 * tls_idle --cert C --key K [--count N] [--keep-buffers] [--sites]
 *     [--no-ticket] [--free-buffers] [--trim]
 */

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <malloc.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --sites: every live OpenSSL allocation made while connections open */
#define SITES_MAX	(1 << 21)

struct site_alloc {
	void		*p;
	const char	*file;
	int		 line;
	size_t		 size;
};

static struct site_alloc	*sites;
static int			 sites_on;

static struct site_alloc *
site_slot(void *p, int insert)
{
	size_t	 h = ((uintptr_t)p >> 4) & (SITES_MAX - 1);

	while (sites[h].p != NULL && sites[h].p != p)
		h = (h + 1) & (SITES_MAX - 1);
	if (sites[h].p == NULL && !insert)
		return NULL;
	return &sites[h];
}

static void
site_forget(void *p)
{
	struct site_alloc	*a;

	if (p != NULL && (a = site_slot(p, 0)) != NULL)
		a->size = 0;	/* a tombstone keeps the probe chain */
}

static void *
site_malloc(size_t n, const char *file, int line)
{
	void			*p = malloc(n);
	struct site_alloc	*a;

	if (p != NULL && sites_on) {
		a = site_slot(p, 1);
		*a = (struct site_alloc){ p, file, line, n };
	}
	return p;
}

static void *
site_realloc(void *old, size_t n, const char *file, int line)
{
	void			*p;
	struct site_alloc	*a;

	site_forget(old);
	if ((p = realloc(old, n)) != NULL && sites_on && n > 0) {
		a = site_slot(p, 1);
		*a = (struct site_alloc){ p, file, line, n };
	}
	return p;
}

static void
site_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	site_forget(p);
	free(p);
}

static int
site_cmp(const void *a, const void *b)
{
	const struct site_alloc	*x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return 0;
}

/* Live bytes per connection by file:line, largest first. */
static void
sites_print(int n)
{
	struct site_alloc	*sum;
	size_t			 i, j, m = 0, total = 0;

	if ((sum = calloc(4096, sizeof(*sum))) == NULL)
		return;
	for (i = 0; i < SITES_MAX; i++) {
		if (sites[i].p == NULL || sites[i].size == 0)
			continue;
		for (j = 0; j < m; j++)
			if (sum[j].line == sites[i].line &&
			    strcmp(sum[j].file, sites[i].file) == 0)
				break;
		if (j == m && m < 4096)
			sum[m++] = (struct site_alloc){ NULL, sites[i].file,
			    sites[i].line, 0 };
		if (j < m)
			sum[j].size += sites[i].size;
		total += sites[i].size;
	}
	qsort(sum, m, sizeof(*sum), site_cmp);
	printf("live OpenSSL bytes per connection: %zu\n", total / (size_t)n);
	for (j = 0; j < m && sum[j].size / (size_t)n > 0; j++)
		printf("%7zu  %s:%d\n", sum[j].size / (size_t)n, sum[j].file,
		    sum[j].line);
	free(sum);
}

static void
die(const char *what)
{
	fprintf(stderr, "tls_idle: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* src/tls.c's context: modes, read-ahead, tickets, no session cache. */
static SSL_CTX *
server_ctx(const char *cert, const char *key, int release, int no_ticket)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("certificate");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | (no_ticket ? SSL_OP_NO_TICKET : 0));
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
		die("ciphersuites");
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    (release ? SSL_MODE_RELEASE_BUFFERS : 0));
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"wsbridge",
	    8);
	return ctx;
}

/* The child: N blocking connections, one echo each, then wait. */
static void
client(int port, int n, int done)
{
	struct sockaddr_in	 sa = { .sin_family = AF_INET };
	SSL_CTX			*ctx;
	SSL			*ssl;
	char			 buf[64];
	int			 i, fd;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("client ctx");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			die("connect");
		if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
		    SSL_connect(ssl) != 1 || SSL_write(ssl, "hello", 5) != 5 ||
		    SSL_read(ssl, buf, sizeof(buf)) != 5)
			die("client handshake");
	}
	(void)write(done, "x", 1);
	pause();
	_exit(0);
}

static long
rss_kb(void)
{
	FILE	*f = fopen("/proc/self/statm", "r");
	long	 size = 0, res = 0;

	if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
		die("statm");
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sa = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sa);
	const char		*cert = NULL, *key = NULL;
	SSL_CTX			*ctx;
	SSL			*ssl;
	char			 buf[64];
	int			 i, n = 1000, release = 1, lfd, fd, p[2];
	int			 want_sites = 0, no_ticket = 0, free_bufs = 0;
	int			 trim = 0;
	long			 rss0, rss1;
	size_t			 heap0, heap1;
	pid_t			 pid;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
			cert = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--keep-buffers") == 0)
			release = 0;
		else if (strcmp(argv[i], "--sites") == 0)
			want_sites = 1;
		else if (strcmp(argv[i], "--no-ticket") == 0)
			no_ticket = 1;
		else if (strcmp(argv[i], "--free-buffers") == 0)
			free_bufs = 1;
		else if (strcmp(argv[i], "--trim") == 0)
			trim = 1;
		else
			die("usage: tls_idle --cert C --key K [--count N] "
			    "[--keep-buffers]");
	if (cert == NULL || key == NULL || n < 2)
		die("usage: tls_idle --cert C --key K [--count N]");
	if (want_sites && ((sites = calloc(SITES_MAX, sizeof(*sites))) ==
	    NULL || !CRYPTO_set_mem_functions(site_malloc, site_realloc,
	    site_free)))
		die("--sites");
	ctx = server_ctx(cert, key, release, no_ticket);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 128) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) == -1 ||
	    pipe(p) == -1)
		die("listen");
	if ((pid = fork()) == 0)
		client(ntohs(sa.sin_port), n, p[1]);
	/* one connection first: OpenSSL's lazy one-time state is not a
	   per-connection cost */
	rss0 = 0;
	heap0 = 0;
	for (i = 0; i <= n; i++) {
		if (i == 1) {
			rss0 = rss_kb();
			heap0 = mallinfo2().uordblks;
			sites_on = want_sites;
		}
		if (i == n)
			break;
		if ((fd = accept(lfd, NULL, NULL)) == -1 ||
		    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
		    SSL_accept(ssl) != 1 ||
		    SSL_read(ssl, buf, sizeof(buf)) != 5 ||
		    SSL_write(ssl, buf, 5) != 5)
			die("server handshake");
		if (free_bufs && SSL_free_buffers(ssl) != 1)
			die("SSL_free_buffers: a buffer still held data");
	}
	if (read(p[0], buf, 1) != 1)
		die("client failed");
	if (trim)
		malloc_trim(0);
	rss1 = rss_kb();
	heap1 = mallinfo2().uordblks;
	sites_on = 0;
	printf("RESULT mode=tls_idle conns=%d release_buffers=%d no_ticket=%d "
	    "free_buffers=%d trim=%d bytes_per_conn=%ld "
	    "malloc_bytes_per_conn=%zu\n", n, release, no_ticket, free_bufs,
	    trim,
	    (rss1 - rss0) * 1024 / (n - 1), (heap1 - heap0) / (size_t)(n - 1));
	if (want_sites)
		sites_print(n - 1);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}
