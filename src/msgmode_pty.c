/*
 * Terminal sessions: ttyd's protocol on top of the relay (init starts
 * the program at the client's size, resize, pause and resume, input).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pty_proto.h"
#include "session_int.h"
#include "ws.h"

/* A message to one member: the command byte, then the payload. */
static void
msgmode_pty_output_to(struct session_member *m, uint8_t cmd, const void *p,
    size_t n)
{
	struct iovec	 iov[2] = { { &cmd, 1 }, { (void *)(uintptr_t)p, n } };

	session_deliver_to(m, MSG_BINARY, iov, 2);
}

/*
 * A member's init, once the program runs: it is told so, then the title
 * and prefs (its screen comes from the replay and the live output).
 */
void
msgmode_pty_join(struct session *s, struct session_member *m)
{
	m->pty_init = true;
	if (!backend_has_process(&s->be) || m->ready)
		return;	/* told when the program starts */
	m->ready = true;
	m->peer.ops->ready(m->peer.arg);
	if (s->title != NULL)
		msgmode_pty_output_to(m, PTY_OUT_TITLE, s->title,
		    strlen(s->title));
	msgmode_pty_output_to(m, PTY_OUT_PREFS, "{}", 2);
}

/* The program runs: members that sent their init are told. */
static void
msgmode_pty_started(struct session *s)
{
	struct session_member	*m, *next;

	for (m = TAILQ_FIRST(&s->members); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->pty_init)
			msgmode_pty_join(s, m);
	}
}

/*
 * The init message: spawn now, at the client's size. A writer joining
 * a shared terminal that runs sets its size (the latest writer's).
 */
static int
msgmode_pty_init(struct session *s, const char *json, size_t n)
{
	struct session_member	*m = s->cur;
	struct pty_size		 sz;
	char			 token[256], err[256], title[300];
	char			 host[128], program[160];
	const char		*why;

	if (m->pty_init)
		return 0;	/* a second init changes nothing */
	if (pty_parse_init(json, n, &sz, token, sizeof(token), &why) == -1) {
		session_fail(s, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	if (backend_has_process(&s->be)) {
		if (s->relay.rfd != -1 && backend_resize(&s->be, sz.cols,
		    sz.rows) == -1)
			log_warn("conn %llu: TIOCSWINSZ",
			    (unsigned long long)s->id);
		msgmode_pty_join(s, m);
		return 0;
	}
	m->pty_init = true;
	if (session_start_now(s, m, sz.cols, sz.rows, err, sizeof(err),
	    program, sizeof(program)) != 0) {
		log_warnx("conn %llu %s %s: backend: %s",
		    (unsigned long long)s->id, s->peer, s->path, err);
		metrics_spawn_failed(s->label);
		session_end(s, WS_CLOSE_INTERNAL, "spawn failed");
		return -1;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	snprintf(title, sizeof(title), "%s (%s)", program, host);
	free(s->title);
	s->title = strdup(title);	/* NULL: joiners get no title */
	msgmode_pty_started(s);
	session_update_reading(s);
	return 0;
}

static int
msgmode_pty_resize(struct session *s, const char *json, size_t n)
{
	struct pty_size	 sz;
	const char	*why;

	if (pty_parse_resize(json, n, &sz, &why) == -1) {
		session_fail(s, WS_CLOSE_BAD_DATA, why);
		return -1;
	}
	if (s->relay.rfd != -1 && backend_resize(&s->be, sz.cols,
	    sz.rows) == -1)
		log_warn("conn %llu: TIOCSWINSZ", (unsigned long long)s->id);
	return 0;
}

/* A complete JSON or flow-control message. */
static int
msgmode_pty_command(struct session *s, uint8_t cmd, const char *p, size_t n)
{
	switch (cmd) {
	case PTY_IN_INIT:
		return msgmode_pty_init(s, p, n);
	case PTY_IN_RESIZE:
		return msgmode_pty_resize(s, p, n);
	case PTY_IN_PAUSE:
	case PTY_IN_RESUME:
		if (s->shared)
			return 0;	/* slow_client decides, not one client */
		s->output_paused = cmd == PTY_IN_PAUSE;
		session_update_reading(s);
		return 0;
	default:
		/* The first is logged, the rest counted: no log flood. */
		if (s->pty_unknown++ == 0)
			log_info("conn %llu %s: unknown terminal command "
			    "0x%02x ignored", (unsigned long long)s->id,
			    s->peer, cmd);
		return 0;
	}
}

/* A message to the client: ttyd's command byte, then the payload. */
int
msgmode_pty_output(struct session *s, uint8_t cmd, const void *p, size_t n)
{
	struct iovec	 iov[2] = { { &cmd, 1 }, { (void *)(uintptr_t)p, n } };

	return session_deliver(s, MSG_BINARY, iov, 2, true);
}

/* Client payload on a pty route: input streams, JSON is collected. */
int
msgmode_pty_input(struct session *s, const uint8_t *p, size_t n, bool fin)
{
	int	 rv = 0;

	if (s->pty_cmd == 0 && n > 0) {
		s->pty_cmd = p[0];
		/* The init message is JSON: its '{' is part of it. */
		if (s->pty_cmd != PTY_IN_INIT)
			p++, n--;
	}
	if (s->pty_cmd == PTY_IN_INPUT) {
		if (!s->route->readonly && backend_has_process(&s->be))
			rv = session_sink(s, p, n, false);
	} else if (s->pty_cmd != 0) {
		if (buf_len(&s->ctl) + n > PTY_MAX_CONTROL) {
			session_fail(s, WS_CLOSE_TOO_BIG, "terminal control "
			    "message too long");
			return -1;
		}
		if (buf_append(&s->ctl, p, n) == -1) {
			session_abort(s, "out of memory");
			return -1;
		}
		if (fin)
			rv = msgmode_pty_command(s, s->pty_cmd,
			    (const char *)buf_head(&s->ctl), buf_len(&s->ctl));
	}
	if (fin) {
		s->pty_cmd = 0;
		buf_free(&s->ctl);
	}
	return rv;
}

/* The session ends: the count of unknown commands not logged. */
void
msgmode_pty_end(struct session *s)
{
	if (s->pty_unknown > 1)
		log_info("conn %llu %s: %llu more unknown terminal commands "
		    "ignored", (unsigned long long)s->id, s->peer,
		    (unsigned long long)(s->pty_unknown - 1));
}
