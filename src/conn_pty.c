/*
 * Terminal routes: ttyd's protocol on top of the relay (init spawns the
 * program at the client's size, resize, pause and resume, input).
 */
#include "backend.h"
#include "log.h"
#include "metrics.h"
#include "pty_proto.h"
#include "conn_int.h"

/* --- terminals (ttyd's protocol) ------------------------------------ */

/* The init message: spawn now, at the client's size; title and prefs. */
static int
conn_pty_init(struct conn *c, const char *json, size_t n)
{
	struct pty_size	 sz;
	char		 token[256], err[256], title[300], host[128];
	const char	*why;

	struct backend_params	 bp;
	struct proc_request	 q;

	if (backend_has_process(&c->be))
		return 0;	/* a second init changes nothing */
	if (pty_parse_init(json, n, &sz, token, sizeof(token), &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	conn_backend_params(c, &bp, &q, sz.cols, sz.rows);
	if (backend_start(&c->be, &bp, err, sizeof(err)) == -1) {
		log_warnx("conn %llu %s %s: backend: %s",
		    (unsigned long long)c->id, c->peer, c->path, err);
		metrics_spawn_failed(conn_route_name(c));
		conn_transport_close(c, WS_CLOSE_INTERNAL, "spawn failed");
		return -1;
	}
	conn_free_request(c);
	conn_backend_attach(c);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	snprintf(title, sizeof(title), "%s (%s)", c->program ? c->program :
	    c->route->argv.v[0], host);
	conn_pty_output(c, PTY_OUT_TITLE, title, strlen(title));
	conn_pty_output(c, PTY_OUT_PREFS, "{}", 2);
	conn_update_backend_reading(c);
	return 0;
}

static int
conn_pty_resize(struct conn *c, const char *json, size_t n)
{
	struct pty_size	 sz;
	const char	*why;

	if (pty_parse_resize(json, n, &sz, &why) == -1) {
		conn_fail(c, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	if (c->backend.rfd != -1 && backend_resize(&c->be, sz.cols,
	    sz.rows) == -1)
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
		/* The first is logged, the rest counted: no log flood. */
		if (c->pty_unknown++ == 0)
			log_info("conn %llu %s: unknown terminal command "
			    "0x%02x ignored", (unsigned long long)c->id,
			    c->peer, cmd);
		return 0;
	}
}

/* A message to the client: ttyd's command byte, then the payload. */
int
conn_pty_output(struct conn *c, uint8_t cmd, const void *p, size_t n)
{
	struct iovec	 iov[2] = { { &cmd, 1 }, { (void *)(uintptr_t)p, n } };

	return conn_deliverv(c, MSG_BINARY, iov, 2, true);
}

/* Client payload on a pty route: input streams, JSON is collected. */
int
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
		if (!c->route->readonly && backend_has_process(&c->be))
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

/* The connection ends: the count of unknown commands not logged. */
void
conn_pty_closed(struct conn *c)
{
	if (c->pty_unknown > 1)
		log_info("conn %llu %s: %llu more unknown terminal commands "
		    "ignored", (unsigned long long)c->id, c->peer,
		    (unsigned long long)(c->pty_unknown - 1));
}
