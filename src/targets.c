/*
 * Token files for targets routes (websockify's format): loaded, checked
 * line by line, re-read when the file changes, looked up per connection.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filestamp.h"
#include "handshake.h"
#include "targets.h"

struct targets_entry {
	char	*token;
	char	*target;	/* "host:port", "[v6]:port" or "unix:/path" */
	int	 line;
};

struct targets {
	char			*path;
	void			(*warn)(void *, const char *);
	void			*arg;
	struct targets_entry	*v;
	size_t			 n, nbad;
	struct file_stamp	 stamp;		/* the file as last read */
};

static void __attribute__((format(printf, 2, 3)))
targets_warn(struct targets *t, const char *fmt, ...)
{
	char	 msg[TARGETS_MAX_LINE + 512];
	va_list	 ap;

	if (t->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->warn(t->arg, msg);
}

static void
targets_clear(struct targets *t)
{
	size_t	 i;

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

static void
targets_add(struct targets *t, const char *token, const char *target,
    int line)
{
	struct targets_entry	*v;

	if ((v = realloc(t->v, (t->n + 1) * sizeof(*v))) == NULL)
		abort();
	t->v = v;
	v[t->n].token = strdup(token);
	v[t->n].target = strdup(target);
	if (v[t->n].token == NULL || v[t->n].target == NULL)
		abort();
	v[t->n++].line = line;
}

/* One line of the file: a comment, a blank, an entry or an error. */
static void
targets_line(struct targets *t, char *line, int lineno)
{
	const struct targets_entry	*dup;
	char				*colon, *token, *target;
	const char			*why;

	line = targets_trim(line);
	if (*line == '\0' || *line == '#')
		return;
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
		targets_warn(t, "%s:%d: %s", t->path, lineno, why);
		t->nbad++;
		return;
	}
	if ((dup = targets_find(t, token)) != NULL) {
		targets_warn(t, "%s:%d: duplicate token (first on line %d)",
		    t->path, lineno, dup->line);
		t->nbad++;
		return;
	}
	targets_add(t, token, target, lineno);
}

/* Read the file again from scratch; -1 leaves no tokens. */
static int
targets_read(struct targets *t, char *err, size_t errsz)
{
	FILE		*fp;
	struct stat	 st;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 lineno = 0;

	targets_clear(t);
	if ((fp = fopen(t->path, "re")) == NULL || fstat(fileno(fp),
	    &st) == -1) {
		snprintf(err, errsz, "%s: %s", t->path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		t->stamp.valid = false;
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if ((size_t)len > TARGETS_MAX_LINE) {
			targets_warn(t, "%s:%d: line too long", t->path,
			    lineno);
			t->nbad++;
		} else
			targets_line(t, line, lineno);
	}
	free(line);
	fclose(fp);
	file_stamp_set(&t->stamp, &st);
	return 0;
}

struct targets *
targets_open(const char *path, void (*warn)(void *, const char *),
    void *arg, char *err, size_t errsz)
{
	struct targets	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->path = strdup(path)) == NULL)
		abort();
	t->warn = warn;
	t->arg = arg;
	if (targets_read(t, err, errsz) == -1) {
		targets_close(t);
		return NULL;
	}
	return t;
}

/* stat on every lookup: cheap, and an edited file takes effect at once. */
static void
targets_refresh(struct targets *t)
{
	char	 err[512];

	switch (file_stamp_changed(t->path, &t->stamp)) {
	case 0:
		return;
	case -1:
		if (t->stamp.valid)
			targets_warn(t, "%s: %s", t->path, strerror(errno));
		targets_clear(t);
		t->stamp.valid = false;
		return;
	}
	if (targets_read(t, err, sizeof(err)) == -1)
		targets_warn(t, "%s", err);
}

int
targets_lookup(struct targets *t, const char *token,
    struct sockaddr_storage *ss, socklen_t *len)
{
	const struct targets_entry	*e;
	const char			*why;

	targets_refresh(t);
	if (token == NULL || (e = targets_find(t, token)) == NULL)
		return -1;
	if (config_parse_addr(e->target, -1, ss, len, &why) == -1) {
		targets_warn(t, "%s:%d: target \"%s\": %s", t->path, e->line,
		    e->target, why);
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
	free(t->path);
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
