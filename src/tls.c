/*
 * TLS over OpenSSL 3: server contexts from the config (SNI, ALPN, mutual
 * TLS) and non-blocking connections that turn WANT_READ/WANT_WRITE into
 * EAGAIN plus tls_want(). The only file that includes openssl/ssl.h.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls.h"

#define TLS_SESSION_TIMEOUT	300	/* seconds a ticket is good for */
#define TLS_ERRLEN		256
/* a connection's last error, kept with it: OpenSSL's fit in 120 */
#define TLS_CONN_ERRLEN		128
/*
 * Records are at most 16 KiB: a read-ahead buffer this size takes all a
 * client has in flight in one read(2), as the plain path's buffer_size
 * reads do (at 64 KiB, 4 x 16 KiB messages, 65,724 bytes of records, took
 * three reads), and written records gather in one buffer sent by one
 * send(2) per tls_write, or sooner when the next record would not fit,
 * so bulk data costs a syscall per call, not two reads and a write per
 * record. The batch has room for TLS_OUT_BATCH and one more whole record
 * (a 64 KiB frame is four full records and a small one: at exactly 64
 * KiB that fifth record went out in a second send(2), and the fourth
 * made the buffer realloc). Both buffers are freed when empty (idle
 * costs none).
 */
#define TLS_READ_BUF		(256 * 1024)
#define TLS_OUT_BATCH		(128 * 1024)
/* a TLS 1.3 record: header, 16 KiB, content type, tag, padding slack */
#define TLS_RECORD_MAX		(5 + 16384 + 256)
#define TLS_OUT_CAP		(TLS_OUT_BATCH + TLS_RECORD_MAX)
/*
 * Handshakes between heap trims: a burst of concurrent handshakes (each
 * with its read-ahead buffer, flight and key exchange) leaves freed
 * pages among the connections that stay, ~2 KB of RSS per idle wss
 * connection; malloc_trim gives them back once no handshake is under way
 * (at most once per this many, so steady churn does not trim each time).
 */
#define TLS_TRIM_EVERY		256

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
	int		 fd;
	int		 want;
	bool		 rd_more;	/* records may wait in read-ahead */
	bool		 rd_drained;	/* a short read(2) emptied the socket */
	bool		 rd_eof;
	bool		 hs_done;	/* no longer counted in tls_hs_busy */
	uint8_t		*out;		/* ciphertext not sent yet */
	size_t		 olen, ooff, ocap;
	char		*subject;	/* cached tls_peer_subject() */
	char		*verify;	/* "FAILED:reason", made when asked */
	char		 err[TLS_CONN_ERRLEN];
};

static const unsigned char tls_alpn[] = "\x08http/1.1";

static unsigned	 tls_hs_busy;	/* handshakes under way */
static unsigned	 tls_hs_since;	/* handshakes ended since the last trim */

/* A handshake ended (done or not): trim after a burst (TLS_TRIM_EVERY). */
static void
tls_hs_end(struct tls_conn *c)
{
	if (c->hs_done)
		return;
	c->hs_done = true;
	tls_hs_busy--;
	if (++tls_hs_since >= TLS_TRIM_EVERY && tls_hs_busy == 0) {
		tls_hs_since = 0;
		malloc_trim(0);
	}
}

/*
 * Session ticket keys: in memory shared by the supervisor and all its
 * workers (mapped before fork), so a ticket from one worker resumes on
 * any. SIGHUP makes a new current key in the other slot; the previous
 * one still opens tickets (which are then renewed) until the next.
 */
struct tls_ticket_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
};

struct tls_ticket_keys {
	int			 cur;	/* slot that seals new tickets */
	struct tls_ticket_key	 slot[2];
};

static struct tls_ticket_keys	*tls_keys;

static int
tls_key_fill(struct tls_ticket_key *k)
{
	return RAND_bytes((unsigned char *)k, sizeof(*k)) == 1 ? 0 : -1;
}

int
tls_keys_init(void)
{
	void	*p;

	if (tls_keys != NULL)
		return 0;
	p = mmap(NULL, sizeof(*tls_keys), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	tls_keys = p;
	if (tls_key_fill(&tls_keys->slot[0]) == -1 ||
	    tls_key_fill(&tls_keys->slot[1]) == -1)
		return -1;
	return 0;
}

void
tls_keys_rotate(void)
{
	int	 next;

	if (tls_keys == NULL)
		return;
	next = 1 - __atomic_load_n(&tls_keys->cur, __ATOMIC_ACQUIRE);
	if (tls_key_fill(&tls_keys->slot[next]) == -1)
		return;
	__atomic_store_n(&tls_keys->cur, next, __ATOMIC_RELEASE);
}

/* Seal (enc 1) or open a ticket: AES-256-CBC and HMAC-SHA256. */
static int
tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char iv[16],
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_ticket_key	*k;
	OSSL_PARAM			 params[2];
	int				 cur, i, rv = 1;

	cur = __atomic_load_n(&tls_keys->cur, __ATOMIC_ACQUIRE);
	if (enc) {
		k = &tls_keys->slot[cur];
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
		memcpy(name, k->name, sizeof(k->name));
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	} else {
		for (i = 0; i < 2; i++)
			if (memcmp(name, tls_keys->slot[i].name, 16) == 0)
				break;
		if (i == 2)
			return 0;	/* unknown key: full handshake */
		k = &tls_keys->slot[i];
		/*
		 * 2: send a new ticket. Always on TLS 1.3, as OpenSSL's own
		 * keys do: clients use a 1.3 ticket once (RFC 8446 C.4;
		 * OpenSSL, browsers), so without a fresh one every other
		 * connection was a full handshake. On 1.2 (tickets reused)
		 * only when sealed with the previous key.
		 */
		rv = i == cur && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) != 1)
		return -1;
	return rv;
}

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

/*
 * TLS 1.3 suites, AES-128-GCM first as in Go, BoringSSL and Mozilla's
 * recommendations (OpenSSL's own order starts with AES-256-GCM, which
 * costs 1.7 times as much per byte here); a client that puts ChaCha20
 * first (no AES instructions) gets it (SSL_OP_PRIORITIZE_CHACHA).
 */
#define TLS_SUITES	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			"TLS_CHACHA20_POLY1305_SHA256"

/*
 * TLS 1.2 likewise: the context's own list (OpenSSL's DEFAULT, or what
 * a system openssl.cnf set) kept whole, ECDHE with AES-128-GCM moved to
 * the front (DEFAULT starts with AES-256-GCM). -1 without memory.
 */
static int
tls_ctx_ciphers12(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER)	*sk = SSL_CTX_get_ciphers(ctx);
	const SSL_CIPHER	*c;
	char			*list;
	size_t			 len = 1, off = 0;
	int			 i, pass, first, rv;

	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++)
		len += strlen(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk,
		    i))) + 1;
	if ((list = malloc(len)) == NULL)
		return -1;
	list[0] = '\0';
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
			c = sk_SSL_CIPHER_value(sk, i);
			if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
				continue;	/* set by TLS_SUITES */
			first = SSL_CIPHER_get_kx_nid(c) == NID_kx_ecdhe &&
			    SSL_CIPHER_get_cipher_nid(c) == NID_aes_128_gcm;
			if (first != (pass == 0))
				continue;
			off += (size_t)snprintf(list + off, len - off, "%s%s",
			    off > 0 ? ":" : "", SSL_CIPHER_get_name(c));
		}
	rv = off == 0 || SSL_CTX_set_cipher_list(ctx, list) == 1 ? 0 : -1;
	free(list);
	return rv;
}

/* Protocol floor, options and the session cache of every context. */
static int
tls_ctx_options(SSL_CTX *ctx, const struct config *cfg)
{
	static const unsigned char sid[] = "wsbridge";

	SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version ==
	    CONFIG_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
	/* a TCP close without close_notify is an ordinary end for us:
	   WebSocket has its own Close frame */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_set_ciphersuites(ctx, TLS_SUITES) != 1 ||
	    tls_ctx_ciphers12(ctx) == -1)
		return -1;
	/*
	 * Partial writes and a moving buffer: a record that could not go
	 * out is retried from wherever the rest of client.out then lies.
	 * RELEASE_BUFFERS keeps an idle connection's record buffers freed;
	 * a busy one keeps them while data waits in them.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUF);
	/*
	 * Stateless resumption: tickets only, no session cache (no memory
	 * per session, and any worker opens them). One ticket per
	 * handshake: each costs a seal and a record.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (tls_keys != NULL)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	/* resumption with client certificates needs a session id context */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return 0;
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
	if (tls_ctx_options(ctx, cfg) == -1)
		tls_errstr(err, errsz, "cipher suites");
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
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
	/* counted at once: tls_ctx_free frees the context either way */
	if ((tc->sni[tc->nsni++].name = strdup(t->name)) == NULL) {
		snprintf(err, errsz, "[tls %s]: out of memory", t->name);
		return -1;
	}
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
	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		snprintf(err, errsz, "TLS context: out of memory");
		return NULL;
	}
	tc->refs = 1;
	if ((tc->sni = calloc(cfg->ntls_certs + 1, sizeof(*tc->sni))) ==
	    NULL) {
		snprintf(err, errsz, "TLS context: out of memory");
		tls_ctx_free(tc);
		return NULL;
	}
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

/* --- ciphertext out: records gathered, sent in batches ---------------- */

/*
 * One drained batch buffer kept by the process (the event loop is its
 * only user): the next batch, of any connection, takes it instead of a
 * malloc and free of 64 KiB per send. Idle connections still keep none.
 */
static uint8_t	*tls_out_spare;

/* Send what is gathered: 0 all sent, -1 with errno (EAGAIN: wait). */
static int
tls_out_send(struct tls_conn *c)
{
	ssize_t	 n;

	while (c->ooff < c->olen) {
		n = send(c->fd, c->out + c->ooff, c->olen - c->ooff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		c->ooff += (size_t)n;
	}
	/* drained: an idle connection keeps no buffer */
	if (c->ocap == TLS_OUT_CAP && tls_out_spare == NULL)
		tls_out_spare = c->out;
	else
		free(c->out);
	c->out = NULL;
	c->olen = c->ooff = c->ocap = 0;
	return 0;
}

static int
tls_out_write(BIO *b, const char *p, int len)
{
	struct tls_conn	*c = BIO_get_data(b);
	size_t		 n = (size_t)len, cap;
	uint8_t		*q;

	BIO_clear_retry_flags(b);
	/* a full batch goes out before the next record joins it */
	if (c->olen - c->ooff + n > TLS_OUT_CAP && c->olen > c->ooff &&
	    tls_out_send(c) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return -1;
	}
	if (c->ooff > 0 && c->ooff == c->olen)
		c->olen = c->ooff = 0;
	if (c->olen + n > c->ocap) {
		if (c->ooff > 0) {
			memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
			c->olen -= c->ooff;
			c->ooff = 0;
		}
		for (cap = c->ocap ? c->ocap : TLS_OUT_CAP; cap < c->olen + n;)
			cap *= 2;
		if (c->ocap == 0 && cap == TLS_OUT_CAP &&
		    tls_out_spare != NULL) {
			c->out = tls_out_spare;
			c->ocap = cap;
			tls_out_spare = NULL;
		} else if (cap != c->ocap) {
			if ((q = realloc(c->out, cap)) == NULL)
				return -1;
			c->out = q;
			c->ocap = cap;
		}
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
	return len;
}

/* --- ciphertext in: read(2) until a short read drains the socket ------ */

/*
 * A short read emptied the socket: the next read would only say EAGAIN,
 * so say it without the syscall (epoll reports new data). The caller's
 * next tls_read or tls_handshake, on readiness, reads again.
 */
static int
tls_in_read(BIO *b, char *p, int len)
{
	struct tls_conn	*c = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if (c->rd_drained) {
		BIO_set_retry_read(b);
		errno = EAGAIN;
		return -1;
	}
	do
		n = read(c->fd, p, (size_t)len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->rd_drained = true;
			BIO_set_retry_read(b);
		}
		return -1;
	}
	if (n == 0)
		c->rd_eof = true;
	if (n < len)
		c->rd_drained = true;
	return (int)n;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_conn	*c = BIO_get_data(b);

	(void)num, (void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		/* the end of a handshake flight, or a close_notify */
		BIO_clear_retry_flags(b);
		if (tls_out_send(c) == 0)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return 0;
	case BIO_CTRL_WPENDING:
		return (long)(c->olen - c->ooff);
	case BIO_CTRL_EOF:
		/* TCP EOF: a clean end under SSL_OP_IGNORE_UNEXPECTED_EOF */
		return c->rd_eof;
	default:
		return 0;
	}
}

static BIO_METHOD	*tls_bio_method;

/*
 * Both directions of a connection in one BIO (one allocation, not a
 * socket BIO and a sink): reads from the socket, writes gathered in
 * c's ciphertext buffer.
 */
static BIO *
tls_bio(struct tls_conn *c)
{
	BIO	*b;

	if (tls_bio_method == NULL) {
		if ((tls_bio_method = BIO_meth_new(BIO_get_new_index() |
		    BIO_TYPE_SOURCE_SINK, "wsbridge tls")) == NULL)
			return NULL;
		BIO_meth_set_read(tls_bio_method, tls_in_read);
		BIO_meth_set_write(tls_bio_method, tls_out_write);
		BIO_meth_set_ctrl(tls_bio_method, tls_bio_ctrl);
	}
	if ((b = BIO_new(tls_bio_method)) == NULL)
		return NULL;
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	return b;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *tc, int fd)
{
	struct tls_conn	*c;
	BIO		*bio = NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	ERR_clear_error();
	if ((c->ssl = SSL_new(tc->ctx)) == NULL ||
	    (bio = tls_bio(c)) == NULL) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	/* the same BIO both ways: SSL_set_bio takes one reference */
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_accept_state(c->ssl);
	c->tc = tc;
	tc->refs++;
	tls_hs_busy++;
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
	c->rd_drained = false;
	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		tls_hs_end(c);
		c->want = 0;
		/* read-ahead may hold the first request already */
		c->rd_more = true;
		return 1;
	}
	if (tls_result(c, rc, &eof) == 0)
		return 0;
	if (eof)
		snprintf(c->err, sizeof(c->err), "closed during handshake");
	*why = c->err;
	return -1;
}

/*
 * SSL_read gives one record a call: go on until len is full or the
 * socket is drained, so one pass of the caller moves many records.
 */
ssize_t
tls_read(struct tls_conn *c, void *buf, size_t len)
{
	uint8_t	*p = buf;
	size_t	 got = 0;
	bool	 eof = false;
	int	 n;

	c->rd_more = false;
	c->rd_drained = false;
	if (len > INT_MAX)
		len = INT_MAX;
	/* a successful call leaves the error queue as it found it */
	ERR_clear_error();
	while (got < len) {
		errno = 0;
		if ((n = SSL_read(c->ssl, p + got, (int)(len - got))) <= 0)
			break;
		got += (size_t)n;
	}
	if (got == len) {
		c->rd_more = true;
		return (ssize_t)got;
	}
	if (got > 0)		/* an error or EOF comes again next call */
		return (ssize_t)got;
	if (tls_result(c, n, &eof) == 0) {
		errno = EAGAIN;
		return -1;
	}
	return eof ? 0 : -1;
}

/*
 * Records gather in c->out and go out in batches; what the socket does
 * not take now waits there (tls_unsent), sent by the next call.
 */
ssize_t
tls_write(struct tls_conn *c, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	size_t		 put = 0;
	bool		 eof = false;
	int		 n = 1;

	if (len > INT_MAX)
		len = INT_MAX;
	ERR_clear_error();
	while (put < len) {
		errno = 0;
		if ((n = SSL_write(c->ssl, p + put, (int)(len - put))) <= 0)
			break;
		put += (size_t)n;
	}
	if (n <= 0 && tls_result(c, n, &eof) == -1) {
		if (eof)
			errno = EPIPE;
		return -1;
	}
	if (tls_out_send(c) == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (put == 0 && len > 0) {
		c->want = TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	}
	if (c->olen > c->ooff) {
		c->want = TLS_WANT_WRITE;
		if (put == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
	return (ssize_t)put;
}

size_t
tls_unsent(const struct tls_conn *c)
{
	return c->olen - c->ooff;
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

	if (n > 0)
		return (size_t)n;
	/* read-ahead: whole records may wait undecrypted */
	return c->rd_more && SSL_has_pending(c->ssl) ? 1 : 0;
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

	errno = 0;
	if (c->subject != NULL)
		return c->subject;
	if ((x = SSL_get0_peer_certificate(c->ssl)) == NULL ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0 && (len = BIO_get_mem_data(bio, &p)) >= 0)
		c->subject = strndup(p, (size_t)len);
	BIO_free(bio);
	if (c->subject == NULL) {
		/* a verified certificate whose name we could not copy */
		ERR_clear_error();
		errno = ENOMEM;
	}
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
	/* rare (mutual TLS fails the handshake): not kept in every conn */
	free(c->verify);
	if (asprintf(&c->verify, "FAILED:%s",
	    X509_verify_cert_error_string(rc)) == -1) {
		c->verify = NULL;
		return "FAILED";
	}
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
	tls_hs_end(c);
	free(c->out);
	free(c->subject);
	free(c->verify);
	tls_ctx_free(c->tc);
	free(c);
}

bool
tls_looks_like_tls(const uint8_t *p, size_t n)
{
	/* a handshake record (22), then major version 3 */
	return n >= 1 && p[0] == 0x16 && (n < 2 || p[1] == 0x03);
}
