/*
 * TLS over OpenSSL 3: server contexts from the config (SNI, ALPN, mutual
 * TLS) and non-blocking connections that turn WANT_READ/WANT_WRITE into
 * EAGAIN plus tls_want(). The only file that includes openssl/ssl.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls.h"

#define TLS_SESSION_CACHE	4096	/* sessions kept per context */
#define TLS_SESSION_TIMEOUT	300	/* seconds */
#define TLS_ERRLEN		256

/* A [tls NAME] certificate: its own SSL_CTX, switched to by SNI. */
struct tls_sni {
	char		*name;		/* lower case, maybe "*.example.com" */
	SSL_CTX		*ctx;
};

struct tls_ctx {
	int		 refs;
	SSL_CTX		*ctx;		/* [tls]: no SNI or no match */
	struct tls_sni	*sni;
	size_t		 nsni;
};

struct tls_conn {
	struct tls_ctx	*tc;
	SSL		*ssl;
	int		 want;
	char		*subject;	/* cached tls_peer_subject() */
	char		 verify[TLS_ERRLEN];
	char		 err[TLS_ERRLEN];
};

static const unsigned char tls_alpn[] = "\x08http/1.1";

/* The most specific queued OpenSSL error, then the queue emptied. */
static void
tls_errstr(char *buf, size_t len, const char *fallback)
{
	unsigned long	 e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
}

/*
 * What a file problem looks like in the log: "FILE:LINE: cert /path:
 * reason", the config line first when there is one.
 */
static int
tls_file_err(char *err, size_t errsz, const struct config *cfg, int line,
    const char *what, const char *path)
{
	char	 reason[TLS_ERRLEN];

	tls_errstr(reason, sizeof(reason), "failed");
	if (cfg->path != NULL && line > 0)
		snprintf(err, errsz, "%s:%d: %s %s: %s", cfg->path, line, what,
		    path, reason);
	else
		snprintf(err, errsz, "%s %s: %s", what, path, reason);
	return -1;
}

/* ALPN: http/1.1 when offered; anything else goes on without ALPN. */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char	*sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, tls_alpn, sizeof(tls_alpn) - 1,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Does a client's server name match a [tls NAME]: exact or *.suffix? */
static bool
tls_name_match(const char *pattern, const char *name, bool wildcard)
{
	const char	*dot;

	if (!wildcard)
		return strcasecmp(pattern, name) == 0;
	if (strncmp(pattern, "*.", 2) != 0 || (dot = strchr(name, '.')) ==
	    NULL || dot == name)
		return false;
	return strcasecmp(pattern + 2, dot + 1) == 0;
}

/* Fires on a ClientHello with a server name: switch certificates. */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx	*tc = arg;
	const char	*name;
	size_t		 i;
	int		 pass;

	(void)alert;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < tc->nsni; i++)
			if (tls_name_match(tc->sni[i].name, name, pass == 1)) {
				SSL_set_SSL_CTX(ssl, tc->sni[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	return SSL_TLSEXT_ERR_OK;
}

/* Protocol floor, options and the session cache of every context. */
static void
tls_ctx_options(SSL_CTX *ctx, const struct config *cfg)
{
	static const unsigned char sid[] = "wsbridge";

	SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version ==
	    CONFIG_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
	/* a TCP close without close_notify is an ordinary end for us:
	   WebSocket has its own Close frame */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
	/* resumption with client certificates needs a session id context */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
}

/* Mutual TLS: only clients with a certificate from this CA get in. */
static int
tls_ctx_client_ca(SSL_CTX *ctx, const struct config *cfg, char *err,
    size_t errsz)
{
	STACK_OF(X509_NAME)	*names;
	const char		*ca = cfg->tls_client_ca;

	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(ca)) == NULL)
		return tls_file_err(err, errsz, cfg, cfg->tls_client_ca_line,
		    "client_ca", ca);
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

/* One SSL_CTX with a certificate chain and its key (and their lines). */
static SSL_CTX *
tls_ctx_make(const struct config *cfg, const char *cert, int cert_line,
    const char *key, int key_line, char *err, size_t errsz)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_errstr(err, errsz, "SSL_CTX_new failed");
		return NULL;
	}
	tls_ctx_options(ctx, cfg);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		tls_file_err(err, errsz, cfg, cert_line, "cert", cert);
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		tls_file_err(err, errsz, cfg, key_line, "key", key);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		tls_file_err(err, errsz, cfg, key_line, "key", key);
	else if (cfg->tls_client_ca == NULL || tls_ctx_client_ca(ctx, cfg,
	    err, errsz) == 0)
		return ctx;
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tls_ctx_add_sni(struct tls_ctx *tc, const struct config *cfg,
    const struct tls_cert_spec *t, char *err, size_t errsz)
{
	char	 why[TLS_ERRLEN];

	tc->sni[tc->nsni].ctx = tls_ctx_make(cfg, t->cert, t->cert_line,
	    t->key, t->key_line, why, sizeof(why));
	if (tc->sni[tc->nsni].ctx == NULL) {
		snprintf(err, errsz, "[tls %s]: %s", t->name, why);
		return -1;
	}
	if ((tc->sni[tc->nsni++].name = strdup(t->name)) == NULL)
		abort();
	return 0;
}

struct tls_ctx *
tls_ctx_new(const struct config *cfg, char *err, size_t errsz)
{
	struct tls_ctx	*tc;
	size_t		 i;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		snprintf(err, errsz, "TLS needs cert and key");
		return NULL;
	}
	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->sni = calloc(cfg->ntls_certs + 1, sizeof(*tc->sni))) == NULL)
		abort();
	tc->refs = 1;
	if ((tc->ctx = tls_ctx_make(cfg, cfg->tls_cert, cfg->tls_cert_line,
	    cfg->tls_key, cfg->tls_key_line, err, errsz)) == NULL) {
		tls_ctx_free(tc);
		return NULL;
	}
	for (i = 0; i < cfg->ntls_certs; i++)
		if (tls_ctx_add_sni(tc, cfg, &cfg->tls_certs[i], err,
		    errsz) == -1) {
			tls_ctx_free(tc);
			return NULL;
		}
	if (tc->nsni > 0) {
		SSL_CTX_set_tlsext_servername_callback(tc->ctx, tls_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(tc->ctx, tc);
	}
	return tc;
}

void
tls_ctx_free(struct tls_ctx *tc)
{
	size_t	 i;

	if (tc == NULL || --tc->refs > 0)
		return;
	for (i = 0; i < tc->nsni; i++) {
		SSL_CTX_free(tc->sni[i].ctx);
		free(tc->sni[i].name);
	}
	free(tc->sni);
	SSL_CTX_free(tc->ctx);
	free(tc);
}

struct tls_conn *
tls_conn_new(struct tls_ctx *tc, int fd)
{
	struct tls_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	ERR_clear_error();
	if ((c->ssl = SSL_new(tc->ctx)) == NULL || SSL_set_fd(c->ssl,
	    fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	c->tc = tc;
	tc->refs++;
	return c;
}

/*
 * After an SSL call returned rc <= 0: 0 for "call again when the socket
 * is ready" (c->want set), else -1 with c->err and errno set. *eof is
 * set for a clean end.
 */
static int
tls_result(struct tls_conn *c, int rc, bool *eof)
{
	int	 saved = errno;

	c->want = 0;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->want = TLS_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want = TLS_WANT_WRITE;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		*eof = true;
		snprintf(c->err, sizeof(c->err), "closed");
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		errno = saved != 0 ? saved : ECONNRESET;
		snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
		return -1;
	default:
		tls_errstr(c->err, sizeof(c->err), "TLS error");
		errno = EPROTO;
		return -1;
	}
}

int
tls_handshake(struct tls_conn *c, const char **why)
{
	bool	 eof = false;
	int	 rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		c->want = 0;
		return 1;
	}
	if (tls_result(c, rc, &eof) == 0)
		return 0;
	if (eof)
		snprintf(c->err, sizeof(c->err), "closed during handshake");
	*why = c->err;
	return -1;
}

ssize_t
tls_read(struct tls_conn *c, void *buf, size_t len)
{
	bool	 eof = false;
	int	 n;

	ERR_clear_error();
	errno = 0;
	if ((n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX :
	    (int)len)) > 0)
		return n;
	if (tls_result(c, n, &eof) == 0) {
		errno = EAGAIN;
		return -1;
	}
	return eof ? 0 : -1;
}

ssize_t
tls_write(struct tls_conn *c, const void *buf, size_t len)
{
	bool	 eof = false;
	int	 n;

	if (len == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	if ((n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX :
	    (int)len)) > 0)
		return n;
	if (tls_result(c, n, &eof) == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (eof)
		errno = EPIPE;
	return -1;
}

int
tls_want(const struct tls_conn *c)
{
	return c->want;
}

size_t
tls_pending(const struct tls_conn *c)
{
	int	 n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

int
tls_shutdown(struct tls_conn *c)
{
	int	 rc;

	if (!SSL_is_init_finished(c->ssl))
		return -1;
	ERR_clear_error();
	if ((rc = SSL_shutdown(c->ssl)) >= 0)
		return 0;
	/* close_notify queued behind unsent data: best effort, no wait */
	rc = SSL_get_error(c->ssl, rc);
	ERR_clear_error();
	return rc == SSL_ERROR_WANT_WRITE || rc == SSL_ERROR_WANT_READ ?
	    0 : -1;
}

const char *
tls_peer_subject(struct tls_conn *c)
{
	X509	*x;
	BIO	*bio;
	char	*p;
	long	 len;

	if (c->subject != NULL)
		return c->subject;
	if ((x = SSL_get0_peer_certificate(c->ssl)) == NULL ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0 && (len = BIO_get_mem_data(bio, &p)) >= 0)
		c->subject = strndup(p, (size_t)len);
	BIO_free(bio);
	return c->subject;
}

const char *
tls_verify_result(struct tls_conn *c)
{
	long	 rc;

	if (SSL_get0_peer_certificate(c->ssl) == NULL)
		return "NONE";
	if ((rc = SSL_get_verify_result(c->ssl)) == X509_V_OK)
		return "SUCCESS";
	snprintf(c->verify, sizeof(c->verify), "FAILED:%s",
	    X509_verify_cert_error_string(rc));
	return c->verify;
}

const char *
tls_version(struct tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

const char *
tls_error(const struct tls_conn *c)
{
	return c->err[0] != '\0' ? c->err : "no error";
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c->subject);
	tls_ctx_free(c->tc);
	free(c);
}

bool
tls_looks_like_tls(const uint8_t *p, size_t n)
{
	/* a handshake record (22), then major version 3 */
	return n >= 1 && p[0] == 0x16 && (n < 2 || p[1] == 0x03);
}
