/*
 * Unit tests for tls.c: certificates made with the openssl command at
 * test time, handshakes over a non-blocking socketpair against a plain
 * OpenSSL client, reads and writes, SNI, mutual TLS, TLS 1.1 refused.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "test.h"
#include "config.h"
#include "tls.h"

static char	 dir[64];

/* Run a shell command in the temp dir; exit if it fails. */
static void
sh(const char *fmt, const char *a, const char *b)
{
	char	 cmd[1024], line[1200];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	snprintf(line, sizeof(line), "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
	if (system(line) != 0) {
		fprintf(stderr, "failed: %s\n", line);
		exit(1);
	}
}

#define EC	"-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"

/* Self-signed NAME.pem / NAME.key with CN and DNS name NAME. */
static void
self_signed(const char *name)
{
	sh("openssl req -x509 " EC " -keyout %1$s.key -out %1$s.pem "
	    "-subj /CN=%1$s -addext subjectAltName=DNS:%1$s", name, NULL);
}

/* NAME.pem signed by CA.pem, subject /O=Test/CN=NAME. */
static void
signed_by(const char *name, const char *ca)
{
	sh("openssl req -new " EC " -keyout %1$s.key -out %1$s.csr "
	    "-subj /O=Test/CN=%1$s && openssl x509 -req -in %1$s.csr -CA "
	    "%2$s.pem -CAkey %2$s.key -CAcreateserial -days 2 -out %1$s.pem",
	    name, ca);
}

static char *
path(const char *name, const char *ext)
{
	char	*p;

	if (asprintf(&p, "%s/%s.%s", dir, name, ext) == -1)
		exit(1);
	return p;
}

static struct config *
make_config(const char *ca, int minv)
{
	struct config	*cfg = config_new();
	const char	*names[] = { "a.example", "*.b.example" };
	const char	*files[] = { "a", "wild" };
	int		 i;

	cfg->tls_cert = path("default", "pem");
	cfg->tls_key = path("default", "key");
	cfg->tls_client_ca = ca != NULL ? path(ca, "pem") : NULL;
	cfg->tls_min_version = minv;
	cfg->tls_certs = calloc(2, sizeof(*cfg->tls_certs));
	for (i = 0; i < 2; i++) {
		cfg->tls_certs[i].name = strdup(names[i]);
		cfg->tls_certs[i].cert = path(files[i], "pem");
		cfg->tls_certs[i].key = path(files[i], "key");
	}
	cfg->ntls_certs = 2;
	return cfg;
}

/* One client and one server end of a non-blocking socketpair. */
struct pair {
	struct tls_conn	*s;
	SSL		*c;
	SSL_CTX		*cctx;
	int		 fd[2];
	const char	*why;
	int		 srv, cli;	/* 1 done, -1 failed */
};

static void
pair_open(struct pair *p, struct tls_ctx *tc, SSL_CTX *cctx,
    const char *sni)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd) == -1)
		exit(1);
	fcntl(p->fd[0], F_SETFL, O_NONBLOCK);
	fcntl(p->fd[1], F_SETFL, O_NONBLOCK);
	p->s = tls_conn_new(tc, p->fd[0]);
	p->cctx = cctx;
	p->c = SSL_new(cctx);
	SSL_set_fd(p->c, p->fd[1]);
	SSL_set_connect_state(p->c);
	if (sni != NULL)
		SSL_set_tlsext_host_name(p->c, sni);
	SSL_set_alpn_protos(p->c, (const unsigned char *)"\x02h2\x08http/1.1",
	    12);
}

/* Step both sides until each is done or failed. */
static void
pair_handshake(struct pair *p)
{
	int	 i, rc;

	for (i = 0; i < 1000 && (p->srv == 0 || p->cli == 0); i++) {
		if (p->srv == 0)
			p->srv = tls_handshake(p->s, &p->why);
		if (p->cli == 0) {
			rc = SSL_do_handshake(p->c);
			if (rc == 1)
				p->cli = 1;
			else if (SSL_get_error(p->c, rc) != SSL_ERROR_WANT_READ)
				p->cli = -1;
		}
		if (p->srv == -1 && p->cli == 0)
			p->cli = -1;
	}
	ERR_clear_error();
}

static void
pair_close(struct pair *p)
{
	tls_conn_free(p->s);
	SSL_free(p->c);
	close(p->fd[0]);
	close(p->fd[1]);
}

static SSL_CTX *
client_ctx(const char *cert, int maxv)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());

	if (maxv != 0) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, maxv);
	}
	if (cert != NULL) {
		char	*c = path(cert, "pem"), *k = path(cert, "key");

		SSL_CTX_use_certificate_file(ctx, c, SSL_FILETYPE_PEM);
		SSL_CTX_use_PrivateKey_file(ctx, k, SSL_FILETYPE_PEM);
		free(c);
		free(k);
	}
	return ctx;
}

/* The CN the client was shown, for SNI checks. */
static const char *
server_cn(struct pair *p, char *buf, size_t len)
{
	X509	*x = SSL_get0_peer_certificate(p->c);

	buf[0] = '\0';
	if (x != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, buf, (int)len);
	return buf;
}

/* A server read that waits through EAGAIN (bounded). */
static ssize_t
server_read(struct pair *p, char *buf, size_t len)
{
	ssize_t	 n = -1;
	int	 i;

	for (i = 0; i < 100; i++)
		if ((n = tls_read(p->s, buf, len)) != -1 || errno != EAGAIN)
			break;
	return n;
}

static void
test_io(struct tls_ctx *tc, SSL_CTX *cctx)
{
	struct pair	 p;
	char		 buf[256], big[100];
	const unsigned char *alpn;
	unsigned	 alen;

	pair_open(&p, tc, cctx, NULL);
	pair_handshake(&p);
	CHECK_EQ(p.srv, 1);
	CHECK_EQ(p.cli, 1);
	CHECK_STR(server_cn(&p, buf, sizeof(buf)), "default");
	SSL_get0_alpn_selected(p.c, &alpn, &alen);
	CHECK(alen == 8 && memcmp(alpn, "http/1.1", 8) == 0);
	CHECK_STR(tls_version(p.s), "TLSv1.3");
	CHECK_STR(tls_verify_result(p.s), "NONE");
	CHECK(tls_peer_subject(p.s) == NULL);
	/* nothing to read yet: EAGAIN, waiting for readable */
	CHECK_EQ(tls_read(p.s, buf, sizeof(buf)), -1);
	CHECK_EQ(errno, EAGAIN);
	CHECK_EQ(tls_want(p.s), TLS_WANT_READ);
	CHECK_EQ(SSL_write(p.c, "hello", 5), 5);
	CHECK_EQ(server_read(&p, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ(tls_write(p.s, "world", 5), 5);
	CHECK_EQ(SSL_read(p.c, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	/* one record of 100 bytes read 10 at a time: the rest is pending */
	memset(big, 'x', sizeof(big));
	CHECK_EQ(SSL_write(p.c, big, sizeof(big)), 100);
	CHECK_EQ(server_read(&p, buf, 10), 10);
	CHECK_EQ(tls_pending(p.s), 90);
	CHECK_EQ(tls_read(p.s, buf, sizeof(buf)), 90);
	CHECK_EQ(tls_pending(p.s), 0);
	/* close_notify from the client: a clean end */
	SSL_shutdown(p.c);
	CHECK_EQ(server_read(&p, buf, sizeof(buf)), 0);
	CHECK_EQ(tls_shutdown(p.s), 0);
	pair_close(&p);
}

static void
test_tcp_eof(struct tls_ctx *tc, SSL_CTX *cctx)
{
	struct pair	 p;
	char		 buf[64];

	pair_open(&p, tc, cctx, NULL);
	pair_handshake(&p);
	CHECK_EQ(p.srv, 1);
	/* a TCP close without close_notify is an end too, not an error */
	shutdown(p.fd[1], SHUT_WR);
	CHECK_EQ(server_read(&p, buf, sizeof(buf)), 0);
	pair_close(&p);
}

static void
check_sni(struct tls_ctx *tc, SSL_CTX *cctx, const char *sni,
    const char *want)
{
	struct pair	 p;
	char		 buf[256];

	pair_open(&p, tc, cctx, sni);
	pair_handshake(&p);
	CHECK_EQ(p.srv, 1);
	CHECK_STR(server_cn(&p, buf, sizeof(buf)), want);
	pair_close(&p);
}

static void
test_sni(struct tls_ctx *tc, SSL_CTX *cctx)
{
	check_sni(tc, cctx, "a.example", "a");
	check_sni(tc, cctx, "A.Example", "a");
	check_sni(tc, cctx, "x.b.example", "wild");
	check_sni(tc, cctx, "b.example", "default");
	check_sni(tc, cctx, "y.x.b.example", "default");
	check_sni(tc, cctx, "other.example", "default");
}

static void
test_old_client(struct tls_ctx *tc, int maxv)
{
	SSL_CTX		*old = client_ctx(NULL, maxv);
	struct pair	 p;

	pair_open(&p, tc, old, NULL);
	pair_handshake(&p);
	CHECK_EQ(p.srv, -1);
	CHECK_EQ(p.cli, -1);
	CHECK(p.why != NULL && strstr(p.why, "protocol") != NULL);
	pair_close(&p);
	SSL_CTX_free(old);
}

static void
test_mtls(void)
{
	struct config	*cfg = make_config("ca", CONFIG_TLS_1_2);
	struct tls_ctx	*tc;
	SSL_CTX		*none, *good, *bad;
	struct pair	 p;
	char		 err[256];

	tc = tls_ctx_new(cfg, err, sizeof(err));
	CHECK(tc != NULL);
	if (tc == NULL)
		return;
	none = client_ctx(NULL, 0);
	good = client_ctx("alice", 0);
	bad = client_ctx("mallory", 0);
	pair_open(&p, tc, none, NULL);
	pair_handshake(&p);
	CHECK_EQ(p.srv, -1);
	pair_close(&p);
	pair_open(&p, tc, bad, NULL);
	pair_handshake(&p);
	CHECK_EQ(p.srv, -1);
	pair_close(&p);
	pair_open(&p, tc, good, "a.example");
	pair_handshake(&p);
	CHECK_EQ(p.srv, 1);
	CHECK_STR(tls_verify_result(p.s), "SUCCESS");
	CHECK_STR(tls_peer_subject(p.s), "CN=alice,O=Test");
	CHECK(tls_peer_subject(p.s) == tls_peer_subject(p.s));
	pair_close(&p);
	SSL_CTX_free(none);
	SSL_CTX_free(good);
	SSL_CTX_free(bad);
	tls_ctx_free(tc);
	config_free(cfg);
}

static void
test_errors(void)
{
	struct config	*cfg = make_config(NULL, CONFIG_TLS_1_2);
	char		 err[512];

	free(cfg->tls_certs[1].key);
	cfg->tls_certs[1].key = path("a", "key");
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "[tls *.b.example]: key ", 23) == 0);
	free(cfg->tls_cert);
	cfg->tls_cert = path("nonexistent", "pem");
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "cert /", 6) == 0 &&
	    strstr(err, "nonexistent.pem: ") != NULL);
	config_free(cfg);
	cfg = make_config("nonexistent", CONFIG_TLS_1_2);
	CHECK(tls_ctx_new(cfg, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "client_ca ", 10) == 0);
	config_free(cfg);
}

/* A connection keeps its context after the daemon dropped it (SIGHUP). */
static void
test_refcount(SSL_CTX *cctx)
{
	struct config	*cfg = make_config(NULL, CONFIG_TLS_1_2);
	struct tls_ctx	*tc = tls_ctx_new(cfg, NULL, 0);
	struct pair	 p;
	char		 buf[16];

	pair_open(&p, tc, cctx, "a.example");
	tls_ctx_free(tc);
	config_free(cfg);
	pair_handshake(&p);
	CHECK_EQ(p.srv, 1);
	CHECK_EQ(tls_write(p.s, "ok", 2), 2);
	CHECK_EQ(SSL_read(p.c, buf, sizeof(buf)), 2);
	pair_close(&p);
}

static void
test_looks_like_tls(void)
{
	CHECK(tls_looks_like_tls((const uint8_t *)"\x16\x03\x01", 3));
	CHECK(tls_looks_like_tls((const uint8_t *)"\x16", 1));
	CHECK(!tls_looks_like_tls((const uint8_t *)"GET / HTTP/1.1", 14));
	CHECK(!tls_looks_like_tls((const uint8_t *)"\x16\x01", 2));
	CHECK(!tls_looks_like_tls((const uint8_t *)"", 0));
}

static void
make_certs(void)
{
	strcpy(dir, "/tmp/wsbridge-tls-XXXXXX");
	if (mkdtemp(dir) == NULL)
		exit(1);
	self_signed("default");
	self_signed("a");
	self_signed("wild");
	self_signed("ca");
	self_signed("otherca");
	signed_by("alice", "ca");
	signed_by("mallory", "otherca");
}

int
main(void)
{
	struct config	*cfg;
	struct tls_ctx	*tc;
	SSL_CTX		*cctx;
	char		 err[512];

	make_certs();
	cfg = make_config(NULL, CONFIG_TLS_1_2);
	tc = tls_ctx_new(cfg, err, sizeof(err));
	CHECK(tc != NULL);
	if (tc == NULL) {
		fprintf(stderr, "%s\n", err);
		TEST_REPORT();
	}
	cctx = client_ctx(NULL, 0);
	test_io(tc, cctx);
	test_tcp_eof(tc, cctx);
	test_sni(tc, cctx);
	test_old_client(tc, TLS1_1_VERSION);
	tls_ctx_free(tc);
	config_free(cfg);
	cfg = make_config(NULL, CONFIG_TLS_1_3);
	tc = tls_ctx_new(cfg, err, sizeof(err));
	test_old_client(tc, TLS1_2_VERSION);
	tls_ctx_free(tc);
	config_free(cfg);
	test_mtls();
	test_errors();
	test_refcount(cctx);
	test_looks_like_tls();
	SSL_CTX_free(cctx);
	sh("rm -rf %s", dir, NULL);
	TEST_REPORT();
}
