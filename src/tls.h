/*
 * TLS with OpenSSL behind a small interface: a server context built from
 * [tls] and [tls NAME] (SNI), and non-blocking connections whose reads
 * and writes say which readiness they wait for. Only tls.c includes
 * openssl/ssl.h.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct tls_ctx;
struct tls_conn;

/* tls_want() bits after EAGAIN or an unfinished handshake. */
#define TLS_WANT_READ	1
#define TLS_WANT_WRITE	2

/*
 * A server context from cfg's [tls] cert, key, client_ca, min_version
 * and [tls NAME] sections: full chains, default ciphers, ALPN http/1.1,
 * SNI (exact name, then *.wildcard, else [tls]'s cert), session tickets.
 * client_ca makes a certificate from that CA mandatory. NULL with err
 * set ("cert /path: reason") on error: --check and SIGHUP use that.
 * The caller holds one reference.
 */
struct tls_ctx	*tls_ctx_new(const struct config *, char *err, size_t errsz);
/*
 * Drop the caller's reference. Connections hold their own, so after a
 * SIGHUP the old context lives on until its last connection is freed.
 */
void		 tls_ctx_free(struct tls_ctx *);

/*
 * Session ticket keys shared by every worker: init maps them before the
 * workers fork (contexts made before it use OpenSSL's own keys); rotate
 * (the supervisor's SIGHUP) makes a new sealing key, the old one still
 * opens. -1 when the memory or randomness is missing.
 */
int		 tls_keys_init(void);
void		 tls_keys_rotate(void);

/*
 * A server-side connection on a non-blocking socket; NULL when memory
 * (or OpenSSL) fails: the caller closes that connection.
 */
struct tls_conn	*tls_conn_new(struct tls_ctx *, int fd);
/* 1 done, 0 in progress (see tls_want), -1 failed with *why set. */
int		 tls_handshake(struct tls_conn *, const char **why);
/*
 * >0 bytes; 0 at a clean end (close_notify or TCP EOF); -1 with errno
 * EAGAIN when the socket must become readable or writable (tls_want),
 * another errno on failure (EPROTO: a TLS error, see tls_error).
 */
ssize_t		 tls_read(struct tls_conn *, void *, size_t);
/*
 * As tls_read; a partial write returns what was written. Encrypted
 * records may wait unsent (tls_unsent): call again, len 0 to only send
 * them, when the socket is writable.
 */
ssize_t		 tls_write(struct tls_conn *, const void *, size_t);
/* Ciphertext bytes not sent yet. */
size_t		 tls_unsent(const struct tls_conn *);
int		 tls_want(const struct tls_conn *);
/* Bytes decrypted but not read yet: read them before waiting on fd. */
size_t		 tls_pending(const struct tls_conn *);
/* Send close_notify once, without waiting: 0 sent or queued, -1 not. */
int		 tls_shutdown(struct tls_conn *);
/*
 * The verified client certificate's subject (RFC 2253), or NULL: errno
 * 0 when there is none, ENOMEM when there is one but no memory to say
 * it (the caller closes the connection rather than pass it on unnamed).
 */
const char	*tls_peer_subject(struct tls_conn *);
/* "SUCCESS", "NONE" (no certificate) or "FAILED:reason". */
const char	*tls_verify_result(struct tls_conn *);
/* "TLSv1.3", ... */
const char	*tls_version(struct tls_conn *);
/* The last TLS error, for the log. */
const char	*tls_error(const struct tls_conn *);
void		 tls_conn_free(struct tls_conn *);

/*
 * Do the first bytes on a TLS port look like a TLS handshake record?
 * If not (plain HTTP), answer 400 in clear and close.
 */
bool		 tls_looks_like_tls(const uint8_t *, size_t);

#endif
