/*
 * Command line: websocketd 0.4.1's flags plus wsbridge's own. Flags are
 * scanned first, checked against a scratch config, then applied on top
 * of the file's settings (or of one catch-all route without -c).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "options.h"
#include "termpage.h"
#include "version.h"

enum opt_scope {
	OPT_MISC,	/* -c, --check, --help, --version */
	OPT_LISTEN,	/* --port, --address, --listen, --ssl */
	OPT_SERVER,	/* a [server] or [tls] value */
	OPT_ROUTE,	/* the catch-all route; not with -c */
	OPT_BACKEND,	/* --dir, --connect, --echo; not with -c */
};

enum opt_group {
	G_BACKEND, G_LISTEN, G_LIMITS, G_PROCESS, G_COMPAT, G_OTHER,
};

struct opt_flag {
	const char	*name;
	const char	*arg;		/* NULL: a boolean flag */
	const char	*key;		/* config key it sets, if any */
	enum opt_scope	 scope;
	enum opt_group	 group;
	const char	*help;
};

static const struct opt_flag opt_flags[] = {
	{ "connect", "HOST:PORT", "connect", OPT_BACKEND, G_BACKEND,
	    "relay to a TCP port or unix:/PATH (websockify)" },
	{ "dir", "DIR", "dir", OPT_BACKEND, G_BACKEND,
	    "run DIR/NAME for /NAME (websocketd --dir)" },
	{ "echo", NULL, "echo", OPT_BACKEND, G_BACKEND,
	    "built-in echo on every path" },
	{ "binary", NULL, "mode", OPT_ROUTE, G_BACKEND,
	    "binary messages, no line splitting" },
	{ "pty", NULL, "mode", OPT_ROUTE, G_BACKEND,
	    "run COMMAND on a terminal (ttyd protocol, page on GET)" },
	{ "writable", NULL, "readonly", OPT_ROUTE, G_BACKEND,
	    "pty: clients may type (the default; ttyd -W)" },
	{ "W", NULL, "readonly", OPT_ROUTE, G_BACKEND, "same as --writable" },
	{ "readonly", NULL, "readonly", OPT_ROUTE, G_BACKEND,
	    "pty: input ignored, only output and resize (ttyd -R)" },
	{ "R", NULL, "readonly", OPT_ROUTE, G_BACKEND, "same as --readonly" },
	{ "credential", "USER:PASS", NULL, OPT_ROUTE, G_BACKEND,
	    "basic auth with this one user (ttyd -c)" },
	{ "assets", "DIR", "assets_dir", OPT_SERVER, G_BACKEND,
	    "xterm.js for the pty page (default " WSBRIDGE_ASSET_DIR ")" },
	{ "port", "PORT", NULL, OPT_LISTEN, G_LISTEN,
	    "all IPv4 and IPv6 addresses (with -c: the file's)" },
	{ "address", "ADDR", NULL, OPT_LISTEN, G_LISTEN,
	    "listen on ADDR:PORT; repeatable" },
	{ "listen", "SPEC", NULL, OPT_LISTEN, G_LISTEN,
	    "HOST:PORT, [V6]:PORT or unix:/PATH; repeatable" },
	{ "ssl", NULL, NULL, OPT_LISTEN, G_LISTEN,
	    "serve TLS on the listeners" },
	{ "sslcert", "FILE", "cert", OPT_SERVER, G_LISTEN,
	    "TLS certificate chain (PEM), with --ssl" },
	{ "sslkey", "FILE", "key", OPT_SERVER, G_LISTEN,
	    "TLS private key (PEM), with --ssl" },
	{ "staticdir", "DIR", "static_dir", OPT_SERVER, G_LISTEN,
	    "serve plain GETs from DIR" },
	{ "cgidir", "DIR", "cgi_dir", OPT_SERVER, G_LISTEN,
	    "run DIR's programs for plain HTTP requests as CGI/1.1" },
	{ "cgi-timeout", "DUR", "cgi_timeout", OPT_SERVER, G_LIMITS,
	    "CGI program's time to finish (default 30s)" },
	{ "cgi-max-body", "SIZE", "cgi_max_body", OPT_SERVER, G_LIMITS,
	    "largest CGI request body (413 above; default 10M)" },
	{ "workers", "N|auto", "workers", OPT_SERVER, G_LIMITS,
	    "processes sharing the listeners (default 1)" },
	{ "max-connections", "N", "max_connections", OPT_SERVER, G_LIMITS,
	    "server connection limit (default 10000)" },
	{ "maxforks", "N", "max_connections", OPT_ROUTE, G_LIMITS,
	    "connections to the backend at once (0 = no limit)" },
	{ "max-message-size", "SIZE", "max_message_size", OPT_SERVER,
	    G_LIMITS, "largest message, e.g. 64K (default 1M)" },
	{ "buffer-size", "SIZE", "buffer_size", OPT_SERVER, G_LIMITS,
	    "buffered bytes per direction (default 256K)" },
	{ "max-header-size", "SIZE", "max_header_size", OPT_SERVER,
	    G_LIMITS, "request head limit (default 16K)" },
	{ "ping-interval", "DUR", "ping_interval", OPT_SERVER, G_LIMITS,
	    "ping every DUR, e.g. 30s (0 = off)" },
	{ "ping-timeout", "DUR", "ping_timeout", OPT_SERVER, G_LIMITS,
	    "close when no pong within DUR (default 30s)" },
	{ "idle-timeout", "DUR", "idle_timeout", OPT_SERVER, G_LIMITS,
	    "close after DUR without data (default 0 = off)" },
	{ "send-timeout", "DUR", "send_timeout", OPT_SERVER, G_LIMITS,
	    "close when the client takes no output for DUR (default 30s)" },
	{ "handshake-timeout", "DUR", "handshake_timeout", OPT_SERVER,
	    G_LIMITS, "accept to 101, TLS included (default 10s)" },
	{ "close-timeout", "DUR", "close_timeout", OPT_SERVER, G_LIMITS,
	    "wait for the peer's Close (default 5s)" },
	{ "close-grace", "DUR", "close_grace", OPT_SERVER, G_LIMITS,
	    "stdin closed -> SIGTERM -> SIGKILL (default 500ms)" },
	{ "connect-timeout", "DUR", "connect_timeout", OPT_SERVER, G_LIMITS,
	    "backend connect limit (default 5s)" },
	{ "shutdown-timeout", "DUR", "shutdown_timeout", OPT_SERVER,
	    G_LIMITS, "exit by then on SIGTERM (default 10s)" },
	{ "user", "USER", "user", OPT_SERVER, G_PROCESS,
	    "drop privileges to USER after binding" },
	{ "group", "GROUP", "group", OPT_SERVER, G_PROCESS,
	    "and to GROUP" },
	{ "access-log", "FILE", "access_log", OPT_SERVER, G_PROCESS,
	    "access log file (default stderr)" },
	{ "record", "FILE", "record", OPT_SERVER, G_PROCESS,
	    "append all traffic to FILE as JSON lines (websockify)" },
	{ "closems", "MS", NULL, OPT_SERVER, G_COMPAT,
	    "close grace in milliseconds (as --close-grace)" },
	{ "loglevel", "LEVEL", NULL, OPT_SERVER, G_COMPAT,
	    "debug, trace, access, info, warn, error, fatal" },
	{ "origin", "LIST", "origins", OPT_ROUTE, G_COMPAT,
	    "allowed origins: host, host:port, scheme://host:port" },
	{ "sameorigin", NULL, "same_origin", OPT_ROUTE, G_COMPAT,
	    "Origin must match Host" },
	{ "passenv", "LIST", "pass_env", OPT_ROUTE, G_COMPAT,
	    "variables passed on (default PATH,LD_LIBRARY_PATH)" },
	{ "header", "'N: V'", "header", OPT_SERVER, G_COMPAT,
	    "header on every response; repeatable" },
	{ "header-ws", "'N: V'", "header_ws", OPT_SERVER, G_COMPAT,
	    "header on the 101 only; repeatable" },
	{ "header-http", "'N: V'", "header_http", OPT_SERVER, G_COMPAT,
	    "header on plain HTTP responses only; repeatable" },
	{ "devconsole", NULL, "devconsole", OPT_SERVER, G_COMPAT,
	    "serve websocketd's developer console" },
	{ "redirport", "PORT", NULL, OPT_LISTEN, G_COMPAT,
	    "plain HTTP on PORT redirects (301) to the listeners" },
	{ "reverselookup", NULL, "reverse_lookup", OPT_SERVER, G_COMPAT,
	    "REMOTE_HOST: the client's host name (DNS, off the loop)" },
	{ "c", "FILE", NULL, OPT_MISC, G_OTHER,
	    "routes and settings from an INI file" },
	{ "config", "FILE", NULL, OPT_MISC, G_OTHER, "same as -c" },
	{ "check", NULL, NULL, OPT_MISC, G_OTHER,
	    "run the start-up checks, print routes, exit" },
	{ "version", NULL, NULL, OPT_MISC, G_OTHER, "print the version" },
	{ "license", NULL, NULL, OPT_MISC, G_OTHER,
	    "print the license and the bundled code's notices" },
	{ "help", NULL, NULL, OPT_MISC, G_OTHER, "this text" },
	{ "h", NULL, NULL, OPT_MISC, G_OTHER, "same as --help" },
	{ NULL, NULL, NULL, OPT_MISC, G_OTHER, NULL },
};

#define OPT_NFLAGS	(sizeof(opt_flags) / sizeof(opt_flags[0]) - 1)

/* One flag as given; value is "true"/"false" for bare booleans. */
struct opt_use {
	const struct opt_flag	*f;
	const char		*value;
};

struct opt_scan {
	struct opt_use	*uses;
	size_t		 n;
	char		**cmd;		/* COMMAND and its args, or NULL */
	int		 ncmd;
};

static const struct opt_flag *
opt_find(const char *name, size_t len)
{
	const struct opt_flag	*f;

	for (f = opt_flags; f->name != NULL; f++)
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

/* Take "-flag", "--flag", "-flag=v", "--flag=v", or "--flag v". */
static int
opt_scan_one(int argc, char **argv, int *i, struct opt_use *u, FILE *errfp)
{
	const char	*name = argv[*i] + (argv[*i][1] == '-' ? 2 : 1);
	const char	*eq = strchr(name, '=');
	size_t		 len = eq != NULL ? (size_t)(eq - name) : strlen(name);

	if ((u->f = opt_find(name, len)) == NULL) {
		/* Named as typed: "-v", not "--v". */
		fprintf(errfp, "wsbridge: %.*s: unknown flag (see --help)\n",
		    (int)(name - argv[*i] + len), argv[*i]);
		return -1;
	}
	if (eq != NULL)
		u->value = eq + 1;
	else if (u->f->arg == NULL)
		u->value = "true";
	else if (*i + 1 < argc)
		u->value = argv[++*i];
	else {
		fprintf(errfp, "wsbridge: %s%s: missing value\n",
		    u->f->name[1] == '\0' ? "-" : "--", u->f->name);
		return -1;
	}
	return 0;
}

/* Flags up to the first word that is not one, or "--"; then COMMAND. */
static int
opt_scan(int argc, char **argv, struct opt_scan *s, FILE *errfp)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (opt_scan_one(argc, argv, &i, &s->uses[s->n], errfp) == -1)
			return -1;
		s->n++;
	}
	if (i < argc) {
		s->cmd = argv + i;
		s->ncmd = argc - i;
	}
	return 0;
}

static void
opt_misc(struct options *opts, const struct opt_use *u)
{
	const char	*n = u->f->name;
	bool		 b = strcmp(u->value, "false") != 0;

	if (strcmp(n, "c") == 0 || strcmp(n, "config") == 0)
		opts->config_path = u->value;
	else if (strcmp(n, "check") == 0)
		opts->check = b;
	else if (strcmp(n, "version") == 0)
		opts->version = b;
	else if (strcmp(n, "license") == 0)
		opts->license = b;
	else
		opts->help = b;
}

/* With -c: no COMMAND, backend or route flags; the file has routes. */
static int
opt_check_file_scope(const struct opt_scan *s, FILE *errfp)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		if (s->uses[i].f->scope == OPT_ROUTE ||
		    s->uses[i].f->scope == OPT_BACKEND) {
			fprintf(errfp, "wsbridge: --%s: not allowed with -c "
			    "(set it in a [route] section)\n",
			    s->uses[i].f->name);
			return -1;
		}
	}
	if (s->cmd != NULL) {
		fprintf(errfp, "wsbridge: COMMAND \"%s\" not allowed with -c "
		    "(use exec in a [route] section)\n", s->cmd[0]);
		return -1;
	}
	return 0;
}

/* Without -c: exactly one of COMMAND, --dir, --connect, --echo. */
static int
opt_check_scope(const struct options *opts, const struct opt_scan *s,
    FILE *errfp)
{
	const struct opt_flag	*f, *backend = NULL;
	size_t			 i;
	bool			 files = false;

	if (opts->config_path != NULL)
		return opt_check_file_scope(s, errfp);
	for (i = 0; i < s->n; i++) {
		f = s->uses[i].f;
		/* websocketd serves --staticdir or --cgidir alone too. */
		files |= strcmp(f->name, "staticdir") == 0 ||
		    strcmp(f->name, "cgidir") == 0;
		if (f->scope != OPT_BACKEND || (strcmp(f->name, "echo") == 0 &&
		    strcmp(s->uses[i].value, "false") == 0))
			continue;
		if (s->cmd != NULL || (backend != NULL && backend != f)) {
			fprintf(errfp, "wsbridge: --%s: only one of COMMAND, "
			    "--dir, --connect, --echo (also got %s%s)\n",
			    f->name, backend != NULL ? "--" : "",
			    backend != NULL ? backend->name : "COMMAND");
			return -1;
		}
		backend = f;
	}
	if (backend == NULL && s->cmd == NULL && !files) {
		fprintf(errfp, "wsbridge: no backend: give a COMMAND, --dir, "
		    "--connect, --echo, --staticdir or --cgidir (or -c FILE)"
		    "\n");
		return -1;
	}
	return 0;
}

/* --loglevel as websocketd spells it. */
static const char *
opt_loglevel(const char *v)
{
	static const char *map[][2] = {
		{ "debug", "debug" }, { "trace", "debug" },
		{ "access", "access" }, { "info", "info" },
		{ "warn", "warn" }, { "error", "error" }, { "fatal", "error" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(v, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* A flag's value in the form its config key takes. */
static int
opt_value(const struct opt_use *u, const char **v, FILE *errfp)
{
	const char	*n = u->f->name;
	bool		 b;

	*v = u->value;
	if (u->f->arg == NULL) {
		if (config_parse_bool(u->value, &b) == -1) {
			fprintf(errfp, "wsbridge: --%s: invalid boolean "
			    "\"%s\"\n", n, u->value);
			return -1;
		}
		if (strcmp(n, "binary") == 0 || strcmp(n, "pty") == 0)
			*v = b ? n : NULL;
		else if (strcmp(n, "writable") == 0 || strcmp(n, "W") == 0)
			*v = b ? "no" : "yes";	/* the key is readonly */
		else
			*v = b ? "yes" : "no";
	} else if (strcmp(n, "loglevel") == 0 &&
	    (*v = opt_loglevel(u->value)) == NULL) {
		fprintf(errfp, "wsbridge: --loglevel: invalid level \"%s\"\n",
		    u->value);
		return -1;
	}
	return 0;
}

/* Flags that give a list override the file's list, not add to it. */
static void
opt_clear_list(struct config *cfg, const struct opt_flag *f)
{
	if (strcmp(f->name, "header") == 0)
		strlist_free(&cfg->headers);
	else if (strcmp(f->name, "header-ws") == 0)
		strlist_free(&cfg->headers_ws);
	else if (strcmp(f->name, "header-http") == 0)
		strlist_free(&cfg->headers_http);
}

static int
opt_set_tls(struct config *cfg, const struct opt_use *u)
{
	char	**p = strcmp(u->f->key, "cert") == 0 ? &cfg->tls_cert :
	    &cfg->tls_key;

	free(*p);
	if ((*p = strdup(u->value)) == NULL)
		return -1;
	if (p == &cfg->tls_cert)
		cfg->tls_cert_line = 0;
	else
		cfg->tls_key_line = 0;
	return 0;
}

static int
opt_closems(struct config *cfg, const struct opt_use *u, FILE *errfp)
{
	int64_t	 ms;

	if (config_parse_int(u->value, 0, INT_MAX, &ms) == -1) {
		fprintf(errfp, "wsbridge: --closems: invalid number \"%s\"\n",
		    u->value);
		return -1;
	}
	cfg->limits.close_grace_ms = ms;
	return 0;
}

/* --credential USER:PASS: basic auth without an htpasswd file (ttyd -c). */
static int
opt_credential(struct route *r, const char *v, FILE *errfp)
{
	const char	*colon = strchr(v, ':'), *p;

	for (p = v; *p != '\0' && (unsigned char)*p >= ' ' && *p != 0x7f; p++)
		;
	if (colon == NULL || colon == v || *p != '\0' ||
	    strlen(v) > AUTH_MAX_USER) {
		fprintf(errfp, "wsbridge: --credential: want USER:PASSWORD "
		    "(no control characters, at most %d bytes)\n",
		    AUTH_MAX_USER);
		return -1;
	}
	free(r->credential);
	if ((r->credential = strdup(v)) == NULL)
		return -1;
	r->auth = AUTH_BASIC;
	return 0;
}

/* Apply one [server] or route flag. */
static int
opt_apply(struct config *cfg, struct route *r, const struct opt_use *u,
    bool first, FILE *errfp)
{
	const struct opt_flag	*f = u->f;
	const char		*v;
	char			 err[512];

	if (strcmp(f->name, "closems") == 0)
		return opt_closems(cfg, u, errfp);
	if (strcmp(f->name, "credential") == 0)
		return opt_credential(r, u->value, errfp);
	if (opt_value(u, &v, errfp) == -1)
		return -1;
	if (v == NULL)
		return 0;	/* --binary=false */
	if (strcmp(f->name, "loglevel") == 0)
		return config_set(cfg, NULL, "log_level", v, 0, err,
		    sizeof(err));
	if (strcmp(f->key, "cert") == 0 || strcmp(f->key, "key") == 0)
		return opt_set_tls(cfg, u);
	if (first)
		opt_clear_list(cfg, f);
	if (config_set(cfg, f->scope == OPT_SERVER ? NULL : r, f->key, v, 0,
	    err, sizeof(err)) == -1) {
		fprintf(errfp, "wsbridge: --%s: %s\n", f->name, err);
		return -1;
	}
	return 0;
}

/* "ADDR" and a port as a listen spec; IPv6 literals get brackets. */
static void
opt_add_address(struct config *cfg, const char *addr, const char *port,
    bool tls)
{
	char	 spec[512];
	bool	 v6 = strchr(addr, ':') != NULL && addr[0] != '[';

	snprintf(spec, sizeof(spec), "%s%s%s:%s", v6 ? "[" : "", addr,
	    v6 ? "]" : "", port);
	config_add_listen(cfg, spec, tls, 0);
}

static int
opt_port(const char *flag, const char *v, FILE *errfp)
{
	int64_t	 port;

	if (config_parse_int(v, 0, 65535, &port) == -1) {
		fprintf(errfp, "wsbridge: --%s: invalid number \"%s\"\n", flag,
		    v);
		return -1;
	}
	return (int)port;
}

/* What the listening flags say: last --port, counts, --ssl. */
struct opt_listen {
	const char	*port;
	int		 redirport;	/* 0: none */
	size_t		 naddr, nspec;
	bool		 tls;
};

static bool
opt_used(const struct opt_scan *s, const char *name)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->uses[i].f->name, name) == 0)
			return true;
	return false;
}

static int
opt_listen_scan(const struct opt_scan *s, struct opt_listen *l, FILE *errfp)
{
	const char	*n, *v;
	size_t		 i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < s->n; i++) {
		n = s->uses[i].f->name;
		if (strcmp(n, "port") == 0) {
			if (opt_port(n, s->uses[i].value, errfp) == -1)
				return -1;
			l->port = s->uses[i].value;
		} else if (strcmp(n, "redirport") == 0) {
			if ((l->redirport = opt_port(n, s->uses[i].value,
			    errfp)) == -1)
				return -1;
		} else if (strcmp(n, "ssl") == 0) {
			if (opt_value(&s->uses[i], &v, errfp) == -1)
				return -1;
			l->tls = strcmp(v, "yes") == 0;
		} else if (strcmp(n, "address") == 0)
			l->naddr++;
		else if (strcmp(n, "listen") == 0)
			l->nspec++;
	}
	return 0;
}

/* Can this host make IPv6 sockets at all (a kernel without it cannot)? */
static bool
opt_have_ipv6(void)
{
	int	 fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return false;
	close(fd);
	return true;
}

/*
 * --redirport: beside each TCP listener, a plain one on the same address
 * that answers 301 to it (websocketd). Unix listeners get none.
 */
static void
opt_redirects(struct config *cfg, int redirport)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*why;
	char			 spec[600], *colon;
	size_t			 i, n = cfg->nlistens;
	int			 port;

	for (i = 0; i < n && redirport > 0; i++) {
		if (config_parse_addr(cfg->listens[i].spec, CONFIG_DEFAULT_PORT,
		    &ss, &len, &why) == -1 || ss.ss_family == AF_UNIX)
			continue;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(spec, sizeof(spec), "%s", cfg->listens[i].spec);
		if ((colon = strrchr(spec, ':')) == NULL || colon[1] == '\0' ||
		    strchr(colon, ']') != NULL)
			continue;
		snprintf(colon + 1, sizeof(spec) - (size_t)(colon + 1 - spec),
		    "%d", redirport);
		config_add_listen(cfg, spec, false, 0);
		cfg->listens[cfg->nlistens - 1].redirect_port = port;
		cfg->listens[cfg->nlistens - 1].redirect_tls =
		    cfg->listens[i].tls;
	}
}

static bool
opt_any_tls(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nlistens; i++)
		if (cfg->listens[i].tls)
			return true;
	return false;
}

/*
 * --sslcert or --sslkey with no TLS listener would serve plain ws as if
 * nothing were wrong: refuse, as websocketd does. With -c the file's [tls]
 * listeners count (not in the scratch run, which has no file).
 */
static int
opt_check_ssl(const struct config *cfg, const struct opt_scan *s,
    bool file, FILE *errfp)
{
	const char	*flag = opt_used(s, "sslcert") ? "sslcert" : "sslkey";

	if (!opt_used(s, flag) || opt_any_tls(cfg) ||
	    (file && cfg->path == NULL))
		return 0;
	fprintf(errfp, "wsbridge: --%s: no TLS listener: add --ssl (or a "
	    "[tls] listen with -c); without it the port would serve plain "
	    "ws\n", flag);
	return -1;
}

/*
 * --port, --address, --listen and --ssl: listeners from the command line
 * replace the file's. --port alone listens on every IPv4 and IPv6 address
 * (0.0.0.0 and [::]) as websocketd does; with -c it only changes the port
 * of the file's listeners (127.0.0.1 if it has none), so that moving a
 * config never widens who can reach it.
 */
static int
opt_listeners(struct config *cfg, const struct opt_scan *s, FILE *errfp)
{
	struct opt_listen	 l;
	const char		*n;
	bool			 file = opt_used(s, "c") || opt_used(s, "config");
	bool			 keep;
	const char		*any = file ? "127.0.0.1" : "0.0.0.0";
	size_t			 i;

	if (opt_listen_scan(s, &l, errfp) == -1)
		return -1;
	/* Without a file to take them from, --ssl needs both flags. */
	if (l.tls && !file && (!opt_used(s, "sslcert") ||
	    !opt_used(s, "sslkey"))) {
		fprintf(errfp, "wsbridge: --ssl: needs --sslcert and --sslkey\n");
		return -1;
	}
	keep = file && l.port != NULL && l.naddr + l.nspec == 0;
	if (keep && config_listens_set_port(cfg, l.port) == 0)
		opt_add_address(cfg, any, l.port, l.tls);
	else if (!keep && (l.port != NULL || l.naddr + l.nspec > 0))
		config_clear_listens(cfg);
	else if (l.tls && cfg->nlistens == 0)
		config_add_listen(cfg, CONFIG_DEFAULT_LISTEN, true, 0);
	for (i = 0; i < s->n; i++) {
		n = s->uses[i].f->name;
		if (strcmp(n, "address") == 0)
			opt_add_address(cfg, s->uses[i].value, l.port != NULL ?
			    l.port : "8080", l.tls);
		else if (strcmp(n, "listen") == 0)
			config_add_listen(cfg, s->uses[i].value, l.tls, 0);
	}
	if (!keep && l.port != NULL && l.naddr == 0) {
		opt_add_address(cfg, any, l.port, l.tls);
		if (!file && opt_have_ipv6())
			opt_add_address(cfg, "::", l.port, l.tls);
	}
	for (i = 0; i < cfg->nlistens && l.tls; i++)
		cfg->listens[i].tls = true;
	if (l.redirport > 0 && cfg->nlistens == 0 && !file)
		config_add_listen(cfg, CONFIG_DEFAULT_LISTEN, l.tls, 0);
	opt_redirects(cfg, l.redirport);
	return opt_check_ssl(cfg, s, file, errfp);
}

/* Without -c: one catch-all route, COMMAND's argv taken as it is. */
static struct route *
opt_route(struct config *cfg, const struct opt_scan *s)
{
	struct route	*r = route_new("/*");
	int		 i;

	for (i = 0; i < s->ncmd; i++)
		strlist_add(&r->argv, s->cmd[i]);
	if (s->ncmd > 0)
		r->kind = BACKEND_EXEC;
	config_add_route(cfg, r);
	return r;
}

static int
opt_build(struct config *cfg, const struct options *opts,
    const struct opt_scan *s, FILE *errfp)
{
	struct route	*r = NULL;
	bool		 seen[OPT_NFLAGS];
	size_t		 i, fi;

	memset(seen, 0, sizeof(seen));
	if (opts->config_path == NULL)
		r = opt_route(cfg, s);
	for (i = 0; i < s->n; i++) {
		if (s->uses[i].f->scope == OPT_MISC ||
		    s->uses[i].f->scope == OPT_LISTEN)
			continue;
		fi = (size_t)(s->uses[i].f - opt_flags);
		if (opt_apply(cfg, r, &s->uses[i], !seen[fi], errfp) == -1)
			return -1;
		seen[fi] = true;
	}
	/* --staticdir or --cgidir alone (websocketd): no WebSocket route. */
	if (r != NULL && r->kind == BACKEND_NONE && cfg->nroutes == 1 &&
	    (cfg->static_dir != NULL || cfg->cgi_dir != NULL)) {
		route_free(r);
		cfg->nroutes = 0;
		r = NULL;
	}
	/* websockify echoes "binary" when offered (noVNC offers it). */
	if (r != NULL && r->kind == BACKEND_CONNECT && r->protocols.n == 0)
		strlist_add(&r->protocols, "binary");
	return opt_listeners(cfg, s, errfp);
}

/* The real run: the file first, then the flags over it. */
static int
opt_load(const struct options *opts, const struct opt_scan *s,
    struct config **cfgp, FILE *errfp)
{
	struct config	*cfg = config_new();
	int		 rv = 0;

	if (opts->config_path != NULL &&
	    (rv = config_load(cfg, opts->config_path, errfp)) != 0) {
		/*
		 * Report the checks' errors too: all of them in one run;
		 * but a file not read at all has nothing more to say.
		 */
		if (rv > 0 && opt_build(cfg, opts, s, errfp) == 0)
			config_finish(cfg, errfp);
		config_report(cfg);
		config_free(cfg);
		return 1;
	}
	if (opt_build(cfg, opts, s, errfp) == -1) {
		config_report(cfg);
		config_free(cfg);
		return 2;
	}
	*cfgp = cfg;
	return 0;
}

int
options_parse(int argc, char **argv, struct options *opts,
    struct config **cfgp, FILE *errfp)
{
	struct opt_scan	 s;
	struct config	*cfg;
	size_t		 i;
	int		 rc = 2;

	memset(opts, 0, sizeof(*opts));
	memset(&s, 0, sizeof(s));
	*cfgp = NULL;
	if ((s.uses = calloc((size_t)argc + 1, sizeof(*s.uses))) == NULL)
		return 1;
	if (opt_scan(argc, argv, &s, errfp) == -1)
		goto out;
	for (i = 0; i < s.n; i++)
		if (s.uses[i].f->scope == OPT_MISC)
			opt_misc(opts, &s.uses[i]);
	rc = 0;
	if (opts->help || opts->version || opts->license)
		goto out;
	rc = 2;
	if (opt_check_scope(opts, &s, errfp) == -1)
		goto out;
	/* a scratch run first: usage errors win over the file's errors */
	cfg = config_new();
	rc = opt_build(cfg, opts, &s, errfp) == -1 ? 2 : 0;
	config_free(cfg);
	if (rc == 0)
		rc = opt_load(opts, &s, cfgp, errfp);
out:
	free(s.uses);
	return rc;
}

void
options_usage(FILE *fp)
{
	static const char *groups[] = {
		"Backend (one of COMMAND, --connect, --dir, --echo; not with -c)",
		"Listening (default 127.0.0.1:8080)",
		"Limits (DUR: 500ms, 10s, 5m, 1h or 0; SIZE: 4096, 64K, 1M, 1G)",
		"Process and logging",
		"websocketd compatibility",
		"Other",
	};
	const struct opt_flag	*f;
	char			 left[64];
	size_t			 g;

	fputs("usage: wsbridge [OPTIONS] COMMAND [ARG...]\n"
	    "       wsbridge [OPTIONS] --connect HOST:PORT | --dir DIR | "
	    "--echo\n"
	    "       wsbridge -c FILE [--check] [OPTIONS]\n", fp);
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		fprintf(fp, "\n%s:\n", groups[g]);
		for (f = opt_flags; f->name != NULL; f++) {
			if (f->group != g)
				continue;
			snprintf(left, sizeof(left), "%s%s%s%s",
			    f->name[1] == '\0' ? "-" : "--", f->name,
			    f->arg != NULL ? " " : "", f->arg != NULL ?
			    f->arg : "");
			fprintf(fp, "  %-26s %s\n", left, f->help);
		}
	}
	fputs("\nFlags take -flag or --flag, values as --flag VALUE or "
	    "--flag=VALUE;\nthe first word that is not a flag (or what "
	    "follows --) starts COMMAND.\n", fp);
}

void
options_license(FILE *fp)
{
	fputs("wsbridge " WSBRIDGE_VERSION "\n\n"
	    "wsbridge itself has not yet declared a license (see the Debian\n"
	    "package's /usr/share/doc/wsbridge/copyright).\n\n"
	    "Compiled into this binary: llhttp (Debian's node-llhttp),\n"
	    "Copyright 2018-2020 Fedor Indutny, under the MIT (Expat) license:\n\n"
	    "Permission is hereby granted, free of charge, to any person "
	    "obtaining a\ncopy of this software and associated documentation "
	    "files (the\n\"Software\"), to deal in the Software without "
	    "restriction, including\nwithout limitation the rights to use, "
	    "copy, modify, merge, publish,\ndistribute, sublicense, and/or "
	    "sell copies of the Software, and to permit\npersons to whom the "
	    "Software is furnished to do so, subject to the\nfollowing "
	    "conditions:\n\nThe above copyright notice and this permission "
	    "notice shall be included\nin all copies or substantial portions "
	    "of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT "
	    "WARRANTY OF ANY KIND, EXPRESS\nOR IMPLIED, INCLUDING BUT NOT "
	    "LIMITED TO THE WARRANTIES OF\nMERCHANTABILITY, FITNESS FOR A "
	    "PARTICULAR PURPOSE AND NONINFRINGEMENT. IN\nNO EVENT SHALL THE "
	    "AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,\nDAMAGES OR "
	    "OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR\n"
	    "OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE "
	    "SOFTWARE OR THE\nUSE OR OTHER DEALINGS IN THE SOFTWARE.\n\n"
	    "Linked from Debian (see each package's copyright file): libev, "
	    "OpenSSL,\ninih, json-c, zlib, libxcrypt.\n", fp);
}
