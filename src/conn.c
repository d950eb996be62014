/*
 * The connection state machine: HTTP handshake, then the relay between
 * WebSocket frames on the client side and a byte stream on the backend
 * side, with bounded buffers and backpressure in both directions, and
 * the close handshake. Every exit goes through conn_close().
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
#include "cgi.h"
#include "conn_poll.h"
#include "conn_post.h"
#include "conn.h"
#include "listener.h"
#include "auth_pool.h"
#include "rdns.h"
#include "forwarded.h"
#include "hangup.h"
#include "iplimit.h"
#include "pollq.h"
#include "log.h"
#include "record.h"
#include "metrics.h"
#include "net.h"
#include "proxy_proto.h"
#include "session.h"
#include "sse_stream.h"
#include "static.h"
#include "conn_int.h"
#include "tls.h"

struct server	 server;


static void	conn_client_read_cb(struct ev_loop *, ev_io *, int);
static void	conn_client_write_cb(struct ev_loop *, ev_io *, int);
static void	conn_hangup_cb(void *, int);
static void	conn_client_gone(struct conn *, const char *);
static void	conn_watch_hangup(struct conn *, bool);
static void	conn_set_local(struct conn *, const struct sockaddr *);
static void	conn_tls_step(struct conn *);
static void	conn_tls_more(struct conn *);

static const char *const conn_state_names[] = {
	[CONN_ACCEPTED] = "accepted",
	[CONN_TLS] = "tls",
	[CONN_HTTP] = "http",
	[CONN_AUTH] = "auth",
	[CONN_LOOKUP] = "lookup",
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

/* Safe point: free connections closed during the last loop iteration. */
static void
server_reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct conn	*c;
	bool		 freed;

	(void)w, (void)revents;
	relay_flush_queued();
	freed = !TAILQ_EMPTY(&server.dead);
	while ((c = TAILQ_FIRST(&server.dead)) != NULL) {
		TAILQ_REMOVE(&server.dead, c, entry);
		session_unref(c->session);
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

/*
 * Fires every CONN_PAUSE_PROBE_S while some client is watched for a
 * hang-up: a ping to each one whose input is paused and which has no
 * output waiting (waiting output probes by itself). A client that
 * closed its socket answers with a reset, and the hangup watcher
 * reports it; a live one's pong is read once its input moves again.
 */
static void
server_probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c, *next;

	(void)loop, (void)w, (void)revents;
	for (c = TAILQ_FIRST(&server.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->hup_watched || c->state != CONN_OPEN ||
		    ev_is_active(&c->client.rd) || buf_len(&c->client.out) > 0)
			continue;
		c->transport->ops->probe(c);
	}
}

void
server_init(struct ev_loop *loop, struct config *cfg)
{
	memset(&server, 0, sizeof(server));
	server.loop = loop;
	server.cref = config_ref_new(cfg);
	TAILQ_INIT(&server.conns);
	TAILQ_INIT(&server.dead);
	relay_init(loop);
	ev_prepare_init(&server.reaper, server_reaper_cb);
	ev_prepare_start(loop, &server.reaper);
	ev_unref(loop);
	ev_init(&server.probe, server_probe_cb);
	server.probe.repeat = CONN_PAUSE_PROBE_S;
	if (hangup_init(loop, conn_hangup_cb) == -1)
		log_warn("hangup watcher: clients behind a full backend "
		    "are noticed leaving only by timeouts");
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

/* Bytes owed to the client: client.out, and TLS records not sent yet. */
size_t
client_unsent(const struct conn *c)
{
	return buf_len(&c->client.out) + (c->tls != NULL ?
	    tls_unsent(c->tls) : 0);
}

/* --- the client socket's relay side ----------------------------------- */

/* client.out waits to be written (the relay's flush, before the poll). */
static void
conn_client_flush(struct endpoint *e)
{
	struct conn	*c = e->owner;

	if (c->state != CONN_CLOSED)
		conn_client_write_cb(server.loop, &e->wr, 0);
}

/*
 * TLS: one piece encrypted from where it lies when nothing waits before
 * it; what SSL_write did not take is queued, as a plain socket's rest.
 */
static int
conn_client_tls_through(struct conn *c, const struct iovec *iov,
    int iovcnt, enum relay_write *res, size_t *sent)
{
	struct endpoint	*e = &c->client;
	size_t		 skip, k;
	ssize_t		 n = -1;
	int		 i, err = 0;

	*res = RELAY_QUEUED;
	*sent = 0;
	if (iovcnt == 1 && client_unsent(c) == 0 && e->wfd != -1 &&
	    !e->wr_shut && !ev_is_active(&e->wr)) {
		n = tls_write(c->tls, iov[0].iov_base, iov[0].iov_len);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			*res = RELAY_FAILED;
			err = errno;
		} else if (tls_unsent(c->tls) > 0 || n == -1)
			*res = RELAY_BLOCKED;
	}
	skip = n > 0 ? (size_t)n : 0;
	*sent = skip;
	for (i = 0; i < iovcnt; i++) {
		k = skip < iov[i].iov_len ? skip : iov[i].iov_len;
		skip -= k;
		if (buf_append(&e->out, (const uint8_t *)iov[i].iov_base + k,
		    iov[i].iov_len - k) == -1)
			return -1;
	}
	if (*res == RELAY_QUEUED)
		endpoint_flush_later(e);
	if (*res == RELAY_FAILED)
		errno = err;
	return 0;
}

/*
 * Bytes for the client: written now from where they lie when large,
 * else gathered in client.out. -1: out of memory (the conn is closed).
 */
int
conn_client_write_through(struct conn *c, const struct iovec *iov,
    int iovcnt)
{
	enum relay_write	 res;
	size_t			 sent;
	int			 rv;

	if (c->tls != NULL)
		rv = conn_client_tls_through(c, iov, iovcnt, &res, &sent);
	else
		rv = endpoint_write_through(&c->client, iov, iovcnt, &res,
		    &sent);
	if (rv == -1) {
		conn_close(c, "out of memory");
		return -1;
	}
	if (sent > 0)
		conn_sent_progress(c);
	if (res == RELAY_BLOCKED)
		conn_client_writing(c, true);
	/* A failed write is met again by the writer, which closes. */
	else if (res == RELAY_FAILED)
		endpoint_flush_later(&c->client);
	return 0;
}

/* --- closing ------------------------------------------------------------- */

/* The 101 (or an event stream's 200) was sent: a session was open. */
static bool
conn_was_open(const struct conn *c)
{
	return c->status == 101 || (c->sse && c->status == 200);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSED)
		return;
	log_debug("conn %llu %s: closed: %s", (unsigned long long)c->id,
	    c->peer, reason);
	/* A keep-alive connection's requests each had their line. */
	if (!c->idle_keepalive)
		conn_access_log(c, reason);
	if (conn_was_open(c) && c->session != NULL &&
	    !session_messages_only(c->session) && record_enabled())
		record_event(c->id, "close", NULL, NULL);
	if (conn_was_open(c))
		conn_log_disconnected(c, reason);
	if (conn_was_open(c))
		metrics_conn_close(conn_route_name(c), c->stats.bytes_in,
		    c->stats.bytes_out, c->stats.msgs_in, c->stats.msgs_out,
		    c->close_code, ev_now(server.loop) - c->started);
	conn_set_state(c, CONN_CLOSED);
	if (c->tls != NULL) {
		tls_shutdown(c->tls);
		tls_conn_free(c->tls);
		c->tls = NULL;
	}
	ev_timer_stop(server.loop, &c->deadline);
	ev_timer_stop(server.loop, &c->idle_timer);
	if (c->transport != NULL)
		c->transport->ops->free(c);
	if (c->auth != NULL) {
		auth_pool_cancel(c->auth);	/* no verdict for a freed c */
		c->auth = NULL;
	}
	if (c->rdns != NULL) {
		rdns_cancel(c->rdns);
		c->rdns = NULL;
	}
	ev_timer_stop(server.loop, &c->send_timer);
	conn_watch_hangup(c, false);
	endpoint_close(&c->client);
	if (c->member != NULL)
		session_leave(c->member);
	c->member = NULL;
	cgi_free(c);
	conn_post_free(c);
	conn_poll_cancel(c);
	conn_free_request(c);
	if (c->route != NULL)
		c->route->active--;
	if (c->ip_counted)
		iplimit_release((struct sockaddr *)&c->peer_addr);
	free(c->remote_user);
	free(c->remote_host);
	if (c->file_fd != -1)
		close(c->file_fd);
	buf_free(&c->in);
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

/* --- client -> backend ------------------------------------------------- */

/*
 * How much one socket read takes: the route's buffer_size, so a route
 * tuned for bulk moves it in fewer trips and the default stays small.
 */
size_t
conn_socket_chunk(const struct conn *c)
{
	return relay_chunk(c->route != NULL ? c->route->limits.buffer_size :
	    CONFIG_BUFFER_SIZE);
}

/*
 * While a client's input is paused, its FIN or RST is still seen (the
 * hangup watcher), or nobody would notice it leave behind a backend
 * that takes nothing. Registered at the first pause, it stays through
 * later ones until a hang-up is reported.
 */
static void
conn_watch_hangup(struct conn *c, bool on)
{
	if (on == c->hup_watched || c->client.rfd == -1)
		return;
	if (!on)
		hangup_unwatch(c->client.rfd);
	else if (hangup_watch(c->client.rfd, c) == -1) {
		log_debug("conn %llu: hangup watch: %s",
		    (unsigned long long)c->id, strerror(errno));
		return;
	}
	c->hup_watched = on;
	server.nhup += on ? 1 : -1;
	if (server.nhup == 0)
		ev_timer_stop(server.loop, &server.probe);
	else if (!ev_is_active(&server.probe))
		ev_timer_again(server.loop, &server.probe);
}

/*
 * Reported once per registration. While the client is being read the
 * reader meets the EOF or error itself (after the data before it); if
 * input pauses first, the registration is made again and reports again.
 * Paused: a reset ends the client now; a FIN leaves its data to the
 * backend while the backend or the client makes progress, for at most
 * close_timeout without any.
 */
static void
conn_hangup_cb(void *arg, int how)
{
	struct conn	*c = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (!c->hup_watched || c->state == CONN_CLOSED)
		return;
	conn_watch_hangup(c, false);
	if (ev_is_active(&c->client.rd))
		return;
	if (how == HANGUP_ERROR || c->state != CONN_OPEN) {
		if (how == HANGUP_ERROR)
			(void)getsockopt(c->client.rfd, SOL_SOCKET, SO_ERROR,
			    &err, &len);
		log_info("conn %llu %s: client gone while its input waits: %s",
		    (unsigned long long)c->id, c->peer,
		    err != 0 ? strerror(err) : "hang-up");
		conn_client_gone(c, err != 0 ? strerror(err) :
		    "client hung up");
		return;
	}
	log_info("conn %llu %s: client EOF while its input waits",
	    (unsigned long long)c->id, c->peer);
	c->client_hup = true;
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
}

void
conn_update_client_reading(struct conn *c)
{
	bool	 on;

	/* Room for a chunk plus a frame header and a control frame. */
	on = c->state != CONN_CLOSED && c->state != CONN_BACKEND &&
	    !c->client.eof && !c->input_blocked &&
	    buf_len(&c->in) < conn_socket_chunk(c) + WS_MAX_HEADER +
	    WS_MAX_CONTROL_PAYLOAD;
	watcher_set(&c->client.rd, on);
	/* records read ahead while paused: the socket won't say so again */
	if (on)
		conn_tls_more(c);
	if (!on && !c->client_hup && !c->client.eof &&
	    (c->state == CONN_OPEN || c->state == CONN_CLOSING))
		conn_watch_hangup(c, true);
}

/* The client takes output again (or stops taking it): read on. */
void
conn_output_resume(struct conn *c)
{
	if (c->cgi != NULL)
		cgi_update_reading(c);
	else if (c->member != NULL)
		session_output_resume(c->member);
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
	if (len > 0 || client_unsent(c) > 0) {
		n = client_send(c, buf_head(b), len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			conn_client_writing(c, true);
			return;
		}
		if (n == -1) {
			conn_close(c, "client write failed");
			return;
		}
		buf_consume(b, (size_t)n);
		if (n > 0)
			conn_sent_progress(c);
	}
	if (c->file_fd != -1 && buf_low(b))
		conn_file_pump(c);
	if (client_unsent(c) == 0) {
		conn_client_writing(c, false);
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
		conn_output_resume(c);
		if (c->input_blocked)
			conn_process_input(c);
	}
	if (c->state != CONN_CLOSED && client_unsent(c) > 0)
		conn_client_writing(c, true);
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
	char		*resp;
	size_t		 len;
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
	c->refusal = "plain HTTP on a TLS port";
	if ((resp = hs_response_error(400, body, false, 0, NULL, 0, &len)) ==
	    NULL) {
		conn_close(c, "out of memory");
		return true;
	}
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_send_raw(c, resp, len);
	free(resp);
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
	conn_watch_hangup(c, false);
	if (c->state != CONN_OPEN && c->state != CONN_CLOSING) {
		conn_close(c, why);
		return;
	}
	/* Nobody will read the client side any more. */
	buf_free(&c->client.out);
	conn_client_writing(c, false);
	/* An event stream's drop is not the end of its input: a reconnect. */
	if (c->member != NULL && !c->sse)
		session_input_end(c->member);
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
		conn_http_respond(c, status, why);
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
	n = client_recv(c, relay_scratch, sizeof(relay_scratch));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, c->idle_keepalive ? "keep-alive closed by client" :
		    "client gone during handshake");
		return;
	}
	c->idle_keepalive = false;
	conn_feed_http(c, relay_scratch, (size_t)n);
}

/*
 * Waiting for the password check: keep what the client sends early (a
 * bounded amount, for the relay after the 101) and notice it leaving.
 */
static void
conn_read_auth(struct conn *c)
{
	size_t	 room = CONN_SOCKET_CHUNK_MIN - buf_len(&c->in);
	uint8_t	*p;
	ssize_t	 n;

	if (buf_len(&c->in) >= CONN_SOCKET_CHUNK_MIN) {
		watcher_set(&c->client.rd, false);
		return;
	}
	if ((p = buf_reserve(&c->in, room)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	n = client_recv(c, p, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, c->state == CONN_LOOKUP ?
		    "client gone during the reverse lookup" :
		    "client gone during authentication");
		return;
	}
	buf_commit(&c->in, (size_t)n);
}

/* One read of a request body into c->in; false when there is none now. */
static bool
conn_read_body(struct conn *c)
{
	uint8_t	*p;
	ssize_t	 n;

	if ((p = buf_reserve(&c->in, CONN_SOCKET_CHUNK_MIN)) == NULL) {
		conn_close(c, "out of memory");
		return false;
	}
	n = client_recv(c, p, CONN_SOCKET_CHUNK_MIN);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0) {
		conn_close(c, "client gone during the request body");
		return false;
	}
	buf_commit(&c->in, (size_t)n);
	return true;
}

/*
 * A CGI request's body: one read into c->in when the program has taken
 * what came before (cgi_body_pump stops reading while its stdin is
 * full, so a slow reader holds the client, not memory).
 */
static void
conn_read_cgi_body(struct conn *c)
{
	if (buf_len(&c->in) == 0 && !conn_read_body(c))
		return;
	cgi_body_pump(c);
}

/* POST input for an SSE session: the body, a read at a time. */
static void
conn_read_post_body(struct conn *c)
{
	if (conn_read_body(c))
		conn_post_pump(c);
}

/* Lingering close: discard what the client still sends until EOF. */
static void
conn_read_discard(struct conn *c)
{
	ssize_t	 n = client_recv(c, relay_scratch, sizeof(relay_scratch));

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
	size_t		 chunk;
	ssize_t		 n;

	(void)loop, (void)revents;
	if (c->state == CONN_TLS) {
		conn_tls_step(c);
		return;
	}
	if (c->state == CONN_HTTP && c->cgi != NULL) {
		conn_read_cgi_body(c);
		conn_tls_more(c);
		return;
	}
	if (c->state == CONN_HTTP && c->post != NULL) {
		conn_read_post_body(c);
		conn_tls_more(c);
		return;
	}
	if (c->state == CONN_HTTP || c->state == CONN_ACCEPTED) {
		conn_read_http(c);
		conn_tls_more(c);
		return;
	}
	if (c->state == CONN_AUTH || c->state == CONN_LOOKUP) {
		conn_read_auth(c);
		conn_tls_more(c);
		return;
	}
	if (c->linger || c->close_received) {
		conn_read_discard(c);
		return;
	}
	chunk = conn_socket_chunk(c);
	if ((p = buf_reserve(&c->in, chunk)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	n = client_recv(c, p, chunk);
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

/* --- accept and shutdown ---------------------------------------------------- */

/* The client's address (socket, PROXY header or trusted header). */
void
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
	memcpy(&c->local_addr, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(sa->sa_family));
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
	c->file_fd = -1;
	c->started = ev_now(server.loop);
	endpoint_init(&c->client, c, CONFIG_BUFFER_SIZE, conn_client_flush);
	c->client.rfd = c->client.wfd = fd;
	net_set_nodelay(fd);
	conn_peer_names(c, sa, salen);
	endpoint_watch(&c->client, &c->client.rd, conn_client_read_cb, fd,
	    EV_READ);
	endpoint_watch(&c->client, &c->client.wr, conn_client_write_cb, fd,
	    EV_WRITE);
	ev_init(&c->deadline, conn_deadline_cb);
	ev_init(&c->idle_timer, conn_idle_cb);
	ev_init(&c->send_timer, conn_send_timer_cb);
	c->deadline.data = c->idle_timer.data = c;
	c->send_timer.data = c;
	TAILQ_INSERT_TAIL(&server.conns, c, entry);
	server.nconns++;
	/* No memory for this one: it goes, the daemon lives. */
	if ((c->req = calloc(1, sizeof(*c->req))) == NULL ||
	    hs_init(c->req, (size_t)cfg->max_header_size) == -1) {
		log_warnx("conn %llu %s: out of memory",
		    (unsigned long long)c->id, c->peer);
		conn_close(c, "out of memory");
		return;
	}
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
	pollq_shutdown();	/* poll sessions: their waiting polls answered */
	sse_stream_shutdown();	/* event streams waiting for a reconnect */
	session_shutdown();	/* kept sessions without clients */
	for (c = TAILQ_FIRST(&server.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_OPEN)
			conn_transport_close(c, WS_CLOSE_GOING_AWAY,
			    "server shutting down");
		else if (c->state != CONN_CLOSING ||
		    (c->linger && buf_len(&c->client.out) == 0))
			conn_close(c, "server shutting down");
	}
}
