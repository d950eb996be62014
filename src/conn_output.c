/*
 * Backend to client: process output as text lines or binary messages,
 * and the Close that follows the backend's EOF and exit.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <errno.h>
#include <stdlib.h>
#include "backend.h"
#include "cgi.h"
#include "log.h"
#include "pty_proto.h"
#include "record.h"
#include "conn_int.h"

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
		return conn_deliver(c, MSG_TEXT, p, n, true);
	if ((clean = malloc(3 * n)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	m = ws_utf8_sanitize(clean, p, n);
	rv = conn_deliver(c, MSG_TEXT, clean, m, true);
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

/* websockify's base64 protocol: one text message of base64 per read. */
static int
conn_send_base64(struct conn *c, const uint8_t *p, size_t n)
{
	char	*text;
	size_t	 len;
	int	 rv;

	if ((text = malloc(BASE64_ENCODED_SIZE(n))) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	len = base64_encode(text, p, n);
	rv = conn_deliver(c, MSG_TEXT, text, len, true);
	free(text);
	return rv;
}

static int
conn_output(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->route->mode == MODE_TEXT)
		return conn_output_text(c, p, n);
	c->stats.msgs_out++;
	c->stats.bytes_out += n;
	if (c->route->mode == MODE_PTY)
		return conn_pty_output(c, PTY_OUT_OUTPUT, p, n);
	if (c->base64)
		return conn_send_base64(c, p, n);
	return conn_deliver(c, MSG_BINARY, p, n, true);
}

/* Output EOF and (for processes) exit both seen: say goodbye. */
static void
conn_backend_finish(struct conn *c)
{
	char		 reason[WS_MAX_CONTROL_PAYLOAD] = "";
	unsigned	 code = WS_CLOSE_NORMAL;
	int		 st = c->exit_status;
	bool		 proc = backend_has_process(&c->be);

	if (!c->backend_eof || (proc && !c->proc_exited))
		return;
	/* What is still queued for stdin: can it be written (EPIPE)? */
	if (proc)
		conn_backend_flush(c);
	if (c->backend_error != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "backend: %s",
		    strerror(c->backend_error));
	} else if (c->backend_unsent) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "backend: closed with data "
		    "undelivered");
		/* Said lost: a peer that stopped reading never takes it. */
		buf_free(&c->backend.out);
		watcher_set(&c->backend.wr, false);
	} else if (proc && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "exit %d", WEXITSTATUS(st));
	} else if (proc && WIFSIGNALED(st)) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "signal %d", WTERMSIG(st));
	}
	if (c->client.eof) {
		conn_close(c, "client gone");
		return;
	}
	conn_transport_close(c, code, reason);
	conn_maybe_finish(c);
}

/*
 * Socket EOF: the client's bytes count as delivered once none wait in
 * backend.out or unacknowledged in the kernel (SIOCOUTQ; on a unix
 * socket, unread by the peer). A reset that came after the FIN, or
 * whose error no call has taken yet, is still in SO_ERROR.
 */
static void
conn_backend_check_delivery(struct conn *c)
{
	struct endpoint	*b = &c->backend;
	socklen_t	 len = sizeof(int);
	int		 err = 0, queued = 0;

	if (backend_has_process(&c->be) || c->backend_error != 0 ||
	    b->wfd == -1)
		return;
	if (getsockopt(b->wfd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0) {
		c->backend_error = err;
		return;
	}
	/* Our side shut down: the client closed, the code is decided. */
	if (b->wr_shut)
		return;
	if (ioctl(b->wfd, SIOCOUTQ, &queued) == -1 || queued < 0)
		queued = 0;
	c->backend_unsent = buf_len(&b->out) > 0 || queued > 0;
}

static void
conn_backend_eof(struct conn *c)
{
	conn_backend_check_delivery(c);
	c->backend_eof = true;
	watcher_set(&c->backend.rd, false);
	if (buf_len(&c->line) > 0 && !c->close_sent) {
		conn_send_line(c, buf_head(&c->line), buf_len(&c->line));
		buf_free(&c->line);
	}
	if (c->state == CONN_CLOSED)
		return;
	if (!c->proc_exited)
		backend_terminate(&c->be);
	conn_backend_finish(c);
}

void
conn_proc_exited(struct conn *c, int status)
{
	if (c->cgi != NULL) {
		cgi_exited(c, status);
		return;
	}
	c->proc_exited = true;
	c->exit_status = status;
	if (c->route->mode == MODE_PTY && !c->backend_eof)
		conn_update_backend_reading(c);	/* drain, then EOF */
	conn_backend_finish(c);
}

/*
 * A message backend's output (echo): a piece of a message of this type,
 * as a frame; the pieces after the first are continuations.
 */
int
conn_backend_output(void *arg, int type, const void *p, size_t n, bool fin)
{
	struct conn	*c = arg;

	if (fin)
		c->stats.msgs_out++;
	c->stats.bytes_out += n;
	return conn_deliver(c, (enum msg_type)type, p, n, fin);
}

/* How much output the client's buffer takes now. */
size_t
conn_backend_output_room(void *arg)
{
	struct conn	*c = arg;

	return buf_room(&c->client.out);
}

/* Fires when the backend (stdout, socket, pty) has bytes for the client. */
void
conn_backend_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	size_t		 room = buf_room(&c->client.out), chunk;
	struct iovec	 iov;
	ssize_t		 n;

	(void)loop, (void)revents;
	/* A process's read is one message of at most 64 KiB (websocketd). */
	chunk = backend_has_process(&c->be) ? CONN_READ_CHUNK :
	    conn_socket_chunk(c);
	if (room > chunk)
		room = chunk;
	if (room == 0) {
		conn_update_backend_reading(c);
		return;
	}
	n = read(c->backend.rfd, conn_scratch, room);
	/*
	 * After the pty's leader exited, a dry master is its EOF (a read
	 * first waits for the kernel to hand over what was written).
	 */
	if (n == -1 && errno == EAGAIN && c->proc_exited &&
	    c->route->mode == MODE_PTY) {
		conn_backend_eof(c);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EIO is how a pty reports that its last writer closed. */
		if (n == -1 && errno != EIO) {
			log_info("conn %llu %s: backend read: %s",
			    (unsigned long long)c->id, c->peer,
			    strerror(errno));
			if (!backend_has_process(&c->be) &&
			    c->backend_error == 0)
				c->backend_error = errno;
		}
		conn_backend_eof(c);
		return;
	}
	c->last_activity = ev_now(server.loop);
	if (record_enabled()) {
		iov.iov_base = conn_scratch;
		iov.iov_len = (size_t)n;
		record_data(c->id, "out", &iov, 1);
	}
	if (conn_output(c, conn_scratch, (size_t)n) == 0)
		conn_update_backend_reading(c);
}
