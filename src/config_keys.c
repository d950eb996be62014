/*
 * The configuration's keys: one table per section (where each value goes,
 * its type and range) and the parsers that store a value, shared by the
 * INI loader and the command line (config_set).
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

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
	{ "send_timeout", T_DURATION, S(limits.send_timeout_ms),	\
	    NOLINE, 0, BIG, false },					\
	{ "close_grace", T_DURATION, S(limits.close_grace_ms),		\
	    NOLINE, 0, BIG, false },					\
	{ "connect_timeout", T_DURATION, S(limits.connect_timeout_ms),	\
	    NOLINE, 1, BIG, false },					\
	{ "poll_timeout", T_DURATION, S(limits.poll_timeout_ms),	\
	    NOLINE, 0, BIG, false },					\
	{ "session_timeout", T_DURATION, S(limits.session_timeout_ms),	\
	    NOLINE, 1, BIG, false },					\
	{ "header", T_HEADER, S(headers), NOLINE, 0, 0, true },	\
	{ "header_ws", T_HEADER, S(headers_ws), NOLINE, 0, 0, true },	\
	{ "header_http", T_HEADER, S(headers_http), NOLINE, 0, 0, true }

const struct config_key config_server_keys[] = {
	{ "listen", T_LISTEN, 0, NOLINE, 0, 0, true },
	{ "workers", T_WORKERS, C(workers), C(workers_line), 0, 0, false },
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
	{ "cgi_dir", T_STR, C(cgi_dir), C(cgi_dir_line), 0, 0, false },
	{ "cgi_timeout", T_DURATION, C(cgi_timeout_ms), NOLINE, 1, BIG,
	    false },
	{ "cgi_max_body", T_SIZE, C(cgi_max_body), NOLINE, 0, BIG, false },
	{ "devconsole", T_BOOL, C(devconsole), NOLINE, 0, 0, false },
	{ "reverse_lookup", T_BOOL, C(reverse_lookup), NOLINE, 0, 0,
	    false },
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
	{ "assets_dir", T_STR, C(assets_dir), NOLINE, 0, 0, false },
	{ "record", T_STR, C(record), NOLINE, 0, 0, false },
	LIMIT_KEYS(C),
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

const struct config_key config_tls_keys[] = {
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
const struct config_key config_sni_keys[] = {
	{ "cert", T_STR, S(cert), S(cert_line), 0, 0, false },
	{ "key", T_STR, S(key), S(key_line), 0, 0, false },
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

const struct config_key config_route_keys[] = {
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
	{ "transports", T_TRANSPORTS, R(transports), R(transports_line), 0,
	    0, false },
	{ "view", T_VIEW, R(view), R(backend_line), 0, 0, false },
	{ "share", T_SHARE, R(share), R(share_line), 0, 0, false },
	{ "persist", T_DURATION, R(persist_ms), NOLINE, 0, BIG, false },
	{ "replay", T_SIZE, R(replay), NOLINE, 0, BIG, false },
	{ "slow_client", T_SLOW, R(slow_client), NOLINE, 0, 0, false },
	{ "record", T_STR, R(record_dir), R(record_line), 0, 0, false },
	{ "record_input", T_BOOL, R(record_input), NOLINE, 0, 0, false },
	{ "record_max", T_SIZE, R(record_max), NOLINE, 0, BIG, false },
	LIMIT_KEYS(R),
	{ NULL, T_STR, 0, NOLINE, 0, 0, false },
};

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
	{ T_SHARE, "no", SHARE_NO },
	{ T_SHARE, "route", SHARE_ROUTE },
	{ T_SHARE, "id", SHARE_ID },
	{ T_SHARE, "user", SHARE_USER },
	{ T_SLOW, "close", SLOW_CLOSE },
	{ T_SLOW, "skip", SLOW_SKIP },
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
	case T_SHARE:
		return "share";
	case T_SLOW:
		return "slow_client";
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

	if (t == T_VIEW)
		t = T_URLPATH;	/* a route's path */
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

/* transports: a comma list of websocket, sse and poll. */
static int
config_set_transports(unsigned *p, const char *v, char *err, size_t errlen)
{
	struct strlist	 l = { NULL, 0 };
	unsigned	 t = 0;
	size_t		 i;
	int		 rc = 0;

	strlist_set_csv(&l, v);
	for (i = 0; i < l.n && rc == 0; i++) {
		if (strcmp(l.v[i], "websocket") == 0)
			t |= ROUTE_TRANSPORT_WS;
		else if (strcmp(l.v[i], "sse") == 0)
			t |= ROUTE_TRANSPORT_SSE;
		else if (strcmp(l.v[i], "poll") == 0)
			t |= ROUTE_TRANSPORT_POLL;
		else {
			snprintf(err, errlen, "invalid transport \"%s\" "
			    "(websocket, sse or poll)", l.v[i]);
			rc = -1;
		}
	}
	strlist_free(&l);
	if (rc == 0 && t == 0) {
		snprintf(err, errlen, "empty list (websocket, sse, poll)");
		rc = -1;
	}
	if (rc == 0)
		*p = t;
	return rc;
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
	case T_TRANSPORTS:
		return config_set_transports(p, v, err, errlen);
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
int
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
	case T_SHARE:
	case T_SLOW:
		rc = config_set_word(p, k, v, err, errlen);
		break;
	case T_URLPATH:
	case T_HEADERNAME:
	case T_REALM:
		rc = config_set_checked(p, k, v, err, errlen);
		break;
	case T_VIEW:
		if ((rc = config_set_checked(p, k, v, err, errlen)) == 0 &&
		    r->view == NULL) {
			snprintf(err, errlen, "empty value");
			rc = -1;
		}
		if (rc == 0)
			r->kind = BACKEND_VIEW;
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

const struct config_key *
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
