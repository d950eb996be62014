/*
 * The HTTP side of a connection: the upgrade and its checks (origin,
 * auth, limits, route), the backend start, and error answers; the
 * plain responses of keep-alive connections are in conn_plain.c.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include "access.h"
#include "backend.h"
#include "cgi.h"
#include "conn_cors.h"
#include "conn_poll.h"
#include "conn_post.h"
#include "listener.h"
#include "auth_pool.h"
#include "rdns.h"
#include "forwarded.h"
#include "http_response.h"
#include "iplimit.h"
#include "log.h"
#include "metrics.h"
#include "pmd.h"
#include "proxy_proto.h"
#include "record.h"
#include "static.h"
#include "session.h"
#include "termpage.h"
#include "transport_sse.h"
#include "transport_ws.h"
#include "tls.h"
#include "conn_int.h"

static char *const pty_protocols[] = { "tty", NULL };

#define CONN_DIR_DEPTH_MAX	16	/* subdirectories walked in dir routes */

static const char *conn_header_list(struct conn *, const char *, char *,
		    size_t);

/*
 * The extra headers of a plain HTTP response: header (every response)
 * and header_http, the route's when there is one (websocketd --header,
 * --header-http).
 */
/* A header line for a response; *nomem is set when there was no memory. */
void
conn_list_add(struct strlist *l, const char *s, bool *nomem)
{
	if (strlist_try_add(l, s) == -1)
		*nomem = true;
}

void
conn_http_headers(const struct conn *c, const struct route *r,
    struct strlist *hv, bool *nomem)
{
	const struct config	*cfg = c->cref->cfg;
	const struct strlist	*all = r ? &r->headers : &cfg->headers;
	const struct strlist	*http = r ? &r->headers_http : &cfg->headers_http;
	size_t			 i;

	for (i = 0; i < all->n; i++)
		conn_list_add(hv, all->v[i], nomem);
	for (i = 0; i < http->n; i++)
		conn_list_add(hv, http->v[i], nomem);
}

/* An HTTP error with extra header lines: send it, then close. */
void
conn_http_error(struct conn *c, int status, char *const *more, size_t nmore)
{
	struct config	*cfg = c->cref->cfg;
	struct strlist	 hv = { NULL, 0 };
	char		*resp;
	size_t		 len, i;
	bool		 nomem = false;
	int		 retry = status == 429 || status == 503 ?
			    CONN_RETRY_AFTER_S : 0;

	c->status = status;
	if (c->refusal == NULL)
		c->refusal = hs_status_text(status);
	conn_http_headers(c, c->route, &hv, &nomem);
	conn_cors_headers(c, c->matched, &hv, &nomem);
	/*
	 * A failed handshake: bytes that are not HTTP, an upgrade attempt
	 * refused, or a plain GET on a route (426). Static 404s are not.
	 */
	if (c->req == NULL || !c->req->complete || c->sse ||
	    hs_wants_websocket(c->req) || status == 426)
		metrics_handshake_failed(c->matched != NULL ?
		    c->matched->label : NULL, status);
	for (i = 0; i < nmore; i++)
		conn_list_add(&hv, more[i], &nomem);
	resp = nomem ? NULL : hs_response_error(status, NULL, c->req !=
	    NULL && c->req->method == HTTP_HEAD, retry, hv.v, hv.n, &len);
	strlist_free(&hv);
	if (resp == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, cfg->close_timeout_ms);
	conn_send_raw(c, resp, len);
	free(resp);
}

/* An error answer; why (a static string) goes to the log with the path. */
void
conn_http_respond(struct conn *c, int status, const char *why)
{
	char	 path[300];

	if (why != NULL) {
		log_escape(path, sizeof(path), c->path ? c->path : "",
		    c->path ? strlen(c->path) : 0);
		log_info("conn %llu %s%s%s: %d: %s", (unsigned long long)c->id,
		    c->peer, c->path ? " " : "", path, status, why);
		c->refusal = why;
	}
	conn_http_error(c, status, NULL, 0);
}

/* A built-in body (devconsole, metrics, pty page), then close. */
void
conn_send_status_page(struct conn *c, int status, const char *type,
    const char *body, size_t len, bool head)
{
	/* The head alone: the body, maybe large, goes from where it lies. */
	struct http_answer	 a = { .status = status, .type = type,
				    .body = body, .body_len = len,
				    .head = true, .cache_control = "no-cache" };
	char			*hdr;
	size_t			 n;

	c->status = status;
	if ((hdr = http_response_answer(&a, time(NULL), &n)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send_raw(c, hdr, n);
	free(hdr);
	if (!head)
		conn_send_raw(c, body, len);
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
}

void
conn_http_answer(struct conn *c, int status, const char *type,
    const char *body, size_t len)
{
	struct strlist		 hv = { NULL, 0 };
	struct http_answer	 a = { .status = status, .type = type,
				    .body = body, .body_len = len,
				    .cache_control = "no-store" };
	char			*resp = NULL;
	size_t			 n;
	bool			 nomem = false;

	conn_http_headers(c, c->matched, &hv, &nomem);
	conn_cors_headers(c, c->matched, &hv, &nomem);
	a.extra = hv.v;
	a.nextra = hv.n;
	a.head = c->req != NULL && c->req->method == HTTP_HEAD;
	if (!nomem)
		resp = http_response_answer(&a, time(NULL), &n);
	strlist_free(&hv);
	if (resp == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->status = status;
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	conn_send_raw(c, resp, n);
	free(resp);
}

void
conn_send_page(struct conn *c, const char *type, const char *body,
    size_t len, bool head)
{
	conn_send_status_page(c, 200, type, body, len, head);
}

/* --- the handshake ------------------------------------------------------- */

/*
 * Dir routes: "/NAME/extra" runs DIR/NAME, and "/sub/NAME/extra" runs
 * DIR/sub/NAME (websocketd --dir walks subdirectories), if it is an
 * executable regular file really inside DIR: no dot names anywhere, no
 * symlink escape.
 */
static int
conn_resolve_script(struct conn *c, const char *rest)
{
	char		 cand[4096], root[PATH_MAX], real[PATH_MAX];
	const char	*p = rest, *slash;
	size_t		 len, rlen, used;
	struct stat	 st;
	int		 depth;

	if (realpath(c->route->dir, root) == NULL)
		return -1;
	rlen = strlen(root);
	used = (size_t)snprintf(cand, sizeof(cand), "%s", root);
	for (depth = 0; depth < CONN_DIR_DEPTH_MAX; depth++) {
		if (*p == '/')
			p++;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || p[0] == '.' || used + 1 + len >= sizeof(cand))
			return -1;
		used += (size_t)snprintf(cand + used, sizeof(cand) - used,
		    "/%.*s", (int)len, p);
		p += len;
		if (realpath(cand, real) == NULL ||
		    strncmp(real, root, rlen) != 0 || real[rlen] != '/' ||
		    stat(real, &st) == -1)
			return -1;
		if (S_ISDIR(st.st_mode))
			continue;
		if (!S_ISREG(st.st_mode) || access(real, X_OK) == -1)
			return -1;
		if ((c->program = strdup(real)) == NULL ||
		    asprintf(&c->script_name, "%s%s%.*s", c->route->path,
		    *rest == '/' ? "" : "/", (int)(p - rest), rest) == -1 ||
		    (c->path_info = strdup(p)) == NULL) {
			c->script_name = NULL;	/* unset by a failed asprintf */
			return -2;
		}
		return 0;
	}
	return -1;
}

/* SCRIPT_NAME and PATH_INFO of a route; -1 out of memory. */
static int
conn_set_script(struct conn *c, const char *rest)
{
	const struct route	*r = c->route;

	if (r->prefix && r->path[0] == '\0') {
		/* Every path (a websocketd command line): as websocketd does. */
		c->script_name = strdup("/");
		c->path_info = strdup(c->path);
	} else if (!r->prefix) {
		c->script_name = strdup(c->path);
		c->path_info = strdup("");
	} else {
		c->script_name = strdup(r->path);
		c->path_info = strdup(rest);
	}
	return c->script_name == NULL || c->path_info == NULL ? -1 : 0;
}

void
conn_free_request(struct conn *c)
{
	if (c->req != NULL) {
		hs_free(c->req);
		free(c->req);
		c->req = NULL;
	}
}

static void
conn_start_timers(struct conn *c)
{
	const struct route_limits	*l = &c->route->limits;

	ev_timer_stop(server.loop, &c->deadline);
	if (l->idle_timeout_ms > 0) {
		c->last_activity = ev_now(server.loop);
		ev_timer_set(&c->idle_timer, l->idle_timeout_ms / 1000., 0.);
		ev_timer_start(server.loop, &c->idle_timer);
	}
}

/* compression = yes and the client offers permessage-deflate. */
static const char *
conn_negotiate_deflate(struct conn *c, struct pmd **pmd, char *resp,
    size_t respsz)
{
	struct pmd_params	 params;
	char			 offers[2048];

	*pmd = NULL;
	if (!c->route->compression || conn_header_list(c,
	    "Sec-WebSocket-Extensions", offers, sizeof(offers)) == NULL ||
	    pmd_negotiate(offers, &params, resp, respsz) == -1)
		return NULL;
	if ((*pmd = pmd_new(&params)) == NULL)
		return NULL;
	return resp;
}

static void	conn_open_transport(struct conn *, char *, size_t);

/* The backend exists: answer 101 and start relaying. */
static void
conn_upgrade(struct conn *c)
{
	struct route	*r = c->route;
	struct strlist	 extra = { NULL, 0 };
	struct pmd	*pmd;
	char		 accept[HS_ACCEPT_KEY_SIZE], *resp, exts[256];
	const char	*proto = NULL, *ext;
	size_t		 len, i;
	bool		 nomem = false;

	hs_accept_key(hs_header(c->req, "Sec-WebSocket-Key"), accept);
	if (r->protocols.n > 0)
		proto = hs_select_protocol(c->req, r->protocols.v,
		    r->protocols.n);
	else if (r->mode == MODE_PTY)
		proto = hs_select_protocol(c->req, pty_protocols, 1);
	for (i = 0; i < r->headers.n; i++)
		conn_list_add(&extra, r->headers.v[i], &nomem);
	for (i = 0; i < r->headers_ws.n; i++)
		conn_list_add(&extra, r->headers_ws.v[i], &nomem);
	/* websockify's base64: the bytes travel as base64 text. */
	if (proto != NULL && strcasecmp(proto, "base64") == 0 &&
	    r->mode == MODE_BINARY && !session_messages_only(c->session))
		session_use_base64(c->session);
	ext = conn_negotiate_deflate(c, &pmd, exts, sizeof(exts));
	resp = nomem ? NULL : hs_response_101(accept, proto, ext, extra.v,
	    extra.n, &len);
	strlist_free(&extra);
	/*
	 * A terminal spawns later and needs the headers for its env. The
	 * others drop the request before the transport's state is made:
	 * what lives long is not left above a freed request (measured: 450
	 * bytes less per idle connection).
	 */
	if (resp != NULL && !session_starts_late(c->session))
		conn_free_request(c);
	if (resp == NULL || (c->transport = transport_ws_new(c, pmd)) ==
	    NULL) {
		free(resp);
		pmd_free(pmd);
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	c->status = 101;
	conn_open_transport(c, resp, len);
}

/* The backend exists: 200 and the event stream (no WebSocket). */
void
conn_open_sse(struct conn *c)
{
	struct strlist	 hv = { NULL, 0 };
	char		*resp = NULL;
	size_t		 len;
	bool		 nomem = false;

	conn_http_headers(c, c->route, &hv, &nomem);
	conn_cors_headers(c, c->route, &hv, &nomem);
	if (!nomem && (c->transport = transport_sse_new(c, c->resume,
	    c->resume_after)) != NULL)
		resp = transport_sse_head(hv.v, hv.n, &len);
	strlist_free(&hv);
	if (resp == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	c->status = 200;
	conn_open_transport(c, resp, len);
}

/* The response (resp) opens the transport: relay from now on. */
static void
conn_open_transport(struct conn *c, char *resp, size_t len)
{
	struct route	*r = c->route;

	metrics_conn_open(conn_route_name(c));
	if (!session_messages_only(c->session) && record_enabled())
		record_event(c->id, "open", c->path, c->peer);
	conn_send_raw(c, resp, len);
	free(resp);
	conn_log_connected(c);
	c->client.out.high = (size_t)r->limits.buffer_size;
	conn_set_state(c, CONN_OPEN);
	conn_start_timers(c);
	c->transport->ops->open(c);
	/* A resumed stream's member is open: the stream replays. */
	if (c->resume == NULL && c->state == CONN_OPEN)
		session_open(c->member, (size_t)r->limits.buffer_size);
	conn_process_input(c);
}

/* What access_authenticate said, acted on: 0 go on, -1 answered. */
static int
conn_access_verdict(struct conn *c, int status, const char *user,
    const char *challenge)
{
	char	 line[340];
	char	*hdr[1] = { line };

	if (status == 401) {
		log_info("conn %llu %s %s: 401: not authenticated",
		    (unsigned long long)c->id, c->peer, c->path);
		snprintf(line, sizeof(line), "WWW-Authenticate: %s",
		    challenge);
		conn_http_error(c, 401, hdr, 1);
		return -1;
	}
	if (status != 0) {
		conn_http_respond(c, status, "authentication file");
		return -1;
	}
	if (user[0] != '\0' && (c->remote_user = strdup(user)) == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return -1;
	}
	return 0;
}

static int	conn_check_rest(struct conn *, struct route *, const char *);
static void	conn_start_backend(struct conn *);

/* Access is granted: input by POST, a poll, or the route's backend. */
static void
conn_after_access(struct conn *c, struct route *r, const char *rest)
{
	if (c->post_in)
		conn_post_begin(c, r);
	else if (c->poll_get)
		conn_poll_get(c, r);
	else if (c->sse && conn_sse_resume(c, r))
		return;
	else if (conn_check_rest(c, r, rest) == 0)
		conn_start_backend(c);
}

/* Fires on the loop once the password of c is hashed: go on or 401. */
static void
conn_auth_done_cb(void *arg, struct auth_job *job)
{
	struct conn	*c = arg;
	struct route	*r;
	const char	*rest = "";
	char		 user[AUTH_MAX_USER], challenge[300];
	int		 status;

	c->auth = NULL;
	conn_set_state(c, CONN_HTTP);
	/* The same config (c->cref) and path: the same route as before. */
	r = config_match(c->cref->cfg, c->path, &rest);
	assert(r != NULL);
	status = access_auth_finish(r, job, user, sizeof(user), challenge,
	    sizeof(challenge));
	if (conn_access_verdict(c, status, user, challenge) == 0)
		conn_after_access(c, r, rest);
}

/*
 * Origin and authentication: 0 go on, -1 answered (403, 401, 5xx), 1
 * the password is being hashed off the loop (conn_auth_done_cb goes on;
 * 503 at once when too many checks wait).
 */
static int
conn_check_access(struct conn *c, struct route *r)
{
	struct auth_job	 job;
	char		 user[AUTH_MAX_USER], challenge[300];
	const char	*why;
	int		 status;

	if (!access_origin_allowed(r, c->req) &&
	    !conn_cors_same_origin(c, r)) {
		conn_http_respond(c, 403, "origin not allowed");
		return -1;
	}
	status = access_authenticate(r, c->req, c->peer_trusted, user,
	    sizeof(user), challenge, sizeof(challenge), &job);
	if (status != ACCESS_HASH)
		return conn_access_verdict(c, status, user, challenge);
	c->auth = auth_pool_submit(server.loop, &job, c->peer_ip,
	    conn_auth_done_cb, c, &why);
	explicit_bzero(&job, sizeof(job));
	if (c->auth == NULL) {
		conn_http_respond(c, 503, why);
		return -1;
	}
	conn_set_state(c, CONN_AUTH);
	return 1;
}

/* Server, route and per-address connection limits: 503 or 429. */
int
conn_check_limits(struct conn *c, struct route *r)
{
	struct config	*cfg = c->cref->cfg;

	if (server.stopping || server.nconns > cfg->max_connections) {
		conn_http_respond(c, 503, server.stopping ? "shutting down" :
		    "server connection limit");
		return -1;
	}
	/* A stream that resumes was counted while it waited. */
	if (r->max_connections > 0 && r->active >= r->max_connections &&
	    c->resume == NULL) {
		conn_http_respond(c, 429, "route connection limit");
		return -1;
	}
	if (cfg->max_connections_per_ip > 0) {
		if (!iplimit_take((struct sockaddr *)&c->peer_addr,
		    cfg->max_connections_per_ip)) {
			conn_http_respond(c, 429, "per-address limit");
			return -1;
		}
		c->ip_counted = true;
	}
	return 0;
}

/* A token route: the token names where the socket backend connects. */
static int
conn_backend_address(struct conn *c, struct route *r)
{
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen = 0;
	char			 shown[64], path[300];
	int			 status;

	if (r->kind != BACKEND_TARGETS)
		return 0;
	status = access_target(r, c->query, c->req, &addr, &addrlen, shown,
	    sizeof(shown));
	if (status == 0 && session_set_target(c->session,
	    (struct sockaddr *)&addr, addrlen) == -1)
		status = 503;
	if (status == 0)
		return 0;
	/* One line, with the token's start: never the whole credential. */
	c->refusal = status == 404 ? "unknown token" : status == 503 ?
	    "out of memory" : "token target unavailable";
	log_info("conn %llu %s %s: %d: %s %s", (unsigned long long)c->id,
	    c->peer, log_escape(path, sizeof(path), c->path, strlen(c->path)),
	    status, c->refusal, shown);
	conn_http_respond(c, status, NULL);
	return -1;
}

/* Checks after access: limits, subprotocol, script, socket address. */
static int
conn_check_rest(struct conn *c, struct route *r, const char *rest)
{
	if (conn_check_limits(c, r) == -1)
		return -1;
	/* An event stream carries no subprotocol: a WebSocket check. */
	if (r->require_protocol && !c->sse && !c->poll_open &&
	    (r->protocols.n == 0 ||
	    hs_select_protocol(c->req, r->protocols.v, r->protocols.n) ==
	    NULL)) {
		conn_http_respond(c, 400, "no acceptable subprotocol");
		return -1;
	}
	c->route = r;
	r->active++;
	if (conn_session_new(c) == -1)
		return -1;
	if (r->kind == BACKEND_DIR) {
		switch (conn_resolve_script(c, rest)) {
		case -1:
			conn_http_respond(c, 404, "no such script");
			return -1;
		case -2:
			conn_http_respond(c, 503, "out of memory");
			return -1;
		}
	} else if (conn_set_script(c, rest) == -1) {
		conn_http_respond(c, 503, "out of memory");
		return -1;
	}
	return conn_backend_address(c, r);
}

/*
 * What a spawned program's environment says about the request; the
 * strings are c's (and its TLS connection's), read during the start.
 */
void
conn_backend_params(struct conn *c, struct backend_params *bp,
    struct proc_request *q, unsigned short cols, unsigned short rows)
{
	memset(q, 0, sizeof(*q));
	q->req = c->req;
	q->peer_ip = c->peer_ip;
	q->peer_port = c->peer_port;
	q->local_ip = c->local_ip;
	q->local_port = c->local_port;
	q->path = c->path;
	q->query = c->query;
	q->script_name = c->script_name;
	q->path_info = c->path_info;
	q->program = c->program;
	q->remote_user = c->remote_user;
	q->remote_host = c->remote_host;
	if ((q->tls = c->tls != NULL)) {
		q->tls_protocol = tls_version(c->tls);
		q->tls_verify = tls_verify_result(c->tls);
		q->tls_client_dn = tls_peer_subject(c->tls);
	}
	memset(bp, 0, sizeof(*bp));
	bp->cfg = c->cref->cfg;
	bp->route = c->route;
	bp->request = q;
	bp->id = c->id;
	bp->label = conn_route_name(c);
	bp->log_route = c->script_name != NULL ? c->script_name : c->path;
	bp->peer = c->peer;
	bp->path = c->path;
	bp->cols = cols;
	bp->rows = rows;
}

/* The lookup is over: name (NULL: none) becomes REMOTE_HOST. */
static void
conn_lookup_finish(struct conn *c, const char *name)
{
	void	(*then)(struct conn *) = c->rdns_then;

	c->rdns = NULL;
	conn_deadline(c, 0);
	if ((c->remote_host = strdup(name != NULL ? name : c->peer_ip)) ==
	    NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	log_debug("conn %llu %s: REMOTE_HOST %s", (unsigned long long)c->id,
	    c->peer, c->remote_host);
	conn_set_state(c, CONN_HTTP);
	then(c);
}

/* Fires on the loop with the client's host name (NULL: none). */
static void
conn_lookup_done_cb(void *arg, const char *name)
{
	conn_lookup_finish(arg, name);
}

void
conn_lookup_timeout(struct conn *c)
{
	log_info("conn %llu %s: reverse lookup timed out",
	    (unsigned long long)c->id, c->peer);
	rdns_cancel(c->rdns);
	conn_lookup_finish(c, NULL);
}

/*
 * --reverselookup, before a program is spawned: 1 the name is being
 * looked up (then(c) follows, at most RDNS_TIMEOUT_MS later, with the
 * address when there is no name); 0 go on now.
 */
int
conn_lookup(struct conn *c, void (*then)(struct conn *))
{
	socklen_t	 len;

	if (!c->cref->cfg->reverse_lookup || c->remote_host != NULL)
		return 0;
	len = c->peer_addr.sa.sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	c->rdns_then = then;
	c->rdns = rdns_submit(server.loop, (struct sockaddr *)&c->peer_addr,
	    len, c->peer_ip, conn_lookup_done_cb, c);
	if (c->rdns == NULL) {
		log_info("conn %llu %s: reverse lookup queue full",
		    (unsigned long long)c->id, c->peer);
		return 0;
	}
	conn_set_state(c, CONN_LOOKUP);
	conn_deadline(c, RDNS_TIMEOUT_MS);
	return 1;
}

/* Start the route's backend; the 101 follows once it exists. */
static void
conn_start_backend(struct conn *c)
{
	char	 err[256];

	if ((backend_ops_for(c->route)->flags & BACKEND_F_PROCESS) &&
	    conn_lookup(c, conn_start_backend) == 1)
		return;

	conn_set_state(c, CONN_BACKEND);
	/* The backend's own timer bounds a connect. */
	conn_deadline(c, 0);
	switch (session_start(c->session, err, sizeof(err))) {
	case -1:
		conn_backend_failed(c, err);
		break;
	case 0:
		conn_backend_connected(c);
		break;
	default:
		break;	/* conn_backend_connected() or _failed() follows */
	}
}

/* send_proxy: the real client's address goes first to the backend. */
static int
conn_send_proxy_header(struct conn *c)
{
	uint8_t	 hdr[PROXY_MAX_HEADER];
	size_t	 n = 0;

	if (c->route->send_proxy == SEND_PROXY_V1)
		n = proxy_build_v1((char *)hdr, sizeof(hdr),
		    (struct sockaddr *)&c->peer_addr,
		    (struct sockaddr *)&c->local_addr);
	else if (c->route->send_proxy == SEND_PROXY_V2)
		n = proxy_build_v2(hdr, sizeof(hdr),
		    (struct sockaddr *)&c->peer_addr,
		    (struct sockaddr *)&c->local_addr);
	if (n == 0)
		return 0;
	return session_prefix(c->session, hdr, n);
}

void
conn_backend_connected(struct conn *c)
{
	if (session_is_socket(c->session) &&
	    conn_send_proxy_header(c) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	if (c->sse)
		conn_open_sse(c);
	else if (c->poll_open)
		conn_poll_open(c);
	else
		conn_upgrade(c);
}

/* The backend could not be reached: 502, and a line naming it. */
void
conn_backend_failed(struct conn *c, const char *why)
{
	char	 name[300] = "", path[300];
	bool	 spawns = session_spawns(c->session);

	if (spawns)
		metrics_spawn_failed(conn_route_name(c));
	else
		conn_backend_name(c, name, sizeof(name));
	/* As websockify's "Failed to connect to 127.0.0.1:5999". */
	log_warnx("conn %llu %s %s: backend%s%s: %s",
	    (unsigned long long)c->id, c->peer, log_escape(path, sizeof(path),
	    c->path, strlen(c->path)), spawns ? "" : " ", name, why);
	c->refusal = "backend failed";
	conn_http_respond(c, 502, NULL);
}

/* All values of a header joined with ", " (repeated lines are a list). */
static const char *
conn_header_list(struct conn *c, const char *name, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 n;

	out[0] = '\0';
	for (i = 0; i < c->req->nheaders; i++) {
		if (strcasecmp(c->req->headers[i].name, name) != 0)
			continue;
		n = snprintf(out + o, outsz - o, "%s%s", o ? ", " : "",
		    c->req->headers[i].value);
		if (n < 0 || (size_t)n >= outsz - o)
			break;
		o += (size_t)n;
	}
	return o > 0 ? out : NULL;
}

/* From a trusted proxy, X-Forwarded-For / Forwarded name the client. */
static void
conn_apply_forwarded(struct conn *c)
{
	struct config		*cfg = c->cref->cfg;
	struct forwarded_client	 fc;
	char			 xff[2048], fwd[2048];

	if (!c->peer_trusted)
		return;
	if (forwarded_client((struct sockaddr *)&c->peer_addr,
	    cfg->trusted_proxies, cfg->ntrusted_proxies,
	    conn_header_list(c, "X-Forwarded-For", xff, sizeof(xff)),
	    conn_header_list(c, "Forwarded", fwd, sizeof(fwd)), &fc) != 1 ||
	    fc.addrlen == 0)
		return;
	log_debug("conn %llu %s: forwarded for %s", (unsigned long long)c->id,
	    c->peer, fc.host);
	/* peer_trusted still describes the connection: the proxy vouched. */
	conn_set_peer(c, (struct sockaddr *)&fc.addr, fc.addrlen);
	c->peer_trusted = true;
}

/*
 * --redirport: every request gets 301 to the same host on the main port
 * (websocketd sends "/"; the path and query are kept here).
 */
static void
conn_redirect(struct conn *c)
{
	const struct listen_spec	*ls = &c->listener->spec;
	const char			*host = hs_header(c->req, "Host");
	char				 loc[4200 + 300], name[256];
	char				*more[1] = { loc };
	size_t				 len;

	if (host == NULL || *host == '\0')
		host = c->local_ip;
	len = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	if (len >= sizeof(name) || host[strspn(host,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    ".-:[]_")] != '\0') {
		conn_http_respond(c, 400, "bad Host for redirect");
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)len, host);
	snprintf(loc, sizeof(loc), "Location: %s://%s%s%s:%d%s",
	    ls->redirect_tls ? "https" : "http",
	    strchr(name, ':') != NULL && name[0] != '[' ? "[" : "", name,
	    strchr(name, ':') != NULL && name[0] != '[' ? "]" : "",
	    ls->redirect_port, c->req->url[0] == '/' ? c->req->url : "/");
	conn_http_error(c, 301, more, 1);
}

/*
 * A GET that accepts text/event-stream on a route that offers sse (an
 * EventSource, curl -H 'Accept: text/event-stream').
 */
static bool
conn_wants_sse(struct conn *c, const struct route *r)
{
	char		 accept[1024];
	const char	*p;
	size_t		 n;

	if (r == NULL || !(r->transports & ROUTE_TRANSPORT_SSE) ||
	    c->req->method != HTTP_GET || (c->listener != NULL &&
	    c->listener->metrics_only) ||
	    conn_header_list(c, "Accept", accept, sizeof(accept)) == NULL)
		return false;
	for (p = accept; *p != '\0'; p += n + (p[n] == ',')) {
		p += strspn(p, " \t");
		n = strcspn(p, ",");
		if (strncasecmp(p, "text/event-stream", 17) == 0 &&
		    strchr(" \t;,", p[17]) != NULL)
			return true;
	}
	return false;
}

void
conn_handle_request(struct conn *c)
{
	struct config	*cfg = c->cref->cfg;
	char		 path[4096], query[4096];
	const char	*why, *rest = "";
	struct route	*r;
	enum hs_kind	 kind;
	int		 status;

	/* Longer than any path or query we keep: say so (RFC 9112 3). */
	if (strlen(c->req->url) >= sizeof(path)) {
		conn_http_respond(c, 414, "request target too long");
		return;
	}
	if (hs_split_url(c->req->url, path, sizeof(path), query,
	    sizeof(query)) == -1) {
		conn_http_respond(c, 400, "bad request target");
		return;
	}
	/* RFC 9112 3.2: more than one Host is a bad request, any request. */
	if (hs_header_count(c->req, "Host") > 1) {
		conn_http_respond(c, 400, "repeated Host");
		return;
	}
	if ((c->path = strdup(path)) == NULL ||
	    (c->query = strdup(query)) == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	if (c->listener != NULL && c->listener->spec.redirect_port > 0) {
		conn_redirect(c);
		return;
	}
	conn_apply_forwarded(c);
	kind = hs_classify(c->req, &status, &why);
	if (kind == HS_PLAIN && (r = conn_post_route(c)) != NULL) {
		c->matched = r;
		c->post_in = true;
		if (conn_check_access(c, r) == 0)
			conn_after_access(c, r, "");
		return;
	}
	/* Only CGI takes a body; unread, it would be the next request. */
	if (c->req->has_body && (kind != HS_PLAIN || cfg->cgi_dir == NULL)) {
		conn_http_respond(c, 400, "request body not supported");
		return;
	}
	r = config_match(cfg, path, &rest);
	if (c->listener == NULL || !c->listener->metrics_only)
		c->matched = r;
	if (kind == HS_PLAIN && conn_cors_preflight(c, r))
		return;
	if (kind == HS_PLAIN && conn_wants_sse(c, r))
		c->sse = true;
	else if (kind == HS_PLAIN && conn_poll_wants_open(c, r))
		c->poll_open = true;
	else if (kind == HS_PLAIN && conn_poll_wants_poll(c, r))
		c->poll_get = true;
	else if (kind == HS_PLAIN) {
		conn_plain_request(c, r);
		return;
	}
	if (r == NULL || (c->listener != NULL && c->listener->metrics_only))
		conn_http_respond(c, 404, "no route");
	else if (kind == HS_BAD)
		conn_http_respond(c, status, why);
	else if (!c->sse && !c->poll_open && !c->poll_get &&
	    !(r->transports & ROUTE_TRANSPORT_WS))
		conn_http_respond(c, 400, "websocket not among the transports");
	else if (conn_check_access(c, r) == 0)
		conn_after_access(c, r, rest);
}
