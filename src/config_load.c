/*
 * The INI loader (inih): sections, keys found in the tables of
 * config_keys.c, and every error as FILE:LINE, all reported in one run.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "config_int.h"

enum config_section {
	SEC_NONE, SEC_SERVER, SEC_TLS, SEC_SNI, SEC_ROUTE, SEC_SKIP
};

/* The loader's state: inih calls back into it line by line. */
struct config_ctx {
	struct config		*cfg;
	FILE			*errfp;
	FILE			*fp;
	char			*buf;
	size_t			 bufsz;
	int			 line;
	int			 errors;
	enum config_section	 sec;
	int			 sec_line;
	char			 secname[CONFIG_MAX_LINE + 16];
	const struct config_key	*keys;
	struct route		*route;
	size_t			 sni;		/* SEC_SNI: tls_certs[sni] */
	bool			 prev_key;	/* inih would continue it */
	int			 seen[MAXKEYS];	/* line of each key, 0: unseen */
	unsigned		 backends;	/* bit per backend key */
	int			 server_line, tls_line;
};

/* At the end of a [tls NAME]: both files given. */
static void
config_sni_end(struct config_ctx *ctx)
{
	const struct tls_cert_spec	*t = &ctx->cfg->tls_certs[ctx->sni];

	if (t->cert == NULL || t->key == NULL)
		ctx->errors += config_err(ctx->cfg, ctx->errfp, t->line,
		    "%s: needs cert and key", ctx->secname);
}

/*
 * At the end of a [route]: exactly one of exec, dir, connect, echo,
 * targets.
 */
static void
config_section_end(struct config_ctx *ctx)
{
	static const char *names[NBACKENDS] = { "exec", "dir", "connect",
	    "echo", "targets", "view" };
	char		 list[64] = "";
	unsigned	 i, n = 0;

	if (ctx->sec == SEC_SNI)
		config_sni_end(ctx);
	if (ctx->sec != SEC_ROUTE)
		return;
	for (i = 0; i < NBACKENDS; i++) {
		if (ctx->backends & (1U << i)) {
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", n++ ? ", " : "", names[i]);
		}
	}
	if (n == 0)
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->sec_line,
		    "%s: no backend: give exec, dir, connect, targets, "
		    "echo = yes or view",
		    ctx->secname);
	else if (n > 1)
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->sec_line,
		    "%s: more than one backend (%s)", ctx->secname, list);
}

/* '*' only in a final slash-star; no blanks, controls or query. */
static const char *
config_path_why(const char *p)
{
	const char	*star = strchr(p, '*');
	size_t		 len = strlen(p);

	if (*p != '/')
		return "route path must start with '/'";
	if (star != NULL && (star != p + len - 1 || star[-1] != '/'))
		return "'*' is only allowed as a final \"/*\"";
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' ||
		    *p == 0x7f)
			return "route path has a blank, control, '?' or '#'";
	return NULL;
}

static void
config_section_route(struct config_ctx *ctx, char *path)
{
	const char	*why;
	size_t		 len = strlen(path);

	if (len >= 2 && path[0] == '"' && path[len - 1] == '"') {
		path[len - 1] = '\0';
		path++;
	}
	snprintf(ctx->secname, sizeof(ctx->secname), "[route \"%s\"]", path);
	if ((why = config_path_why(path)) != NULL) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "%s: %s", ctx->secname, why);
		ctx->sec = SEC_SKIP;
		return;
	}
	ctx->route = route_new(path);
	ctx->route->line = ctx->line;
	config_add_route(ctx->cfg, ctx->route);
	ctx->sec = SEC_ROUTE;
	ctx->keys = config_route_keys;
}

/* A server name as SNI sends it, or "*." and one. */
static const char *
config_sni_why(const char *name)
{
	const char	*p = name;

	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0' || *p == '.' || p[strlen(p) - 1] == '.' ||
	    strstr(p, "..") != NULL)
		return "not a server name (want [tls example.com] or "
		    "[tls *.example.com])";
	if (strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(p))
		return "server name has characters other than letters, "
		    "digits, '-' and '.'";
	return NULL;
}

static bool
config_sni_duplicate(struct config_ctx *ctx, const char *name)
{
	const struct config	*cfg = ctx->cfg;
	size_t			 i;

	for (i = 0; i < cfg->ntls_certs; i++)
		if (strcmp(cfg->tls_certs[i].name, name) == 0) {
			ctx->errors += config_err(cfg, ctx->errfp, ctx->line,
			    "duplicate section %s (first on line %d)",
			    ctx->secname, cfg->tls_certs[i].line);
			return true;
		}
	return false;
}

/* A [tls NAME] line: one more certificate, chosen by SNI. */
static void
config_section_sni(struct config_ctx *ctx, char *name)
{
	struct config		*cfg = ctx->cfg;
	struct tls_cert_spec	*v;
	const char		*why;
	size_t			 i;

	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	snprintf(ctx->secname, sizeof(ctx->secname), "[tls %s]", name);
	if ((why = config_sni_why(name)) != NULL) {
		ctx->errors += config_err(cfg, ctx->errfp, ctx->line, "%s: %s",
		    ctx->secname, why);
		return;
	}
	if (config_sni_duplicate(ctx, name))
		return;
	v = realloc(cfg->tls_certs, (cfg->ntls_certs + 1) * sizeof(*v));
	if (v == NULL)
		config_oom();
	cfg->tls_certs = v;
	ctx->sni = cfg->ntls_certs++;
	memset(&v[ctx->sni], 0, sizeof(*v));
	v[ctx->sni].name = config_xstrdup(name);
	v[ctx->sni].line = ctx->line;
	ctx->sec = SEC_SNI;
	ctx->keys = config_sni_keys;
}

/* [server] and [tls] may appear once each. */
static void
config_section_once(struct config_ctx *ctx, int *first,
    enum config_section sec, const struct config_key *keys)
{
	snprintf(ctx->secname, sizeof(ctx->secname), "[%s]",
	    sec == SEC_SERVER ? "server" : "tls");
	if (*first != 0) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "duplicate section %s (first on line %d)", ctx->secname,
		    *first);
		ctx->sec = SEC_SKIP;
		return;
	}
	*first = ctx->line;
	ctx->sec = sec;
	ctx->keys = keys;
}

static bool
config_blank_or_comment(const char *s)
{
	s += strspn(s, " \t");
	return *s == '\0' || *s == ';' || *s == '#';
}

/* A "[name]" line: close the previous section and open the new one. */
static void
config_section(struct config_ctx *ctx, char *start)
{
	char	*end = strchr(start, ']'), *name;

	config_section_end(ctx);
	ctx->sec_line = ctx->line;
	memset(ctx->seen, 0, sizeof(ctx->seen));
	ctx->backends = 0;
	ctx->route = NULL;
	ctx->sec = SEC_SKIP;
	if (end == NULL || !config_blank_or_comment(end + 1)) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "bad section header (want [server], [tls] or "
		    "[route /PATH])");
		return;
	}
	*end = '\0';
	for (name = start + 1; *name == ' ' || *name == '\t'; name++)
		;
	while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (strcmp(name, "server") == 0)
		config_section_once(ctx, &ctx->server_line, SEC_SERVER,
		    config_server_keys);
	else if (strcmp(name, "tls") == 0)
		config_section_once(ctx, &ctx->tls_line, SEC_TLS,
		    config_tls_keys);
	else if (strncmp(name, "tls", 3) == 0 && (name[3] == ' ' ||
	    name[3] == '\t'))
		config_section_sni(ctx, name + 4 + strspn(name + 4, " \t"));
	else if (strncmp(name, "route", 5) == 0 && (name[5] == ' ' ||
	    name[5] == '\t'))
		config_section_route(ctx, name + 6 + strspn(name + 6, " \t"));
	else
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    strcmp(name, "route") == 0 ? "[%s]: missing path, e.g. "
		    "[route /chat]" : "unknown section [%s]", name);
}

/*
 * Look at a line before inih does: sections are handled here (inih has
 * no callback for them), continuation lines are refused, and what inih
 * gets has no indentation, so it never continues a value itself.
 * Returns the text to hand to inih.
 */
static char *
config_scan_line(struct config_ctx *ctx, char *line)
{
	char	*start;

	if (ctx->line == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	start = line + strspn(line, " \t");
	if (*start == '\0' || *start == ';' || *start == '#')
		return start;
	if (start > line && ctx->prev_key) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "indented continuation lines are not supported");
		return NULL;
	}
	if (*start == '[') {
		ctx->prev_key = false;
		config_section(ctx, start);
		return NULL;
	}
	ctx->prev_key = true;
	if (strpbrk(start, "=:") == NULL) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "expected \"key = value\"");
		return NULL;
	}
	return start;
}

/*
 * inih's reader: one physical line per call, so inih's line count and
 * ours agree. Over-long lines are reported and replaced by a blank line
 * instead of being cut in pieces as inih would.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_ctx	*ctx = stream;
	ssize_t			 len;
	char			*text;

	if ((len = getline(&ctx->buf, &ctx->bufsz, ctx->fp)) == -1)
		return NULL;
	ctx->line++;
	while (len > 0 && (ctx->buf[len - 1] == '\n' ||
	    ctx->buf[len - 1] == '\r'))
		ctx->buf[--len] = '\0';
	if (len > CONFIG_MAX_LINE || len >= num) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "line too long (%zd > %d characters)", len,
		    CONFIG_MAX_LINE);
		text = NULL;
	} else
		text = config_scan_line(ctx, ctx->buf);
	snprintf(str, (size_t)num, "%s", text != NULL ? text : "");
	return str;
}

/* The key's table entry, or NULL after reporting it unknown or repeated. */
static const struct config_key *
config_key_lookup(struct config_ctx *ctx, const char *name)
{
	const struct config_key	*k;
	size_t			 i;

	if ((k = config_key_find(ctx->keys, name)) == NULL) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "%s: unknown key \"%s\"", ctx->secname, name);
		return NULL;
	}
	i = (size_t)(k - ctx->keys);
	if (i >= MAXKEYS)
		abort();	/* a bug: raise MAXKEYS */
	if (!k->repeat && ctx->seen[i] != 0) {
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "%s: duplicate key \"%s\" (first on line %d)",
		    ctx->secname, name, ctx->seen[i]);
		return NULL;
	}
	ctx->seen[i] = ctx->line;
	return k;
}

/* inih's callback for each "key = value" line. */
static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_ctx	*ctx = user;
	const struct config_key	*k;
	char			 err[512], *base;
	bool			 b;

	(void)section;
	if (ctx->sec == SEC_NONE)
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "key \"%s\" outside a section", name);
	if (ctx->sec == SEC_NONE || ctx->sec == SEC_SKIP ||
	    (k = config_key_lookup(ctx, name)) == NULL)
		return 1;
	if (ctx->sec == SEC_SNI)
		base = (char *)&ctx->cfg->tls_certs[ctx->sni];
	else
		base = ctx->route != NULL ? (char *)ctx->route :
		    (char *)ctx->cfg;
	if (config_key_set(ctx->cfg, ctx->route, base, k, value, ctx->line,
	    err, sizeof(err)) == -1)
		ctx->errors += config_err(ctx->cfg, ctx->errfp, ctx->line,
		    "%s: %s: %s", ctx->secname, name, err);
	/* a bad backend value counts: no "no backend" on top of it */
	if (k->type >= T_EXEC && (k->type != T_ECHO ||
	    config_parse_bool(value, &b) == -1 || b))
		ctx->backends |= 1U << (k->type - T_EXEC);
	return 1;
}

int
config_load(struct config *cfg, const char *path, FILE *errfp)
{
	struct config_ctx	 ctx;
	struct stat		 st;
	int			 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.errfp = errfp;
	free(cfg->path);
	cfg->path = config_xstrdup(path);
	/* A directory opens and reads as empty: say what it is instead. */
	if ((ctx.fp = fopen(path, "re")) == NULL ||
	    fstat(fileno(ctx.fp), &st) == -1 ||
	    (S_ISDIR(st.st_mode) && (errno = EISDIR) != 0)) {
		if (errfp != NULL)
			fprintf(errfp, "wsbridge: %s: %s\n", path,
			    strerror(errno));
		if (ctx.fp != NULL)
			fclose(ctx.fp);
		return -1;
	}
	rc = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
	config_section_end(&ctx);
	if (rc != 0 && ctx.errors == 0)
		ctx.errors += config_err(cfg, errfp, rc > 0 ? rc : 0,
		    "syntax error");
	free(ctx.buf);
	fclose(ctx.fp);
	return ctx.errors;
}
