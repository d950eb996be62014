/*
 * The environment of a spawned program, from plain request facts: the
 * websocketd-compatible CGI-style variables, HTTP_* for headers, TLS
 * facts, a login-like environment for terminals, and CGI/1.1 for
 * --cgidir programs.
 */
#include <sys/random.h>

#include <ctype.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "handshake.h"
#include "log.h"
#include "proc_env.h"
#include "version.h"

/* Set when a variable found no memory: the spawn fails, not the daemon. */
static bool	 env_nomem;

static void
env_add(struct strlist *env, const char *name, const char *value)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, value) == -1) {
		env_nomem = true;
		return;
	}
	if (strlist_try_add(env, s) == -1)
		env_nomem = true;
	free(s);
}

static bool
env_has(const struct strlist *env, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, len) == 0 && env->v[i][len] == '=')
			return true;
	return false;
}

/* HTTP_* for each request header: upper case, '-' to '_', no CR/LF. */
/* HTTP_NAME for a header name: upper case, '-' as '_'. */
static void
env_header_name(char *name, size_t size, const char *header)
{
	size_t	 j;

	snprintf(name, size, "HTTP_%s", header);
	for (j = 5; name[j] != '\0'; j++)
		name[j] = name[j] == '-' ? '_' :
		    (char)toupper((unsigned char)name[j]);
}

/*
 * One HTTP_* variable per header name; a repeated header's values are
 * joined with ", " (RFC 9110 5.3), as websocketd does.
 */
static void
env_add_headers(struct strlist *env, const struct hs_request *req,
    bool hide_authorization)
{
	char	 name[128], other[128], *value = NULL, *d;
	size_t	 i, k, len = 0;
	FILE	*f;

	for (i = 0; i < req->nheaders; i++) {
		env_header_name(name, sizeof(name), req->headers[i].name);
		/*
		 * httpoxy: a "Proxy:" header must never become HTTP_PROXY;
		 * a password wsbridge checked stays with wsbridge (RFC 3875
		 * 4.1.18): the program gets REMOTE_USER.
		 */
		if (strcmp(name, "HTTP_PROXY") == 0 || env_has(env, name) ||
		    (hide_authorization &&
		    strcmp(name, "HTTP_AUTHORIZATION") == 0))
			continue;
		if ((f = open_memstream(&value, &len)) == NULL) {
			env_nomem = true;
			return;
		}
		fputs(req->headers[i].value, f);
		for (k = i + 1; k < req->nheaders; k++) {
			env_header_name(other, sizeof(other),
			    req->headers[k].name);
			if (strcmp(other, name) == 0)
				fprintf(f, ", %s", req->headers[k].value);
		}
		if (fclose(f) != 0) {
			free(value);
			env_nomem = true;
			return;
		}
		for (d = value; *d != '\0'; d++)
			if (*d == '\r' || *d == '\n')
				*d = ' ';
		env_add(env, name, value);
		free(value);
		value = NULL;
	}
}

static void
env_add_unique_id(struct strlist *env)
{
	unsigned char	 r[16];
	char		 hex[33];
	size_t		 i;

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		env_nomem = true;	/* no id rather than a guessable one */
		return;
	}
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	env_add(env, "UNIQUE_ID", hex);
}

static void
env_add_server_name(struct strlist *env, const struct proc_request *q)
{
	const char	*host = hs_header(q->req, "Host");
	char		 name[256], *colon;

	if (host == NULL || *host == '\0')
		host = q->local_ip;
	snprintf(name, sizeof(name), "%s", host);
	if (name[0] == '[') {
		if ((colon = strchr(name, ']')) != NULL)
			colon[1] = '\0';
	} else if ((colon = strchr(name, ':')) != NULL)
		*colon = '\0';
	env_add(env, "SERVER_NAME", name);
}

/* HTTPS=on, and the client certificate's subject under mutual TLS. */
static void
env_add_tls(struct strlist *env, const struct proc_request *q)
{
	env_add(env, "HTTPS", "on");
	env_add(env, "SSL_PROTOCOL", q->tls_protocol);
	env_add(env, "SSL_CLIENT_VERIFY", q->tls_verify);
	if (q->tls_client_dn != NULL)
		env_add(env, "SSL_CLIENT_S_DN", q->tls_client_dn);
}

/*
 * Terminals get a login-like environment (as ttyd's shells have): HOME,
 * USER, SHELL of the user wsbridge runs as (after --user), LANG from
 * wsbridge's own or C.UTF-8. pass_env and env = entries win.
 */
static void
env_add_user(struct strlist *env)
{
	static char	 home[PATH_MAX], user[256], shell[PATH_MAX];
	static bool	 looked;
	struct passwd	*pw;
	const char	*lang = getenv("LANG");

	if (!looked) {
		/* NSS may be slow: once per process, the uid never changes. */
		looked = true;
		if ((pw = getpwuid(getuid())) != NULL) {
			snprintf(home, sizeof(home), "%s", pw->pw_dir);
			snprintf(user, sizeof(user), "%s", pw->pw_name);
			snprintf(shell, sizeof(shell), "%s", pw->pw_shell);
		}
	}
	if (home[0] != '\0' && !env_has(env, "HOME"))
		env_add(env, "HOME", home);
	if (user[0] != '\0' && !env_has(env, "USER"))
		env_add(env, "USER", user);
	if (!env_has(env, "SHELL"))
		env_add(env, "SHELL", shell[0] != '\0' ? shell : "/bin/sh");
	if (!env_has(env, "LANG"))
		env_add(env, "LANG", lang != NULL && *lang != '\0' ? lang :
		    "C.UTF-8");
}

/*
 * The websocketd-compatible CGI-style environment for one connection;
 * a CGI request (no route) gets CGI/1.1, its method and PATH.
 */
char **
proc_env_build(const struct route *r, const struct proc_request *q,
    struct strlist *env)
{
	char			 num[24];
	const char		*val, *script;
	size_t			 i;

	memset(env, 0, sizeof(*env));
	env_nomem = false;
	for (i = 0; r != NULL && i < r->pass_env.n; i++)
		if ((val = getenv(r->pass_env.v[i])) != NULL)
			env_add(env, r->pass_env.v[i], val);
	if (r == NULL)	/* as Go's net/http/cgi (websocketd) passes it */
		env_add(env, "PATH", (val = getenv("PATH")) != NULL ? val :
		    "/bin:/usr/bin:/usr/local/bin");
	env_add(env, "SERVER_SOFTWARE", "wsbridge/" WSBRIDGE_VERSION);
	env_add(env, "GATEWAY_INTERFACE", r == NULL ? "CGI/1.1" :
	    "websocketd-CGI/0.1");
	env_add(env, "SERVER_PROTOCOL", "HTTP/1.1");
	env_add_server_name(env, q);
	snprintf(num, sizeof(num), "%d", q->local_port);
	env_add(env, "SERVER_PORT", num);
	env_add(env, "REQUEST_METHOD", r == NULL ?
	    llhttp_method_name((llhttp_method_t)q->req->method) :
	    q->req->method == HTTP_HEAD ? "HEAD" : "GET");
	/* RFC 3875 4.1.2, 4.1.3; a chunked body has no length: read to EOF. */
	if (r == NULL && q->req->has_body && q->req->content_length >= 0) {
		snprintf(num, sizeof(num), "%lld", q->req->content_length);
		env_add(env, "CONTENT_LENGTH", num);
	}
	if (r == NULL && (val = hs_header(q->req, "Content-Type")) != NULL)
		env_add(env, "CONTENT_TYPE", val);
	if (r == NULL && q->program != NULL)
		env_add(env, "SCRIPT_FILENAME", q->program);
	env_add(env, "REQUEST_URI", q->req->url);
	script = q->script_name != NULL ? q->script_name : q->path;
	env_add(env, "SCRIPT_NAME", script);
	env_add(env, "PATH_INFO", q->path_info != NULL ? q->path_info : "");
	env_add(env, "QUERY_STRING", q->query != NULL ? q->query : "");
	env_add(env, "REMOTE_ADDR", q->peer_ip);
	env_add(env, "REMOTE_HOST", q->remote_host != NULL ? q->remote_host :
	    q->peer_ip);
	snprintf(num, sizeof(num), "%d", q->peer_port);
	env_add(env, "REMOTE_PORT", num);
	if (q->remote_user != NULL)
		env_add(env, "REMOTE_USER", q->remote_user);
	if (q->tls)
		env_add_tls(env, q);
	env_add_unique_id(env);
	for (i = 0; r != NULL && i < r->env.n; i++)
		if (strlist_try_add(env, r->env.v[i]) == -1)
			env_nomem = true;
	if (r != NULL && r->mode == MODE_PTY && !env_has(env, "TERM"))
		env_add(env, "TERM", r->term != NULL ? r->term :
		    "xterm-256color");
	if (r != NULL && r->mode == MODE_PTY)
		env_add_user(env);
	env_add_headers(env, q->req, r != NULL && r->auth == AUTH_BASIC);
	if (env_nomem) {
		strlist_free(env);
		return NULL;
	}
	return env->v;
}
