/*
 * The response builder: exact bytes for a fixed clock, Date only where
 * RFC 9110 6.6.1 wants it, the 405 and 426 rules, HEAD, caller order,
 * and heads refused (NULL) when a value would break a line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_response.h"
#include "test.h"

/* Sun, 06 Nov 1994 08:49:37 GMT: the RFC 9110 example date. */
#define T_1994		((time_t)784111777)
#define D_1994		"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

static void
test_status_text(void)
{
	static const int	 codes[] = { 101, 200, 301, 304, 400, 401,
				    403, 404, 405, 413, 414, 426, 429, 431,
				    500, 502, 503, 504, 505 };
	size_t			 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECK(strcmp(http_response_status_text(codes[i]),
		    "Unknown") != 0);
	CHECK_STR(http_response_status_text(301), "Moved Permanently");
	CHECK_STR(http_response_status_text(431),
	    "Request Header Fields Too Large");
	CHECK_STR(http_response_status_text(299), "Unknown");
}

static void
test_date(void)
{
	char	 d[HTTP_RESPONSE_DATE_SIZE];

	http_response_date(T_1994, d, sizeof(d));
	CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_response_date(0, d, sizeof(d));
	CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	/* 2000-02-29 12:00:00, a leap day. */
	http_response_date((time_t)951825600, d, sizeof(d));
	CHECK_STR(d, "Tue, 29 Feb 2000 12:00:00 GMT");
}

/* Date on 2xx, 3xx and 4xx; never on 1xx or 5xx, nor when told not to. */
static void
test_date_rule(void)
{
	static const struct {
		int	 status;
		bool	 date;
	} cases[] = {
		{ 101, false }, { 199, false }, { 200, true }, { 304, true },
		{ 404, true }, { 499, true }, { 500, false }, { 503, false },
	};
	struct http_response	 r;
	char			*out;
	size_t			 i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(http_response_begin(&r, cases[i].status, NULL,
		    T_1994), 0);
		out = http_response_end(&r, NULL, 0, &len);
		CHECK(out != NULL);
		if (out == NULL)
			continue;
		CHECK_EQ(strstr(out, D_1994) != NULL, cases[i].date);
		free(out);
	}
	CHECK_EQ(http_response_begin(&r, 200, NULL, HTTP_RESPONSE_NO_DATE),
	    0);
	out = http_response_end(&r, NULL, 0, &len);
	CHECK_STR(out, "HTTP/1.1 200 OK\r\n\r\n");
	free(out);
}

/* Headers in the caller's order, then extra lines, blank line, body. */
static void
test_builder(void)
{
	char			*extra[] = { "X-A: 1", "X-B: two" };
	struct http_response	 r;
	char			*out;
	size_t			 len;

	CHECK_EQ(http_response_begin(&r, 302, "Found Elsewhere", T_1994), 0);
	http_response_header(&r, "Location", "/x%s", "/y");
	http_response_header(&r, "Content-Length", "%zu", (size_t)3);
	http_response_lines(&r, extra, 2);
	out = http_response_end(&r, "a\0b", 3, &len);
	CHECK(out != NULL);
	CHECK_EQ(len, strlen("HTTP/1.1 302 Found Elsewhere\r\n" D_1994
	    "Location: /x/y\r\nContent-Length: 3\r\n"
	    "X-A: 1\r\nX-B: two\r\n\r\n") + 3);
	CHECK(out != NULL && memcmp(out, "HTTP/1.1 302 Found Elsewhere\r\n"
	    D_1994 "Location: /x/y\r\nContent-Length: 3\r\n"
	    "X-A: 1\r\nX-B: two\r\n\r\na\0b", len) == 0);
	free(out);
	CHECK(http_response_lines_have(extra, 2, "x-b"));
	CHECK(!http_response_lines_have(extra, 2, "X"));
	CHECK(!http_response_lines_have(NULL, 0, "Allow"));
}

/* A CR or LF anywhere in a line: no head at all, never a split one. */
static void
test_injection(void)
{
	char			*bad[] = { "X-A: 1\r\nSet-Cookie: x=1" };
	struct http_response	 r;
	size_t			 len;

	CHECK_EQ(http_response_begin(&r, 200, NULL, T_1994), 0);
	http_response_header(&r, "Location", "/a\r\nSet-Cookie: x=1");
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
	CHECK_EQ(http_response_begin(&r, 200, NULL, T_1994), 0);
	http_response_header(&r, "X-New\nLine", "v");
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
	CHECK_EQ(http_response_begin(&r, 200, NULL, T_1994), 0);
	http_response_lines(&r, bad, 1);
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
	CHECK_EQ(http_response_begin(&r, 200, "OK\r\nX: y", T_1994), 0);
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
	CHECK_EQ(http_response_begin(&r, 2000, NULL, T_1994), 0);
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
	/* The caller may abandon a head it could not finish. */
	CHECK_EQ(http_response_begin(&r, 200, NULL, T_1994), 0);
	r.bad = true;
	CHECK(http_response_end(&r, NULL, 0, &len) == NULL);
}

static void
test_answer(void)
{
	char			*extra[] = { "X-A: 1" };
	struct http_answer	 a = { .status = 426, .extra = extra,
				    .nextra = 1 };
	char			*out;
	size_t			 len;

	out = http_response_answer(&a, T_1994, &len);
	CHECK_STR(out, "HTTP/1.1 426 Upgrade Required\r\n" D_1994
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 21\r\n"
	    "Connection: Upgrade, close\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "X-A: 1\r\n"
	    "\r\n"
	    "426 Upgrade Required\n");
	CHECK_EQ(len, out != NULL ? strlen(out) : 0);
	free(out);
	/* A 405 says what is allowed, unless the caller did. */
	a = (struct http_answer){ .status = 405 };
	out = http_response_answer(&a, T_1994, &len);
	CHECK(out != NULL && strstr(out, "\r\nAllow: GET\r\n") != NULL);
	free(out);
	extra[0] = "allow: GET, HEAD";
	a.extra = extra;
	a.nextra = 1;
	out = http_response_answer(&a, T_1994, &len);
	CHECK(out != NULL && strstr(out, "Allow: GET\r\n") == NULL &&
	    strstr(out, "\r\nallow: GET, HEAD\r\n") != NULL);
	free(out);
	/* A 503 with Retry-After, a given body, no Date (RFC 9110: may). */
	a = (struct http_answer){ .status = 503, .body = "busy\n",
	    .body_len = 5, .retry_after = 5 };
	out = http_response_answer(&a, T_1994, &len);
	CHECK_STR(out, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 5\r\n"
	    "Connection: close\r\n"
	    "Retry-After: 5\r\n"
	    "\r\n"
	    "busy\n");
	free(out);
}

/* A page: its type, Cache-Control, and with head only its length. */
static void
test_answer_page(void)
{
	static const char	 html[] = "<p>hi</p>\n";
	struct http_answer	 a = { .status = 200,
				    .type = "text/html; charset=utf-8",
				    .body = html, .body_len = sizeof(html) - 1,
				    .head = true, .cache_control = "no-cache" };
	char			*out;
	size_t			 len;

	out = http_response_answer(&a, T_1994, &len);
	CHECK_STR(out, "HTTP/1.1 200 OK\r\n" D_1994
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: 10\r\n"
	    "Cache-Control: no-cache\r\n"
	    "Connection: close\r\n"
	    "\r\n");
	free(out);
	a.head = false;
	out = http_response_answer(&a, T_1994, &len);
	CHECK(out != NULL && len > 10 &&
	    memcmp(out + len - 14, "\r\n\r\n<p>hi</p>\n", 14) == 0);
	free(out);
}

int
main(void)
{
	test_status_text();
	test_date();
	test_date_rule();
	test_builder();
	test_injection();
	test_answer();
	test_answer_page();
	TEST_REPORT();
}
