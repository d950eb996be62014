/*
 * Configuration: defaults, the config and route objects, lists, and the
 * FILE:LINE error reporting shared by the config*.c modules.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

/*
 * Errors are held until config_report(): loading and the checks after
 * it find them in their own order (a section's missing backend at its
 * end, an unusable exec after the whole file), users read them in file
 * order, as compilers and nginx -t print them.
 */
struct config_msg {
	FILE		*fp;
	int		 line;		/* 0: no place in the file */
	size_t		 seq;		/* keeps equal lines in order */
	char		*text;
};

struct config_msgs {
	struct config_msg	*v;
	size_t			 n;
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

int
strlist_try_add(struct strlist *l, const char *s)
{
	char	**v, *copy;

	if ((copy = strdup(s)) == NULL)
		return -1;
	if ((v = realloc(l->v, (l->n + 2) * sizeof(*v))) == NULL) {
		free(copy);
		return -1;
	}
	v[l->n++] = copy;
	v[l->n] = NULL;
	l->v = v;
	return 0;
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
	l->send_timeout_ms = v;
	l->close_grace_ms = v;
	l->connect_timeout_ms = v;
	l->poll_timeout_ms = v;
	l->session_timeout_ms = v;
}

struct config *
config_new(void)
{
	struct config	*cfg = config_xcalloc(1, sizeof(*cfg));

	cfg->msgs = config_xcalloc(1, sizeof(*cfg->msgs));
	cfg->workers = 1;
	cfg->max_connections = CONFIG_MAX_CONNECTIONS;
	cfg->handshake_timeout_ms = CONFIG_HANDSHAKE_TIMEOUT_MS;
	cfg->cgi_timeout_ms = CONFIG_CGI_TIMEOUT_MS;
	cfg->cgi_max_body = CONFIG_CGI_MAX_BODY;
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
	cfg->limits.send_timeout_ms = CONFIG_SEND_TIMEOUT_MS;
	cfg->limits.close_grace_ms = CONFIG_CLOSE_GRACE_MS;
	cfg->limits.connect_timeout_ms = CONFIG_CONNECT_TIMEOUT_MS;
	cfg->limits.poll_timeout_ms = CONFIG_POLL_TIMEOUT_MS;
	cfg->limits.session_timeout_ms = CONFIG_SESSION_TIMEOUT_MS;
	return cfg;
}

void
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
	free(r->view);
	free(r->record_dir);
	if (r->credential != NULL)
		explicit_bzero(r->credential, strlen(r->credential));
	free(r->credential);
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
	free(cfg->cgi_dir);
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
	free(cfg->assets_dir);
	free(cfg->record);
	free(cfg->metrics_listen);
	/* Errors never reported: the caller had no use for them. */
	for (i = 0; i < cfg->msgs->n; i++)
		free(cfg->msgs->v[i].text);
	free(cfg->msgs->v);
	free(cfg->msgs);
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
	r->transports = ROUTE_TRANSPORT_WS;
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
	struct config_msgs	*m = cfg->msgs;
	struct config_msg	*v;
	char			*msg, *text;
	va_list			 ap;
	int			 rc;

	if (errfp == NULL)
		return 1;
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc == -1)
		config_oom();
	if (line > 0 && cfg->path != NULL)
		rc = asprintf(&text, "%s:%d: %s\n", cfg->path, line, msg);
	else {
		line = 0;
		rc = asprintf(&text, "wsbridge: %s\n", msg);
	}
	free(msg);
	if (rc == -1)
		config_oom();
	if ((v = realloc(m->v, (m->n + 1) * sizeof(*v))) == NULL)
		config_oom();
	m->v = v;
	v[m->n] = (struct config_msg){ errfp, line, m->n, text };
	m->n++;
	return 1;
}

static int
config_msg_cmp(const void *a, const void *b)
{
	const struct config_msg	*x = a, *y = b;

	/* Those without a line (the whole file, flags) come last. */
	if (x->line != y->line)
		return x->line == 0 ? 1 : y->line == 0 ? -1 :
		    x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
config_report(const struct config *cfg)
{
	struct config_msgs	*m = cfg->msgs;
	size_t			 i;

	if (m->n == 0)
		return;
	qsort(m->v, m->n, sizeof(*m->v), config_msg_cmp);
	for (i = 0; i < m->n; i++) {
		fputs(m->v[i].text, m->v[i].fp);
		free(m->v[i].text);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
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

struct config_ref *
config_ref_new(struct config *cfg)
{
	struct config_ref	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		config_oom();
	r->cfg = cfg;
	r->refs = 1;
	return r;
}

void
config_ref_put(struct config_ref *r)
{
	if (r != NULL && --r->refs == 0) {
		config_free(r->cfg);
		free(r);
	}
}
