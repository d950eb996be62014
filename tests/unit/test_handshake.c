/*
 * Unit tests for handshake.c: request heads fed whole, in pieces and one
 * byte at a time, every status of the upgrade checks, tokens,
 * subprotocols, targets and response heads.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "test.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const char upgrade_req[] =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: " KEY "\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

/* Parse a whole head in one call; the status of a failure, else 0. */
static int
parse_status(struct hs_request *req, const char *head)
{
	int		 status = 0;
	const char	*why = NULL;
	ssize_t		 n;

	n = hs_parse(req, head, strlen(head), &status, &why);
	if (n < 0) {
		CHECK(why != NULL);
		return status;
	}
	CHECK_EQ(n, strlen(head));
	return 0;
}

/* The status hs_classify gives a head that parses, or -1 if it fails. */
static int
classify_status(const char *head, enum hs_kind want)
{
	struct hs_request	 req;
	int			 status = -1;
	const char		*why;

	CHECK_EQ(hs_init(&req, 0), 0);
	if (parse_status(&req, head) == 0) {
		CHECK(req.complete);
		CHECK_EQ(hs_classify(&req, &status, &why), want);
	}
	hs_free(&req);
	return status;
}

static void
check_upgrade_result(struct hs_request *req)
{
	int		 status;
	const char	*why;
	char		 accept[HS_ACCEPT_KEY_SIZE];

	CHECK(req->complete);
	CHECK_EQ(req->head_len, strlen(upgrade_req));
	CHECK_EQ(hs_classify(req, &status, &why), HS_UPGRADE);
	CHECK_EQ(status, 101);
	CHECK_EQ(req->method, HTTP_GET);
	CHECK_EQ(req->http_major, 1);
	CHECK_EQ(req->http_minor, 1);
	CHECK_STR(req->url, "/chat?room=1");
	CHECK_EQ(req->nheaders, 7);
	CHECK_STR(hs_header(req, "host"), "server.example.com");
	CHECK_STR(hs_header(req, "SEC-WEBSOCKET-KEY"), KEY);
	CHECK(hs_header(req, "Cookie") == NULL);
	hs_accept_key(hs_header(req, "Sec-WebSocket-Key"), accept);
	CHECK_STR(accept, ACCEPT);
}

static void
test_accept_key(void)
{
	char	 accept[HS_ACCEPT_KEY_SIZE];

	hs_accept_key(KEY, accept);
	CHECK_STR(accept, ACCEPT);
	/* the buffer is the RFC's 28 characters and a NUL, no more */
	CHECK_EQ(HS_ACCEPT_KEY_SIZE, 29);
	CHECK_EQ(strlen(accept), HS_ACCEPT_KEY_SIZE - 1);
}

static void
test_parse_whole(void)
{
	struct hs_request	 req;

	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(parse_status(&req, upgrade_req), 0);
	check_upgrade_result(&req);
	hs_free(&req);
}

static void
test_parse_bytewise(void)
{
	struct hs_request	 req;
	size_t			 i, len = strlen(upgrade_req);
	ssize_t			 n = 0;
	int			 status;
	const char		*why;

	CHECK_EQ(hs_init(&req, 0), 0);
	for (i = 0; i < len && n == 0; i++)
		n = hs_parse(&req, upgrade_req + i, 1, &status, &why);
	CHECK_EQ(n, 1);
	CHECK_EQ(i, len);
	check_upgrade_result(&req);
	hs_free(&req);
}

/* Every split point of two chunks, frame bytes after the head. */
static void
test_parse_split(void)
{
	struct hs_request	 req;
	char			 buf[sizeof(upgrade_req) + 8];
	size_t			 cut, len = strlen(upgrade_req);
	ssize_t			 a, b;
	int			 status;
	const char		*why;

	memcpy(buf, upgrade_req, len);
	memcpy(buf + len, "\x81\x85\x37\xfa\x21\x3d\x7f", 7);
	for (cut = 1; cut < len; cut++) {
		CHECK_EQ(hs_init(&req, 0), 0);
		a = hs_parse(&req, buf, cut, &status, &why);
		b = hs_parse(&req, buf + cut, len + 7 - cut, &status, &why);
		CHECK_EQ(a, 0);
		CHECK_EQ(b, len - cut);
		check_upgrade_result(&req);
		hs_free(&req);
	}
}

static void
test_parse_trailing_frames(void)
{
	struct hs_request	 req;
	char			 buf[sizeof(upgrade_req) + 16];
	size_t			 len = strlen(upgrade_req);
	int			 status;
	const char		*why;

	memcpy(buf, upgrade_req, len);
	memcpy(buf + len, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(hs_parse(&req, buf, len + 11, &status, &why), len);
	check_upgrade_result(&req);
	hs_free(&req);
}

/* A plain GET stops at its head too: the next request stays unread. */
static void
test_parse_pipelined(void)
{
	static const char	 two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				    "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct hs_request	 req;
	size_t			 half = (sizeof(two) - 1) / 2;
	int			 status;
	const char		*why;

	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(hs_parse(&req, two, sizeof(two) - 1, &status, &why), half);
	CHECK_STR(req.url, "/a");
	CHECK(req.keep_alive);
	CHECK_EQ(hs_classify(&req, &status, &why), HS_PLAIN);
	CHECK_EQ(hs_parse(&req, two + half, half, &status, &why), -1);
	CHECK_EQ(status, 500);
	hs_reset(&req);
	CHECK_EQ(hs_parse(&req, two + half, half, &status, &why), half);
	CHECK_STR(req.url, "/b");
	CHECK_STR(hs_header(&req, "Host"), "x");
	hs_free(&req);
}

static void
test_plain_get(void)
{
	CHECK_EQ(classify_status("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    HS_PLAIN), 0);
	CHECK_EQ(classify_status("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n", HS_PLAIN), 0);
	CHECK_EQ(classify_status("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n", HS_PLAIN), 0);
}

#define HEAD_START	"GET /ws HTTP/1.1\r\n"
#define H_HOST		"Host: a\r\n"
#define H_UPGRADE	"Upgrade: websocket\r\n"
#define H_CONN		"Connection: Upgrade\r\n"
#define H_KEY		"Sec-WebSocket-Key: " KEY "\r\n"
#define H_VER		"Sec-WebSocket-Version: 13\r\n"

static void
test_classify_ok(void)
{
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_KEY
	    H_VER "\r\n", HS_UPGRADE), 101);
	CHECK_EQ(classify_status(HEAD_START H_HOST
	    "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    H_KEY H_VER "\r\n", HS_UPGRADE), 101);
	/* Tokens in repeated headers, odd spacing and empty elements. */
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE
	    "Connection: keep-alive\r\nConnection: ,  upgrade ,\r\n"
	    "Sec-WebSocket-Key:   " KEY "  \r\n" H_VER "\r\n",
	    HS_UPGRADE), 101);
}

static void
test_classify_bad(void)
{
	/* WebSocket headers without "Upgrade: websocket": a bad upgrade. */
	CHECK_EQ(classify_status(HEAD_START H_HOST H_CONN H_KEY H_VER "\r\n",
	    HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST "Upgrade: h2c\r\n" H_CONN
	    H_KEY H_VER "\r\n", HS_BAD), 400);
	/* An h2c upgrade alone is not ours to judge: a plain request. */
	CHECK_EQ(classify_status(HEAD_START H_HOST "Upgrade: h2c\r\n" H_CONN
	    "\r\n", HS_PLAIN), 0);
	/* Key or version repeated (RFC 6455 11.3.1, 11.3.5). */
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_KEY H_KEY
	    H_VER "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_KEY H_VER
	    H_VER "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status("POST /ws HTTP/1.1\r\n" H_HOST H_UPGRADE
	    H_CONN H_KEY H_VER "\r\n", HS_BAD), 405);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_VER
	    "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" H_VER "\r\n",
	    HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE=\r\n" H_VER "\r\n",
	    HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" H_VER "\r\n",
	    HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE
	    "Connection: keep-alive\r\n" H_KEY H_VER "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE
	    "Connection: upgrades\r\n" H_KEY H_VER "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status(HEAD_START H_UPGRADE H_CONN H_KEY H_VER
	    "\r\n", HS_BAD), 400);
	CHECK_EQ(classify_status("GET /ws HTTP/1.0\r\n" H_HOST H_UPGRADE
	    H_CONN H_KEY H_VER "\r\n", HS_BAD), 400);
	/* Issue 13: an HTTP/2.0 request line is no upgrade, nor a GET. */
	CHECK_EQ(classify_status("GET /ws HTTP/2.0\r\n" H_HOST H_UPGRADE
	    H_CONN H_KEY H_VER "\r\n", HS_BAD), 505);
	CHECK_EQ(classify_status("GET /ws HTTP/2.0\r\n" H_HOST "\r\n",
	    HS_BAD), 505);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_KEY
	    "Sec-WebSocket-Version: 8\r\n\r\n", HS_BAD), 426);
	CHECK_EQ(classify_status(HEAD_START H_HOST H_UPGRADE H_CONN H_KEY
	    "\r\n", HS_BAD), 426);
}

static void
test_parse_errors(void)
{
	struct hs_request	 req;
	int			 status;
	const char		*why;

	CHECK_EQ(classify_status("HELLO WORLD\r\n\r\n", HS_BAD), -1);
	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(parse_status(&req, "GET /\x01 HTTP/1.1\r\n\r\n"), 400);
	/* A failure sticks. */
	CHECK_EQ(hs_parse(&req, "GET", 3, &status, &why), -1);
	CHECK_EQ(status, 400);
	hs_reset(&req);
	/* Whitespace before the colon (llhttp 8.1 lets it through). */
	CHECK_EQ(parse_status(&req, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
	    400);
	hs_reset(&req);
	CHECK_EQ(parse_status(&req, "GET / HTTP/1.1\r\nHost\r\n\r\n"), 400);
	hs_free(&req);
}

/* Feed body bytes in pieces of step; the decoded body in out. */
static ssize_t
body_all(struct hs_request *req, const char *in, size_t step, char *out,
    size_t *outlen, int *status)
{
	const char	*why;
	size_t		 off = 0, got, total = 0;
	ssize_t		 n;
	char		 piece[8];

	while (off < strlen(in) && !req->body_done) {
		n = hs_body(req, in + off, strlen(in) - off < step ?
		    strlen(in) - off : step, piece, sizeof(piece), &got, status,
		    &why);
		if (n < 0)
			return -1;
		CHECK(got <= sizeof(piece));
		memcpy(out + total, piece, got);
		total += got;
		off += (size_t)n;
	}
	*outlen = total;
	return (ssize_t)off;
}

/* Request bodies: has_body, then decoded by hs_body in any pieces. */
static void
test_body(void)
{
	static const char	*cl = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 11\r\n\r\n";
	static const char	*ch = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	struct hs_request	 req;
	char			 out[64];
	size_t			 len, step;
	int			 status;

	CHECK_EQ(hs_init(&req, 0), 0);
	for (step = 1; step <= 40; step++) {
		hs_reset(&req);
		CHECK_EQ(parse_status(&req, cl), 0);
		CHECK(req.has_body);
		CHECK_EQ(req.content_length, 11);
		/* The next request's bytes are not taken. */
		CHECK_EQ(body_all(&req, "hello worldGET", step, out, &len,
		    &status), 11);
		CHECK(req.body_done);
		CHECK_EQ(len, 11);
		CHECK(memcmp(out, "hello world", 11) == 0);
		hs_reset(&req);
		CHECK_EQ(parse_status(&req, ch), 0);
		CHECK(req.has_body);
		CHECK_EQ(req.content_length, -1);
		CHECK_EQ(body_all(&req, "5\r\nhello\r\n6;x=y\r\n world\r\n"
		    "0\r\n\r\nGET", step, out, &len, &status), 30);
		CHECK(req.body_done);
		CHECK_EQ(len, 11);
		CHECK(memcmp(out, "hello world", 11) == 0);
		hs_reset(&req);
		CHECK_EQ(parse_status(&req, ch), 0);
		CHECK_EQ(body_all(&req, "5\r\nhelloXX\r\n", step, out, &len,
		    &status), -1);
		CHECK_EQ(status, 400);
	}
	hs_reset(&req);
	CHECK_EQ(parse_status(&req, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	CHECK(!req.has_body);
	hs_free(&req);
}

static void
test_too_large(void)
{
	struct hs_request	 req;
	char			*big;
	size_t			 i, len;
	ssize_t			 n = 0;
	int			 status = 0;
	const char		*why;

	CHECK((big = malloc(20000)) != NULL);
	if (big == NULL)
		return;
	len = (size_t)snprintf(big, 20000,
	    "GET / HTTP/1.1\r\nX-Big: %*s\r\n\r\n", 17000, "x");
	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(parse_status(&req, big), 431);
	hs_reset(&req);
	for (i = 0; i < len && n == 0; i++)
		n = hs_parse(&req, big + i, 1, &status, &why);
	CHECK_EQ(n, -1);
	CHECK_EQ(status, 431);
	CHECK_EQ(i, HS_DEFAULT_MAX_HEADER + 1);
	hs_free(&req);
	free(big);
}

/* A head of exactly max_head bytes fits; one more byte does not. */
static void
test_limit_exact(void)
{
	static const char	 head[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct hs_request	 req;

	CHECK_EQ(hs_init(&req, sizeof(head) - 1), 0);
	CHECK_EQ(parse_status(&req, head), 0);
	hs_free(&req);
	CHECK_EQ(hs_init(&req, sizeof(head) - 2), 0);
	CHECK_EQ(parse_status(&req, head), 431);
	hs_free(&req);
}

/* A head of n small headers, in buf. */
static void
make_headers(char *buf, size_t sz, int n)
{
	size_t	 len;
	int	 h;

	len = (size_t)snprintf(buf, sz, "GET / HTTP/1.1\r\n");
	for (h = 0; h < n; h++)
		len += (size_t)snprintf(buf + len, sz - len, "X-%d: %d\r\n",
		    h, h);
	snprintf(buf + len, sz - len, "\r\n");
}

static void
test_too_many_headers(void)
{
	struct hs_request	 req;
	char			 buf[4096];

	CHECK_EQ(hs_init(&req, 0), 0);
	make_headers(buf, sizeof(buf), HS_MAX_HEADERS);
	CHECK_EQ(parse_status(&req, buf), 0);
	CHECK_EQ(req.nheaders, HS_MAX_HEADERS);
	CHECK_STR(hs_header(&req, "X-99"), "99");
	hs_reset(&req);
	make_headers(buf, sizeof(buf), HS_MAX_HEADERS + 1);
	CHECK_EQ(parse_status(&req, buf), 431);
	hs_free(&req);
}

static void
test_tokens(void)
{
	struct hs_request	 req;

	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(parse_status(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: keep-alive, Upgrade\r\nX-Empty:\r\n"
	    "X-List: a,\tb , c\r\n\r\n"), 0);
	CHECK(hs_header_has_token(&req, "connection", "upgrade"));
	CHECK(hs_header_has_token(&req, "Connection", "KEEP-ALIVE"));
	CHECK(!hs_header_has_token(&req, "Connection", "keep"));
	CHECK(!hs_header_has_token(&req, "Upgrade", "websocket"));
	CHECK(hs_header_has_token(&req, "X-List", "b"));
	CHECK(hs_header_has_token(&req, "X-List", "c"));
	CHECK(!hs_header_has_token(&req, "X-List", "a,"));
	CHECK_STR(hs_header(&req, "X-Empty"), "");
	CHECK(!hs_header_has_token(&req, "X-Empty", ""));
	hs_free(&req);
}

static void
test_select_protocol(void)
{
	struct hs_request	 req;
	char			*acc1[] = { "superchat", "chat" };
	char			*acc2[] = { "Chat", "other" };
	char			*acc3[] = { "v2" };

	CHECK_EQ(hs_init(&req, 0), 0);
	CHECK_EQ(parse_status(&req, "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Sec-WebSocket-Protocol: chat , superchat\r\n"
	    "Sec-WebSocket-Protocol: v2\r\n\r\n"), 0);
	CHECK_STR(hs_select_protocol(&req, acc1, 2), "chat");
	CHECK_STR(hs_select_protocol(&req, acc1, 1), "superchat");
	CHECK(hs_select_protocol(&req, acc2, 2) == NULL);
	CHECK_STR(hs_select_protocol(&req, acc3, 1), "v2");
	CHECK(hs_select_protocol(&req, acc1, 0) == NULL);
	hs_free(&req);
}

static void
test_split_url(void)
{
	char	 path[64], query[64], small[4];

	CHECK_EQ(hs_split_url("/chat?room=1&x=%41#frag", path, sizeof(path),
	    query, sizeof(query)), 0);
	CHECK_STR(path, "/chat");
	CHECK_STR(query, "room=1&x=%41");
	CHECK_EQ(hs_split_url("/a%20b/%2e%2e/%2E%2e/c", path, sizeof(path),
	    query, sizeof(query)), 0);
	CHECK_STR(path, "/a b/../../c");
	CHECK_STR(query, "");
	CHECK_EQ(hs_split_url("/x#y?z", path, sizeof(path), query,
	    sizeof(query)), 0);
	CHECK_STR(path, "/x");
	CHECK_STR(query, "");
	CHECK_EQ(hs_split_url("http://h.example:8080/p/q?r", path,
	    sizeof(path), query, sizeof(query)), 0);
	CHECK_STR(path, "/p/q");
	CHECK_STR(query, "r");
	CHECK_EQ(hs_split_url("HTTPS://h?r", path, sizeof(path), query,
	    sizeof(query)), 0);
	CHECK_STR(path, "/");
	CHECK_STR(query, "r");
	CHECK_EQ(hs_split_url("/a%00b", path, sizeof(path), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("/a%4", path, sizeof(path), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("/a%zz", path, sizeof(path), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("*", path, sizeof(path), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("chat", path, sizeof(path), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("/ab", small, sizeof(small), query,
	    sizeof(query)), 0);
	CHECK_EQ(hs_split_url("/abc", small, sizeof(small), query,
	    sizeof(query)), -1);
	CHECK_EQ(hs_split_url("/?abcd", path, sizeof(path), small,
	    sizeof(small)), -1);
}

static void
test_status_text(void)
{
	static const int codes[] = { 101, 200, 304, 400, 401, 403, 404,
	    405, 413, 426, 429, 431, 500, 502, 503, 504 };
	size_t	 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECK(strcmp(hs_status_text(codes[i]), "Unknown") != 0);
	CHECK_STR(hs_status_text(404), "Not Found");
	CHECK_STR(hs_status_text(426), "Upgrade Required");
	CHECK_STR(hs_status_text(431), "Request Header Fields Too Large");
	CHECK_STR(hs_status_text(999), "Unknown");
}

static void
test_response_101(void)
{
	char	*extra[] = { "X-A: 1", "X-B: two" };
	char	*r;
	size_t	 len;

	r = hs_response_101(ACCEPT, "chat", "permessage-deflate", extra, 2,
	    &len);
	CHECK(r != NULL);
	CHECK_EQ(len, strlen(r));
	CHECK_STR(r, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: chat\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "X-A: 1\r\nX-B: two\r\n\r\n");
	free(r);
	r = hs_response_101(ACCEPT, NULL, NULL, NULL, 0, &len);
	CHECK(r != NULL);
	CHECK(strstr(r, "Sec-WebSocket-Protocol") == NULL);
	CHECK(strstr(r, "Sec-WebSocket-Extensions") == NULL);
	CHECK_EQ(len, strlen(r));
	CHECK(len > 4 && strcmp(r + len - 4, "\r\n\r\n") == 0);
	free(r);
}

/*
 * Remove the Date line that must follow the status line of a 4xx (RFC
 * 9110 6.6.1), so that the rest compares byte for byte; 0 if it is not
 * there, or not an IMF-fixdate.
 */
static int
strip_date(char *r, size_t *len)
{
	static const char	 pre[] = "\r\nDate: ";
	char			*p = strstr(r, "\r\n"), *d;
	size_t			 n = sizeof(pre) - 1 + 29;

	if (p == NULL || strncmp(p, pre, sizeof(pre) - 1) != 0)
		return 0;
	d = p + sizeof(pre) - 1;
	if (strlen(d) < 31 || d[3] != ',' || strncmp(d + 25, " GMT\r\n", 6))
		return 0;
	memmove(p, p + n, strlen(p + n) + 1);
	*len -= n;
	return 1;
}

static void
test_response_error(void)
{
	char	*extra[] = { "X-A: 1" };
	char	*r;
	size_t	 len;

	r = hs_response_error(426, NULL, false, 0, extra, 1, &len);
	CHECK(r != NULL);
	CHECK(strip_date(r, &len));
	CHECK_EQ(len, strlen(r));
	CHECK_STR(r, "HTTP/1.1 426 Upgrade Required\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 21\r\n"
	    "Connection: Upgrade, close\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "X-A: 1\r\n"
	    "\r\n"
	    "426 Upgrade Required\n");
	free(r);
	/* A 405 says what is allowed, unless the caller already did. */
	r = hs_response_error(405, NULL, false, 0, NULL, 0, &len);
	CHECK(r != NULL && strstr(r, "\r\nAllow: GET\r\n") != NULL);
	free(r);
	extra[0] = "Allow: GET, HEAD";
	r = hs_response_error(405, NULL, false, 0, extra, 1, &len);
	CHECK(r != NULL && strstr(r, "Allow: GET\r\n") == NULL &&
	    strstr(r, "Allow: GET, HEAD\r\n") != NULL);
	free(r);
	r = hs_response_error(503, "busy\n", false, 5, NULL, 0, &len);
	CHECK(r != NULL);
	CHECK(strstr(r, "HTTP/1.1 503 Service Unavailable\r\n") == r);
	CHECK(strstr(r, "\r\nRetry-After: 5\r\n") != NULL);
	CHECK(strstr(r, "\r\nContent-Length: 5\r\n") != NULL);
	CHECK(strstr(r, "Sec-WebSocket-Version") == NULL);
	CHECK(len > 9 && strcmp(r + len - 9, "\r\n\r\nbusy\n") == 0);
	free(r);
	r = hs_response_error(404, NULL, false, 0, NULL, 0, &len);
	CHECK(r != NULL);
	CHECK(strstr(r, "Retry-After") == NULL);
	CHECK(strstr(r, "\r\n\r\n404 Not Found\n") != NULL);
	free(r);
}

/* hs_query_param: the raw value of one parameter, no prefix matches. */
static void
test_query_param(void)
{
	const char	*v;
	size_t		 n;

	CHECK(hs_query_param("a=1&session=k3&b", "session", &v, &n));
	CHECK_EQ(n, 2);
	CHECK(strncmp(v, "k3", 2) == 0);
	CHECK(hs_query_param("session=", "session", &v, &n));
	CHECK_EQ(n, 0);
	CHECK(!hs_query_param("sessions=x&xsession=y", "session", &v, &n));
	CHECK(!hs_query_param("session", "session", &v, &n));
	CHECK(!hs_query_param(NULL, "session", &v, &n));
}

int
main(void)
{
	test_accept_key();
	test_parse_whole();
	test_parse_bytewise();
	test_parse_split();
	test_parse_trailing_frames();
	test_parse_pipelined();
	test_plain_get();
	test_classify_ok();
	test_classify_bad();
	test_parse_errors();
	test_body();
	test_too_large();
	test_limit_exact();
	test_too_many_headers();
	test_tokens();
	test_select_protocol();
	test_split_url();
	test_status_text();
	test_response_101();
	test_response_error();
	test_query_param();
	TEST_REPORT();
}
