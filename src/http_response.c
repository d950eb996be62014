/*
 * HTTP/1.1 response heads for every answer wsbridge writes itself: the
 * 101, errors and refusals, static files, built-in pages, CGI heads.
 * Callers choose the headers and their order; this file owns the status
 * line, the phrases, Date, the rules some statuses carry, and refuses a
 * line that a CR or LF would end early.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_response.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* "426 Upgrade Required\n" and the longest phrase fit. */
#define HTTP_RESPONSE_SHORT_BODY	64
#define HTTP_RESPONSE_TEXT	"text/plain; charset=utf-8"

static const struct {
	int		 code;
	const char	*text;
} http_response_statuses[] = {
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 301, "Moved Permanently" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

/* HTTP dates are English whatever the locale: no strftime %a or %b. */
static const char *const http_response_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const http_response_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char *
http_response_status_text(int status)
{
	size_t	 i;

	for (i = 0; i < nitems(http_response_statuses); i++)
		if (http_response_statuses[i].code == status)
			return http_response_statuses[i].text;
	return "Unknown";
}

void
http_response_date(time_t t, char *out, size_t outsz)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    http_response_days[tm.tm_wday], tm.tm_mday,
	    http_response_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/*
 * Every line ends in CR LF and there are exactly as many as were written:
 * a CR or LF inside a value would have ended a line early and started
 * one nobody meant to write.
 */
static bool
http_response_lines_ok(const struct http_response *r, size_t headlen)
{
	size_t	 i, nl = 0;

	for (i = 0; i < headlen; i++) {
		if (r->buf[i] == '\r' &&
		    (i + 1 == headlen || r->buf[i + 1] != '\n'))
			return false;
		if (r->buf[i] == '\n' && (i == 0 || r->buf[i - 1] != '\r'))
			return false;
		nl += r->buf[i] == '\n';
	}
	return nl == r->lines;
}

int
http_response_begin(struct http_response *r, int status, const char *reason,
    time_t now)
{
	char	 date[HTTP_RESPONSE_DATE_SIZE];

	r->buf = NULL;
	r->len = 0;
	r->bad = status < 100 || status > 999;
	if ((r->f = open_memstream(&r->buf, &r->len)) == NULL)
		return -1;
	/* Nobody else sees this stream: no lock around each write. */
	__fsetlocking(r->f, FSETLOCKING_BYCALLER);
	if (reason == NULL)
		reason = http_response_status_text(status);
	r->lines = 1;
	fprintf(r->f, "HTTP/1.1 %d %s\r\n", status, reason);
	if (now != HTTP_RESPONSE_NO_DATE && status >= 200 && status < 500) {
		http_response_date(now, date, sizeof(date));
		http_response_header(r, "Date", "%s", date);
	}
	return 0;
}

void
http_response_header(struct http_response *r, const char *name,
    const char *fmt, ...)
{
	va_list	 ap;

	fprintf(r->f, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(r->f, fmt, ap);
	va_end(ap);
	fputs("\r\n", r->f);
	r->lines++;
}

void
http_response_lines(struct http_response *r, char *const *lines, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		fprintf(r->f, "%s\r\n", lines[i]);
	r->lines += n;
}

bool
http_response_lines_have(char *const *lines, size_t n, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (strncasecmp(lines[i], name, len) == 0 &&
		    lines[i][len] == ':')
			return true;
	return false;
}

char *
http_response_end(struct http_response *r, const char *body, size_t bodylen,
    size_t *len)
{
	bool	 failed;

	fputs("\r\n", r->f);
	r->lines++;
	if (fflush(r->f) != 0 || !http_response_lines_ok(r, r->len))
		r->bad = true;
	if (bodylen > 0)
		fwrite(body, 1, bodylen, r->f);
	failed = ferror(r->f) || r->bad;
	if (fclose(r->f) != 0 || failed) {
		free(r->buf);
		return NULL;
	}
	*len = r->len;
	return r->buf;
}

char *
http_response_answer(const struct http_answer *a, time_t now, size_t *len)
{
	struct http_response	 r;
	const char		*body = a->body;
	char			 deflt[HTTP_RESPONSE_SHORT_BODY];
	size_t			 blen = a->body_len;

	if (body == NULL) {
		snprintf(deflt, sizeof(deflt), "%d %s\n", a->status,
		    http_response_status_text(a->status));
		body = deflt;
		blen = strlen(deflt);
	}
	if (http_response_begin(&r, a->status, NULL, now) == -1)
		return NULL;
	http_response_header(&r, "Content-Type", "%s",
	    a->type != NULL ? a->type : HTTP_RESPONSE_TEXT);
	http_response_header(&r, "Content-Length", "%zu", blen);
	if (a->cache_control != NULL)
		http_response_header(&r, "Cache-Control", "%s",
		    a->cache_control);
	http_response_header(&r, "Connection", "%s",
	    a->status == 426 ? "Upgrade, close" : "close");
	if (a->retry_after > 0)
		http_response_header(&r, "Retry-After", "%d", a->retry_after);
	if (a->status == 426) {
		http_response_header(&r, "Upgrade", "websocket");
		http_response_header(&r, "Sec-WebSocket-Version", "13");
	}
	if (a->status == 405 &&
	    !http_response_lines_have(a->extra, a->nextra, "Allow"))
		http_response_header(&r, "Allow", "GET");
	http_response_lines(&r, a->extra, a->nextra);
	return http_response_end(&r, body, a->head ? 0 : blen, len);
}
