/*
 * HTTP/1.1 response heads, written in one place: the status line and its
 * phrase, Date where RFC 9110 6.6.1 requires it, typed headers, the
 * configured extra lines, the blank line and a short body. Pure: strings
 * and the clock only, so unit tests link it alone.
 */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" (29) and a NUL fit, with room. */
#define HTTP_RESPONSE_DATE_SIZE	40
/* As now: no Date line (the head carries one from elsewhere). */
#define HTTP_RESPONSE_NO_DATE	((time_t)-1)

/* A head being written into a growing memory buffer. */
struct http_response {
	FILE	*f;
	char	*buf;
	size_t	 len;
	size_t	 lines;		/* written so far, each to end in CR LF */
	bool	 bad;		/* set by the caller to abandon the head:
				   http_response_end() gives NULL */
};

/* Reason phrase for a status code ("Not Found"), "Unknown" else. */
const char *http_response_status_text(int status);
/* IMF-fixdate (RFC 9110 5.6.7), always GMT. */
void	 http_response_date(time_t, char *out, size_t outsz);

/*
 * Start a head: "HTTP/1.1 status reason" (NULL: the standard phrase),
 * then "Date: now" if status is 2xx, 3xx or 4xx (an origin server with a
 * clock MUST send it there, RFC 9110 6.6.1; 1xx and 5xx go without, as
 * they may). -1 when out of memory.
 */
int	 http_response_begin(struct http_response *, int status,
	    const char *reason, time_t now);
/* "name: value" with a printf-style value. */
void	 http_response_header(struct http_response *, const char *name,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Complete "Name: value" lines without CRLF (configured headers). */
void	 http_response_lines(struct http_response *, char *const *lines,
	    size_t n);
/* Does one of the "Name: value" lines name that header (no case)? */
bool	 http_response_lines_have(char *const *lines, size_t n,
	    const char *name);
/*
 * The blank line and bodylen bytes of body (may be NULL/0). Returns the
 * malloc'd response with its length in *len, or NULL (everything freed)
 * when out of memory or when a line carried a CR or LF: a header must
 * never end early, whoever supplied its value.
 */
char	*http_response_end(struct http_response *, const char *body,
	    size_t bodylen, size_t *len);

/*
 * A short, complete answer after which the connection closes: errors,
 * refusals and built-in pages. Written as
 *   status line, Date (2xx-4xx), Content-Type, Content-Length,
 *   Cache-Control, Connection: close ("Upgrade, close" for 426),
 *   Retry-After, for 426 "Upgrade: websocket" and
 *   "Sec-WebSocket-Version: 13" (RFC 9110 15.5.22, RFC 6455 4.4), for 405
 *   "Allow: GET" unless extra has an Allow (RFC 9110 15.5.6), the extra
 *   lines, the blank line and the body unless head.
 */
struct http_answer {
	int		 status;
	const char	*type;		/* NULL: text/plain; charset=utf-8 */
	const char	*body;		/* NULL: "<status> <phrase>\n" */
	size_t		 body_len;	/* of body, when not NULL */
	bool		 head;		/* announce the body, do not add it */
	const char	*cache_control;	/* NULL: none */
	int		 retry_after;	/* > 0: Retry-After, seconds */
	char *const	*extra;		/* "Name: value" lines, or NULL */
	size_t		 nextra;
};
char	*http_response_answer(const struct http_answer *, time_t now,
	    size_t *len);

#endif
