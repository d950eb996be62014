/*
 * Static files: map a decoded request path to a regular file under the
 * static root, refusing dotfiles, traversal and symlinks out of the root,
 * and build the response head with its validators (ETag, Last-Modified),
 * 304 for conditional requests and 301 for directories without a slash.
 * Pure: the filesystem and strings only, so unit tests link it alone.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "http_response.h"
#include "static.h"

#define STATIC_INDEX		"index.html"
#define STATIC_DEFAULT_MIME	"application/octet-stream"
/* '"', three 16-digit hex numbers, two '-', '"' and a NUL fit. */
#define STATIC_ETAG_LEN		64
/* RFC 3986 pchar and '/': what a Location path may carry unescaped. */
#define STATIC_URL_SAFE		"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
				"abcdefghijklmnopqrstuvwxyz0123456789" \
				"-._~!$&'()*+,;=:@/"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The request as static_respond() got it, passed whole to the helpers. */
struct static_req {
	const char	*path;
	bool		 head;
	bool		 keep_alive;
	char *const	*extra;
	size_t		 nextra;
};

static const struct {
	const char	*ext;
	const char	*type;
} static_mimes[] = {
	{ "html",	"text/html; charset=utf-8" },
	{ "htm",	"text/html; charset=utf-8" },
	{ "css",	"text/css; charset=utf-8" },
	{ "js",		"text/javascript; charset=utf-8" },
	{ "mjs",	"text/javascript; charset=utf-8" },
	{ "json",	"application/json" },
	{ "map",	"application/json" },
	{ "svg",	"image/svg+xml" },
	{ "png",	"image/png" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "gif",	"image/gif" },
	{ "ico",	"image/x-icon" },
	{ "webp",	"image/webp" },
	/* Browsers compile streaming only with exactly this type. */
	{ "wasm",	"application/wasm" },
	{ "txt",	"text/plain; charset=utf-8" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "ttf",	"font/ttf" },
	{ "xml",	"application/xml" },
	{ "pdf",	"application/pdf" },
};

/* HTTP dates are English whatever the locale: no strftime %a or %b. */
static const char *const static_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char *
static_mime_type(const char *path)
{
	const char	*base, *dot;
	size_t		 i;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	/* "a.tar.gz" is a "gz"; ".profile" has no extension at all. */
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return STATIC_DEFAULT_MIME;
	for (i = 0; i < nitems(static_mimes); i++)
		if (strcasecmp(dot + 1, static_mimes[i].ext) == 0)
			return static_mimes[i].type;
	return STATIC_DEFAULT_MIME;
}

/*
 * No segment may start with '.': one rule covers ".", "..", dotfiles and
 * ".git/". The path arrives decoded, so "%2e%2e" is caught here too.
 */
static bool
static_segments_ok(const char *p)
{
	const char	*s;

	for (s = p; *s != '\0'; s++)
		if (*s == '.' && (s == p || s[-1] == '/'))
			return false;
	return true;
}

/*
 * Is resolved (a realpath) the root or below it? Its part below the root
 * is checked for dot segments again: a symlink may point at a dotfile.
 */
static bool
static_within(const char *rroot, const char *resolved)
{
	size_t	 n;

	/* Root "/" would need "//" after it otherwise. */
	n = strcmp(rroot, "/") == 0 ? 0 : strlen(rroot);
	if (strncmp(resolved, rroot, n) != 0)
		return false;
	if (resolved[n] != '\0' && resolved[n] != '/')
		return false;
	return static_segments_ok(resolved + n);
}

/* Unreadable is 403; anything else (ENOENT, ENOTDIR, ELOOP) is absent. */
static int
static_errno_status(int err)
{
	return err == EACCES ? 403 : 404;
}

static bool
static_join(char *out, const char *a, const char *b)
{
	int	 n;

	n = snprintf(out, PATH_MAX, "%s%s", a, b);
	return n >= 0 && n < PATH_MAX;
}

/*
 * realpath() the candidate, which resolves every symlink, and require the
 * result inside the root: symlinks out of the root stop here. Returns 0
 * with resolved and *st filled, or the status to answer.
 */
static int
static_resolve(const char *rroot, const char *fspath, char *resolved,
    struct stat *st)
{
	if (realpath(fspath, resolved) == NULL)
		return static_errno_status(errno);
	if (!static_within(rroot, resolved))
		return 404;
	if (stat(resolved, st) == -1)
		return static_errno_status(errno);
	return 0;
}

/*
 * Find the regular file for path: 0 with resolved and *st, 301 for a
 * directory named without its slash (relative links in its index.html
 * would break), or 404/403. A directory without index.html is 404, not
 * 403, and is never redirected: no listings, no hint that it exists.
 */
static int
static_locate(const char *rroot, const char *path, char *resolved,
    struct stat *st)
{
	char	 fspath[PATH_MAX];
	int	 status;

	if (path[0] != '/' || !static_segments_ok(path) ||
	    !static_join(fspath, rroot, path))
		return 404;
	if ((status = static_resolve(rroot, fspath, resolved, st)) != 0)
		return status;
	if (!S_ISDIR(st->st_mode))
		return S_ISREG(st->st_mode) ? 0 : 404;
	if (!static_join(fspath, resolved, "/" STATIC_INDEX))
		return 404;
	if ((status = static_resolve(rroot, fspath, resolved, st)) != 0)
		return status;
	if (!S_ISREG(st->st_mode))
		return 404;
	return path[strlen(path) - 1] == '/' ? 0 : 301;
}

/*
 * Open what was checked. O_NOFOLLOW refuses a symlink swapped in since,
 * O_NONBLOCK keeps a FIFO swapped in from blocking the loop (it has no
 * effect on regular files), and comparing device and inode catches any
 * other replacement. *st becomes the open file's, which is what is sent.
 */
static int
static_open(const char *resolved, struct stat *st, int *fdp)
{
	struct stat	 fst;
	int		 fd;

	fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return static_errno_status(errno);
	if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode) ||
	    fst.st_dev != st->st_dev || fst.st_ino != st->st_ino) {
		close(fd);
		return 404;
	}
	*st = fst;
	*fdp = fd;
	return 0;
}

/* Strong: any write changes the mtime's nanoseconds or the size. */
static void
static_etag(const struct stat *st, char *buf, size_t sz)
{
	uintmax_t	 ns;

	ns = (uintmax_t)st->st_mtim.tv_sec * 1000000000u +
	    (uintmax_t)st->st_mtim.tv_nsec;
	snprintf(buf, sz, "\"%jx-%jx-%jx\"", (uintmax_t)st->st_ino,
	    (uintmax_t)st->st_size, ns);
}

/*
 * The three forms a recipient must accept (RFC 9110 5.6.7): IMF-fixdate,
 * RFC 850 and asctime. Fills tm with a four-digit year and mon.
 */
static bool
static_scan_date(const char *s, struct tm *tm, char mon[4])
{
	int	 n = 0;

	if (sscanf(s, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n",
	    &tm->tm_mday, mon, &tm->tm_year, &tm->tm_hour, &tm->tm_min,
	    &tm->tm_sec, &n) == 6 && n > 0 && s[n] == '\0')
		return true;
	if (sscanf(s, "%*[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n",
	    &tm->tm_mday, mon, &tm->tm_year, &tm->tm_hour, &tm->tm_min,
	    &tm->tm_sec, &n) == 6 && n > 0 && s[n] == '\0') {
		/* Two-digit years: 70-99 are 19xx, the rest 20xx. */
		tm->tm_year += tm->tm_year < 70 ? 2000 : 1900;
		return true;
	}
	return sscanf(s, "%*3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", mon,
	    &tm->tm_mday, &tm->tm_hour, &tm->tm_min, &tm->tm_sec,
	    &tm->tm_year, &n) == 6 && n > 0 && s[n] == '\0';
}

/* -1 for anything but a valid HTTP-date: the header is then ignored. */
static int
static_parse_date(const char *s, time_t *t)
{
	struct tm	 tm;
	char		 mon[4];
	int		 i;

	memset(&tm, 0, sizeof(tm));
	if (!static_scan_date(s, &tm, mon))
		return -1;
	for (i = 0; i < 12 && strcmp(mon, static_months[i]) != 0; i++)
		;
	if (i == 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	tm.tm_mon = i;
	tm.tm_year -= 1900;
	*t = timegm(&tm);
	return 0;
}

/*
 * If-None-Match compares weakly (RFC 9110 13.1.2): a W/ prefix is
 * ignored, only the quoted tags count. "*" matches any existing file.
 */
static bool
static_etag_match(const char *list, const char *etag)
{
	const char	*end;
	size_t		 len = strlen(etag);

	for (;;) {
		list += strspn(list, " \t,");
		if (*list == '*')
			return true;
		if (strncmp(list, "W/", 2) == 0)
			list += 2;
		if (*list != '"' || (end = strchr(list + 1, '"')) == NULL)
			return false;
		end++;
		if ((size_t)(end - list) == len && memcmp(list, etag, len) == 0)
			return true;
		list = end;
	}
}

/*
 * If-Modified-Since counts only without If-None-Match (RFC 9110 13.2.2),
 * and only to the second: that is all Last-Modified says. A date in the
 * future is no evidence of anything (13.1.3): ignored.
 */
static bool
static_not_modified(const char *inm, const char *ims, const struct stat *st,
    const char *etag)
{
	time_t	 since;

	if (inm != NULL)
		return static_etag_match(inm, etag);
	if (ims == NULL || static_parse_date(ims, &since) == -1 ||
	    since > time(NULL))
		return false;
	return st->st_mtim.tv_sec <= since;
}

/* Status line, Date and Connection: what every answer has. */
static int
static_head_begin(struct http_response *h, int status, bool keep_alive)
{
	if (http_response_begin(h, status, NULL, time(NULL)) == -1)
		return -1;
	http_response_header(h, "Connection", "%s",
	    keep_alive ? "keep-alive" : "close");
	return 0;
}

/* The extra headers, the blank line and body; the buffer goes to res. */
static int
static_head_end(struct http_response *h, const struct static_req *rq,
    const char *body, struct static_result *res)
{
	http_response_lines(h, rq->extra, rq->nextra);
	res->head = http_response_end(h, body, body != NULL ? strlen(body) :
	    0, &res->head_len);
	return res->head == NULL ? -1 : 0;
}

/*
 * Location: path + "/", percent-encoded again because path arrives
 * decoded (a CR or LF must not end the header), with runs of '/' made
 * one so that "//evil.example" cannot become a scheme-relative redirect.
 * -1 when out of memory.
 */
static int
static_put_location(struct http_response *h, const char *path)
{
	const char	*p;
	char		*loc, *q;

	if ((loc = malloc(3 * strlen(path) + 2)) == NULL)
		return -1;
	for (p = path, q = loc; *p != '\0'; p++) {
		if (*p == '/' && p[1] == '/')
			continue;
		if (strchr(STATIC_URL_SAFE, *p) != NULL)
			*q++ = *p;
		else
			q += sprintf(q, "%%%02X", (unsigned char)*p);
	}
	*q = '\0';
	http_response_header(h, "Location", "%s/", loc);
	free(loc);
	return 0;
}

/* 301, 403 and 404: a short text body, which HEAD only announces. */
static int
static_short(struct static_result *res, int status,
    const struct static_req *rq)
{
	struct http_response	 h;
	char			 body[64];

	snprintf(body, sizeof(body), "%d %s\n", status,
	    http_response_status_text(status));
	if (static_head_begin(&h, status, rq->keep_alive) == -1)
		return -1;
	http_response_header(&h, "Content-Type", "text/plain; charset=utf-8");
	http_response_header(&h, "Content-Length", "%zu", strlen(body));
	if (status == 301 && static_put_location(&h, rq->path) == -1)
		h.bad = true;
	res->status = status;
	return static_head_end(&h, rq, rq->head ? NULL : body, res);
}

/*
 * 200 or 304 for the open file. Cache-Control: no-cache lets browsers
 * store it but makes them revalidate, so an edited page shows at once.
 */
static int
static_file_head(struct static_result *res, int status,
    const struct stat *st, const char *resolved, const char *etag,
    const struct static_req *rq)
{
	struct http_response	 h;
	char			 date[HTTP_RESPONSE_DATE_SIZE];

	http_response_date(st->st_mtim.tv_sec, date, sizeof(date));
	if (static_head_begin(&h, status, rq->keep_alive) == -1)
		return -1;
	if (status == 200) {
		http_response_header(&h, "Content-Type", "%s",
		    static_mime_type(resolved));
		http_response_header(&h, "Content-Length", "%jd",
		    (intmax_t)st->st_size);
		http_response_header(&h, "X-Content-Type-Options", "nosniff");
	}
	http_response_header(&h, "Last-Modified", "%s", date);
	http_response_header(&h, "ETag", "%s", etag);
	http_response_header(&h, "Cache-Control", "no-cache");
	res->status = status;
	return static_head_end(&h, rq, NULL, res);
}

/* The file is open and checked: 304 or 200, and who keeps the fd. */
static int
static_file(struct static_result *res, int fd, const struct stat *st,
    const char *resolved, const struct static_req *rq, const char *inm,
    const char *ims)
{
	char	 etag[STATIC_ETAG_LEN];
	int	 status;

	static_etag(st, etag, sizeof(etag));
	status = static_not_modified(inm, ims, st, etag) ? 304 : 200;
	if (static_file_head(res, status, st, resolved, etag, rq) == -1) {
		close(fd);
		return -1;
	}
	if (status == 200 && !rq->head) {
		res->fd = fd;
		res->size = st->st_size;
	} else
		close(fd);
	return 0;
}

int
static_respond(const char *root, const char *path, bool method_head,
    const char *if_none_match, const char *if_modified_since,
    bool keep_alive, char *const *extra, size_t nextra,
    struct static_result *res)
{
	struct static_req	 rq = { path, method_head, keep_alive, extra,
				    nextra };
	char			 rroot[PATH_MAX], resolved[PATH_MAX];
	struct stat		 st;
	int			 status, fd = -1;

	memset(res, 0, sizeof(*res));
	res->fd = -1;
	/* Opened even for HEAD and 304, so that they agree with GET. */
	if (realpath(root, rroot) == NULL)
		status = 404;
	else if ((status = static_locate(rroot, path, resolved, &st)) == 0)
		status = static_open(resolved, &st, &fd);
	if (status != 0)
		return static_short(res, status, &rq);
	return static_file(res, fd, &st, resolved, &rq, if_none_match,
	    if_modified_since);
}

void
static_result_free(struct static_result *res)
{
	if (res->fd != -1)
		close(res->fd);
	res->fd = -1;
	free(res->head);
	res->head = NULL;
	res->head_len = 0;
}

/*
 * websocketd's --devconsole in one page: no external resources, and every
 * message is shown with textContent, never parsed as HTML.
 */
static const char static_devconsole[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>wsbridge dev console</title>\n"
"<style>\n"
"body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;"
"color:#1d232b}\n"
"main{max-width:52rem;margin:0 auto;padding:1rem}\n"
"h1{font-size:1.2rem}\n"
"form{display:flex;gap:.5rem;margin:.5rem 0}\n"
"input{flex:1;font:inherit;padding:.4rem;border:1px solid #b8c0cc;"
"border-radius:4px}\n"
"button{font:inherit;padding:.4rem .9rem;border-radius:4px;"
"border:1px solid #2b5fab;background:#3570c4;color:#fff;cursor:pointer}\n"
"button:disabled{opacity:.45;cursor:default}\n"
"#log{background:#fff;border:1px solid #d5dae1;border-radius:4px;"
"height:24rem;overflow:auto;padding:.5rem;"
"font:13px/1.45 ui-monospace,monospace;white-space:pre-wrap}\n"
".in{color:#1d232b}.out{color:#2b5fab}.info{color:#6b7480;"
"font-style:italic}.err{color:#b3261e}\n"
"</style></head><body><main>\n"
"<h1>wsbridge dev console</h1>\n"
"<form id=\"cf\"><input id=\"url\" aria-label=\"WebSocket URL\">"
"<button id=\"open\">Connect</button>"
"<button id=\"close\" type=\"button\" disabled>Close</button></form>\n"
"<div id=\"log\" role=\"log\"></div>\n"
"<form id=\"sf\"><input id=\"msg\" aria-label=\"Message\" "
"placeholder=\"message, Enter to send\" disabled>"
"<button id=\"send\" disabled>Send</button></form>\n"
"</main><script>\n"
"'use strict';\n"
"const $ = (id) => document.getElementById(id);\n"
"let ws = null;\n"
"$('url').value = (location.protocol === 'https:' ? 'wss://' : 'ws://') +\n"
"    location.host + location.pathname + location.search;\n"
"function log(cls, text) {\n"
"  const d = document.createElement('div');\n"
"  d.className = cls;\n"
"  d.textContent = text;\n"
"  $('log').appendChild(d);\n"
"  $('log').scrollTop = $('log').scrollHeight;\n"
"}\n"
"function state(open) {\n"
"  $('open').disabled = open; $('close').disabled = !open;\n"
"  $('msg').disabled = !open; $('send').disabled = !open;\n"
"}\n"
"$('cf').onsubmit = (e) => {\n"
"  e.preventDefault();\n"
"  try { ws = new WebSocket($('url').value); }\n"
"  catch (x) { log('err', String(x)); return; }\n"
"  ws.binaryType = 'arraybuffer';\n"
"  log('info', 'connecting to ' + ws.url);\n"
"  state(true);\n"
"  ws.onopen = () => { log('info', 'open'); $('msg').focus(); };\n"
"  ws.onmessage = (m) => log('in', '< ' + (typeof m.data === 'string' ?\n"
"      m.data : '[binary, ' + m.data.byteLength + ' bytes]'));\n"
"  ws.onerror = () => log('err', 'error');\n"
"  ws.onclose = (c) => { log('info', 'closed: code ' + c.code +\n"
"      (c.reason ? ', ' + c.reason : '')); state(false); ws = null; };\n"
"};\n"
"$('close').onclick = () => { if (ws) ws.close(1000); };\n"
"$('sf').onsubmit = (e) => {\n"
"  e.preventDefault();\n"
"  if (!ws || ws.readyState !== WebSocket.OPEN) return;\n"
"  ws.send($('msg').value);\n"
"  log('out', '> ' + $('msg').value);\n"
"  $('msg').value = '';\n"
"};\n"
"</script></body></html>\n";

const char *
static_devconsole_html(void)
{
	return static_devconsole;
}
