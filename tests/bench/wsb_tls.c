/*
 * wsb_tls.c: the load client's TLS through OpenSSL (wss): TLS 1.3, no
 * certificate verification (loopback only, see resolve()), and with
 * --resume each connection loop offers the newest ticket it was given.
 * OpenSSL's client uses a TLS 1.3 ticket once (RFC 8446 C.4, as browsers
 * do), so a loop resumes only while the server sends a fresh ticket on
 * every resumed handshake; one ticket shared by all loops was spent by
 * the first of them and the others sent none.
 */

#include <sys/epoll.h>
#include <sys/types.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wsbench.h"

/* Records read per syscall: the server's writes come in 16 KiB records. */
#define WB_TLS_READ_BUF	(64 * 1024)

static SSL_CTX		*wtls_ctx;
static SSL_SESSION	**wtls_saved;	/* --resume: a loop's newest ticket */
uint64_t		 wtls_offered, wtls_resumed;

/* A ticket arrived: the slot keeps the newest for its next connection. */
static int
wtls_new_session(SSL *ssl, SSL_SESSION *s)
{
	struct wb_conn	*c = SSL_get_app_data(ssl);
	size_t		 i;

	if (!opt.resume || c == NULL)
		return 0;
	i = (size_t)(c - conns);
	SSL_SESSION_free(wtls_saved[i]);
	wtls_saved[i] = s;
	return 1;
}

void
wtls_setup(void)
{
	if ((wtls_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(wtls_ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(wtls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(wtls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(wtls_ctx, 1);
	SSL_CTX_set_default_read_buffer_len(wtls_ctx, WB_TLS_READ_BUF);
	SSL_CTX_set_session_cache_mode(wtls_ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(wtls_ctx, wtls_new_session);
	if (opt.resume && (wtls_saved = calloc((size_t)opt.conns,
	    sizeof(*wtls_saved))) == NULL)
		die("out of memory");
}

/* After connect(): the TLS handshake comes before the upgrade. */
int
wtls_start(struct wb_conn *c)
{
	SSL_SESSION	*s;

	if ((c->ssl = SSL_new(wtls_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	(void)SSL_set_tlsext_host_name(c->ssl, "localhost");
	SSL_set_app_data(c->ssl, c);
	if (wtls_saved != NULL && (s = wtls_saved[c - conns]) != NULL &&
	    SSL_SESSION_is_resumable(s)) {
		(void)SSL_set_session(c->ssl, s);
		wtls_offered++;
	}
	SSL_set_connect_state(c->ssl);
	return 0;
}

/* The errno-style result of an SSL call that returned rc <= 0. */
static ssize_t
wtls_result(struct wb_conn *c, int rc, uint32_t *want)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		/* TCP EOF without close_notify: an ordinary end here */
		if (errno == 0)
			return 0;
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* 1 done, 0 again (*want: the readiness), -1 failed. */
int
wtls_handshake(struct wb_conn *c, uint32_t *want)
{
	int	 rc;

	errno = 0;
	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		if (SSL_session_reused(c->ssl))
			wtls_resumed++;
		return 1;
	}
	if (wtls_result(c, rc, want) == -1 && errno == EAGAIN)
		return 0;
	return -1;
}

ssize_t
wtls_read(struct wb_conn *c, void *p, size_t n)
{
	uint32_t	 want;
	int		 rc;

	errno = 0;
	if ((rc = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n)) > 0)
		return rc;
	return wtls_result(c, rc, &want);
}

ssize_t
wtls_write(struct wb_conn *c, const void *p, size_t n)
{
	uint32_t	 want;
	int		 rc;

	errno = 0;
	if ((rc = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n)) > 0)
		return rc;
	if (wtls_result(c, rc, &want) == 0)
		errno = EPIPE;
	return -1;
}

void
wtls_free(struct wb_conn *c)
{
	/* without this SSL_free marks the session (our ticket) spent */
	SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->ssl);
	c->ssl = NULL;
}
