/*
 * Plain HTTP answers on keep-alive connections: static files (with the
 * body pumped as the client takes it), the metrics page, a pty route's
 * terminal page and its assets, the devconsole, and the next request.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cgi.h"
#include "conn_cors.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "static.h"
#include "termpage.h"
#include "conn_int.h"

/* Send more of the file body while the client buffer has room. */
void
conn_file_pump(struct conn *c)
{
	size_t	 n;
	ssize_t	 r;
	uint8_t	*p;

	while (c->file_fd != -1 && !buf_full(&c->client.out)) {
		n = c->file_left < CONN_READ_CHUNK ? (size_t)c->file_left :
		    CONN_READ_CHUNK;
		if ((p = buf_reserve(&c->client.out, n)) == NULL ||
		    (r = read(c->file_fd, p, n)) <= 0) {
			/* The file shrank or failed: the body is cut short. */
			conn_close(c, "static file read failed");
			return;
		}
		buf_commit(&c->client.out, (size_t)r);
		c->stats.bytes_out += (uint64_t)r;
		if ((c->file_left -= (uint64_t)r) == 0) {
			close(c->file_fd);
			c->file_fd = -1;
		}
	}
	endpoint_flush_later(&c->client);
}

/* A keep-alive response is out: get ready for the next request. */
void
conn_next_request(struct conn *c)
{
	struct buf	 pending = c->in;
	int		 status;
	const char	*why;
	ssize_t		 used;

	/* One access line per request, as a web server writes them. */
	conn_access_log(c, "response sent");
	c->started = ev_now(server.loop);
	memset(&c->stats, 0, sizeof(c->stats));
	c->status = 0;
	c->refusal = NULL;
	c->responded = false;
	c->idle_keepalive = buf_len(&pending) == 0;
	c->matched = NULL;
	free(c->path);
	free(c->query);
	c->path = c->query = NULL;
	hs_reset(c->req);
	conn_deadline(c, c->cref->cfg->handshake_timeout_ms);
	watcher_set(&c->client.rd, true);
	if (buf_len(&pending) == 0)
		return;
	/* Pipelined bytes already read belong to the next request. */
	buf_init(&c->in, pending.high);
	used = hs_parse(c->req, (const char *)buf_head(&pending),
	    buf_len(&pending), &status, &why);
	if (used > 0 && buf_append(&c->in, buf_head(&pending) + used,
	    buf_len(&pending) - (size_t)used) == -1)
		used = -1, status = 500, why = "out of memory";
	buf_free(&pending);
	if (used == -1)
		conn_http_respond(c, status, why);
	else if (used > 0)
		conn_handle_request(c);
}

/* metrics_path, on its own listener when metrics_listen is set. */
static bool
conn_is_metrics(struct conn *c)
{
	struct config	*cfg = c->cref->cfg;

	return cfg->metrics_path != NULL &&
	    strcmp(c->path, cfg->metrics_path) == 0 &&
	    (cfg->metrics_listen == NULL ||
	    (c->listener != NULL && c->listener->metrics_only));
}

static void
conn_send_metrics(struct conn *c, bool head)
{
	char	*body;
	size_t	 len;

	if ((body = metrics_render(&len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send_page(c, "text/plain; version=0.0.4; charset=utf-8", body,
	    len, head);
	free(body);
}

/* Does the config have a terminal route (which has the built-in page)? */
static bool
conn_have_pty_route(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg->nroutes; i++)
		if (backend_route_terminal(cfg->routes[i]))
			return true;
	return false;
}

/*
 * Under TERMPAGE_PREFIX on a server with a terminal route: a file of the
 * pty page (its path in the asset directory) or "" (nothing else there).
 */
static const char *
conn_pty_asset(struct conn *c)
{
	const char	*asset;

	if (strncmp(c->path, TERMPAGE_PREFIX, strlen(TERMPAGE_PREFIX)) != 0 ||
	    !conn_have_pty_route(c->cref->cfg))
		return NULL;
	asset = termpage_asset_path(c->path);
	return asset != NULL ? asset : "";
}

/* ttyd's habit: a browser's GET on a terminal route gets a terminal. */
static void
conn_pty_page(struct conn *c, bool head)
{
	const char	*page = termpage_html();
	char		 dir[PATH_MAX], *missing;

	if (termpage_assets(c->cref->cfg->assets_dir, dir, sizeof(dir)) ==
	    0) {
		conn_send_page(c, "text/html; charset=utf-8", page,
		    strlen(page), head);
		return;
	}
	log_warnx("conn %llu %s %s: terminal page: xterm.js not found in %s",
	    (unsigned long long)c->id, c->peer, c->path, dir);
	if ((missing = termpage_missing_html(dir)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send_status_page(c, 500, "text/html; charset=utf-8", missing,
	    strlen(missing), head);
	free(missing);
}

/* Plain GET/HEAD: a CGI program, a static file, the devconsole, 426 or
 * 404; other methods and bodies: CGI only. */
void
conn_plain_request(struct conn *c, struct route *r)
{
	struct config		*cfg = c->cref->cfg;
	struct static_result	 res = { 404, -1, 0, NULL, 0 };
	struct strlist		 hv = { NULL, 0 };
	bool			 head = c->req->method == HTTP_HEAD;
	bool			 nomem = false;
	char			*allow[] = { "Allow: GET, HEAD" };
	char			 assets[PATH_MAX];
	const char		*root, *path, *asset;
	int			 rv;

	if ((c->req->method != HTTP_GET && !head) || c->req->has_body) {
		/* As Go's net/http/cgi (websocketd): any method to CGI. */
		if (cfg->cgi_dir != NULL && c->req->method != HTTP_CONNECT &&
		    !conn_is_metrics(c) && (c->listener == NULL ||
		    !c->listener->metrics_only)) {
			c->keep_alive = false;
			conn_http_headers(c, NULL, &hv, &nomem);
			if (nomem) {
				strlist_free(&hv);
				conn_http_respond(c, 503, "out of memory");
				return;
			}
			rv = cgi_request(c, cfg->cgi_dir, hv.v, hv.n);
			strlist_free(&hv);
			if (rv == 1)
				return;
		}
		if (c->req->has_body) {
			conn_http_respond(c, 400, "request body not supported");
			return;
		}
		/* Routes with sse or poll also take input and ends. */
		if (r != NULL && (r->transports & (ROUTE_TRANSPORT_SSE |
		    ROUTE_TRANSPORT_POLL)))
			allow[0] = "Allow: GET, HEAD, POST, DELETE, OPTIONS";
		c->status = 405;
		conn_http_error(c, 405, allow, 1);
		return;
	}
	if (conn_is_metrics(c)) {
		conn_send_metrics(c, head);
		return;
	}
	if (c->listener != NULL && c->listener->metrics_only) {
		conn_http_respond(c, 404, NULL);
		return;
	}
	res.status = 404;
	c->keep_alive = c->req->keep_alive && !server.stopping;
	conn_http_headers(c, NULL, &hv, &nomem);
	conn_cors_headers(c, r, &hv, &nomem);
	if (nomem) {
		strlist_free(&hv);
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	root = cfg->static_dir;
	path = c->path;
	if ((asset = conn_pty_asset(c)) != NULL) {
		root = *asset != '\0' && termpage_assets(cfg->assets_dir,
		    assets, sizeof(assets)) == 0 ? assets : NULL;
		path = asset;
	}
	if (cfg->cgi_dir != NULL && asset == NULL &&
	    cgi_request(c, cfg->cgi_dir, hv.v, hv.n) == 1) {
		strlist_free(&hv);
		return;
	}
	rv = root == NULL ? 0 : static_respond(root,
	    path, head, hs_header(c->req, "If-None-Match"),
	    hs_header(c->req, "If-Modified-Since"), c->keep_alive, hv.v, hv.n,
	    &res);
	strlist_free(&hv);
	if (rv == -1) {
		conn_close(c, "out of memory");
		return;
	}
	if (res.status == 404 && r != NULL && asset == NULL) {
		static_result_free(&res);
		if (backend_route_terminal(r))
			conn_pty_page(c, head);
		else if (cfg->devconsole)
			conn_send_page(c, "text/html; charset=utf-8",
			    static_devconsole_html(),
			    strlen(static_devconsole_html()), head);
		else
			conn_http_respond(c, 426, NULL);
		return;
	}
	if (root == NULL) {
		static_result_free(&res);
		conn_http_respond(c, 404, "no route");
		return;
	}
	if (res.status == 404) {
		char	 esc[300];

		log_info("conn %llu %s %s: 404: no such file",
		    (unsigned long long)c->id, c->peer, log_escape(esc,
		    sizeof(esc), c->path, strlen(c->path)));
		c->refusal = "no such file";
	}
	c->status = res.status;
	c->responded = true;
	/*
	 * The handshake deadline covered the request head; the response
	 * is bounded by its progress (send_timeout), not by a clock.
	 */
	conn_deadline(c, 0);
	/* Pipelined requests wait in the kernel until this one is out. */
	watcher_set(&c->client.rd, false);
	conn_send_raw(c, res.head, res.head_len);
	c->file_fd = res.fd;
	c->file_left = (uint64_t)res.size;
	res.fd = -1;
	static_result_free(&res);
	if (!c->keep_alive) {
		c->linger = true;
		conn_set_state(c, CONN_CLOSING);
	}
	conn_file_pump(c);
}

