/*
 * Configuration: defaults, the INI loader (inih) with FILE:LINE errors.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "config_int.h"

enum config_type {
	T_STR, T_INT, T_DURATION, T_SIZE, T_BOOL, T_LIST, T_HEADER, T_ENV,
	T_LISTEN, T_TLSLISTEN, T_WORKERS, T_LOGLEVEL, T_ACCESSLOG, T_MODE,
	T_LOGFORMAT, T_TLSVERSION, T_AUTH, T_SENDPROXY, T_CIDRS, T_URLPATH,
	T_HEADERNAME, T_REALM,
	/* backends last: config_handler counts them by type - T_EXEC */
	T_EXEC, T_DIR, T_CONNECT, T_ECHO, T_TARGETS,
};
#define NBACKENDS	(T_TARGETS - T_EXEC + 1)

#define NOLINE		((size_t)-1)
#define MAXKEYS		40

/* One key of a section: where it goes in struct config or struct route. */
struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 off;		/* field offset */
	size_t			 line_off;	/* int line field, or NOLINE */
	int64_t			 min, max;	/* T_INT, T_SIZE, T_DURATION */
	bool			 repeat;
};

#define C(f)	offsetof(struct config, f)
#define R(f)	offsetof(struct route, f)
#define S(f)	offsetof(struct tls_cert_spec, f)
#define BIG	INT64_MAX

#define LIMIT_KEYS(S)							\
	{ "max_message_size", T_SIZE, S(limits.max_message_size),	\
	    NOLINE, 1, BIG, false },					\
	{ "buffer_size", T_SIZE, S(limits.buffer_size), NOLINE,		\
	    1024, BIG, false },						\
	{ "ping_interval", T_DURATION, S(limits.ping_interval_ms),	\
	    NOLINE, 0, BIG, false },					\
	{ "ping_timeout", T_DURATION, S(limits.ping_timeout_ms),	\
	    NOLINE, 1, BIG, false },					\
	{ "idle_timeout", T_DURATION, S(limits.idle_timeout_ms),	\
	    NOLINE, 0, BIG, false },					\
	{ "close_grace", T_DURATION, S(limits.close_grace_ms),		\
	    NOLINE, 0, BIG, false },					\
	{ "connect_timeout", T_DURATION, S(limits.connect_timeout_ms),	\
	    NOLINE, 1, BIG, false },					\
	{ "header", T_HEADER, S(headers), NOLINE, 0, 0, true },	\
	{ "header_ws", T_HEADER, S(headers_ws), NOLINE, 0, 0, true },	\
	{ "header_http", T_HEADER, S(headers_http), NOLINE, 0, 0, true }

static const struct config_key config_server_keys[] = {
	{ "listen", T_LISTEN, 0, NOLINE, 0, 0, true },
	{ "workers", T_WORKERS, C(workers), NOLINE, 0, 0, false },
	{ "max_connections", T_INT, C(max_connections), NOLINE, 1,
	    INT_MAX, false },
	{ "handshake_timeout", T_DURATION, C(handshake_timeout_ms), NOLINE,
	    1, BIG, false },
	{ "close_timeout", T_DURATION, C(close_timeout_ms), NOLINE, 1, BIG,
	    false },
	{ "shutdown_timeout", T_DURATION, C(shutdown_timeout_ms), NOLINE,
	    0, BIG, false },
	{ "max_header_size", T_SIZE, C(max_header_size), NOLINE, 1024,
	    INT_MAX, false },
	{ "static_dir", T_STR, C(static_dir), C(static_dir_line), 0, 0,
	    false },
	{ "devconsole", T_BOOL, C(devconsole), NOLINE, 0, 0, false },
	{ "user", T_STR, C(user), C(user_line), 0, 0, false },
	{ "group", T_STR, C(group), C(group_line), 0, 0, false },
	{ "log_level", T_LOGLEVEL, C(log_level), NOLINE, 0, 0, false },
	{ "access_log", T_ACCESSLOG, C(access_log), C(access_log_line), 0, 0,
	    false },
	{ "access_log_format", T_LOGFORMAT, C(access_log_format), NOLINE,
	    0, 0, false },
	{ "trusted_proxies", T_CIDRS, 0, NOLINE, 0, 0, false },
	{ "max_connections_per_ip", T_INT, C(max_connections_per_ip),
	    NOLINE, 0, INT_MAX, false },
	{ "allow_root", T_BOOL, C(allow_root), C(allow_root_line), 0, 0,
	    false },
	{ "metrics_path", T_URLPATH, C(metrics_path), C(metrics_path_line),
	    0, 0, false },
	{ "metrics_listen", T_STR, C(metrics_listen),
	    C(metrics_listen_line), 0, 0, false },
	LIMIT_KEYS(C),
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

static const struct config_key config_tls_keys[] = {
	{ "listen", T_TLSLISTEN, 0, NOLINE, 0, 0, true },
	{ "cert", T_STR, C(tls_cert), C(tls_cert_line), 0, 0, false },
	{ "key", T_STR, C(tls_key), C(tls_key_line), 0, 0, false },
	{ "client_ca", T_STR, C(tls_client_ca), C(tls_client_ca_line), 0, 0,
	    false },
	{ "min_version", T_TLSVERSION, C(tls_min_version), NOLINE, 0, 0,
	    false },
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

/* [tls NAME]: offsets into its struct tls_cert_spec. */
static const struct config_key config_sni_keys[] = {
	{ "cert", T_STR, S(cert), S(cert_line), 0, 0, false },
	{ "key", T_STR, S(key), S(key_line), 0, 0, false },
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

static const struct config_key config_route_keys[] = {
	{ "exec", T_EXEC, R(argv), R(backend_line), 0, 0, false },
	{ "dir", T_DIR, R(dir), R(backend_line), 0, 0, false },
	{ "connect", T_CONNECT, R(connect), R(backend_line), 0, 0, false },
	{ "echo", T_ECHO, 0, R(backend_line), 0, 0, false },
	{ "targets", T_TARGETS, R(targets), R(backend_line), 0, 0, false },
	{ "mode", T_MODE, R(mode), NOLINE, 0, 0, false },
	{ "origins", T_LIST, R(origins), NOLINE, 0, 0, false },
	{ "same_origin", T_BOOL, R(same_origin), NOLINE, 0, 0, false },
	{ "protocols", T_LIST, R(protocols), NOLINE, 0, 0, false },
	{ "require_protocol", T_BOOL, R(require_protocol), NOLINE, 0, 0,
	    false },
	{ "max_connections", T_INT, R(max_connections), NOLINE, 0, INT_MAX,
	    false },
	{ "pass_env", T_LIST, R(pass_env), NOLINE, 0, 0, false },
	{ "env", T_ENV, R(env), NOLINE, 0, 0, true },
	{ "cwd", T_STR, R(cwd), R(cwd_line), 0, 0, false },
	{ "compression", T_BOOL, R(compression), NOLINE, 0, 0, false },
	{ "readonly", T_BOOL, R(readonly), NOLINE, 0, 0, false },
	{ "term", T_STR, R(term), NOLINE, 0, 0, false },
	{ "auth", T_AUTH, R(auth), R(auth_line), 0, 0, false },
	{ "auth_file", T_STR, R(auth_file), R(auth_file_line), 0, 0, false },
	{ "auth_realm", T_REALM, R(auth_realm), NOLINE, 0, 0, false },
	{ "auth_header", T_HEADERNAME, R(auth_header), R(auth_header_line),
	    0, 0, false },
	{ "send_proxy", T_SENDPROXY, R(send_proxy), R(send_proxy_line), 0,
	    0, false },
	LIMIT_KEYS(R),
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

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

void
config_oom(void)
{
	fputs("wsbridge: out of memory\n", stderr);
	abort();
}

void *
config_xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		config_oom();
	return p;
}

char *
config_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		config_oom();
	return p;
}

void
strlist_add(struct strlist *l, const char *s)
{
	char	**v;

	if ((v = realloc(l->v, (l->n + 2) * sizeof(*v))) == NULL)
		config_oom();
	v[l->n++] = config_xstrdup(s);
	v[l->n] = NULL;
	l->v = v;
}

void
strlist_free(struct strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Set but empty: "pass_env =" differs from no pass_env at all. */
static void
strlist_set_empty(struct strlist *l)
{
	strlist_free(l);
	l->v = config_xcalloc(1, sizeof(*l->v));
}

void
strlist_copy(struct strlist *dst, const struct strlist *src)
{
	size_t	 i;

	strlist_set_empty(dst);
	for (i = 0; i < src->n; i++)
		strlist_add(dst, src->v[i]);
}

/* Replace l with the items of a comma list, blanks trimmed. */
void
strlist_set_csv(struct strlist *l, const char *csv)
{
	const char	*p, *e, *end;

	strlist_set_empty(l);
	for (p = csv; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		end = e;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > p) {
			char	*item = strndup(p, (size_t)(end - p));

			if (item == NULL)
				config_oom();
			strlist_add(l, item);
			free(item);
		}
	}
}

static void
config_limits_init(struct route_limits *l, int64_t v)
{
	l->max_message_size = v;
	l->buffer_size = v;
	l->ping_interval_ms = v;
	l->ping_timeout_ms = v;
	l->idle_timeout_ms = v;
	l->close_grace_ms = v;
	l->connect_timeout_ms = v;
}

struct config *
config_new(void)
{
	struct config	*cfg = config_xcalloc(1, sizeof(*cfg));

	cfg->workers = 1;
	cfg->max_connections = CONFIG_MAX_CONNECTIONS;
	cfg->handshake_timeout_ms = CONFIG_HANDSHAKE_TIMEOUT_MS;
	cfg->close_timeout_ms = CONFIG_CLOSE_TIMEOUT_MS;
	cfg->shutdown_timeout_ms = CONFIG_SHUTDOWN_TIMEOUT_MS;
	cfg->max_header_size = CONFIG_MAX_HEADER_SIZE;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->tls_min_version = CONFIG_TLS_1_2;
	cfg->limits.max_message_size = CONFIG_MAX_MESSAGE_SIZE;
	cfg->limits.buffer_size = CONFIG_BUFFER_SIZE;
	cfg->limits.ping_interval_ms = CONFIG_PING_INTERVAL_MS;
	cfg->limits.ping_timeout_ms = CONFIG_PING_TIMEOUT_MS;
	cfg->limits.idle_timeout_ms = CONFIG_IDLE_TIMEOUT_MS;
	cfg->limits.close_grace_ms = CONFIG_CLOSE_GRACE_MS;
	cfg->limits.connect_timeout_ms = CONFIG_CONNECT_TIMEOUT_MS;
	return cfg;
}

static void
route_free(struct route *r)
{
	free(r->path);
	free(r->label);
	strlist_free(&r->argv);
	free(r->dir);
	free(r->connect);
	strlist_free(&r->origins);
	strlist_free(&r->protocols);
	strlist_free(&r->pass_env);
	strlist_free(&r->env);
	free(r->cwd);
	strlist_free(&r->headers);
	strlist_free(&r->headers_ws);
	strlist_free(&r->headers_http);
	free(r->term);
	free(r->auth_file);
	free(r->auth_realm);
	free(r->auth_header);
	free(r->targets);
	free(r);
}

static void
config_free_sni(struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->ntls_certs; i++) {
		free(cfg->tls_certs[i].name);
		free(cfg->tls_certs[i].cert);
		free(cfg->tls_certs[i].key);
	}
	free(cfg->tls_certs);
}

void
config_free(struct config *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nroutes; i++)
		route_free(cfg->routes[i]);
	free(cfg->routes);
	for (i = 0; i < cfg->nlistens; i++)
		free(cfg->listens[i].spec);
	free(cfg->listens);
	free(cfg->path);
	free(cfg->static_dir);
	free(cfg->user);
	free(cfg->group);
	free(cfg->access_log);
	strlist_free(&cfg->headers);
	strlist_free(&cfg->headers_ws);
	strlist_free(&cfg->headers_http);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	config_free_sni(cfg);
	free(cfg->trusted_proxies);
	free(cfg->metrics_path);
	free(cfg->metrics_listen);
	free(cfg);
}

struct route *
route_new(const char *path)
{
	struct route	*r = config_xcalloc(1, sizeof(*r));
	size_t		 len = strlen(path);

	if (len >= 2 && strcmp(path + len - 2, "/*") == 0) {
		r->prefix = true;
		len -= 2;
	}
	if ((r->path = strndup(path, len)) == NULL ||
	    (r->label = strdup(path)) == NULL)
		config_oom();
	r->kind = BACKEND_NONE;
	r->mode = MODE_DEFAULT;
	config_limits_init(&r->limits, -1);
	return r;
}

void
config_add_route(struct config *cfg, struct route *r)
{
	struct route	**v;

	v = realloc(cfg->routes, (cfg->nroutes + 1) * sizeof(*v));
	if (v == NULL)
		config_oom();
	v[cfg->nroutes++] = r;
	cfg->routes = v;
}

void
config_add_listen(struct config *cfg, const char *spec, bool tls, int line)
{
	struct listen_spec	*v, *ls;

	v = realloc(cfg->listens, (cfg->nlistens + 1) * sizeof(*v));
	if (v == NULL)
		config_oom();
	ls = &v[cfg->nlistens++];
	memset(ls, 0, sizeof(*ls));
	ls->spec = config_xstrdup(spec);
	ls->tls = tls;
	ls->line = line;
	cfg->listens = v;
}

void
config_clear_listens(struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nlistens; i++)
		free(cfg->listens[i].spec);
	free(cfg->listens);
	cfg->listens = NULL;
	cfg->nlistens = 0;
}

/*
 * Report one error: "FILE:LINE: message", or "wsbridge: message" for
 * what came from the command line (line 0). Returns 1 for counting.
 */
int __attribute__((format(printf, 4, 5)))
config_err(const struct config *cfg, FILE *errfp, int line,
    const char *fmt, ...)
{
	va_list	 ap;

	if (errfp == NULL)
		return 1;
	if (line > 0 && cfg->path != NULL)
		fprintf(errfp, "%s:%d: ", cfg->path, line);
	else
		fputs("wsbridge: ", errfp);
	va_start(ap, fmt);
	vfprintf(errfp, fmt, ap);
	va_end(ap);
	fputc('\n', errfp);
	return 1;
}

/* A route as written in the file: "/echo", or "/scripts" plus slash-star. */
const char *
config_route_name(const struct route *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", r->path, r->prefix ? "/*" : "");
	return buf;
}

/* An error about a route; routes from the command line have no name. */
int __attribute__((format(printf, 5, 6)))
config_route_err(const struct config *cfg, FILE *errfp,
    const struct route *r, int line, const char *fmt, ...)
{
	char	 msg[1024], name[PATH_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line <= 0 || cfg->path == NULL)
		return config_err(cfg, errfp, 0, "%s", msg);
	return config_err(cfg, errfp, line, "[route \"%s\"]: %s",
	    config_route_name(r, name, sizeof(name)), msg);
}

/* A response header line as websocketd takes it: "Name: value". */
static bool
config_header_ok(const char *h)
{
	const char	*colon = strchr(h, ':');
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	if (colon == NULL || colon == h)
		return false;
	if (strspn(h, tchar) != (size_t)(colon - h))
		return false;
	return strpbrk(h, "\r\n") == NULL;
}

static bool
config_env_ok(const char *e)
{
	const char	*eq = strchr(e, '=');
	static const char ident[] = "_0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	if (eq == NULL || eq == e || (*e >= '0' && *e <= '9'))
		return false;
	return strspn(e, ident) == (size_t)(eq - e);
}

static int
config_range_err(const struct config_key *k, const char *v, char *err,
    size_t errlen)
{
	if (k->max == BIG)
		snprintf(err, errlen, "\"%s\" is too small (minimum %lld%s)",
		    v, (long long)k->min, k->type == T_DURATION ? "ms" : "");
	else
		snprintf(err, errlen, "\"%s\" out of range (%lld to %lld)",
		    v, (long long)k->min, (long long)k->max);
	return -1;
}

static int
config_set_number(void *p, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	int64_t		 n;
	const char	*what, *hint = "";
	int		 rc;

	switch (k->type) {
	case T_INT:
		what = "number";
		rc = config_parse_int(v, INT64_MIN, INT64_MAX, &n);
		break;
	case T_DURATION:
		what = "duration";
		hint = " (use ms, s, m or h, e.g. 500ms, 10s)";
		rc = config_parse_duration(v, &n);
		break;
	default:
		what = "size";
		hint = " (a number with K, M or G)";
		rc = config_parse_size(v, &n);
		break;
	}
	if (rc == -1) {
		snprintf(err, errlen, "invalid %s \"%s\"%s", what, v, hint);
		return -1;
	}
	if (n < k->min || n > k->max)
		return config_range_err(k, v, err, errlen);
	if (k->type == T_INT)
		*(int *)p = (int)n;
	else
		*(int64_t *)p = n;
	return 0;
}

static int
config_set_string(void *p, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	char	**s = p;

	switch (k->type) {
	case T_LIST:
		strlist_set_csv(p, v);
		return 0;
	case T_HEADER:
	case T_ENV:
		if (k->type == T_HEADER ? !config_header_ok(v) :
		    !config_env_ok(v)) {
			snprintf(err, errlen, "invalid %s \"%s\" (want %s)",
			    k->type == T_HEADER ? "header" : "variable", v,
			    k->type == T_HEADER ? "Name: value" :
			    "NAME=value");
			return -1;
		}
		strlist_add(p, v);
		return 0;
	default:
		free(*s);
		*s = NULL;
		if (*v != '\0' && (k->type != T_ACCESSLOG ||
		    strcmp(v, "stderr") != 0))
			*s = config_xstrdup(v);
		return 0;
	}
}

/* Values spelled as one of a few words, and the numbers they stand for. */
struct config_word {
	enum config_type	 type;
	const char		*word;
	int			 value;
};

static const struct config_word config_words[] = {
	{ T_LOGLEVEL, "error", LOG_LEVEL_ERROR },
	{ T_LOGLEVEL, "warn", LOG_LEVEL_WARN },
	{ T_LOGLEVEL, "info", LOG_LEVEL_INFO },
	{ T_LOGLEVEL, "access", LOG_LEVEL_ACCESS },
	{ T_LOGLEVEL, "debug", LOG_LEVEL_DEBUG },
	{ T_MODE, "text", MODE_TEXT },
	{ T_MODE, "binary", MODE_BINARY },
	{ T_MODE, "pty", MODE_PTY },
	{ T_LOGFORMAT, "text", ACCESS_LOG_TEXT },
	{ T_LOGFORMAT, "json", ACCESS_LOG_JSON },
	{ T_TLSVERSION, "1.2", CONFIG_TLS_1_2 },
	{ T_TLSVERSION, "1.3", CONFIG_TLS_1_3 },
	{ T_AUTH, "none", AUTH_NONE },
	{ T_AUTH, "basic", AUTH_BASIC },
	{ T_SENDPROXY, "no", SEND_PROXY_NO },
	{ T_SENDPROXY, "v1", SEND_PROXY_V1 },
	{ T_SENDPROXY, "v2", SEND_PROXY_V2 },
	{ T_STR, NULL, 0 },
};

/* What a word-valued key is called in errors. */
static const char *
config_word_what(enum config_type t)
{
	switch (t) {
	case T_LOGLEVEL:
		return "log level";
	case T_MODE:
		return "mode";
	case T_LOGFORMAT:
		return "access log format";
	case T_TLSVERSION:
		return "TLS version";
	case T_AUTH:
		return "auth";
	default:
		return "send_proxy";
	}
}

/* "a, b or c": the words a key of type t takes. */
static void
config_word_list(enum config_type t, char *buf, size_t len)
{
	const struct config_word	*w;
	size_t				 n = 0, i = 0, total = 0;

	for (w = config_words; w->word != NULL; w++)
		total += w->type == t;
	for (w = config_words; w->word != NULL && n < len; w++) {
		if (w->type != t)
			continue;
		i++;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i == 1 ? "" :
		    i == total ? " or " : ", ", w->word);
	}
}

/* The enum fields are int-sized; store the word's number through int. */
static int
config_set_word(void *p, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	const struct config_word	*w;
	char				 list[128];

	for (w = config_words; w->word != NULL; w++) {
		if (w->type == k->type && strcmp(v, w->word) == 0) {
			*(int *)p = w->value;
			return 0;
		}
	}
	config_word_list(k->type, list, sizeof(list));
	snprintf(err, errlen, "invalid %s \"%s\" (%s)",
	    config_word_what(k->type), v, list);
	return -1;
}

static int
config_set_backend(struct route *r, const struct config_key *k,
    const char *v, char *err, size_t errlen)
{
	const char	*why = NULL;
	bool		 b;

	switch (k->type) {
	case T_EXEC:
		strlist_free(&r->argv);
		if (config_split_argv(v, &r->argv, &why) == -1)
			break;
		r->kind = BACKEND_EXEC;
		return 0;
	case T_ECHO:
		if (config_parse_bool(v, &b) == -1) {
			snprintf(err, errlen, "invalid boolean \"%s\" "
			    "(use yes or no)", v);
			return -1;
		}
		if (b)
			r->kind = BACKEND_ECHO;
		else if (r->kind == BACKEND_ECHO)
			r->kind = BACKEND_NONE;
		return 0;
	default:
		if (*v == '\0') {
			why = "empty value";
			break;
		}
		free(*(char **)((char *)r + k->off));
		*(char **)((char *)r + k->off) = config_xstrdup(v);
		r->kind = k->type == T_DIR ? BACKEND_DIR : k->type ==
		    T_TARGETS ? BACKEND_TARGETS : BACKEND_CONNECT;
		return 0;
	}
	snprintf(err, errlen, "%s", why);
	return -1;
}

/*
 * "ADDRESS" or "ADDRESS proxy_protocol": the flag belongs to this one
 * listener, so a port for HAProxy and a direct one can coexist.
 */
static int
config_set_listen(struct config *cfg, const struct config_key *k,
    const char *v, int line, char *err, size_t errlen)
{
	const char	*word;
	char		*addr;
	size_t		 len = strcspn(v, " \t");

	word = v + len + strspn(v + len, " \t");
	if (len == 0 || (*word != '\0' && strcmp(word, "proxy_protocol"))) {
		snprintf(err, errlen, "invalid address \"%s\"%s", v, len == 0 ?
		    "" : " (want ADDRESS or ADDRESS proxy_protocol)");
		return -1;
	}
	if ((addr = strndup(v, len)) == NULL)
		config_oom();
	config_add_listen(cfg, addr, k->type == T_TLSLISTEN, line);
	cfg->listens[cfg->nlistens - 1].proxy_protocol = *word != '\0';
	free(addr);
	return 0;
}

/* trusted_proxies: a comma list, each item checked in full. */
static int
config_set_cidrs(struct config *cfg, const char *v, char *err,
    size_t errlen)
{
	struct strlist	 l = { NULL, 0 };
	struct cidr	*c;
	const char	*why;
	size_t		 i;
	int		 rc = 0;

	strlist_set_csv(&l, v);
	c = config_xcalloc(l.n + 1, sizeof(*c));
	for (i = 0; i < l.n && rc == 0; i++)
		if ((rc = config_parse_cidr(l.v[i], &c[i], &why)) == -1)
			snprintf(err, errlen, "\"%s\": %s", l.v[i], why);
	strlist_free(&l);
	if (rc == -1) {
		free(c);
		return -1;
	}
	free(cfg->trusted_proxies);
	cfg->trusted_proxies = c;
	cfg->ntrusted_proxies = i;
	return 0;
}

/* Why a string value is refused for its key, or NULL. */
static const char *
config_string_why(enum config_type t, const char *v)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	const char	*p;

	if (t == T_URLPATH && *v != '\0' && *v != '/')
		return "must start with '/'";
	if (t == T_HEADERNAME && (*v == '\0' || strspn(v, tchar) !=
	    strlen(v)))
		return "not a header name";
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f || (t == T_REALM &&
		    (*p == '"' || *p == '\\')) || (t == T_URLPATH &&
		    (*p == ' ' || *p == '?' || *p == '#')))
			return t == T_REALM ? "no quotes, backslashes or "
			    "control characters" : "invalid character";
	return NULL;
}

static int
config_set_checked(void *p, const struct config_key *k, const char *v,
    char *err, size_t errlen)
{
	const char	*why;

	if ((why = config_string_why(k->type, v)) != NULL) {
		snprintf(err, errlen, "\"%s\": %s", v, why);
		return -1;
	}
	free(*(char **)p);
	*(char **)p = *v == '\0' ? NULL : config_xstrdup(v);
	return 0;
}

static int
config_set_other(struct config *cfg, void *p, const struct config_key *k,
    const char *v, int line, char *err, size_t errlen)
{
	int64_t	 n;
	bool	 b;

	switch (k->type) {
	case T_LISTEN:
	case T_TLSLISTEN:
		return config_set_listen(cfg, k, v, line, err, errlen);
	case T_CIDRS:
		return config_set_cidrs(cfg, v, err, errlen);
	case T_WORKERS:
		if (strcmp(v, "auto") == 0)
			n = 0;
		else if (config_parse_int(v, 1, 1024, &n) == -1)
			break;
		*(int *)p = (int)n;
		return 0;
	default:
		if (config_parse_bool(v, &b) == -1) {
			snprintf(err, errlen, "invalid boolean \"%s\" "
			    "(use yes or no)", v);
			return -1;
		}
		*(bool *)p = b;
		return 0;
	}
	snprintf(err, errlen, "invalid %s \"%s\"", k->type == T_WORKERS ?
	    "number of workers (1 to 1024 or auto)" : "address", v);
	return -1;
}

/*
 * Store one value into base (the config, a route or a [tls NAME] spec, as
 * the key's table says); err gets the reason without the key's name.
 */
static int
config_key_set(struct config *cfg, struct route *r, char *base,
    const struct config_key *k, const char *v, int line, char *err,
    size_t errlen)
{
	void	*p = base + k->off;
	int	 rc;

	switch (k->type) {
	case T_INT:
	case T_DURATION:
	case T_SIZE:
		rc = config_set_number(p, k, v, err, errlen);
		break;
	case T_STR:
	case T_LIST:
	case T_HEADER:
	case T_ENV:
	case T_ACCESSLOG:
		rc = config_set_string(p, k, v, err, errlen);
		break;
	case T_LOGLEVEL:
	case T_MODE:
	case T_LOGFORMAT:
	case T_TLSVERSION:
	case T_AUTH:
	case T_SENDPROXY:
		rc = config_set_word(p, k, v, err, errlen);
		break;
	case T_URLPATH:
	case T_HEADERNAME:
	case T_REALM:
		rc = config_set_checked(p, k, v, err, errlen);
		break;
	case T_EXEC:
	case T_DIR:
	case T_CONNECT:
	case T_ECHO:
	case T_TARGETS:
		rc = config_set_backend(r, k, v, err, errlen);
		break;
	default:
		rc = config_set_other(cfg, p, k, v, line, err, errlen);
		break;
	}
	if (rc == 0 && k->line_off != NOLINE)
		*(int *)(base + k->line_off) = line;
	return rc;
}

static const struct config_key *
config_key_find(const struct config_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

int
config_set(struct config *cfg, struct route *r, const char *key,
    const char *value, int line, char *err, size_t errlen)
{
	const struct config_key	*k;

	k = config_key_find(r != NULL ? config_route_keys :
	    config_server_keys, key);
	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", key);
		return -1;
	}
	return config_key_set(cfg, r, r != NULL ? (char *)r : (char *)cfg, k,
	    value, line, err, errlen);
}

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
	    "echo", "targets" };
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
		    "%s: no backend: give exec, dir, connect, targets or "
		    "echo = yes",
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
	int			 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.errfp = errfp;
	free(cfg->path);
	cfg->path = config_xstrdup(path);
	if ((ctx.fp = fopen(path, "r")) == NULL) {
		if (errfp != NULL)
			fprintf(errfp, "wsbridge: %s: %s\n", path,
			    strerror(errno));
		return 1;
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
