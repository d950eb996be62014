/*
 * Token files for targets routes (websockify's format): loaded, checked
 * line by line, re-read when the file changes, looked up per connection.
 */
#include <sys/un.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filewatch.h"
#include "handshake.h"
#include "targets.h"

struct targets_entry {
	char	*token;
	char	*target;	/* "host:port", "[v6]:port" or "unix:/path" */
	int	 line;
};

struct targets {
	struct file_watch	 fw;	/* path, stamp, warn */
	struct targets_entry	*v;
	size_t			 n, nbad;
};

/* Fires before each read of the file and when it is gone. */
static void
targets_clear(void *owner)
{
	struct targets	*t = owner;
	size_t		 i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].token);
		free(t->v[i].target);
	}
	free(t->v);
	t->v = NULL;
	t->n = t->nbad = 0;
}

static char *
targets_trim(char *s)
{
	char	*e;

	s += strspn(s, " \t");
	for (e = s + strlen(s); e > s && strchr(" \t\r\n", e[-1]) != NULL;)
		*--e = '\0';
	return s;
}

/* "HOST:PORT" or "[V6]:PORT", port 1 to 65535; resolved at lookup. */
static const char *
targets_hostport_why(const char *s)
{
	const char	*colon;
	int64_t		 port;

	if (*s == '[') {
		if ((colon = strstr(s, "]:")) == NULL || colon == s + 1)
			return "bad [IPv6]:PORT";
		colon++;
	} else if ((colon = strchr(s, ':')) == NULL || colon == s ||
	    strchr(colon + 1, ':') != NULL)
		return "want HOST:PORT, [IPv6]:PORT or unix:/PATH";
	if (config_parse_int(colon + 1, 1, 65535, &port) == -1)
		return "bad port";
	return NULL;
}

/* Why "token: target" cannot be used, or NULL. */
static const char *
targets_why(const char *token, const char *target)
{
	if (*token == '\0')
		return "missing token";
	if (strpbrk(token, " \t") != NULL)
		return "blank in token";
	if (*target == '\0')
		return "missing target";
	if (strpbrk(target, " \t") != NULL)
		return "blank in target";
	if (strncmp(target, "unix:", 5) == 0) {
		if (target[5] == '\0' || strlen(target + 5) >=
		    sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return "bad unix socket path";
		return NULL;
	}
	return targets_hostport_why(target);
}

static const struct targets_entry *
targets_find(const struct targets *t, const char *token)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].token, token) == 0)
			return &t->v[i];
	return NULL;
}

/* 0, or -1 when out of memory (nothing added). */
static int
targets_add(struct targets *t, const char *token, const char *target,
    int line)
{
	struct targets_entry	*v;

	if ((v = realloc(t->v, (t->n + 1) * sizeof(*v))) == NULL)
		return -1;
	t->v = v;
	v[t->n].token = strdup(token);
	v[t->n].target = strdup(target);
	if (v[t->n].token == NULL || v[t->n].target == NULL) {
		free(v[t->n].token);
		free(v[t->n].target);
		return -1;
	}
	v[t->n++].line = line;
	return 0;
}

/* One line: a comment, a blank, an entry or an error. -1: no memory. */
static int
targets_line(void *owner, char *line, size_t len, int lineno)
{
	struct targets			*t = owner;
	const struct targets_entry	*dup;
	char				*colon, *token, *target;
	const char			*why;

	if (len > TARGETS_MAX_LINE) {
		file_watch_warn(&t->fw, "%s:%d: line too long", t->fw.path,
		    lineno);
		t->nbad++;
		return 0;
	}
	line = targets_trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if ((colon = strchr(line, ':')) == NULL)
		why = "want TOKEN: TARGET";
	else {
		*colon = '\0';
		token = targets_trim(line);
		target = targets_trim(colon + 1);
		/* websockify spells unix sockets "unix_socket:/path" */
		if (strncmp(target, "unix_socket:", 12) == 0)
			memmove(target + 4, target + 11,
			    strlen(target + 11) + 1);
		why = targets_why(token, target);
	}
	if (why != NULL) {
		file_watch_warn(&t->fw, "%s:%d: %s", t->fw.path, lineno,
		    why);
		t->nbad++;
		return 0;
	}
	if ((dup = targets_find(t, token)) != NULL) {
		file_watch_warn(&t->fw, "%s:%d: duplicate token (first on "
		    "line %d)", t->fw.path, lineno, dup->line);
		t->nbad++;
		return 0;
	}
	return targets_add(t, token, target, lineno);
}

static const struct file_watch_ops targets_file_ops = {
	targets_clear, targets_line, NULL
};

struct targets *
targets_open(const char *path, void (*warn)(void *, const char *),
    void *arg, char *err, size_t errsz)
{
	struct targets	*t;
	int		 saved;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto nomem;
	if (file_watch_init(&t->fw, path, &targets_file_ops, t, warn, arg) ==
	    -1) {
		free(t);
		goto nomem;
	}
	if (file_watch_read(&t->fw, err, errsz) != 0) {
		saved = errno;	/* ENOMEM tells the caller: 503 */
		targets_close(t);
		errno = saved;
		return NULL;
	}
	return t;
nomem:
	snprintf(err, errsz, "%s: %s", path, strerror(ENOMEM));
	errno = ENOMEM;
	return NULL;
}

int
targets_lookup(struct targets *t, const char *token,
    struct sockaddr_storage *ss, socklen_t *len)
{
	const struct targets_entry	*e;
	const char			*why;

	/* stat on every lookup: an edited file takes effect at once */
	if (file_watch_refresh(&t->fw) == FILE_WATCH_NOMEM)
		return TARGETS_NOMEM;
	if (token == NULL || (e = targets_find(t, token)) == NULL)
		return -1;
	if (config_parse_addr(e->target, -1, ss, len, &why) == -1) {
		file_watch_warn(&t->fw, "%s:%d: target \"%s\": %s",
		    t->fw.path, e->line, e->target, why);
		return -2;
	}
	return 0;
}

size_t
targets_nbad(const struct targets *t)
{
	return t->nbad;
}

size_t
targets_count(const struct targets *t)
{
	return t->n;
}

void
targets_close(struct targets *t)
{
	if (t == NULL)
		return;
	targets_clear(t);
	file_watch_free(&t->fw);
	free(t);
}

int
targets_query_token(const char *query, char *out, size_t outsz)
{
	const char	*p = query, *end;
	size_t		 o = 0;
	int		 hi, lo;

	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		if (strncmp(p, "token=", 6) != 0) {
			p = end ? end + 1 : NULL;
			continue;
		}
		for (p += 6; *p != '\0' && p != end; p++) {
			if (o + 1 >= outsz)
				return -1;
			if (*p == '%' && (hi = hs_hex(p[1])) != -1 &&
			    (lo = hs_hex(p[2])) != -1) {
				out[o++] = (char)(hi << 4 | lo);
				p += 2;
			} else
				out[o++] = *p == '+' ? ' ' : *p;
		}
		out[o] = '\0';
		return o > 0 && strlen(out) == o ? 1 : -1;
	}
	return 0;
}
