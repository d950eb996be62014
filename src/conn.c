/*
 * The connection state machine: HTTP handshake, then the relay between
 * WebSocket frames on the client side and a byte stream on the backend
 * side, with bounded buffers and backpressure in both directions, and
 * the close handshake. Every exit goes through conn_close().
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "backend.h"
#include "conn.h"
#include "listener.h"
#include "auth.h"
#include "forwarded.h"
#include "iplimit.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "pmd.h"
#include "proxy_proto.h"
#include "pty_proto.h"
#include "static.h"
#include "tls.h"

struct server	 server;

static char *const pty_protocols[] = { "tty", NULL };

/* Inflated client data on its way to a sink. */
static uint8_t	 inflated[CONN_READ_CHUNK];

/* Scratch for backend reads; the loop is single-threaded. */
static uint8_t	 scratch[CONN_SOCKET_CHUNK];

static void	conn_client_read_cb(struct ev_loop *, ev_io *, int);
static void	conn_client_write_cb(struct ev_loop *, ev_io *, int);
static void	conn_backend_read_cb(struct ev_loop *, ev_io *, int);
static void	conn_backend_write_cb(struct ev_loop *, ev_io *, int);
static void	conn_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	conn_ping_cb(struct ev_loop *, ev_timer *, int);
static void	conn_idle_cb(struct ev_loop *, ev_timer *, int);
static void	conn_process_input(struct conn *);
static void	conn_handle_request(struct conn *);
static void	conn_free_request(struct conn *);
static void	conn_maybe_finish(struct conn *);
static void	conn_update_backend_reading(struct conn *);
static void	server_flush_queued(void);
static void	conn_set_peer(struct conn *, const struct sockaddr *,
		    socklen_t);
static void	conn_set_local(struct conn *, const struct sockaddr *);
static void	conn_tls_step(struct conn *);
static void	conn_tls_more(struct conn *);
static void	conn_backend_stop_input(struct conn *);
static const char *conn_header_list(struct conn *, const char *, char *,
		    size_t);

static const char *const conn_state_names[] = {
	[CONN_ACCEPTED] = "accepted",
	[CONN_TLS] = "tls",
	[CONN_HTTP] = "http",
	[CONN_BACKEND] = "backend",
	[CONN_OPEN] = "open",
	[CONN_CLOSING] = "closing",
	[CONN_CLOSED] = "closed",
};

const char *
conn_state_name(enum conn_state s)
{
	return conn_state_names[s];
}

void
conn_set_state(struct conn *c, enum conn_state s)
{
	log_debug("conn %llu: %s -> %s", (unsigned long long)c->id,
	    conn_state_name(c->state), conn_state_name(s));
	c->state = s;
}

struct config_ref *
config_ref_new(struct config *cfg)
{
	struct config_ref	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
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

/* Safe point: free connections closed during the last loop iteration. */
static void
server_reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct conn	*c;
	bool		 freed;

	(void)w, (void)revents;
	server_flush_queued();
	freed = !TAILQ_EMPTY(&server.dead);
	while ((c = TAILQ_FIRST(&server.dead)) != NULL) {
		TAILQ_REMOVE(&server.dead, c, entry);
		free(c);
	}
	/* Idle again: give the kept burst buffers back (see main.c). */
	if (freed && server.nconns == 0)
		malloc_trim(0);
	/* Shutting down: done once no connection or process is left. */
	if (server.stopping && server.nconns == 0 &&
	    backend_proc_count() == 0)
		ev_break(loop, EVBREAK_ALL);
}

void
server_init(struct ev_loop *loop, struct config *cfg)
{
	memset(&server, 0, sizeof(server));
	server.loop = loop;
	server.cref = config_ref_new(cfg);
	TAILQ_INIT(&server.conns);
	TAILQ_INIT(&server.dead);
	TAILQ_INIT(&server.flushq);
	ev_prepare_init(&server.reaper, server_reaper_cb);
	ev_prepare_start(loop, &server.reaper);
	ev_unref(loop);
}

/* --- I/O on the client socket (plain or TLS) ------------------------ */

static ssize_t
client_recv(struct conn *c, void *p, size_t n)
{
	if (c->tls != NULL)
		return tls_read(c->tls, p, n);
	return read(c->client.rfd, p, n);
}

static ssize_t
client_send(struct conn *c, const void *p, size_t n)
{
	if (c->tls != NULL)
		return tls_write(c->tls, p, n);
	return send(c->client.wfd, p, n, MSG_NOSIGNAL);
}

/* --- watchers ---------------------------------------------------------- */

static void
endpoint_init(struct endpoint *e, struct conn *c, struct endpoint *peer,
    size_t high)
{
	e->rfd = e->wfd = -1;
	e->conn = c;
	e->peer = peer;
	buf_init(&e->out, high);
}

static void
endpoint_watch(struct endpoint *e, ev_io *w, void (*cb)(struct ev_loop *,
    ev_io *, int), int fd, int events)
{
	ev_io_init(w, cb, fd, events);
	w->data = e->conn;
}

static void
watcher_set(ev_io *w, bool on)
{
	if (w->fd < 0)
		return;
	if (on && !ev_is_active(w))
		ev_io_start(server.loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(server.loop, w);
}

/*
 * Data was queued: write it just before the loop polls again (redis's
 * beforeSleep), so most writes need no write watcher and no extra trip
 * through epoll. The watcher runs only while a socket is full.
 */
static void
endpoint_flush_later(struct endpoint *e)
{
	if (buf_len(&e->out) == 0 || e->wfd == -1 || e->flush_queued ||
	    ev_is_active(&e->wr))
		return;
	e->flush_queued = true;
	TAILQ_INSERT_TAIL(&server.flushq, e, flush_entry);
}

static void
endpoint_unqueue(struct endpoint *e)
{
	if (e->flush_queued) {
		TAILQ_REMOVE(&server.flushq, e, flush_entry);
		e->flush_queued = false;
	}
}

static void
server_flush_queued(void)
{
	struct endpoint	*e;

	while ((e = TAILQ_FIRST(&server.flushq)) != NULL) {
		endpoint_unqueue(e);
		if (e->wfd == -1 || e->conn->state == CONN_CLOSED)
			continue;
		if (e == &e->conn->client)
			conn_client_write_cb(server.loop, &e->wr, 0);
		else
			conn_backend_write_cb(server.loop, &e->wr, 0);
	}
}

/* --- logging ------------------------------------------------------------- */

const char *
conn_route_name(const struct conn *c)
{
	if (c->route == NULL)
		return "-";
	return c->route->path[0] != '\0' ? c->route->path : "/*";
}

static void
conn_exit_string(const struct conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "-");
	if (c->exit_status == -1)
		return;
	if (WIFEXITED(c->exit_status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(c->exit_status));
	else if (WIFSIGNALED(c->exit_status))
		snprintf(buf, len, "signal %d", WTERMSIG(c->exit_status));
}

/* JSON string body: quotes, backslashes and control bytes escaped. */
static char *
conn_json_escape(char *dst, size_t dstsz, const char *src)
{
	size_t		 o = 0;
	unsigned char	 ch;

	for (; *src != '\0' && o + 7 < dstsz; src++) {
		ch = (unsigned char)*src;
		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(dst + o, dstsz - o, "\\u%04x",
			    ch);
		else
			dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return dst;
}

/* One line per finished connection: text or JSON (access_log_format). */
static void
conn_access_log(struct conn *c, const char *reason)
{
	char		 ex[32], path[512], user[300], epath[1100], euser[700];
	char		 line[4096], stamp[40];
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (!log_enabled(LOG_LEVEL_ACCESS))
		return;
	conn_exit_string(c, ex, sizeof(ex));
	log_escape(path, sizeof(path), c->path ? c->path : "-",
	    c->path ? strlen(c->path) : 1);
	log_escape(user, sizeof(user), c->remote_user ? c->remote_user : "-",
	    c->remote_user ? strlen(c->remote_user) : 1);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), c->cref->cfg->access_log_format ==
	    ACCESS_LOG_JSON ? "{\"time\":\"%s\",\"conn\":%llu,\"peer\":\"%s\","
	    "\"path\":\"%s\",\"route\":\"%s\",\"user\":\"%s\",\"status\":%d,"
	    "\"duration\":%.3f,\"bytes_in\":%llu,\"msgs_in\":%llu,"
	    "\"bytes_out\":%llu,\"msgs_out\":%llu,\"close\":%u,"
	    "\"exit\":\"%s\",\"reason\":\"%s\"}" :
	    "access time=%s conn=%llu peer=%s path=\"%s\" route=%s user=\"%s\" "
	    "status=%d duration=%.3f in=%llu/%llu out=%llu/%llu close=%u "
	    "exit=\"%s\" reason=\"%s\"", stamp, (unsigned long long)c->id,
	    c->peer, conn_json_escape(epath, sizeof(epath), path),
	    conn_route_name(c), conn_json_escape(euser, sizeof(euser), user),
	    c->status, ev_now(server.loop) - c->started,
	    (unsigned long long)c->stats.bytes_in,
	    (unsigned long long)c->stats.msgs_in,
	    (unsigned long long)c->stats.bytes_out,
	    (unsigned long long)c->stats.msgs_out, c->close_code, ex, reason);
	log_access_line(line);
}

/* --- closing ------------------------------------------------------------- */

static void
endpoint_close(struct endpoint *e)
{
	endpoint_unqueue(e);
	watcher_set(&e->rd, false);
	watcher_set(&e->wr, false);
	if (e->rfd != -1)
		close(e->rfd);
	if (e->wfd != -1 && e->wfd != e->rfd)
		close(e->wfd);
	e->rfd = e->wfd = -1;
	buf_free(&e->out);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSED)
		return;
	log_debug("conn %llu %s: closed: %s", (unsigned long long)c->id,
	    c->peer, reason);
	conn_access_log(c, reason);
	if (c->status == 101)
		metrics_conn_close(conn_route_name(c), c->stats.bytes_in,
		    c->stats.bytes_out, c->stats.msgs_in, c->stats.msgs_out,
		    c->close_code, c->exit_status);
	conn_set_state(c, CONN_CLOSED);
	if (c->tls != NULL) {
		tls_shutdown(c->tls);
		tls_conn_free(c->tls);
		c->tls = NULL;
	}
	ev_timer_stop(server.loop, &c->deadline);
	ev_timer_stop(server.loop, &c->ping_timer);
	ev_timer_stop(server.loop, &c->idle_timer);
	endpoint_close(&c->client);
	endpoint_close(&c->backend);
	if (c->proc != NULL)
		backend_proc_detach(c->proc);
	conn_free_request(c);
	if (c->route != NULL)
		c->route->active--;
	if (c->ip_counted)
		iplimit_release((struct sockaddr *)&c->peer_addr);
	free(c->remote_user);
	if (c->file_fd != -1)
		close(c->file_fd);
	buf_free(&c->in);
	buf_free(&c->line);
	buf_free(&c->ctl);
	pmd_free(c->pmd);
	free(c->path);
	free(c->query);
	free(c->script_name);
	free(c->path_info);
	free(c->program);
	config_ref_put(c->cref);
	TAILQ_REMOVE(&server.conns, c, entry);
	TAILQ_INSERT_TAIL(&server.dead, c, entry);
	server.nconns--;
	listener_conn_closed(c->listener);
}

static void
conn_deadline(struct conn *c, int64_t ms)
{
	ev_timer_stop(server.loop, &c->deadline);
	if (ms <= 0)
		return;
	ev_timer_set(&c->deadline, ms / 1000., 0.);
	ev_timer_start(server.loop, &c->deadline);
}

/* Fires when a phase (handshake, connect, close) overran its time. */
static void
conn_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	(void)loop, (void)revents;
	switch (c->state) {
	case CONN_ACCEPTED:
	case CONN_TLS:
	case CONN_HTTP:
		log_info("conn %llu %s: handshake timeout",
		    (unsigned long long)c->id, c->peer);
		conn_close(c, "handshake timeout");
		break;
	case CONN_BACKEND:
		conn_backend_failed(c, "connect timeout");
		break;
	default:
		conn_close(c, "close timeout");
		break;
	}
}

/* --- output to the client -------------------------------------------- */

static int
conn_send_raw(struct conn *c, const void *p, size_t n)
{
	if (buf_append(&c->client.out, p, n) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	endpoint_flush_later(&c->client);
	return 0;
}

static int	conn_send_frame_prefixed(struct conn *, bool, int, int,
		    const void *, size_t);

/*
 * A data frame under permessage-deflate: the message's first frame has
 * RSV1, its pieces are one deflate stream, control frames never are.
 */
static int
conn_send_deflated(struct conn *c, bool fin, int opcode, int prefix,
    const void *p, size_t n)
{
	uint8_t	*in = (uint8_t *)(uintptr_t)p, *out, hdr[WS_MAX_HEADER];
	size_t	 inlen = n, outlen, hlen;
	int	 rv = -1;

	if (prefix >= 0) {
		if ((in = malloc(n + 1)) == NULL)
			return conn_send_frame_prefixed(c, fin, opcode, -2, p, 0);
		in[0] = (uint8_t)prefix;
		memcpy(in + 1, p, n);
		inlen = n + 1;
	}
	if (pmd_deflate(c->pmd, in, inlen, fin, &out, &outlen) == 0) {
		hlen = ws_build_header(hdr, fin, opcode, outlen);
		if (opcode != WS_OP_CONT)
			hdr[0] |= 0x40;		/* RSV1: compressed */
		if (buf_append(&c->client.out, hdr, hlen) == 0 &&
		    buf_append(&c->client.out, out, outlen) == 0)
			rv = 0;
		free(out);
	}
	if (in != p)
		free(in);
	if (rv == -1)
		conn_close(c, "out of memory");
	else
		endpoint_flush_later(&c->client);
	return rv;
}

/* One frame; prefix (a ttyd command byte) goes first unless -1. */
static int
conn_send_frame_prefixed(struct conn *c, bool fin, int opcode, int prefix,
    const void *p, size_t n)
{
	uint8_t	 hdr[WS_MAX_HEADER + 1], *dst;
	size_t	 plen = prefix >= 0 ? 1 : 0;
	size_t	 hlen;

	if (prefix == -2) {
		conn_close(c, "out of memory");
		return -1;
	}
	if (c->pmd != NULL && opcode < WS_OP_CLOSE)
		return conn_send_deflated(c, fin, opcode, prefix, p, n);
	hlen = ws_build_header(hdr, fin, opcode, n + plen);

	if (prefix >= 0)
		hdr[hlen++] = (uint8_t)prefix;
	if ((dst = buf_reserve(&c->client.out, hlen + n)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	memcpy(dst, hdr, hlen);
	if (n > 0)
		memcpy(dst + hlen, p, n);
	buf_commit(&c->client.out, hlen + n);
	endpoint_flush_later(&c->client);
	return 0;
}

static int
conn_send_frame(struct conn *c, bool fin, int opcode, const void *p,
    size_t n)
{
	return conn_send_frame_prefixed(c, fin, opcode, -1, p, n);
}

/* Queue a Close frame; from now on nothing but the close handshake. */
void
conn_ws_close(struct conn *c, unsigned code, const char *reason)
{
	uint8_t	 frame[WS_MAX_HEADER + WS_MAX_CONTROL_PAYLOAD];
	size_t	 n;

	if (c->close_sent || c->state == CONN_CLOSED)
		return;
	n = ws_build_close(frame, code == WS_CLOSE_NO_STATUS ? 0 : code,
	    reason);
	c->close_sent = true;
	c->close_code = code;
	if (c->state != CONN_CLOSING)
		conn_set_state(c, CONN_CLOSING);
	ev_timer_stop(server.loop, &c->ping_timer);
	ev_timer_stop(server.loop, &c->idle_timer);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	/* The backend's output no longer has anywhere to go. */
	watcher_set(&c->backend.rd, false);
	conn_send_raw(c, frame, n);
}

/* Fail the WebSocket connection (RFC 6455 7.1.7): Close, then TCP close. */
static void
conn_fail(struct conn *c, unsigned code, const char *why)
{
	log_info("conn %llu %s: close %u: %s", (unsigned long long)c->id,
	    c->peer, code, why);
	c->input_blocked = false;
	buf_free(&c->in);
	/* The backend gets no more input: a process sees EOF now. */
	buf_free(&c->backend.out);
	conn_backend_stop_input(c);
	conn_ws_close(c, code, why);
	/* Nothing more is read but EOF: flush, shut down, wait for it. */
	c->linger = true;
	conn_maybe_finish(c);
}

/* An HTTP error with extra header lines: send it, then close. */
static void
conn_http_error(struct conn *c, int status, char *const *more, size_t nmore)
{
	struct config	*cfg = c->cref->cfg;
	struct strlist	 hv = { NULL, 0 };
	const struct strlist *base;
	char		*resp;
	size_t		 len, i;
	int		 retry = status == 429 || status == 503 ? 5 : 0;

	c->status = status;
	if (c->req != NULL && hs_header_has_token(c->req, "Upgrade",
	    "websocket"))
		metrics_handshake_failed(status);
	base = c->route ? &c->route->headers_http : &cfg->headers_http;
	for (i = 0; i < base->n; i++)
		strlist_add(&hv, base->v[i]);
	for (i = 0; i < nmore; i++)
		strlist_add(&hv, more[i]);
	resp = hs_response_error(status, NULL, retry, hv.v, hv.n, &len);
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

static void
conn_http_respond(struct conn *c, int status, const char *why,
    int retry_after)
{
	(void)retry_after;
	if (why != NULL)
		log_info("conn %llu %s: %d: %s", (unsigned long long)c->id,
		    c->peer, status, why);
	conn_http_error(c, status, NULL, 0);
}

/* A 200 with a built-in body (devconsole, metrics), then close. */
static void
conn_send_page(struct conn *c, const char *type, const char *body,
    size_t len, bool head)
{
	char	 hdr[256];
	int	 n;

	c->status = 200;
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-cache\r\n"
	    "Connection: close\r\n\r\n", type, len);
	conn_send_raw(c, hdr, (size_t)n);
	if (!head)
		conn_send_raw(c, body, len);
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
}

/*
 * Close the connection once everything owed is written: our Close or
 * HTTP response to the client, and the client's data to the backend.
 */
static void
conn_maybe_finish(struct conn *c)
{
	bool	 client_done;

	if (c->state == CONN_CLOSED)
		return;
	client_done = c->client.eof || c->linger ||
	    (c->close_sent && c->close_received);
	if (!client_done || buf_len(&c->client.out) > 0 || c->file_fd != -1)
		return;
	if (c->backend.wfd != -1 && buf_len(&c->backend.out) > 0)
		return;
	if (c->linger && !c->client.eof) {
		/* Lingering close: the client reads all we sent, then EOF. */
		if (!c->client.wr_shut && c->client.wfd != -1)
			shutdown(c->client.wfd, SHUT_WR);
		c->client.wr_shut = true;
		watcher_set(&c->client.rd, true);
		return;
	}
	conn_close(c, c->close_received ? "closed" : "client gone");
}

/* --- the handshake ------------------------------------------------------- */

/*
 * Dir routes: "/NAME/extra" runs DIR/NAME if it is an executable regular
 * file really inside DIR (no dot names, no symlink escape).
 */
static int
conn_resolve_script(struct conn *c, const char *rest)
{
	char		 name[256], cand[4096], root[PATH_MAX], real[PATH_MAX];
	const char	*slash;
	size_t		 len, rlen;
	struct stat	 st;

	if (*rest == '/')
		rest++;
	slash = strchr(rest, '/');
	len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (len == 0 || len >= sizeof(name) || rest[0] == '.')
		return -1;
	memcpy(name, rest, len);
	name[len] = '\0';
	snprintf(cand, sizeof(cand), "%s/%s", c->route->dir, name);
	if (realpath(c->route->dir, root) == NULL ||
	    realpath(cand, real) == NULL)
		return -1;
	rlen = strlen(root);
	if (strncmp(real, root, rlen) != 0 || real[rlen] != '/' ||
	    stat(real, &st) == -1 || !S_ISREG(st.st_mode) ||
	    access(real, X_OK) == -1)
		return -1;
	c->program = strdup(real);
	if (asprintf(&c->script_name, "%s/%s", c->route->path, name) == -1)
		fatal("asprintf");
	c->path_info = strdup(slash ? slash : "");
	return 0;
}

static void
conn_set_script(struct conn *c, const char *rest)
{
	const struct route	*r = c->route;

	if (!r->prefix || r->path[0] == '\0') {
		c->script_name = strdup(c->path);
		c->path_info = strdup("");
	} else {
		c->script_name = strdup(r->path);
		c->path_info = strdup(rest);
	}
}

static void
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
	if (l->ping_interval_ms > 0) {
		ev_timer_set(&c->ping_timer, l->ping_interval_ms / 1000., 0.);
		ev_timer_start(server.loop, &c->ping_timer);
	}
	if (l->idle_timeout_ms > 0) {
		c->last_activity = ev_now(server.loop);
		ev_timer_set(&c->idle_timer, l->idle_timeout_ms / 1000., 0.);
		ev_timer_start(server.loop, &c->idle_timer);
	}
}

/* compression = yes and the client offers permessage-deflate. */
static const char *
conn_negotiate_deflate(struct conn *c, char *resp, size_t respsz)
{
	struct pmd_params	 params;
	char			 offers[2048];

	if (!c->route->compression || conn_header_list(c,
	    "Sec-WebSocket-Extensions", offers, sizeof(offers)) == NULL ||
	    pmd_negotiate(offers, &params, resp, respsz) == -1)
		return NULL;
	if ((c->pmd = pmd_new(&params)) == NULL)
		return NULL;
	return resp;
}

/* The backend exists: answer 101 and start relaying. */
static void
conn_upgrade(struct conn *c)
{
	struct route	*r = c->route;
	struct config	*cfg = c->cref->cfg;
	struct strlist	 extra = { NULL, 0 };
	char		 accept[29], *resp, exts[256];
	const char	*proto = NULL, *ext;
	size_t		 len, i;

	hs_accept_key(hs_header(c->req, "Sec-WebSocket-Key"), accept);
	if (r->protocols.n > 0)
		proto = hs_select_protocol(c->req, r->protocols.v,
		    r->protocols.n);
	else if (r->mode == MODE_PTY)
		proto = hs_select_protocol(c->req, pty_protocols, 1);
	for (i = 0; i < r->headers.n; i++)
		strlist_add(&extra, r->headers.v[i]);
	for (i = 0; i < r->headers_ws.n; i++)
		strlist_add(&extra, r->headers_ws.v[i]);
	ext = conn_negotiate_deflate(c, exts, sizeof(exts));
	resp = hs_response_101(accept, proto, ext, extra.v, extra.n, &len);
	strlist_free(&extra);
	if (resp == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->status = 101;
	metrics_conn_open(conn_route_name(c));
	conn_send_raw(c, resp, len);
	free(resp);
	/* A terminal spawns later and needs the headers for its env. */
	if (r->mode != MODE_PTY || r->kind == BACKEND_ECHO)
		conn_free_request(c);
	ws_msg_init(&c->msg, (uint64_t)r->limits.max_message_size, true);
	c->msg.allow_rsv1 = c->pmd != NULL;
	c->client.out.high = (size_t)r->limits.buffer_size;
	c->backend.out.high = (size_t)r->limits.buffer_size;
	conn_set_state(c, CONN_OPEN);
	conn_start_timers(c);
	(void)cfg;
	conn_update_backend_reading(c);
	conn_process_input(c);
}

/* Origin and authentication: 403 or 401 on failure. */
static int
conn_check_access(struct conn *c, struct route *r)
{
	char	 user[AUTH_MAX_USER], challenge[300], line[340];
	char	*hdr[1] = { line };
	int	 status;

	if (!access_origin_allowed(r, c->req)) {
		conn_http_respond(c, 403, "origin not allowed", 0);
		return -1;
	}
	status = access_authenticate(r, c->req, c->peer_trusted, user,
	    sizeof(user), challenge, sizeof(challenge));
	if (status == 401) {
		log_info("conn %llu %s %s: 401: not authenticated",
		    (unsigned long long)c->id, c->peer, c->path);
		snprintf(line, sizeof(line), "WWW-Authenticate: %s",
		    challenge);
		conn_http_error(c, 401, hdr, 1);
		return -1;
	}
	if (status != 0) {
		conn_http_respond(c, status, "authentication file", 0);
		return -1;
	}
	if (user[0] != '\0' && (c->remote_user = strdup(user)) == NULL)
		fatal("strdup");
	return 0;
}

/* Server, route and per-address connection limits: 503 or 429. */
static int
conn_check_limits(struct conn *c, struct route *r)
{
	struct config	*cfg = c->cref->cfg;

	if (server.stopping || server.nconns > cfg->max_connections) {
		conn_http_respond(c, 503, server.stopping ? "shutting down" :
		    "server connection limit", 0);
		return -1;
	}
	if (r->max_connections > 0 && r->active >= r->max_connections) {
		conn_http_respond(c, 429, "route connection limit", 0);
		return -1;
	}
	if (cfg->max_connections_per_ip > 0) {
		if (!iplimit_take((struct sockaddr *)&c->peer_addr,
		    cfg->max_connections_per_ip)) {
			conn_http_respond(c, 429, "per-address limit", 0);
			return -1;
		}
		c->ip_counted = true;
	}
	return 0;
}

/* Where a socket route connects: its address, or the token's. */
static int
conn_backend_address(struct conn *c, struct route *r)
{
	char	 shown[16];
	int	 status;

	if (r->kind == BACKEND_CONNECT) {
		memcpy(&c->backend_addr, &r->addr, r->addrlen);
		c->backend_addrlen = r->addrlen;
		return 0;
	}
	if (r->kind != BACKEND_TARGETS)
		return 0;
	status = access_target(r, c->query, c->req, &c->backend_addr,
	    &c->backend_addrlen, shown, sizeof(shown));
	if (status == 0)
		return 0;
	conn_http_respond(c, status, status == 404 ? "unknown token" :
	    "token target unavailable", 0);
	log_info("conn %llu %s %s: token %s", (unsigned long long)c->id,
	    c->peer, c->path, shown);
	return -1;
}

/* Checks that need the route: access, limits, subprotocol, script. */
static int
conn_check_route(struct conn *c, struct route *r, const char *rest)
{
	if (conn_check_access(c, r) == -1 || conn_check_limits(c, r) == -1)
		return -1;
	if (r->require_protocol && (r->protocols.n == 0 ||
	    hs_select_protocol(c->req, r->protocols.v, r->protocols.n) ==
	    NULL)) {
		conn_http_respond(c, 400, "no acceptable subprotocol", 0);
		return -1;
	}
	c->route = r;
	r->active++;
	if (r->kind == BACKEND_DIR) {
		if (conn_resolve_script(c, rest) == -1) {
			conn_http_respond(c, 404, "no such script", 0);
			return -1;
		}
	} else
		conn_set_script(c, rest);
	return conn_backend_address(c, r);
}

/* Start the route's backend; the 101 follows once it exists. */
static void
conn_start_backend(struct conn *c)
{
	char	 err[256];

	conn_set_state(c, CONN_BACKEND);
	switch (c->route->kind) {
	case BACKEND_EXEC:
	case BACKEND_DIR:
		if (c->route->mode == MODE_PTY)
			break;	/* spawned at the client's init message */
		if (backend_proc_spawn(c, 80, 24, err, sizeof(err)) == -1) {
			conn_backend_failed(c, err);
			return;
		}
		break;
	case BACKEND_CONNECT:
	case BACKEND_TARGETS:
		if (backend_tcp_connect(c, err, sizeof(err)) == -1)
			conn_backend_failed(c, err);
		return;	/* conn_backend_connected() continues */
	default:
		break;
	}
	conn_backend_connected(c);
}

static void
conn_backend_attach(struct conn *c)
{
	struct endpoint	*b = &c->backend;

	if (b->rfd != -1)
		endpoint_watch(b, &b->rd, conn_backend_read_cb, b->rfd,
		    EV_READ);
	if (b->wfd != -1)
		endpoint_watch(b, &b->wr, conn_backend_write_cb, b->wfd,
		    EV_WRITE);
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
	return buf_append(&c->backend.out, hdr, n);
}

void
conn_backend_connected(struct conn *c)
{
	conn_backend_attach(c);
	if (c->route->kind == BACKEND_CONNECT ||
	    c->route->kind == BACKEND_TARGETS) {
		if (conn_send_proxy_header(c) == -1) {
			conn_close(c, "out of memory");
			return;
		}
		endpoint_flush_later(&c->backend);
	}
	conn_upgrade(c);
}

void
conn_backend_failed(struct conn *c, const char *why)
{
	if (c->route->kind == BACKEND_EXEC || c->route->kind == BACKEND_DIR)
		metrics_spawn_failed(conn_route_name(c));
	log_warnx("conn %llu %s %s: backend: %s", (unsigned long long)c->id,
	    c->peer, c->path, why);
	endpoint_close(&c->backend);
	conn_http_respond(c, 502, NULL, 0);
}

/* Send more of the file body while the client buffer has room. */
static void
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
static void
conn_next_request(struct conn *c)
{
	struct buf	 pending = c->in;
	int		 status;
	const char	*why;
	ssize_t		 used;

	c->responded = false;
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
		conn_http_respond(c, status, why, 0);
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

/* Plain GET/HEAD: a static file, the devconsole, 426 or 404. */
static void
conn_plain_request(struct conn *c, struct route *r)
{
	struct config		*cfg = c->cref->cfg;
	struct static_result	 res = { 404, -1, 0, NULL, 0 };
	bool			 head = c->req->method == HTTP_HEAD;
	char			*allow[] = { "Allow: GET, HEAD" };

	if (c->req->method != HTTP_GET && !head) {
		c->status = 405;
		conn_http_error(c, 405, allow, 1);
		return;
	}
	if (conn_is_metrics(c)) {
		conn_send_metrics(c, head);
		return;
	}
	if (c->listener != NULL && c->listener->metrics_only) {
		conn_http_respond(c, 404, NULL, 0);
		return;
	}
	res.status = 404;
	c->keep_alive = c->req->keep_alive && !server.stopping;
	if (cfg->static_dir != NULL && static_respond(cfg->static_dir,
	    c->path, head, hs_header(c->req, "If-None-Match"),
	    hs_header(c->req, "If-Modified-Since"), c->keep_alive,
	    cfg->headers_http.v, cfg->headers_http.n, &res) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	if (res.status == 404 && r != NULL) {
		static_result_free(&res);
		if (cfg->devconsole)
			conn_send_page(c, "text/html; charset=utf-8",
			    static_devconsole_html(),
			    strlen(static_devconsole_html()), head);
		else
			conn_http_respond(c, 426, NULL, 0);
		return;
	}
	if (cfg->static_dir == NULL) {
		conn_http_respond(c, 404, NULL, 0);
		return;
	}
	c->status = res.status;
	c->responded = true;
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

static void
conn_handle_request(struct conn *c)
{
	struct config	*cfg = c->cref->cfg;
	char		 path[4096], query[4096];
	const char	*why, *rest = "";
	struct route	*r;
	enum hs_kind	 kind;
	int		 status;

	if (hs_split_url(c->req->url, path, sizeof(path), query,
	    sizeof(query)) == -1) {
		conn_http_respond(c, 400, "bad request target", 0);
		return;
	}
	c->path = strdup(path);
	c->query = strdup(query);
	conn_apply_forwarded(c);
	kind = hs_classify(c->req, &status, &why);
	r = config_match(cfg, path, &rest);
	if (kind == HS_PLAIN) {
		conn_plain_request(c, r);
		return;
	}
	if (r == NULL || (c->listener != NULL && c->listener->metrics_only))
		conn_http_respond(c, 404, "no route", 0);
	else if (kind == HS_BAD)
		conn_http_respond(c, status, why, 0);
	else if (conn_check_route(c, r, rest) == 0)
		conn_start_backend(c);
}

/* --- client -> backend ------------------------------------------------- */

static void
conn_update_client_reading(struct conn *c)
{
	bool	 on;

	on = c->state != CONN_CLOSED && c->state != CONN_BACKEND &&
	    !c->client.eof && !c->input_blocked &&
	    buf_len(&c->in) < CONN_IN_MAX;
	watcher_set(&c->client.rd, on);
}

static void
conn_update_backend_reading(struct conn *c)
{
	bool	 on;

	on = c->state == CONN_OPEN && !c->close_sent && !c->backend_eof &&
	    c->backend.rfd != -1 && !buf_full(&c->client.out) &&
	    !c->output_paused;
	watcher_set(&c->backend.rd, on);
}

/* Where client payload goes, and how much it can take now. */
static size_t
conn_sink_room(struct conn *c)
{
	if (c->close_sent)
		return SIZE_MAX;	/* discarded */
	if (c->route->kind == BACKEND_ECHO)
		return buf_room(&c->client.out);
	return buf_room(&c->backend.out);
}

static int
conn_sink_backend(struct conn *c, const uint8_t *p, size_t n, bool end)
{
	struct endpoint	*b = &c->backend;

	if (b->wfd == -1 || b->wr_shut)
		return 0;	/* the backend stopped reading: drop */
	if (buf_append(&b->out, p, n) == -1 ||
	    (end && c->route->mode == MODE_TEXT &&
	    buf_append(&b->out, "\n", 1) == -1)) {
		conn_close(c, "out of memory");
		return -1;
	}
	endpoint_flush_later(b);
	return 0;
}

/* --- terminals (ttyd's protocol) ------------------------------------ */

/* The init message: spawn now, at the client's size; title and prefs. */
static int
conn_pty_init(struct conn *c, const char *json, size_t n)
{
	struct pty_size	 sz;
	char		 token[256], err[256], title[300], host[128];
	const char	*why;

	if (c->proc != NULL)
		return 0;	/* a second init changes nothing */
	if (pty_parse_init(json, n, &sz, token, sizeof(token), &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	if (backend_proc_spawn(c, sz.cols, sz.rows, err, sizeof(err)) == -1) {
		log_warnx("conn %llu %s %s: backend: %s",
		    (unsigned long long)c->id, c->peer, c->path, err);
		metrics_spawn_failed(conn_route_name(c));
		conn_ws_close(c, WS_CLOSE_INTERNAL, "spawn failed");
		return -1;
	}
	conn_free_request(c);
	conn_backend_attach(c);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	snprintf(title, sizeof(title), "%s (%s)", c->program ? c->program :
	    c->route->argv.v[0], host);
	conn_send_frame_prefixed(c, true, WS_OP_BINARY, PTY_OUT_TITLE, title,
	    strlen(title));
	conn_send_frame_prefixed(c, true, WS_OP_BINARY, PTY_OUT_PREFS, "{}",
	    2);
	conn_update_backend_reading(c);
	return 0;
}

static int
conn_pty_resize(struct conn *c, const char *json, size_t n)
{
	struct pty_size	 sz;
	struct winsize	 ws;
	const char	*why;

	if (pty_parse_resize(json, n, &sz, &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = sz.cols;
	ws.ws_row = sz.rows;
	if (c->backend.rfd != -1 && ioctl(c->backend.rfd, TIOCSWINSZ, &ws) ==
	    -1)
		log_warn("conn %llu: TIOCSWINSZ", (unsigned long long)c->id);
	return 0;
}

/* A complete JSON or flow-control message. */
static int
conn_pty_command(struct conn *c, uint8_t cmd, const char *p, size_t n)
{
	switch (cmd) {
	case PTY_IN_INIT:
		return conn_pty_init(c, p, n);
	case PTY_IN_RESIZE:
		return conn_pty_resize(c, p, n);
	case PTY_IN_PAUSE:
	case PTY_IN_RESUME:
		c->output_paused = cmd == PTY_IN_PAUSE;
		conn_update_backend_reading(c);
		return 0;
	default:
		log_info("conn %llu %s: unknown terminal command 0x%02x ignored",
		    (unsigned long long)c->id, c->peer, cmd);
		return 0;
	}
}

/* Client payload on a pty route: input streams, JSON is collected. */
static int
conn_pty_input(struct conn *c, const uint8_t *p, size_t n, bool msg_end)
{
	int	 rv = 0;

	if (c->pty_cmd == 0 && n > 0) {
		c->pty_cmd = p[0];
		/* The init message is JSON: its '{' is part of it. */
		if (c->pty_cmd != PTY_IN_INIT)
			p++, n--;
	}
	if (c->pty_cmd == PTY_IN_INPUT) {
		if (!c->route->readonly && c->proc != NULL)
			rv = conn_sink_backend(c, p, n, false);
	} else if (c->pty_cmd != 0) {
		if (buf_len(&c->ctl) + n > PTY_MAX_CONTROL) {
			conn_fail(c, WS_CLOSE_TOO_BIG, "terminal control "
			    "message too long");
			return -1;
		}
		if (buf_append(&c->ctl, p, n) == -1)
			return -1;
		if (msg_end)
			rv = conn_pty_command(c, c->pty_cmd,
			    (const char *)buf_head(&c->ctl), buf_len(&c->ctl));
	}
	if (msg_end) {
		c->pty_cmd = 0;
		buf_free(&c->ctl);
	}
	return rv;
}

/* Deliver unmasked payload of the current data frame. */
static int
conn_deliver(struct conn *c, const uint8_t *p, size_t n, bool msg_end)
{
	int	 op;

	if (c->close_sent)
		return 0;
	if (msg_end)
		c->stats.msgs_in++;
	c->stats.bytes_in += n;
	if (c->route->mode == MODE_PTY && c->route->kind != BACKEND_ECHO)
		return conn_pty_input(c, p, n, msg_end);
	if (c->route->kind != BACKEND_ECHO)
		return conn_sink_backend(c, p, n, msg_end);
	op = c->echo_started ? WS_OP_CONT : c->msg_opcode;
	c->echo_started = !msg_end;
	if (msg_end)
		c->stats.msgs_out++;
	c->stats.bytes_out += n;
	return conn_send_frame(c, msg_end, op, p, n);
}

static void
conn_handle_close_frame(struct conn *c, const uint8_t *p, size_t n)
{
	unsigned	 code;
	const char	*why;

	if (ws_parse_close(p, n, &code, &why) == -1) {
		conn_fail(c, code, why);
		return;
	}
	c->close_received = true;
	if (!c->close_sent)
		conn_ws_close(c, code, "");
	buf_free(&c->in);
	conn_maybe_finish(c);
}

/* A whole control frame is in c->in (header hlen, unmasked payload). */
static void
conn_handle_control(struct conn *c, uint8_t *p, size_t n)
{
	switch (c->hdr.opcode) {
	case WS_OP_PING:
		if (!c->close_sent)
			conn_send_frame(c, true, WS_OP_PONG, p, n);
		break;
	case WS_OP_PONG:
		if (c->ping_outstanding) {
			c->ping_outstanding = false;
			ev_timer_stop(server.loop, &c->ping_timer);
			ev_timer_set(&c->ping_timer,
			    c->route->limits.ping_interval_ms / 1000., 0.);
			ev_timer_start(server.loop, &c->ping_timer);
		}
		break;
	case WS_OP_CLOSE:
		conn_handle_close_frame(c, p, n);
		break;
	}
}

/* Parse the next frame header; 1 progress, 0 need more or blocked. */
static int
conn_frame_start(struct conn *c)
{
	uint8_t		*p = buf_head(&c->in), ctl[WS_MAX_CONTROL_PAYLOAD];
	size_t		 avail = buf_len(&c->in);
	const char	*why;
	ssize_t		 hlen;
	unsigned	 code;

	if ((hlen = ws_parse_header(p, avail, &c->hdr, &why)) <= 0) {
		/* The only malformed header is a length of 2^63 or more. */
		if (hlen == -1)
			conn_fail(c, WS_CLOSE_TOO_BIG, why);
		return 0;
	}
	if ((code = ws_msg_frame(&c->msg, &c->hdr, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (c->hdr.opcode >= WS_OP_CLOSE) {
		if (avail < (size_t)hlen + c->hdr.len)
			return 0;
		/* Pongs and Close need room in the client's buffer too. */
		if (buf_full(&c->client.out) && !c->close_sent) {
			c->input_blocked = true;
			return 0;
		}
		/* Copy out: consuming may free the buffer. */
		memcpy(ctl, p + hlen, c->hdr.len);
		ws_unmask(ctl, c->hdr.len, c->hdr.mask, 0);
		buf_consume(&c->in, (size_t)hlen + c->hdr.len);
		conn_handle_control(c, ctl, c->hdr.len);
		return c->state == CONN_CLOSED ? 0 : 1;
	}
	if (c->hdr.opcode == WS_OP_BINARY && c->route->mode == MODE_TEXT &&
	    c->route->kind != BACKEND_ECHO && !c->close_sent) {
		conn_fail(c, WS_CLOSE_UNSUPPORTED, "binary message on a text "
		    "route");
		return 0;
	}
	if (c->hdr.opcode != WS_OP_CONT)
		c->msg_opcode = c->hdr.opcode;
	buf_consume(&c->in, (size_t)hlen);
	c->in_frame = true;
	c->frame_pos = 0;
	c->frame_unmasked = 0;
	return 1;
}

/* Unmask the bytes of the frame that arrived since the last time. */
static void
conn_unmask_new(struct conn *c, uint8_t *p, size_t k)
{
	uint64_t	 upto = c->frame_pos + k;

	if (c->frame_unmasked >= upto)
		return;
	ws_unmask(p + (c->frame_unmasked - c->frame_pos),
	    (size_t)(upto - c->frame_unmasked), c->hdr.mask, c->frame_unmasked);
	c->frame_unmasked = upto;
}

/*
 * A compressed message: inflate what arrived into what the sink can
 * take now; input that does not fit waits in c->in (backpressure), and
 * the limit applies to the inflated size.
 */
static int
conn_frame_inflate(struct conn *c)
{
	uint64_t	 left = c->hdr.len - c->frame_pos;
	size_t		 k = buf_len(&c->in), room, used, produced;
	uint64_t	 max = c->msg.max_len;
	uint8_t		*p = buf_head(&c->in);
	const char	*why;
	unsigned	 code = 0;
	bool		 done;

	if (left < k)
		k = (size_t)left;
	if (k == 0 && left > 0)
		return 0;
	if ((room = conn_sink_room(c)) == 0) {
		c->input_blocked = true;
		return 0;
	}
	if (room > sizeof(inflated))
		room = sizeof(inflated);
	conn_unmask_new(c, p, k);
	if (pmd_inflate(c->pmd, p, k, c->hdr.fin && k == left, inflated,
	    room, &used, &produced, &done, &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return 0;
	}
	if ((c->inflated += produced) > max && max != 0) {
		conn_fail(c, WS_CLOSE_TOO_BIG, "message over the size limit");
		return 0;
	}
	if ((produced > 0 || done) && ((code = ws_msg_payload(&c->msg,
	    inflated, produced, done, &why)) != 0 ||
	    conn_deliver(c, inflated, produced, done) == -1)) {
		if (code != 0)
			conn_fail(c, code, why);
		return 0;
	}
	c->frame_pos += used;
	buf_consume(&c->in, used);
	if (c->frame_pos == c->hdr.len && (!c->hdr.fin || done))
		c->in_frame = false;
	if (done)
		c->inflated = 0;
	return used > 0 || produced > 0 || done;
}

/* Move payload of the current frame to its sink; 1 progress, 0 not. */
static int
conn_frame_payload(struct conn *c)
{
	uint64_t	 left = c->hdr.len - c->frame_pos;
	size_t		 k = buf_len(&c->in), room;
	bool		 end;
	const char	*why;
	unsigned	 code;
	uint8_t		*p = buf_head(&c->in);

	if (left < k)
		k = (size_t)left;
	if (k == 0 && left > 0)
		return 0;
	if ((room = conn_sink_room(c)) == 0) {
		c->input_blocked = true;
		return 0;
	}
	if (k > room)
		k = room;
	end = c->frame_pos + k == c->hdr.len && c->hdr.fin;
	ws_unmask(p, k, c->hdr.mask, c->frame_pos);
	if ((code = ws_msg_payload(&c->msg, p, k, end, &why)) != 0) {
		conn_fail(c, code, why);
		return 0;
	}
	if (conn_deliver(c, p, k, end) == -1)
		return 0;
	c->frame_pos += k;
	if (c->frame_pos == c->hdr.len)
		c->in_frame = false;
	buf_consume(&c->in, k);
	return 1;
}

/* Decode what the client sent as far as the sinks allow. */
static void
conn_process_input(struct conn *c)
{
	int	 progress = 1;

	c->input_blocked = false;
	while (progress && (c->state == CONN_OPEN ||
	    c->state == CONN_CLOSING) && !c->linger && !c->close_received)
		progress = !c->in_frame ? conn_frame_start(c) :
		    c->msg.compressed ? conn_frame_inflate(c) :
		    conn_frame_payload(c);
	if (c->linger || c->close_received)
		buf_free(&c->in);
	if (c->state != CONN_CLOSED)
		conn_update_client_reading(c);
}

/* --- backend -> client ------------------------------------------------- */

/* One text message; bytes that are not UTF-8 become U+FFFD. */
static int
conn_send_text(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t	*clean;
	size_t	 m;
	int	 rv;

	c->stats.msgs_out++;
	c->stats.bytes_out += n;
	if (ws_utf8_valid(p, n))
		return conn_send_frame(c, true, WS_OP_TEXT, p, n);
	if ((clean = malloc(3 * n)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	m = ws_utf8_sanitize(clean, p, n);
	rv = conn_send_frame(c, true, WS_OP_TEXT, clean, m);
	free(clean);
	return rv;
}

/* A complete line (without "\n"): "\r" dropped, long lines in pieces. */
static int
conn_send_line(struct conn *c, const uint8_t *p, size_t n)
{
	size_t	 max = (size_t)c->route->limits.max_message_size, cut;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	while (n > max) {
		if ((cut = ws_utf8_boundary(p, max)) == 0)
			cut = max;
		if (conn_send_text(c, p, cut) == -1)
			return -1;
		p += cut;
		n -= cut;
	}
	return conn_send_text(c, p, n);
}

/* Keep a partial line; if it reaches the message limit, send a piece. */
static int
conn_hold_partial(struct conn *c, const uint8_t *p, size_t n)
{
	size_t	 max = (size_t)c->route->limits.max_message_size, cut;

	if (buf_append(&c->line, p, n) == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	while (buf_len(&c->line) >= max) {
		if ((cut = ws_utf8_boundary(buf_head(&c->line), max)) == 0)
			cut = max;
		if (conn_send_text(c, buf_head(&c->line), cut) == -1)
			return -1;
		buf_consume(&c->line, cut);
	}
	return 0;
}

/* Text mode: stdout split on "\n", one message per line. */
static int
conn_output_text(struct conn *c, const uint8_t *p, size_t n)
{
	const uint8_t	*nl;
	size_t		 len;
	int		 rv;

	while (n > 0) {
		if ((nl = memchr(p, '\n', n)) == NULL)
			return conn_hold_partial(c, p, n);
		len = (size_t)(nl - p);
		if (buf_len(&c->line) > 0) {
			if (buf_append(&c->line, p, len) == -1)
				return -1;
			rv = conn_send_line(c, buf_head(&c->line),
			    buf_len(&c->line));
			buf_free(&c->line);
		} else
			rv = conn_send_line(c, p, len);
		if (rv == -1)
			return -1;
		p += len + 1;
		n -= len + 1;
	}
	return 0;
}

static int
conn_output(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->route->mode == MODE_TEXT)
		return conn_output_text(c, p, n);
	c->stats.msgs_out++;
	c->stats.bytes_out += n;
	if (c->route->mode == MODE_PTY)
		return conn_send_frame_prefixed(c, true, WS_OP_BINARY,
		    PTY_OUT_OUTPUT, p, n);
	return conn_send_frame(c, true, WS_OP_BINARY, p, n);
}

/* Output EOF and (for processes) exit both seen: say goodbye. */
static void
conn_backend_finish(struct conn *c)
{
	char		 reason[WS_MAX_CONTROL_PAYLOAD] = "";
	unsigned	 code = WS_CLOSE_NORMAL;
	int		 st = c->exit_status;

	if (!c->backend_eof || (c->proc != NULL && !c->proc_exited))
		return;
	if (c->backend_error != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "backend: %s",
		    strerror(c->backend_error));
	} else if (c->proc != NULL && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "exit %d", WEXITSTATUS(st));
	} else if (c->proc != NULL && WIFSIGNALED(st)) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "signal %d", WTERMSIG(st));
	}
	if (c->client.eof) {
		conn_close(c, "client gone");
		return;
	}
	conn_ws_close(c, code, reason);
	conn_maybe_finish(c);
}

static void
conn_backend_eof(struct conn *c)
{
	c->backend_eof = true;
	watcher_set(&c->backend.rd, false);
	if (buf_len(&c->line) > 0 && !c->close_sent) {
		conn_send_line(c, buf_head(&c->line), buf_len(&c->line));
		buf_free(&c->line);
	}
	if (c->state == CONN_CLOSED)
		return;
	if (c->proc != NULL && !c->proc_exited)
		backend_proc_terminate(c->proc);
	conn_backend_finish(c);
}

void
conn_proc_exited(struct conn *c, int status)
{
	c->proc_exited = true;
	c->exit_status = status;
	conn_backend_finish(c);
}

/* Fires when the backend (stdout, socket, pty) has bytes for the client. */
static void
conn_backend_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	size_t		 room = buf_room(&c->client.out);
	ssize_t		 n;

	(void)loop, (void)revents;
	/* A process's read is one message of at most 64 KiB (websocketd). */
	if (room > (c->proc != NULL ? CONN_READ_CHUNK : sizeof(scratch)))
		room = c->proc != NULL ? CONN_READ_CHUNK : sizeof(scratch);
	if (room == 0) {
		conn_update_backend_reading(c);
		return;
	}
	n = read(c->backend.rfd, scratch, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EIO is how a pty reports that its last writer closed. */
		if (n == -1 && errno != EIO) {
			log_info("conn %llu %s: backend read: %s",
			    (unsigned long long)c->id, c->peer,
			    strerror(errno));
			if (c->proc == NULL)
				c->backend_error = errno;
		}
		conn_backend_eof(c);
		return;
	}
	c->last_activity = ev_now(server.loop);
	if (conn_output(c, scratch, (size_t)n) == 0)
		conn_update_backend_reading(c);
}

/* --- writers ---------------------------------------------------------------- */

/* Fires when the client socket can take more of client.out. */
static void
conn_client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	struct buf	*b = &c->client.out;
	size_t		 len = buf_len(b);
	ssize_t		 n;

	(void)loop, (void)revents;
	if (c->state == CONN_TLS) {
		conn_tls_step(c);
		return;
	}
	if (len > CONN_MAX_WRITE_PER_EVENT)
		len = CONN_MAX_WRITE_PER_EVENT;
	if (len > 0) {
		n = client_send(c, buf_head(b), len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			watcher_set(&c->client.wr, true);
			return;
		}
		if (n == -1) {
			conn_close(c, "client write failed");
			return;
		}
		buf_consume(b, (size_t)n);
	}
	if (c->file_fd != -1 && buf_low(b))
		conn_file_pump(c);
	if (buf_len(b) == 0) {
		watcher_set(&c->client.wr, false);
		if (c->responded && c->state == CONN_HTTP &&
		    c->file_fd == -1) {
			conn_next_request(c);
			return;
		}
		conn_maybe_finish(c);
		if (c->state == CONN_CLOSED)
			return;
	}
	if (buf_low(b)) {
		conn_update_backend_reading(c);
		if (c->input_blocked)
			conn_process_input(c);
	}
	if (c->state != CONN_CLOSED && buf_len(b) > 0)
		watcher_set(&c->client.wr, true);
}

/* The client is finished: no more data will reach the backend. */
static void
conn_backend_stop_input(struct conn *c)
{
	struct endpoint	*b = &c->backend;

	if (b->wfd == -1 || b->wr_shut || buf_len(&b->out) > 0)
		return;
	watcher_set(&b->wr, false);
	if (b->wfd == b->rfd)
		shutdown(b->wfd, SHUT_WR);
	else {
		close(b->wfd);
		b->wfd = -1;
	}
	b->wr_shut = true;
}

/* Fires when the backend (stdin, socket) can take more of backend.out. */
static void
conn_backend_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	struct buf	*b = &c->backend.out;
	ssize_t		 n;

	(void)loop, (void)revents;
	n = write(c->backend.wfd, buf_head(b), buf_len(b));
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		watcher_set(&c->backend.wr, true);
		return;
	}
	if (n == -1) {
		/* The backend stopped reading (EPIPE): its output decides. */
		log_debug("conn %llu: backend write: %s",
		    (unsigned long long)c->id, strerror(errno));
		buf_free(b);
		c->backend.wr_shut = true;
	} else
		buf_consume(b, (size_t)n);
	if (buf_len(b) == 0) {
		watcher_set(&c->backend.wr, false);
		if (c->close_received || c->client.eof)
			conn_backend_stop_input(c);
		conn_maybe_finish(c);
		if (c->state == CONN_CLOSED)
			return;
	}
	if (buf_low(b) && c->input_blocked)
		conn_process_input(c);
	if (c->state != CONN_CLOSED && buf_len(b) > 0 && c->backend.wfd != -1)
		watcher_set(&c->backend.wr, true);
}

/* --- TLS ------------------------------------------------------------------ */

/*
 * Decrypted bytes can wait inside OpenSSL with the socket drained: read
 * them now rather than waiting for fd readiness that will not come.
 */
static void
conn_tls_more(struct conn *c)
{
	if (c->tls != NULL && c->state != CONN_CLOSED &&
	    ev_is_active(&c->client.rd) && tls_pending(c->tls) > 0)
		ev_feed_event(server.loop, &c->client.rd, EV_READ);
}

/* Plain HTTP on a TLS port: answer in plain text, then close. */
static bool
conn_tls_plain_http(struct conn *c)
{
	static const char body[] = "400 this port speaks TLS (https:)\n";
	char		 resp[256];
	int		 len;
	uint8_t		 b[2];
	ssize_t		 n;

	n = recv(c->client.rfd, b, sizeof(b), MSG_PEEK);
	if (n <= 0 || tls_looks_like_tls(b, (size_t)n))
		return false;
	log_info("conn %llu %s: plain HTTP on a TLS port",
	    (unsigned long long)c->id, c->peer);
	tls_conn_free(c->tls);
	c->tls = NULL;
	c->status = 400;
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	len = snprintf(resp, sizeof(resp), "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    sizeof(body) - 1, body);
	conn_send_raw(c, resp, (size_t)len);
	return true;
}

/* Drive the TLS handshake; HTTP follows once it is done. */
static void
conn_tls_step(struct conn *c)
{
	const char	*why;
	int		 rv, want;

	if (!c->tls_started) {
		c->tls_started = true;
		if (conn_tls_plain_http(c))
			return;
	}
	if ((rv = tls_handshake(c->tls, &why)) == -1) {
		log_info("conn %llu %s: TLS handshake: %s",
		    (unsigned long long)c->id, c->peer, why);
		conn_close(c, "TLS handshake failed");
		return;
	}
	if (rv == 1) {
		conn_set_state(c, CONN_HTTP);
		watcher_set(&c->client.wr, false);
		watcher_set(&c->client.rd, true);
		conn_tls_more(c);
		return;
	}
	want = tls_want(c->tls);
	watcher_set(&c->client.rd, (want & TLS_WANT_READ) != 0);
	watcher_set(&c->client.wr, (want & TLS_WANT_WRITE) != 0);
}

/* --- client reads ---------------------------------------------------------- */

static void
conn_client_gone(struct conn *c, const char *why)
{
	log_debug("conn %llu %s: %s", (unsigned long long)c->id, c->peer, why);
	c->client.eof = true;
	watcher_set(&c->client.rd, false);
	if (c->state != CONN_OPEN && c->state != CONN_CLOSING) {
		conn_close(c, why);
		return;
	}
	/* Nobody will read the client side any more. */
	buf_free(&c->client.out);
	watcher_set(&c->client.wr, false);
	conn_backend_stop_input(c);
	conn_maybe_finish(c);
	if (c->state != CONN_CLOSED)
		conn_deadline(c, c->cref->cfg->close_timeout_ms);
}

/* Request head bytes: parse; what follows the head is frame data. */
static void
conn_feed_http(struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t		 used;
	int		 status;
	const char	*why;

	used = hs_parse(c->req, (const char *)p, n, &status, &why);
	if (used == -1) {
		conn_http_respond(c, status, why, 0);
		return;
	}
	if (used == 0)
		return;
	if (buf_append(&c->in, p + used, n - (size_t)used) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_handle_request(c);
}

/*
 * How many more bytes the PROXY header in c->in can need: never read
 * past it, since what follows may be a TLS handshake that OpenSSL reads
 * from the socket itself.
 */
static size_t
conn_proxy_need(const struct buf *in)
{
	const uint8_t	*p = buf_head(in);
	size_t		 len = buf_len(in);

	if (len < 8)
		return 8 - len;
	if (memcmp(p, "PROXY ", 6) == 0)
		return 1;	/* v1: a line, up to its CRLF */
	if (len < PROXY_V2_HEADER)
		return PROXY_V2_HEADER - len;
	return PROXY_V2_HEADER + ((size_t)p[14] << 8 | p[15]) - len;
}

/* PROXY protocol listeners: the whole header first, never a guess. */
static void
conn_read_proxy(struct conn *c)
{
	struct proxy_info	 pi;
	const char		*why;
	ssize_t			 n, used;
	size_t			 need = conn_proxy_need(&c->in);
	uint8_t			*p;

	if (need == 0 || need > PROXY_MAX_HEADER ||
	    (p = buf_reserve(&c->in, need)) == NULL) {
		conn_close(c, "bad PROXY header");
		return;
	}
	n = read(c->client.rfd, p, need);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, "client gone during PROXY header");
		return;
	}
	buf_commit(&c->in, (size_t)n);
	used = proxy_parse(buf_head(&c->in), buf_len(&c->in), &pi, &why);
	if (used == 0)
		return;
	if (used == -1) {
		log_info("conn %llu %s: PROXY header: %s",
		    (unsigned long long)c->id, c->peer, why);
		conn_close(c, "bad PROXY header");
		return;
	}
	if (!pi.local) {
		conn_set_peer(c, (struct sockaddr *)&pi.src, pi.srclen);
		conn_set_local(c, (struct sockaddr *)&pi.dst);
	}
	buf_free(&c->in);
	conn_set_state(c, c->tls != NULL ? CONN_TLS : CONN_HTTP);
}

/* Handshake phase: PROXY header, then the HTTP request head. */
static void
conn_read_http(struct conn *c)
{
	ssize_t	 n;

	if (c->state == CONN_ACCEPTED) {
		conn_read_proxy(c);
		return;
	}
	n = client_recv(c, scratch, sizeof(scratch));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, "client gone during handshake");
		return;
	}
	conn_feed_http(c, scratch, (size_t)n);
}

/* Lingering close: discard what the client still sends until EOF. */
static void
conn_read_discard(struct conn *c)
{
	ssize_t	 n = client_recv(c, scratch, sizeof(scratch));

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->client.eof = true;
		watcher_set(&c->client.rd, false);
		if (buf_len(&c->client.out) > 0)
			conn_close(c, "client gone");
		else
			conn_maybe_finish(c);
	}
}

/* Fires when the client socket is readable, whatever the state. */
static void
conn_client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	uint8_t		*p;
	ssize_t		 n;

	(void)loop, (void)revents;
	if (c->state == CONN_TLS) {
		conn_tls_step(c);
		return;
	}
	if (c->state == CONN_HTTP || c->state == CONN_ACCEPTED) {
		conn_read_http(c);
		conn_tls_more(c);
		return;
	}
	if (c->linger || c->close_received) {
		conn_read_discard(c);
		return;
	}
	if ((p = buf_reserve(&c->in, CONN_SOCKET_CHUNK)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	n = client_recv(c, p, CONN_SOCKET_CHUNK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		if (buf_len(&c->in) == 0)
			buf_free(&c->in);
		return;
	}
	if (n <= 0) {
		if (buf_len(&c->in) == 0)
			buf_free(&c->in);
		conn_client_gone(c, n == 0 ? "client EOF" : strerror(errno));
		return;
	}
	buf_commit(&c->in, (size_t)n);
	c->last_activity = ev_now(server.loop);
	conn_process_input(c);
	conn_tls_more(c);
}

/* --- timers ------------------------------------------------------------------ */

/* Fires every ping_interval; a ping still unanswered ends the conn. */
static void
conn_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	uint8_t		 payload[8];
	uint64_t	 id = c->id;

	(void)revents;
	/*
	 * While the backend isn't taking the client's data, the pong may
	 * wait behind it: ping again instead of giving up (a vanished
	 * client still shows, as a failed write).
	 */
	if (c->ping_outstanding && !c->input_blocked) {
		log_info("conn %llu %s: no pong within %.1fs",
		    (unsigned long long)c->id, c->peer,
		    c->route->limits.ping_timeout_ms / 1000.);
		conn_close(c, "ping timeout");
		return;
	}
	memcpy(payload, &id, sizeof(payload));
	conn_send_frame(c, true, WS_OP_PING, payload, sizeof(payload));
	c->ping_outstanding = true;
	ev_timer_set(w, c->route->limits.ping_timeout_ms / 1000., 0.);
	ev_timer_start(loop, w);
}

/* Fires when no data moved for idle_timeout (re-armed lazily). */
static void
conn_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	ev_tstamp	 left;

	(void)revents;
	left = c->last_activity + c->route->limits.idle_timeout_ms / 1000. -
	    ev_now(loop);
	if (left > 0.001) {
		ev_timer_set(w, left, 0.);
		ev_timer_start(loop, w);
		return;
	}
	log_info("conn %llu %s: idle timeout", (unsigned long long)c->id,
	    c->peer);
	conn_ws_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
}

/* --- accept and shutdown ---------------------------------------------------- */

/* The client's address (socket, PROXY header or trusted header). */
static void
conn_set_peer(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(c->peer_addr))
		len = sizeof(c->peer_addr);
	memcpy(&c->peer_addr, sa, len);
	net_addr_string(sa, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
	if (sa->sa_family == AF_INET6)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", c->peer_ip,
		    c->peer_port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%d", c->peer_ip,
		    c->peer_port);
	c->peer_trusted = config_cidr_match(c->cref->cfg, sa);
}

static void
conn_set_local(struct conn *c, const struct sockaddr *sa)
{
	memcpy(&c->local_addr, sa, sizeof(c->local_addr));
	net_addr_string(sa, c->local_ip, sizeof(c->local_ip),
	    &c->local_port);
}

static void
conn_peer_names(struct conn *c, const struct sockaddr *sa, socklen_t salen)
{
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);

	conn_set_peer(c, sa, salen);
	memset(&local, 0, sizeof(local));
	if (getsockname(c->client.rfd, (struct sockaddr *)&local, &len) == 0)
		conn_set_local(c, (struct sockaddr *)&local);
}

void
conn_accept(int fd, const struct sockaddr *sa, socklen_t salen,
    struct listener *l)
{
	struct config	*cfg = server.cref->cfg;
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: calloc");
		close(fd);
		return;
	}
	c->id = ++server.next_id;
	c->cref = server.cref;
	c->cref->refs++;
	c->listener = l;
	c->exit_status = -1;
	c->file_fd = -1;
	c->started = ev_now(server.loop);
	endpoint_init(&c->client, c, &c->backend, CONFIG_BUFFER_SIZE);
	endpoint_init(&c->backend, c, &c->client, CONFIG_BUFFER_SIZE);
	c->client.rfd = c->client.wfd = fd;
	net_set_nodelay(fd);
	conn_peer_names(c, sa, salen);
	endpoint_watch(&c->client, &c->client.rd, conn_client_read_cb, fd,
	    EV_READ);
	endpoint_watch(&c->client, &c->client.wr, conn_client_write_cb, fd,
	    EV_WRITE);
	ev_init(&c->deadline, conn_deadline_cb);
	ev_init(&c->ping_timer, conn_ping_cb);
	ev_init(&c->idle_timer, conn_idle_cb);
	c->deadline.data = c->ping_timer.data = c->idle_timer.data = c;
	if ((c->req = calloc(1, sizeof(*c->req))) == NULL ||
	    hs_init(c->req, (size_t)cfg->max_header_size) == -1)
		fatal("handshake init");
	TAILQ_INSERT_TAIL(&server.conns, c, entry);
	server.nconns++;
	if (l->spec.tls && (server.tls == NULL ||
	    (c->tls = tls_conn_new(server.tls, fd)) == NULL)) {
		log_warnx("conn %llu %s: no TLS context", (unsigned long long)c->id,
		    c->peer);
		conn_close(c, "no TLS");
		return;
	}
	if (!l->spec.proxy_protocol)
		conn_set_state(c, l->spec.tls ? CONN_TLS : CONN_HTTP);
	conn_deadline(c, cfg->handshake_timeout_ms);
	watcher_set(&c->client.rd, true);
}

void
conn_shutdown_all(void)
{
	struct conn	*c, *next;

	server.stopping = true;
	for (c = TAILQ_FIRST(&server.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_OPEN)
			conn_ws_close(c, WS_CLOSE_GOING_AWAY,
			    "server shutting down");
		else if (c->state != CONN_CLOSING ||
		    (c->linger && buf_len(&c->client.out) == 0))
			conn_close(c, "server shutting down");
	}
}
