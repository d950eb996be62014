/*
 * Session recordings: asciicast v2 for pty sessions, JSON lines for the
 * others (cast.h has the formats). Each line is built in one buffer and
 * written with one write(2).
 */
#include <sys/stat.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "cast.h"

#define CAST_MODE	0640
#define CAST_NAME_MAX	100	/* characters of the route in the name */
#define CAST_MAX_REACHED "record_max reached"
#define CAST_COLS	80	/* a size of 0 in cast_info: ttyd's defaults */
#define CAST_ROWS	24

struct cast {
	int		 fd;
	bool		 pty, input;
	bool		 stopped;	/* cap reached or a write failed */
	bool		 reported;	/* cast_problem() has said why */
	const char	*problem;	/* why it stopped, or NULL */
	char		 errbuf[128];
	size_t		 max, written;
	struct timespec	 t0;
	uint8_t		 carry[2][4];	/* [0] output, [1] input */
	size_t		 ncarry[2];
	char		*line;		/* the line being built */
	size_t		 len, cap;
	char		 path[PATH_MAX];
};

static void	cast_stop(struct cast *, const char *);

/* Room for n more bytes in the line; -1 (and stopped) out of memory. */
static int
cast_reserve(struct cast *c, size_t n)
{
	char	*p;
	size_t	 cap;

	if (c->len + n <= c->cap)
		return 0;
	cap = c->len + n + 256;
	if ((p = realloc(c->line, cap)) == NULL) {
		cast_stop(c, strerror(ENOMEM));
		return -1;
	}
	c->line = p;
	c->cap = cap;
	return 0;
}

/* Append s (reserved by the caller). */
static void
cast_add(struct cast *c, const char *s)
{
	size_t	 n = strlen(s);

	memcpy(c->line + c->len, s, n);
	c->len += n;
}

/*
 * The UTF-8 sequence at s (s[0] >= 0x80), n bytes available: its length if
 * well formed, 0 if a well-formed prefix runs to the end, or -k for k bytes
 * of an ill-formed one (Unicode's maximal subpart: one U+FFFD).
 */
static int
cast_utf8(const uint8_t *s, size_t n)
{
	uint8_t	 lo = 0x80, hi = 0xbf;
	int	 len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return -1;
	for (i = 1; i < len; i++) {
		if ((size_t)i == n)
			return 0;
		if (s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/* One escaped character: short forms, else \u00XX. */
static void
cast_escape_char(struct cast *c, unsigned ch)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*d = c->line + c->len;

	switch (ch) {
	case '"':
	case '\\':
		d[0] = '\\';
		d[1] = (char)ch;
		c->len += 2;
		return;
	case '\n':
		cast_add(c, "\\n");
		return;
	case '\r':
		cast_add(c, "\\r");
		return;
	case '\t':
		cast_add(c, "\\t");
		return;
	}
	memcpy(d, "\\u00", 4);
	d[4] = hex[ch >> 4];
	d[5] = hex[ch & 0xf];
	c->len += 6;
}

/*
 * Append n bytes as the inside of a JSON string (6 * n reserved). Returns
 * how many were used: a well-formed but unfinished sequence at the end is
 * left for the caller to carry over unless final.
 */
static size_t
cast_json(struct cast *c, const uint8_t *s, size_t n, bool final)
{
	size_t	 i = 0;
	int	 k;

	while (i < n) {
		if (s[i] < 0x80) {
			if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ||
			    s[i] == '\\')
				cast_escape_char(c, s[i]);
			else
				c->line[c->len++] = (char)s[i];
			i++;
			continue;
		}
		k = cast_utf8(s + i, n - i);
		if (k == 0 && !final)
			break;
		if (k == 0)
			k = -(int)(n - i);
		if (k < 0) {
			cast_add(c, "\xef\xbf\xbd");	/* U+FFFD */
			i += (size_t)-k;
		} else if (k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
			cast_escape_char(c, s[i + 1]);	/* C1 control */
			i += 2;
		} else {
			memcpy(c->line + c->len, s + i, (size_t)k);
			c->len += (size_t)k;
			i += (size_t)k;
		}
	}
	return i;
}

/* Append a JSON string, quotes included (6 * strlen + 2 reserved). */
static void
cast_str(struct cast *c, const char *s)
{
	c->line[c->len++] = '"';
	cast_json(c, (const uint8_t *)s, strlen(s), true);
	c->line[c->len++] = '"';
}

/* Start a line with the seconds since open: "[t, " or "{"t":t,". */
static void
cast_begin(struct cast *c)
{
	struct timespec	 now;
	long long	 us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = ((long long)(now.tv_sec - c->t0.tv_sec) * 1000000000 +
	    (now.tv_nsec - c->t0.tv_nsec)) / 1000;
	if (us < 0)
		us = 0;
	c->len = 0;
	c->len += (size_t)snprintf(c->line, c->cap, c->pty ? "[%lld.%06lld, " :
	    "{\"t\":%lld.%06lld,", us / 1000000, us % 1000000);
}

/* Write the whole buffer; -1 with errno. */
static int
cast_write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
cast_stop(struct cast *c, const char *why)
{
	if (c->stopped)
		return;
	c->stopped = true;
	snprintf(c->errbuf, sizeof(c->errbuf), "%s", why);
	c->problem = c->errbuf;
}

/* Write the line built; at the cap, a marker line instead and stop. */
static void
cast_flush(struct cast *c)
{
	if (c->stopped)
		return;
	if (c->max > 0 && c->written + c->len > c->max) {
		cast_begin(c);
		cast_add(c, c->pty ? "\"m\", \"" CAST_MAX_REACHED "\"]\n" :
		    "\"marker\":\"" CAST_MAX_REACHED "\"}\n");
		if (cast_write_all(c->fd, c->line, c->len) == -1)
			cast_stop(c, strerror(errno));
		cast_stop(c, CAST_MAX_REACHED);
		return;
	}
	if (cast_write_all(c->fd, c->line, c->len) == -1) {
		cast_stop(c, strerror(errno));
		return;
	}
	c->written += c->len;
}

/* s made a file name part: [A-Za-z0-9_-] kept, the rest '_'. */
static void
cast_safe(char *dst, size_t dstsz, const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < dstsz; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
			dst[i] = s[i];
		else
			dst[i] = '_';
	}
	dst[i] = '\0';
}

/* DIR/ROUTE-TIME[-ID].ext into c->path; -1 if too long. */
static int
cast_name(struct cast *c, const struct cast_info *ci, time_t now)
{
	char		 route[CAST_NAME_MAX + 1], id[CAST_NAME_MAX + 1];
	char		 stamp[32];
	struct tm	 tm;
	const char	*r = ci->route != NULL ? ci->route : "";
	int		 n;

	while (*r == '/')
		r++;
	cast_safe(route, sizeof(route), *r != '\0' ? r : "root");
	cast_safe(id, sizeof(id), ci->id != NULL ? ci->id : "");
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	n = snprintf(c->path, sizeof(c->path), "%s/%s-%s%s%s.%s", ci->dir,
	    route, stamp, id[0] != '\0' ? "-" : "", id,
	    ci->pty ? "cast" : "jsonl");
	return n < 0 || (size_t)n >= sizeof(c->path) ? -1 : 0;
}

/* Bytes to reserve for the header's strings. */
static size_t
cast_header_size(const struct cast_info *ci)
{
	const char	*s[] = { ci->route, ci->id, ci->term, ci->shell,
			    ci->title, ci->user };
	size_t		 n = 256, i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i] != NULL)
			n += 6 * strlen(s[i]) + 32;
	return n;
}

/* A key and its JSON string value, after a first one. */
static void
cast_kv(struct cast *c, const char *key, const char *val)
{
	cast_add(c, key);
	cast_str(c, val);
}

static void
cast_header(struct cast *c, const struct cast_info *ci, time_t now)
{
	if (c->pty) {
		c->len = (size_t)snprintf(c->line, c->cap,
		    "{\"version\": 2, \"width\": %u, \"height\": %u, "
		    "\"timestamp\": %lld", ci->cols ? ci->cols : CAST_COLS,
		    ci->rows ? ci->rows : CAST_ROWS, (long long)now);
		if (ci->title != NULL)
			cast_kv(c, ", \"title\": ", ci->title);
		cast_kv(c, ", \"env\": {\"TERM\": ",
		    ci->term != NULL ? ci->term : "xterm-256color");
		if (ci->shell != NULL)
			cast_kv(c, ", \"SHELL\": ", ci->shell);
		if (ci->user != NULL)
			cast_kv(c, ", \"REMOTE_USER\": ", ci->user);
		cast_add(c, "}}\n");
	} else {
		c->len = (size_t)snprintf(c->line, c->cap,
		    "{\"timestamp\": %lld", (long long)now);
		if (ci->route != NULL)
			cast_kv(c, ", \"route\": ", ci->route);
		if (ci->id != NULL)
			cast_kv(c, ", \"session\": ", ci->id);
		if (ci->user != NULL)
			cast_kv(c, ", \"user\": ", ci->user);
		cast_add(c, "}\n");
	}
}

struct cast *
cast_open(const struct cast_info *ci, char *err, size_t errsz)
{
	struct cast	*c;
	time_t		 now = time(NULL);

	assert(ci->dir != NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errsz, "%s", strerror(ENOMEM));
		return NULL;
	}
	c->fd = -1;
	c->pty = ci->pty;
	c->input = ci->input;
	c->max = ci->max;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	if (cast_name(c, ci, now) == -1) {
		snprintf(err, errsz, "%s: file name too long", ci->dir);
		goto fail;
	}
	if (cast_reserve(c, cast_header_size(ci)) == -1) {
		snprintf(err, errsz, "%s", strerror(ENOMEM));
		goto fail;
	}
	if ((c->fd = open(c->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, CAST_MODE)) == -1 || fchmod(c->fd, CAST_MODE) == -1) {
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		goto fail;
	}
	cast_header(c, ci, now);
	if (cast_write_all(c->fd, c->line, c->len) == -1) {
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		unlink(c->path);
		goto fail;
	}
	c->written = c->len;
	return c;
fail:
	if (c->fd != -1)
		close(c->fd);
	free(c->line);
	free(c);
	return NULL;
}

/* A pty event: "o" or "i" with the bytes, carrying split UTF-8 over. */
static void
cast_pty_event(struct cast *c, int which, const uint8_t *p, size_t n,
    bool final)
{
	uint8_t	*joined = NULL;
	size_t	 nc = c->ncarry[which], used;

	if (n + nc == 0 || cast_reserve(c, 6 * (n + nc) + 64) == -1)
		return;
	if (nc > 0) {
		if ((joined = malloc(nc + n)) == NULL) {
			cast_stop(c, strerror(ENOMEM));
			return;
		}
		memcpy(joined, c->carry[which], nc);
		if (n > 0)
			memcpy(joined + nc, p, n);
		p = joined;
		n += nc;
	}
	cast_begin(c);
	cast_add(c, which == 0 ? "\"o\", \"" : "\"i\", \"");
	used = cast_json(c, p, n, final);
	assert(n - used < sizeof(c->carry[which]));
	c->ncarry[which] = n - used;
	memcpy(c->carry[which], p + used, n - used);
	free(joined);
	if (used == 0)
		return;		/* all of it carried: no event yet */
	cast_add(c, "\"]\n");
	cast_flush(c);
}

/* A JSON lines message: text through the escaper, binary as base64. */
static void
cast_jsonl_event(struct cast *c, const char *dir, enum msg_type type,
    const uint8_t *p, size_t n)
{
	size_t	 room = type == MSG_TEXT ? 6 * n : BASE64_ENCODED_SIZE(n);

	if (cast_reserve(c, room + 96) == -1)
		return;
	cast_begin(c);
	cast_add(c, "\"dir\":\"");
	cast_add(c, dir);
	cast_add(c, type == MSG_TEXT ? "\",\"type\":\"text\",\"data\":\"" :
	    "\",\"type\":\"binary\",\"data\":\"");
	if (type == MSG_TEXT)
		cast_json(c, p, n, true);
	else
		c->len += base64_encode(c->line + c->len, p, n);
	cast_add(c, "\"}\n");
	cast_flush(c);
}

void
cast_output(struct cast *c, enum msg_type type, const void *p, size_t n)
{
	if (c->stopped)
		return;
	if (c->pty)
		cast_pty_event(c, 0, p, n, false);
	else
		cast_jsonl_event(c, "out", type, p, n);
}

void
cast_input(struct cast *c, enum msg_type type, const void *p, size_t n)
{
	if (c->stopped)
		return;
	if (!c->pty)
		cast_jsonl_event(c, "in", type, p, n);
	else if (c->input)
		cast_pty_event(c, 1, p, n, false);
}

void
cast_resize(struct cast *c, unsigned cols, unsigned rows)
{
	if (c->stopped || !c->pty || cast_reserve(c, 96) == -1)
		return;
	cast_begin(c);
	c->len += (size_t)snprintf(c->line + c->len, c->cap - c->len,
	    "\"r\", \"%ux%u\"]\n", cols, rows);
	cast_flush(c);
}

const char *
cast_problem(struct cast *c)
{
	if (c->problem == NULL || c->reported)
		return NULL;
	c->reported = true;
	return c->problem;
}

const char *
cast_path(const struct cast *c)
{
	return c->path;
}

int
cast_fd(const struct cast *c)
{
	return c->fd;
}

void
cast_close(struct cast *c)
{
	int	 i;

	if (c == NULL)
		return;
	for (i = 0; i < 2; i++)
		if (!c->stopped && c->ncarry[i] > 0)
			cast_pty_event(c, i, NULL, 0, true);
	close(c->fd);
	free(c->line);
	free(c);
}
