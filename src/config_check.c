/*
 * After loading: inheritance, path resolution, the start-up checks
 * (commands, directories, addresses), printing and route lookup.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"

/* Relative paths are made absolute against the current directory. */
static char *
config_absolute(const char *p)
{
	char	 cwd[PATH_MAX], *s;

	while (p[0] == '.' && p[1] == '/')
		p += 2 + strspn(p + 2, "/");
	if (*p == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return config_xstrdup(p);
	if (asprintf(&s, "%s/%s", cwd, p) == -1)
		config_oom();
	return s;
}

/* Why path is not a runnable program, or NULL if it is. */
static const char *
config_exec_why(const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return strerror(errno);
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (access(path, X_OK) == -1)
		return strerror(errno);
	return NULL;
}

static char *
config_search_path(const char *cmd)
{
	const char	*path = getenv("PATH"), *p, *e;
	char		 buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		e = p + strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(e - p), p,
		    e == p ? "" : "/", cmd);
		if (config_exec_why(buf) == NULL)
			return config_absolute(buf);
		if (*e == '\0')
			return NULL;
	}
}

static int
config_check_exec(const struct config *cfg, struct route *r, FILE *errfp)
{
	const char	*cmd = r->argv.v[0], *why;
	char		*path;

	if (strchr(cmd, '/') == NULL) {
		if ((path = config_search_path(cmd)) == NULL)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "exec: \"%s\": command not found",
			    cmd);
	} else {
		if ((why = config_exec_why(cmd)) != NULL)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "exec: \"%s\": %s", cmd, why);
		path = config_absolute(cmd);
	}
	free(r->argv.v[0]);
	r->argv.v[0] = path;
	return 0;
}

static const char *
config_dir_why(const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "not a directory";
	return NULL;
}

/* A file named in the config must be readable now, before any drop. */
static const char *
config_readable_why(const char *path)
{
	struct stat	 st;
	int		 fd, rv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return strerror(errno);
	rv = fstat(fd, &st);
	close(fd);
	/* A directory opens fine, then serves nothing (a 404 per token). */
	if (rv == 0 && S_ISDIR(st.st_mode))
		return "is a directory (want a file)";
	return NULL;
}

static int
config_check_connect(const struct config *cfg, struct route *r,
    FILE *errfp)
{
	const char	*why;

	if (config_parse_addr(r->connect, -1, &r->addr, &r->addrlen,
	    &why) == -1)
		return config_route_err(cfg, errfp, r, r->backend_line,
		    "connect \"%s\": %s", r->connect, why);
	if (r->addr.ss_family != AF_UNIX &&
	    ((struct sockaddr_in *)&r->addr)->sin_port == 0)
		return config_route_err(cfg, errfp, r, r->backend_line,
		    "connect \"%s\": port 0", r->connect);
	return 0;
}

static int
config_check_backend(const struct config *cfg, struct route *r,
    FILE *errfp)
{
	const char	*why;
	char		*abs;

	switch (r->kind) {
	case BACKEND_NONE:
		if (r->line > 0)
			return 0;	/* reported by config_load */
		return config_route_err(cfg, errfp, r, 0, "no backend: give "
		    "a COMMAND, --dir, --connect or --echo");
	case BACKEND_EXEC:
		return config_check_exec(cfg, r, errfp);
	case BACKEND_DIR:
		if ((why = config_dir_why(r->dir)) != NULL)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "dir \"%s\": %s", r->dir, why);
		abs = config_absolute(r->dir);
		free(r->dir);
		r->dir = abs;
		return 0;
	case BACKEND_CONNECT:
		return config_check_connect(cfg, r, errfp);
	case BACKEND_TARGETS:
		if ((why = config_readable_why(r->targets)) != NULL)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "targets \"%s\": %s", r->targets,
			    why);
		return 0;
	default:
		return 0;
	}
}

/* auth, auth_file, auth_header and send_proxy agree with each other. */
static int
config_check_access(const struct config *cfg, struct route *r,
    FILE *errfp)
{
	const char	*why;
	int		 n = 0;

	if (r->auth == AUTH_BASIC && r->auth_file == NULL &&
	    r->credential == NULL)
		n += config_route_err(cfg, errfp, r, r->auth_line,
		    "auth = basic needs auth_file");
	if (r->auth != AUTH_BASIC && r->auth_file != NULL)
		n += config_route_err(cfg, errfp, r, r->auth_file_line,
		    "auth_file needs auth = basic");
	if (r->auth_file != NULL &&
	    (why = config_readable_why(r->auth_file)) != NULL)
		n += config_route_err(cfg, errfp, r, r->auth_file_line,
		    "auth_file \"%s\": %s", r->auth_file, why);
	if (r->auth_header != NULL && cfg->ntrusted_proxies == 0)
		n += config_route_err(cfg, errfp, r, r->auth_header_line,
		    "auth_header needs trusted_proxies in [server]");
	if (r->send_proxy != SEND_PROXY_NO && r->kind != BACKEND_CONNECT &&
	    r->kind != BACKEND_TARGETS)
		n += config_route_err(cfg, errfp, r, r->send_proxy_line,
		    "send_proxy needs connect or targets");
	if (r->auth_realm == NULL)
		r->auth_realm = config_xstrdup(CONFIG_AUTH_REALM);
	return n;
}

#define INHERIT(f)	do {					\
	if (r->limits.f < 0)						\
		r->limits.f = cfg->limits.f;				\
} while (0)

static void
config_inherit(struct route *r, const struct config *cfg)
{
	INHERIT(max_message_size);
	INHERIT(buffer_size);
	INHERIT(ping_interval_ms);
	INHERIT(ping_timeout_ms);
	INHERIT(idle_timeout_ms);
	INHERIT(send_timeout_ms);
	INHERIT(close_grace_ms);
	INHERIT(connect_timeout_ms);
	INHERIT(poll_timeout_ms);
	INHERIT(session_timeout_ms);
	if (r->headers.v == NULL)
		strlist_copy(&r->headers, &cfg->headers);
	if (r->headers_ws.v == NULL)
		strlist_copy(&r->headers_ws, &cfg->headers_ws);
	if (r->headers_http.v == NULL)
		strlist_copy(&r->headers_http, &cfg->headers_http);
	if (r->pass_env.v == NULL)
		strlist_set_csv(&r->pass_env, "PATH,LD_LIBRARY_PATH");
	if (r->term == NULL)
		r->term = config_xstrdup("xterm-256color");
}

static int
config_finish_route(const struct config *cfg, struct route *r, FILE *errfp)
{
	const char	*why;
	int		 n = 0;

	config_inherit(r, cfg);
	if (r->mode == MODE_DEFAULT)
		r->mode = r->kind == BACKEND_CONNECT ||
		    r->kind == BACKEND_TARGETS ? MODE_BINARY : MODE_TEXT;
	if (r->mode == MODE_PTY && (r->kind == BACKEND_CONNECT ||
	    r->kind == BACKEND_TARGETS))
		n += config_route_err(cfg, errfp, r, r->line,
		    "mode = pty needs exec or dir");
	/* A terminal waits for the client's size before it starts. */
	if (r->mode == MODE_PTY && (r->transports & ROUTE_TRANSPORT_SSE))
		n += config_route_err(cfg, errfp, r, r->transports_line,
		    "transports: sse does not work with mode = pty");
	if (r->mode == MODE_PTY && (r->transports & ROUTE_TRANSPORT_POLL))
		n += config_route_err(cfg, errfp, r, r->transports_line,
		    "transports: poll does not work with mode = pty");
	n += config_check_backend(cfg, r, errfp);
	n += config_check_access(cfg, r, errfp);
	if (r->cwd != NULL && (why = config_dir_why(r->cwd)) != NULL)
		n += config_route_err(cfg, errfp, r, r->cwd_line,
		    "cwd \"%s\": %s", r->cwd, why);
	return n;
}

static int
config_check_duplicates(const struct config *cfg, FILE *errfp)
{
	const struct route	*a, *b;
	size_t			 i, j;
	int			 n = 0;

	for (i = 0; i < cfg->nroutes; i++) {
		b = cfg->routes[i];
		for (j = 0; j < i; j++) {
			a = cfg->routes[j];
			if (a->prefix == b->prefix &&
			    strcmp(a->path, b->path) == 0) {
				n += config_route_err(cfg, errfp, b, b->line,
				    "duplicate route (first on line %d)",
				    a->line);
				break;
			}
		}
	}
	return n;
}

/* sec: "[tls]" or "[tls NAME]", shown when the key came from the file. */
static int
config_check_readable(const struct config *cfg, FILE *errfp,
    const char *sec, const char *what, const char *path, int line)
{
	const char	*why;

	if ((why = config_readable_why(path)) != NULL)
		return config_err(cfg, errfp, line, "%s%s%s \"%s\": %s",
		    line > 0 ? sec : "", line > 0 ? ": " : "", what, path,
		    why);
	return 0;
}

static int
config_check_sni(const struct config *cfg, FILE *errfp)
{
	const struct tls_cert_spec	*t;
	char				 sec[CONFIG_MAX_LINE + 8];
	size_t				 i;
	int				 n = 0;

	for (i = 0; i < cfg->ntls_certs; i++) {
		t = &cfg->tls_certs[i];
		snprintf(sec, sizeof(sec), "[tls %s]", t->name);
		if (t->cert != NULL)
			n += config_check_readable(cfg, errfp, sec, "cert",
			    t->cert, t->cert_line);
		if (t->key != NULL)
			n += config_check_readable(cfg, errfp, sec, "key",
			    t->key, t->key_line);
	}
	return n;
}

static int
config_check_tls(const struct config *cfg, FILE *errfp)
{
	size_t	 i;
	int	 n = 0, line = -1;

	for (i = 0; i < cfg->nlistens && line < 0; i++)
		if (cfg->listens[i].tls)
			line = cfg->listens[i].line;
	if (line < 0)
		return 0;
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return config_err(cfg, errfp, line, "%sa TLS listener needs "
		    "cert and key (--sslcert, --sslkey)", line > 0 ?
		    "[tls]: " : "");
	n += config_check_readable(cfg, errfp, "[tls]", "cert",
	    cfg->tls_cert, cfg->tls_cert_line);
	n += config_check_readable(cfg, errfp, "[tls]", "key", cfg->tls_key,
	    cfg->tls_key_line);
	if (cfg->tls_client_ca != NULL)
		n += config_check_readable(cfg, errfp, "[tls]", "client_ca",
		    cfg->tls_client_ca, cfg->tls_client_ca_line);
	return n + config_check_sni(cfg, errfp);
}

static int
config_check_listens(struct config *cfg, FILE *errfp)
{
	struct listen_spec	*ls;
	const char		*why;
	size_t			 i;
	int			 n = 0;

	if (cfg->nlistens == 0)
		config_add_listen(cfg, CONFIG_DEFAULT_LISTEN, false, 0);
	for (i = 0; i < cfg->nlistens; i++) {
		ls = &cfg->listens[i];
		if (config_parse_addr(ls->spec, CONFIG_DEFAULT_PORT, &ls->addr,
		    &ls->addrlen, &why) == -1)
			n += config_err(cfg, errfp, ls->line, "%slisten \"%s\": "
			    "%s", ls->line > 0 ? (ls->tls ? "[tls]: " :
			    "[server]: ") : "", ls->spec, why);
	}
	return n + config_check_tls(cfg, errfp);
}

/* metrics_listen is a separate listener for metrics_path only. */
static int
config_check_metrics(struct config *cfg, FILE *errfp)
{
	const char	*why, *sec;

	if (cfg->metrics_listen == NULL)
		return 0;
	sec = cfg->metrics_listen_line > 0 ? "[server]: " : "";
	if (cfg->metrics_path == NULL)
		return config_err(cfg, errfp, cfg->metrics_listen_line,
		    "%smetrics_listen needs metrics_path", sec);
	if (config_parse_addr(cfg->metrics_listen, -1, &cfg->metrics_addr,
	    &cfg->metrics_addrlen, &why) == -1)
		return config_err(cfg, errfp, cfg->metrics_listen_line,
		    "%smetrics_listen \"%s\": %s", sec, cfg->metrics_listen,
		    why);
	return 0;
}

/*
 * Can the access log be appended to (without creating it now)? NULL if
 * so or if it goes to stderr.
 */
static const char *
config_log_why(const char *path)
{
	char	 dir[PATH_MAX], *slash;

	if (path == NULL || strcmp(path, "stderr") == 0)
		return NULL;
	if (access(path, F_OK) == 0)
		return access(path, W_OK) == 0 ? NULL : strerror(errno);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == -1)
		return errno == ENOENT ? "no such directory" : strerror(errno);
	return NULL;
}

static int
config_check_server(struct config *cfg, FILE *errfp)
{
	const char	*why, *sec = "[server]: ";
	int		 n = 0;

	if (cfg->static_dir != NULL &&
	    (why = config_dir_why(cfg->static_dir)) != NULL)
		n += config_err(cfg, errfp, cfg->static_dir_line,
		    "%sstatic_dir \"%s\": %s", cfg->static_dir_line > 0 ?
		    sec : "", cfg->static_dir, why);
	if (cfg->cgi_dir != NULL &&
	    (why = config_dir_why(cfg->cgi_dir)) != NULL)
		n += config_err(cfg, errfp, cfg->cgi_dir_line,
		    "%scgi_dir \"%s\": %s", cfg->cgi_dir_line > 0 ?
		    sec : "", cfg->cgi_dir, why);
	if (cfg->user != NULL && getpwnam(cfg->user) == NULL)
		n += config_err(cfg, errfp, cfg->user_line, "%suser \"%s\": "
		    "no such user", cfg->user_line > 0 ? sec : "", cfg->user);
	if (cfg->group != NULL && getgrnam(cfg->group) == NULL)
		n += config_err(cfg, errfp, cfg->group_line, "%sgroup \"%s\": "
		    "no such group", cfg->group_line > 0 ? sec : "",
		    cfg->group);
	if ((why = config_log_why(cfg->access_log)) != NULL)
		n += config_err(cfg, errfp, cfg->access_log_line,
		    "%saccess_log \"%s\": %s", cfg->access_log_line > 0 ?
		    sec : "", cfg->access_log, why);
	return n + config_check_metrics(cfg, errfp);
}

static struct route *
config_route_named(const struct config *cfg, const char *path)
{
	size_t	 i;

	for (i = 0; i < cfg->nroutes; i++)
		if (!cfg->routes[i]->prefix &&
		    strcmp(cfg->routes[i]->path, path) == 0)
			return cfg->routes[i];
	return NULL;
}

/*
 * share, view, persist, replay and record agree; a view route takes its
 * route's message mode and subprotocols (it speaks to the same session).
 */
static int
config_check_share(struct config *cfg, struct route *r, FILE *errfp)
{
	struct route	*t;
	const char	*why;
	int		 n = 0;

	if (r->kind == BACKEND_VIEW) {
		if ((t = config_route_named(cfg, r->view)) == NULL)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "view: no route %s", r->view);
		if (t->kind == BACKEND_VIEW || t->share == SHARE_NO)
			return config_route_err(cfg, errfp, r,
			    r->backend_line, "view: route %s %s", r->view,
			    t->kind == BACKEND_VIEW ? "is a view itself" :
			    "is not shared (give it share = route, id or "
			    "user)");
		r->view_of = t;
		r->mode = t->mode;
		if (r->protocols.n == 0)
			strlist_copy(&r->protocols, &t->protocols);
		if (r->share != SHARE_NO)
			n += config_route_err(cfg, errfp, r, r->share_line,
			    "share: a view route joins %s's sessions", r->view);
		r->share = t->share;
		cfg->shares = true;
		return n;
	}
	if (r->share == SHARE_NO) {
		if (r->persist_ms > 0 || r->replay > 0)
			n += config_route_err(cfg, errfp, r, r->line,
			    "persist and replay need share = route, id or "
			    "user");
	} else {
		cfg->shares = true;
		if (r->kind != BACKEND_EXEC && r->kind != BACKEND_CONNECT)
			n += config_route_err(cfg, errfp, r, r->share_line,
			    "share needs exec or connect");
		if (r->share == SHARE_USER && r->auth == AUTH_NONE)
			n += config_route_err(cfg, errfp, r, r->share_line,
			    "share = user needs auth");
	}
	if (r->record_dir != NULL && (why = config_dir_why(r->record_dir)) !=
	    NULL)
		n += config_route_err(cfg, errfp, r, r->record_line,
		    "record \"%s\": %s", r->record_dir, why);
	return n;
}

int
config_finish(struct config *cfg, FILE *errfp)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < cfg->nroutes; i++)
		n += config_finish_route(cfg, cfg->routes[i], errfp);
	for (i = 0; i < cfg->nroutes; i++)
		n += config_check_share(cfg, cfg->routes[i], errfp);
	if (cfg->shares && cfg->workers > 1)
		n += config_err(cfg, errfp, cfg->workers_line, "workers = %d: "
		    "shared sessions live in one process (use workers = 1, "
		    "or instances behind HAProxy)", cfg->workers);
	if (cfg->nroutes == 0 && cfg->static_dir == NULL &&
	    cfg->cgi_dir == NULL)
		n += config_err(cfg, errfp, 0, "%s%sno routes",
		    cfg->path != NULL ? cfg->path : "",
		    cfg->path != NULL ? ": " : "");
	n += config_check_duplicates(cfg, errfp);
	n += config_check_listens(cfg, errfp);
	n += config_check_server(cfg, errfp);
	config_report(cfg);
	return n;
}

static void
config_print_backend(const struct route *r, FILE *fp)
{
	static const char *modes[] = { "default", "text", "binary", "pty" };
	size_t	 i;

	switch (r->kind) {
	case BACKEND_EXEC:
		fputs("exec", fp);
		for (i = 0; i < r->argv.n; i++)
			fprintf(fp, strpbrk(r->argv.v[i], " \t'\"\\") ||
			    *r->argv.v[i] == '\0' ? " '%s'" : " %s",
			    r->argv.v[i]);
		break;
	case BACKEND_DIR:
		fprintf(fp, "dir %s", r->dir);
		break;
	case BACKEND_CONNECT:
		fprintf(fp, "connect %s", r->connect);
		break;
	case BACKEND_TARGETS:
		fprintf(fp, "targets %s", r->targets);
		break;
	case BACKEND_ECHO:
		fputs("echo\n", fp);
		return;
	case BACKEND_VIEW:
		fprintf(fp, "view %s (read-only)\n", r->view);
		return;
	default:
		fputs("none\n", fp);
		return;
	}
	fprintf(fp, " (%s)\n", modes[r->mode]);
}

void
config_print(const struct config *cfg, FILE *fp)
{
	char	 name[PATH_MAX];
	size_t	 i;

	for (i = 0; i < cfg->nlistens; i++) {
		if (cfg->listens[i].redirect_port > 0) {
			fprintf(fp, "listen %s (redirects to port %d)\n",
			    cfg->listens[i].spec, cfg->listens[i].redirect_port);
			continue;
		}
		fprintf(fp, "listen %s%s%s\n", cfg->listens[i].spec,
		    cfg->listens[i].tls ? " (tls)" : "",
		    cfg->listens[i].proxy_protocol ? " (proxy_protocol)" : "");
	}
	for (i = 0; i < cfg->ntls_certs; i++)
		fprintf(fp, "tls %s %s\n", cfg->tls_certs[i].name,
		    cfg->tls_certs[i].cert);
	if (cfg->static_dir != NULL)
		fprintf(fp, "static %s\n", cfg->static_dir);
	if (cfg->cgi_dir != NULL)
		fprintf(fp, "cgi %s\n", cfg->cgi_dir);
	for (i = 0; i < cfg->nroutes; i++) {
		fprintf(fp, "route %s -> ", config_route_name(cfg->routes[i],
		    name, sizeof(name)));
		config_print_backend(cfg->routes[i], fp);
	}
}

static bool
config_route_matches(const struct route *r, const char *path)
{
	size_t	 len = strlen(r->path);

	if (strncmp(path, r->path, len) != 0)
		return false;
	if (!r->prefix)
		return path[len] == '\0';
	return path[len] == '\0' || path[len] == '/';
}

struct route *
config_match(const struct config *cfg, const char *path, const char **rest)
{
	struct route	*r, *best = NULL;
	size_t		 i, score, best_score = 0;

	for (i = 0; i < cfg->nroutes; i++) {
		r = cfg->routes[i];
		if (!config_route_matches(r, path))
			continue;
		/* longest wins; at equal length an exact route wins */
		score = strlen(r->path) * 2 + (r->prefix ? 1 : 2);
		if (score > best_score) {
			best = r;
			best_score = score;
		}
	}
	if (best != NULL && rest != NULL)
		*rest = path + strlen(best->path);
	return best;
}

/* Can only this machine reach the listener? Unix sockets count as local. */
static bool
config_listen_local(const struct listen_spec *ls)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (ls->addr.ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)&ls->addr;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)&ls->addr;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127);
	default:
		return true;
	}
}

/* The listeners anyone may reach unchallenged, "A, B"; 0 if none. */
static size_t
config_open_listens(const struct config *cfg, char *buf, size_t len)
{
	const struct listen_spec	*ls;
	size_t				 i, n = 0, off = 0;

	buf[0] = '\0';
	for (i = 0; i < cfg->nlistens; i++) {
		ls = &cfg->listens[i];
		if (config_listen_local(ls) ||
		    (ls->tls && cfg->tls_client_ca != NULL))
			continue;
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    n > 0 ? ", " : "", ls->spec);
		n++;
	}
	return n;
}

size_t
config_exposed(const struct config *cfg, void (*warn)(const char *, void *),
    void *arg)
{
	const struct route	*r;
	char			 where[512], name[PATH_MAX], msg[1024];
	size_t			 i, n = 0;

	if (config_open_listens(cfg, where, sizeof(where)) == 0)
		return 0;
	for (i = 0; i < cfg->nroutes; i++) {
		r = cfg->routes[i];
		if ((r->kind != BACKEND_EXEC && r->kind != BACKEND_DIR) ||
		    r->auth == AUTH_BASIC || r->auth_header != NULL)
			continue;
		snprintf(msg, sizeof(msg), "route %s %s %s%s for anyone who "
		    "reaches %s, without auth or client_ca: listen on "
		    "127.0.0.1 or set auth", config_route_name(r, name,
		    sizeof(name)), r->mode == MODE_PTY ? "gives a terminal "
		    "running" : "runs", r->kind == BACKEND_DIR ? "the "
		    "programs in " : "", r->kind == BACKEND_DIR ? r->dir :
		    r->argv.v[0], where);
		warn(msg, arg);
		n++;
	}
	return n;
}
