/*
 * HTTP/1.1 request heads parsed with llhttp, the RFC 6455 4.2.1 checks
 * that decide between 101 and an error, and the response heads. Pure:
 * no sockets, no libev, so unit tests link it alone.
 */

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>

#include "llhttp.h"
#include "handshake.h"
#include "http_response.h"

#define HS_WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A NUL after the url and after each name and value. */
#define HS_ARENA_NULS	(1 + 2 * HS_MAX_HEADERS)
/* base64 of 16 bytes: 22 characters and "==". */
#define HS_KEY_LEN	24
#define HS_B64_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"abcdefghijklmnopqrstuvwxyz0123456789+/"

enum hs_piece {
	HS_PIECE_NONE,
	HS_PIECE_URL,
	HS_PIECE_FIELD,
	HS_PIECE_VALUE,
};

/* The first failure wins: later callbacks must not hide its cause. */
static int
hs_fail(struct hs_request *req, int status, const char *why)
{
	if (req->error_status == 0) {
		req->error_status = status;
		req->error_why = why;
	}
	return -1;
}

/*
 * Start a piece (url, name or value) unless llhttp is continuing one it
 * split at the end of the previous chunk.
 */
static void
hs_piece_begin(struct hs_request *req, int kind)
{
	if (req->cur_kind != kind) {
		req->cur_kind = kind;
		req->cur_start = req->arena_len;
	}
}

static int
hs_piece_append(struct hs_request *req, int kind, const char *at,
    size_t len)
{
	hs_piece_begin(req, kind);
	/* Cannot happen while max_head caps the input; kept as a guard. */
	if (len > req->arena_cap - req->arena_len - 1)
		return hs_fail(req, 431, "request head too large");
	memcpy(req->arena + req->arena_len, at, len);
	req->arena_len += len;
	return 0;
}

/* NUL-terminate the current piece; an empty one gets no data callback. */
static char *
hs_piece_end(struct hs_request *req, int kind)
{
	char	*s;

	hs_piece_begin(req, kind);
	/* HS_ARENA_NULS holds as long as the header count is capped. */
	assert(req->arena_len < req->arena_cap);
	s = req->arena + req->cur_start;
	req->arena[req->arena_len++] = '\0';
	req->cur_kind = HS_PIECE_NONE;
	return s;
}

/* Fires for each piece of the request target. */
static int
hs_url_cb(llhttp_t *p, const char *at, size_t len)
{
	return hs_piece_append(p->data, HS_PIECE_URL, at, len);
}

/* Fires once the request target has ended. */
static int
hs_url_complete_cb(llhttp_t *p)
{
	struct hs_request	*req = p->data;

	req->url = hs_piece_end(req, HS_PIECE_URL);
	return 0;
}

/* Fires for each piece of a header name; the first piece counts it. */
static int
hs_field_cb(llhttp_t *p, const char *at, size_t len)
{
	/*
	 * The header count is checked once the name is complete, so the
	 * status does not depend on how the head arrived in pieces.
	 */
	return hs_piece_append(p->data, HS_PIECE_FIELD, at, len);
}

/* Fires once a header name has ended. */
static int
hs_field_complete_cb(llhttp_t *p)
{
	struct hs_request	*req = p->data;
	char			*name;

	if (req->nheaders == HS_MAX_HEADERS)
		return hs_fail(req, 431, "too many request headers");
	name = hs_piece_end(req, HS_PIECE_FIELD);
	/* llhttp 8.1 lets "Host : a" through as "Host "; RFC 9112 5.1. */
	if (name[strcspn(name, " \t")] != '\0')
		return hs_fail(req, 400, "whitespace in header name");
	req->headers[req->nheaders].name = name;
	return 0;
}

/* Fires for each piece of a header value. */
static int
hs_value_cb(llhttp_t *p, const char *at, size_t len)
{
	return hs_piece_append(p->data, HS_PIECE_VALUE, at, len);
}

/* Fires once a header value has ended: trim it and count the header. */
static int
hs_value_complete_cb(llhttp_t *p)
{
	struct hs_request	*req = p->data;
	char			*s, *e;

	s = hs_piece_end(req, HS_PIECE_VALUE);
	s += strspn(s, " \t");
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	req->headers[req->nheaders++].value = s;
	return 0;
}

/*
 * Fires after the blank line. Pausing here makes llhttp stop at the end
 * of the head for every request, not only for upgrades, so that the
 * bytes after it stay with the caller.
 */
static int
hs_headers_complete_cb(llhttp_t *p)
{
	struct hs_request	*req = p->data;

	if ((p->flags & (F_CHUNKED | F_TRANSFER_ENCODING)) ||
	    ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0)) {
		req->has_body = true;
		req->content_length = (p->flags & F_CONTENT_LENGTH) ?
		    (long long)p->content_length : -1;
	}
	req->method = p->method;
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	req->keep_alive = llhttp_should_keep_alive(p);
	req->complete = true;
	return HPE_PAUSED;
}

/* Fires for each piece of the decoded body: hs_body fed no more input
 * than its output holds, and decoding never grows it. */
static int
hs_body_cb(llhttp_t *p, const char *at, size_t len)
{
	struct hs_request	*req = p->data;

	if (len > req->body_cap - req->body_len)
		return hs_fail(req, 500, "request body overran its buffer");
	memcpy(req->body_out + req->body_len, at, len);
	req->body_len += len;
	return 0;
}

/* Fires at the end of a request: of its body, when it has one. */
static int
hs_message_complete_cb(llhttp_t *p)
{
	struct hs_request	*req = p->data;

	req->body_done = true;
	return HPE_PAUSED;	/* what follows is not ours */
}

static void
hs_setup(struct hs_request *req)
{
	llhttp_settings_init(&req->settings);
	req->settings.on_url = hs_url_cb;
	req->settings.on_url_complete = hs_url_complete_cb;
	req->settings.on_header_field = hs_field_cb;
	req->settings.on_header_field_complete = hs_field_complete_cb;
	req->settings.on_header_value = hs_value_cb;
	req->settings.on_header_value_complete = hs_value_complete_cb;
	req->settings.on_headers_complete = hs_headers_complete_cb;
	req->settings.on_body = hs_body_cb;
	req->settings.on_message_complete = hs_message_complete_cb;
	llhttp_init(&req->parser, HTTP_REQUEST, &req->settings);
	req->parser.data = req;
}

int
hs_init(struct hs_request *req, size_t max_head)
{
	memset(req, 0, sizeof(*req));
	req->max_head = max_head > 0 ? max_head : HS_DEFAULT_MAX_HEADER;
	req->arena_cap = req->max_head + HS_ARENA_NULS;
	if ((req->arena = malloc(req->arena_cap)) == NULL)
		return -1;
	hs_setup(req);
	return 0;
}

void
hs_free(struct hs_request *req)
{
	free(req->arena);
	req->arena = NULL;
	req->arena_cap = 0;
}

void
hs_reset(struct hs_request *req)
{
	char	*arena = req->arena;
	size_t	 cap = req->arena_cap, max_head = req->max_head;

	memset(req, 0, sizeof(*req));
	req->arena = arena;
	req->arena_cap = cap;
	req->max_head = max_head;
	hs_setup(req);
}

static ssize_t
hs_failed(const struct hs_request *req, int *status, const char **why)
{
	*status = req->error_status;
	*why = req->error_why;
	return -1;
}

/*
 * Run llhttp over buf: bytes of the head if it ended there, 0 if it goes
 * on, -1 on failure.
 */
static ssize_t
hs_execute(struct hs_request *req, const char *buf, size_t len)
{
	llhttp_errno_t	 err;

	/* The struct may have moved since hs_init. */
	req->parser.data = req;
	req->parser.settings = &req->settings;
	err = llhttp_execute(&req->parser, buf, len);
	if (req->error_status != 0)
		return -1;
	if (err == HPE_PAUSED && req->complete)
		return llhttp_get_error_pos(&req->parser) - buf;
	if (err != HPE_OK)
		return hs_fail(req, 400, llhttp_get_error_reason(&req->parser));
	return 0;
}

ssize_t
hs_body(struct hs_request *req, const char *buf, size_t len, char *out,
    size_t cap, size_t *outlen, int *status, const char **why)
{
	llhttp_errno_t	 err;
	size_t		 feed = len < cap ? len : cap;
	ssize_t		 used;

	*outlen = 0;
	if (req->error_status == 0 && (!req->complete || !req->has_body))
		hs_fail(req, 500, "no request body to read");
	if (req->error_status != 0)
		return hs_failed(req, status, why);
	if (req->body_done || feed == 0)
		return 0;
	req->parser.data = req;
	req->parser.settings = &req->settings;
	req->body_out = out;
	req->body_len = 0;
	req->body_cap = cap;
	if (llhttp_get_errno(&req->parser) == HPE_PAUSED)
		llhttp_resume(&req->parser);
	err = llhttp_execute(&req->parser, buf, feed);
	if (req->error_status == 0 && err == HPE_PAUSED && req->body_done)
		used = llhttp_get_error_pos(&req->parser) - buf;
	else if (req->error_status == 0 && err == HPE_OK)
		used = (ssize_t)feed;
	else {
		hs_fail(req, 400, llhttp_get_error_reason(&req->parser));
		return hs_failed(req, status, why);
	}
	*outlen = req->body_len;
	req->body_out = NULL;
	return used;
}

/*
 * Only max_head - head_len bytes go to llhttp: a head that has not ended
 * by then is too large, whatever the rest of the chunk holds.
 */
ssize_t
hs_parse(struct hs_request *req, const char *buf, size_t len, int *status,
    const char **why)
{
	size_t	 feed;
	ssize_t	 n;

	if (req->error_status == 0 && req->complete)
		hs_fail(req, 500, "request head already parsed");
	if (req->error_status != 0)
		return hs_failed(req, status, why);
	feed = req->max_head - req->head_len;
	if (feed > len)
		feed = len;
	if ((n = hs_execute(req, buf, feed)) == 0 && feed < len)
		n = hs_fail(req, 431, "request head too large");
	if (n < 0)
		return hs_failed(req, status, why);
	req->head_len += n > 0 ? (size_t)n : feed;
	return n;
}

const char *
hs_header(const struct hs_request *req, const char *name)
{
	size_t	 i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

bool
hs_wants_websocket(const struct hs_request *req)
{
	return hs_header_has_token(req, "Upgrade", "websocket") ||
	    hs_header(req, "Sec-WebSocket-Key") != NULL ||
	    hs_header(req, "Sec-WebSocket-Version") != NULL;
}

size_t
hs_header_count(const struct hs_request *req, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			n++;
	return n;
}

/*
 * The next element of a comma-separated list, without its surrounding
 * whitespace; empty elements ("a,,b") are skipped as RFC 9110 5.6.1 asks.
 */
static const char *
hs_next_token(const char **list, size_t *len)
{
	const char	*s, *e;

	s = *list + strspn(*list, " \t,");
	if (*s == '\0')
		return NULL;
	e = s + strcspn(s, ",");
	*list = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*len = e - s;
	return s;
}

bool
hs_header_has_token(const struct hs_request *req, const char *name,
    const char *token)
{
	const char	*list, *t;
	size_t		 i, n, toklen = strlen(token);

	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) != 0)
			continue;
		list = req->headers[i].value;
		while ((t = hs_next_token(&list, &n)) != NULL)
			if (n == toklen && strncasecmp(t, token, n) == 0)
				return true;
	}
	return false;
}

/*
 * EVP_DecodeBlock ignores padding when it counts, so check the shape
 * first: 22 base64 characters and "==" are exactly 16 bytes.
 */
static bool
hs_key_valid(const char *key)
{
	unsigned char	 raw[18];

	if (key == NULL || strlen(key) != HS_KEY_LEN)
		return false;
	if (strspn(key, HS_B64_CHARS) != HS_KEY_LEN - 2 ||
	    strcmp(key + HS_KEY_LEN - 2, "==") != 0)
		return false;
	return EVP_DecodeBlock(raw, (const unsigned char *)key,
	    HS_KEY_LEN) == sizeof(raw);
}

static enum hs_kind
hs_bad(int *status, const char **why, int code, const char *reason)
{
	*status = code;
	*why = reason;
	return HS_BAD;
}

enum hs_kind
hs_classify(const struct hs_request *req, int *status, const char **why)
{
	const char	*version;

	*status = 0;
	*why = NULL;
	/* An HTTP/2 request line is not HTTP/1.1 with a higher number. */
	if (req->http_major > 1)
		return hs_bad(status, why, 505, "HTTP version not supported");
	if (!hs_wants_websocket(req))
		return HS_PLAIN;
	if (req->method != HTTP_GET)
		return hs_bad(status, why, 405, "upgrade requires GET");
	if (req->http_major < 1 || (req->http_major == 1 &&
	    req->http_minor < 1))
		return hs_bad(status, why, 400, "upgrade requires HTTP/1.1");
	if (hs_header(req, "Host") == NULL)
		return hs_bad(status, why, 400, "missing Host");
	if (!hs_header_has_token(req, "Upgrade", "websocket"))
		return hs_bad(status, why, 400, "Upgrade lacks websocket");
	if (!hs_header_has_token(req, "Connection", "upgrade"))
		return hs_bad(status, why, 400, "Connection lacks upgrade");
	/* RFC 6455 11.3.1, 11.3.5: each at most once. */
	if (hs_header_count(req, "Sec-WebSocket-Key") > 1 ||
	    hs_header_count(req, "Sec-WebSocket-Version") > 1)
		return hs_bad(status, why, 400,
		    "repeated Sec-WebSocket-Key or -Version");
	if (!hs_key_valid(hs_header(req, "Sec-WebSocket-Key")))
		return hs_bad(status, why, 400,
		    "missing or invalid Sec-WebSocket-Key");
	version = hs_header(req, "Sec-WebSocket-Version");
	if (version == NULL || strcmp(version, "13") != 0)
		return hs_bad(status, why, 426,
		    "unsupported Sec-WebSocket-Version");
	*status = 101;
	return HS_UPGRADE;
}

/* Two updates rather than a concatenation: the key's length is the client's. */
void
hs_accept_key(const char *key, char out[HS_ACCEPT_KEY_SIZE])
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 ok;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
	    EVP_DigestUpdate(ctx, key, strlen(key)) &&
	    EVP_DigestUpdate(ctx, HS_WS_GUID, strlen(HS_WS_GUID)) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (ok && mdlen == HS_SHA1_LEN)
		EVP_EncodeBlock((unsigned char *)out, md, mdlen);
}

const char *
hs_select_protocol(const struct hs_request *req, char *const *accepted,
    size_t n)
{
	const char	*list, *t;
	size_t		 i, j, len;

	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name,
		    "Sec-WebSocket-Protocol") != 0)
			continue;
		list = req->headers[i].value;
		while ((t = hs_next_token(&list, &len)) != NULL)
			for (j = 0; j < n; j++)
				if (strlen(accepted[j]) == len &&
				    strncmp(accepted[j], t, len) == 0)
					return accepted[j];
	}
	return NULL;
}

int
hs_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode the path up to '?', '#' or the end. A NUL would cut the path
 * short of what the client asked for, so %00 fails like a bad escape.
 */
static const char *
hs_decode_path(const char *p, char *out, size_t sz)
{
	size_t	 n = 0;
	int	 hi, lo, c;

	while (*p != '\0' && *p != '?' && *p != '#') {
		c = (unsigned char)*p++;
		if (c == '%') {
			if ((hi = hs_hex(p[0])) < 0 || (lo = hs_hex(p[1])) < 0)
				return NULL;
			if ((c = hi << 4 | lo) == 0)
				return NULL;
			p += 2;
		}
		if (n + 1 >= sz)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p;
}

/* Absolute form (RFC 9112 3.2.2): skip scheme and authority. */
static const char *
hs_url_origin_form(const char *url)
{
	const char	*p;

	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return url;
	return p + strcspn(p, "/?#");
}

static int
hs_copy_query(const char *p, char *query, size_t querysz)
{
	size_t	 n = 0;

	if (*p == '?')
		n = strcspn(++p, "#");
	if (query == NULL)
		return 0;
	if (n >= querysz)
		return -1;
	memcpy(query, p, n);
	query[n] = '\0';
	return 0;
}

int
hs_split_url(const char *url, char *path, size_t pathsz, char *query,
    size_t querysz)
{
	const char	*p;

	p = hs_url_origin_form(url);
	if (*p == '/') {
		if ((p = hs_decode_path(p, path, pathsz)) == NULL)
			return -1;
	} else if (p != url && pathsz >= 2) {
		/* "http://host?q" asks for the root. */
		memcpy(path, "/", 2);
	} else
		return -1;
	return hs_copy_query(p, query, querysz);
}

/* Kept for its callers; the table lives with the response builder. */
const char *
hs_status_text(int status)
{
	return http_response_status_text(status);
}

char *
hs_response_101(const char *accept, const char *protocol,
    const char *extensions, char *const *extra_headers, size_t nextra,
    size_t *len)
{
	struct http_response	 r;

	if (http_response_begin(&r, 101, NULL, HTTP_RESPONSE_NO_DATE) == -1)
		return NULL;
	http_response_header(&r, "Upgrade", "websocket");
	http_response_header(&r, "Connection", "Upgrade");
	http_response_header(&r, "Sec-WebSocket-Accept", "%s", accept);
	if (protocol != NULL && *protocol != '\0')
		http_response_header(&r, "Sec-WebSocket-Protocol", "%s",
		    protocol);
	if (extensions != NULL && *extensions != '\0')
		http_response_header(&r, "Sec-WebSocket-Extensions", "%s",
		    extensions);
	http_response_lines(&r, extra_headers, nextra);
	return http_response_end(&r, NULL, 0, len);
}

char *
hs_response_error(int status, const char *body, bool head, int retry_after,
    char *const *extra_headers, size_t nextra, size_t *len)
{
	struct http_answer	 a = {
		.status = status,
		.body = body,
		.body_len = body != NULL ? strlen(body) : 0,
		.head = head,
		.retry_after = retry_after,
		.extra = extra_headers,
		.nextra = nextra,
	};

	return http_response_answer(&a, time(NULL), len);
}

bool
hs_query_param(const char *query, const char *name, const char **val,
    size_t *len)
{
	const char	*p = query, *end;
	size_t		 n, k = strlen(name);

	for (; p != NULL && *p != '\0'; p = end != NULL ? end + 1 : NULL) {
		end = strchr(p, '&');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > k && strncmp(p, name, k) == 0 && p[k] == '=') {
			*val = p + k + 1;
			*len = n - k - 1;
			return true;
		}
	}
	return false;
}
