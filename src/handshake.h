/*
 * HTTP/1.1 request head parsing (llhttp) and WebSocket upgrade checks:
 * which status a request earns, Sec-WebSocket-Accept, subprotocol choice
 * and the response heads. Pure: no sockets, no libev.
 */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base64.h"
#include "llhttp.h"

#define HS_MAX_HEADERS		100
#define HS_DEFAULT_MAX_HEADER	(16 * 1024)

struct hs_header {
	const char	*name;		/* NUL-terminated, in the arena */
	const char	*value;		/* NUL-terminated, trimmed */
};

struct hs_request {
	llhttp_t		 parser;
	llhttp_settings_t	 settings;
	int			 method;	/* llhttp_method_t */
	int			 http_major, http_minor;
	const char		*url;		/* raw request target */
	struct hs_header	 headers[HS_MAX_HEADERS];
	size_t			 nheaders;
	char			*arena;		/* copies of url/names/values */
	size_t			 arena_len, arena_cap;
	size_t			 head_len;	/* bytes seen so far */
	size_t			 max_head;
	bool			 complete;	/* head fully parsed */
	bool			 keep_alive;
	int			 error_status;	/* 400 or 431 once failed */
	const char		*error_why;	/* its reason, static */
	/* llhttp hands names/values in pieces: where the current one starts */
	size_t			 cur_start;
	int			 cur_kind;
	/* A request body (only CGI takes one): see hs_body. */
	bool			 has_body;
	long long		 content_length;	/* -1: chunked */
	bool			 body_done;	/* its end was seen */
	char			*body_out;	/* decoded bytes go here */
	size_t			 body_len, body_cap;
};

/* Prepare for a new request head of at most max_head bytes. */
int	 hs_init(struct hs_request *, size_t max_head);
void	 hs_free(struct hs_request *);
/* Reuse for the next request on a keep-alive connection. */
void	 hs_reset(struct hs_request *);

/*
 * Feed bytes. Returns the number of bytes that belonged to the request
 * head once it is complete (bytes after it are the client's first frames
 * or the next pipelined request), 0 when more bytes are needed, -1 on
 * malformed HTTP (*status 400) or a head over max_head (*status 431),
 * with a short reason in *why. A request with a body (Content-Length or
 * Transfer-Encoding) sets has_body: the caller refuses it or reads it
 * with hs_body.
 * Feed each chunk of the stream once, in order: the count returned is of
 * this chunk's bytes (so buf + ret is where the rest starts), while
 * req->head_len has the length of the whole head. After -1, every later
 * call fails the same way; after a complete head, call hs_reset first.
 */
ssize_t	 hs_parse(struct hs_request *, const char *, size_t, int *status,
	    const char **why);

/*
 * Decode the body after a complete head from buf (the bytes after the
 * head, in order): at most cap bytes of buf are taken, their decoded
 * content (Content-Length or chunked) copied to out, its length in
 * *outlen. Returns the bytes of buf taken; at the body's end body_done
 * is set and bytes after it are not taken. -1 (*status 400, *why) on a
 * malformed body.
 */
ssize_t	 hs_body(struct hs_request *, const char *buf, size_t len,
	    char *out, size_t cap, size_t *outlen, int *status,
	    const char **why);

/* First header of that name (case-insensitive), or NULL. */
const char *hs_header(const struct hs_request *, const char *name);
/* Does any header of that name list token (comma-separated, no case)? */
/*
 * The raw value of the query parameter name (no decoding): *val and *len,
 * true when present.
 */
bool	 hs_query_param(const char *query, const char *name,
	    const char **val, size_t *len);
/* The value of a hex digit, or -1. */
int	 hs_hex(char);
/* How many times a header occurs. */
size_t	 hs_header_count(const struct hs_request *, const char *name);
/* Any WebSocket header: an upgrade attempt, good or bad. */
bool	 hs_wants_websocket(const struct hs_request *);
bool	 hs_header_has_token(const struct hs_request *, const char *name,
	    const char *token);

enum hs_kind {
	HS_PLAIN,	/* no "Upgrade: websocket": a plain HTTP request */
	HS_UPGRADE,	/* a valid WebSocket upgrade */
	HS_BAD,		/* an upgrade that fails: *status is 400/405/426 */
};
/*
 * Classify a complete head per RFC 6455 4.2.1: method GET (405), HTTP/1.1
 * or later, Host present, Upgrade and Connection tokens, a
 * Sec-WebSocket-Key that decodes to 16 bytes (400), version 13 (426).
 */
enum hs_kind hs_classify(const struct hs_request *, int *status,
	    const char **why);

/*
 * Sec-WebSocket-Accept for a key: SHA-1 + base64 from OpenSSL, into
 * HS_ACCEPT_KEY_SIZE bytes (28 characters and a NUL; "" on failure).
 */
#define HS_SHA1_LEN		20
#define HS_ACCEPT_KEY_SIZE	BASE64_ENCODED_SIZE(HS_SHA1_LEN)
void	 hs_accept_key(const char *key, char out[HS_ACCEPT_KEY_SIZE]);

/*
 * The first subprotocol the client offered (Sec-WebSocket-Protocol, in
 * its order) that is in accepted[0..n), or NULL.
 */
const char *hs_select_protocol(const struct hs_request *,
	    char *const *accepted, size_t n);

/*
 * Split the request target into a percent-decoded path and the raw query
 * (without '?'). Fails (-1) on a path that does not start with '/', that
 * decodes to a NUL, or that does not fit.
 */
int	 hs_split_url(const char *url, char *path, size_t pathsz,
	    char *query, size_t querysz);

/* Reason phrase for a status code ("Not Found"): http_response's. */
const char *hs_status_text(int status);

/*
 * Response heads, malloc'd, length in *len. extra_headers are complete
 * "Name: value" lines without CRLF (may be NULL/0).
 * hs_response_101: protocol and extensions may be NULL.
 * hs_response_error: a short text/plain body "<status> <text>\n" (or
 * body if not NULL; only its Content-Length when head, for HEAD),
 * Connection: close, Retry-After if retry_after > 0, what 405 and 426
 * must name, Date on a 4xx. Both are written by http_response.c; NULL
 * when out of memory.
 */
char	*hs_response_101(const char *accept, const char *protocol,
	    const char *extensions, char *const *extra_headers, size_t nextra,
	    size_t *len);
char	*hs_response_error(int status, const char *body, bool head,
	    int retry_after, char *const *extra_headers, size_t nextra,
	    size_t *len);

#endif
