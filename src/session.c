/*
 * A session's life cycle and members, the relay between its clients and
 * its backend's descriptors (bounded, with backpressure both ways), the
 * fan-out and replay of a shared session, and the close code once the
 * backend's output ended and (for a process) the process exited.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/sockios.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "proc_env.h"
#include "pty_proto.h"
#include "record.h"
#include "session_int.h"
#include "ws.h"

static void	session_read_cb(struct ev_loop *, ev_io *, int);
static void	session_write_cb(struct ev_loop *, ev_io *, int);
static void	session_flush_cb(struct endpoint *);
static void	session_persist_cb(struct ev_loop *, ev_timer *, int);
static void	session_kick_cb(struct ev_loop *, ev_timer *, int);
static void	session_stop(struct session *);
static const struct backend_owner session_backend_owner;

static TAILQ_HEAD(, session)	sessions = TAILQ_HEAD_INITIALIZER(sessions);
static unsigned			nsessions;
static bool			shutting_down;

/* --- life cycle --------------------------------------------------------- */

struct session *
session_new(const struct session_params *sp, const struct session_peer *peer,
    struct session_member **mp)
{
	struct session	*s;

	*mp = NULL;
	if (shutting_down || nsessions >=
	    (unsigned)sp->cref->cfg->max_connections ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->peer = strdup(sp->peer);
	s->path = strdup(sp->path);
	s->key = sp->key != NULL ? strdup(sp->key) : NULL;
	s->owner = sp->owner != NULL ? strdup(sp->owner) : NULL;
	if (sp->route->share != SHARE_NO)
		s->sh = calloc(1, sizeof(*s->sh));
	if (s->peer == NULL || s->path == NULL ||
	    (sp->key != NULL && s->key == NULL) ||
	    (sp->owner != NULL && s->owner == NULL) ||
	    (sp->route->share != SHARE_NO && s->sh == NULL)) {
		free(s->peer);
		free(s->path);
		free(s->key);
		free(s->owner);
		free(s->sh);
		free(s);
		return NULL;
	}
	s->id = sp->id;
	s->route = sp->route;
	s->cref = sp->cref;
	s->cref->refs++;
	s->label = sp->label;
	s->shared = sp->route->share != SHARE_NO;
	s->refs = 1;		/* alive: dropped by session_stop */
	s->exit_status = -1;
	TAILQ_INIT(&s->members);
	if (s->shared) {
		TAILQ_INIT(&s->sh->replay);
		ev_timer_init(&s->sh->persist, session_persist_cb, 0., 0.);
		ev_timer_init(&s->sh->kick, session_kick_cb, 0., 0.);
		ev_timer_init(&s->sh->stall, session_stall_cb, 0., 0.);
		s->sh->persist.data = s->sh->kick.data = s;
		s->sh->stall.data = s;
	}
	base64_dec_init(&s->b64);
	endpoint_init(&s->relay, s, CONFIG_BUFFER_SIZE, session_flush_cb);
	backend_init(&s->be, backend_ops_for(sp->route),
	    &session_backend_owner, s);
	TAILQ_INSERT_TAIL(&sessions, s, all);
	nsessions++;
	if ((*mp = session_join(s, peer, false)) == NULL) {
		session_stop(s);
		return NULL;
	}
	registry_add(s);	/* with a key: SSE/poll input finds it */
	if (s->shared) {
		metrics_session_open(s->label, 1);
		log_info("conn %llu %s: session %s started",
		    (unsigned long long)s->id, s->peer, session_name(s));
	}
	return s;
}

struct session *
session_find(const struct route *r, const char *key)
{
	struct session	*s = registry_find(r->path, key);

	return s != NULL && !s->ended && !s->stopped ? s : NULL;
}

struct session_member *
session_join(struct session *s, const struct session_peer *peer,
    bool viewer)
{
	struct session_member	*m;

	if (s->stopped || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->s = s;
	m->peer = *peer;
	m->viewer = viewer;
	TAILQ_INSERT_TAIL(&s->members, m, entry);
	s->nmembers++;
	s->refs++;		/* the member's client: session_unref */
	if (viewer)
		s->nviewers++;
	if (s->sh != NULL && ev_is_active(&s->sh->persist)) {
		ev_timer_stop(relay_loop(), &s->sh->persist);
		log_info("conn %llu %s: session %s: a client is back",
		    (unsigned long long)s->id, s->peer, session_name(s));
	}
	if (s->shared)
		metrics_session_clients(s->label, 1, viewer ? 1 : 0);
	return m;
}

int
session_member_name(struct session_member *m, const struct route *r,
    const char *name)
{
	registry_remove_member(m);
	if ((m->name = strdup(name)) == NULL)
		return -1;
	m->name_route = r;
	registry_add_member(m);
	return 0;
}

struct session_member *
session_find_member(const struct route *r, const char *name)
{
	return registry_find_member(r->path, name);
}

struct session *
session_of(const struct session_member *m)
{
	return m->s;
}

bool
session_member_viewer(const struct session_member *m)
{
	return m->viewer;
}

const struct session_peer *
session_member_peer(const struct session_member *m)
{
	return &m->peer;
}

void
session_member_move(struct session_member *m, const struct session_peer *p)
{
	m->peer = *p;
}

uint64_t
session_output_seq(const struct session *s, bool fin)
{
	if (s->replay_seq != 0)
		return s->replay_seq;
	/* session_deliver counts a message at its last piece. */
	return fin ? s->seq : s->seq + 1;
}

bool
session_ended(const struct session *s)
{
	return s->ended || s->stopped;
}

const struct route *
session_route(const struct session *s)
{
	return s->route;
}

int
session_post(struct session_member *m, enum msg_type type, const uint8_t *p,
    size_t n)
{
	/* Counted first: input that breaks the rules may close m's client. */
	if (m->peer.ops->posted != NULL)
		m->peer.ops->posted(m->peer.arg, n);
	return session_input(m, type, p, n, true);
}

const char *
session_owner(const struct session *s)
{
	return s->owner;
}

const char *
session_key(const struct session *s)
{
	return s->key;
}

void
session_ref(struct session *s)
{
	s->refs++;
}

static void
session_free(struct session *s)
{
	struct replay_rec	*r;

	TAILQ_REMOVE(&sessions, s, all);
	nsessions--;
	while (s->sh != NULL && (r = TAILQ_FIRST(&s->sh->replay)) != NULL) {
		TAILQ_REMOVE(&s->sh->replay, r, entry);
		free(r);
	}
	free(s->sh);
	session_record_close(s);
	buf_free(&s->line);
	buf_free(&s->ctl);
	free(s->target);
	free(s->peer);
	free(s->path);
	free(s->key);
	free(s->owner);
	free(s->title);
	config_ref_put(s->cref);
	free(s);
}

void
session_unref(struct session *s)
{
	if (s != NULL && --s->refs == 0)
		session_free(s);
}

/* The backend goes (its TERM/KILL sequence), nothing is called back. */
static void
session_stop(struct session *s)
{
	if (s->stopped)
		return;
	s->stopped = true;
	if (s->sh != NULL) {
		ev_timer_stop(relay_loop(), &s->sh->persist);
		ev_timer_stop(relay_loop(), &s->sh->kick);
		ev_timer_stop(relay_loop(), &s->sh->stall);
	}
	registry_remove(s);
	if (s->shared)
		metrics_session_open(s->label, -1);
	msgmode_pty_end(s);
	endpoint_close(&s->relay);
	backend_stop(&s->be);
	session_record_close(s);
	session_unref(s);	/* may free s: the caller's last use */
}

static void
session_persist_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session	*s = w->data;

	(void)loop, (void)revents;
	log_info("conn %llu %s: session %s: no client for persist: stopped",
	    (unsigned long long)s->id, s->peer, session_name(s));
	session_stop(s);
}

/* The last member left: stop now, or keep it for persist. */
static void
session_last_left(struct session *s)
{
	if (s->shared && !s->ended && !shutting_down &&
	    s->route->persist_ms > 0) {
		ev_timer_set(&s->sh->persist, s->route->persist_ms / 1000.,
		    0.);
		ev_timer_start(relay_loop(), &s->sh->persist);
		log_info("conn %llu %s: session %s: no client, kept for "
		    "%.3gs", (unsigned long long)s->id, s->peer,
		    session_name(s), s->route->persist_ms / 1000.);
		session_update_reading(s);
		return;
	}
	session_stop(s);
}

void
session_shutdown(void)
{
	struct session	*s, *next;

	shutting_down = true;
	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, all);
		if (s->nmembers == 0)
			session_stop(s);
	}
}

void
session_use_base64(struct session *s)
{
	s->base64 = true;
}

int
session_set_target(struct session *s, const struct sockaddr *sa,
    unsigned len)
{
	if (s->target == NULL &&
	    (s->target = calloc(1, sizeof(*s->target))) == NULL)
		return -1;
	if (len > sizeof(*s->target))
		len = sizeof(*s->target);
	memcpy(s->target, sa, len);
	s->be.addr = (const struct sockaddr *)s->target;
	s->be.addrlen = len;
	return 0;
}

/* The backend's descriptors are the relay's now (see backend.h). */
static void
session_attach_relay(struct session *s)
{
	struct endpoint	*e = &s->relay;

	e->rfd = s->be.rfd;
	e->wfd = s->be.wfd;
	if (e->rfd != -1)
		endpoint_watch(e, &e->rd, session_read_cb, e->rfd, EV_READ);
	if (e->wfd != -1)
		endpoint_watch(e, &e->wr, session_write_cb, e->wfd, EV_WRITE);
}

static void
session_flush_cb(struct endpoint *e)
{
	session_write_cb(relay_loop(), &e->wr, 0);
}

int
session_start_now(struct session *s, struct session_member *m,
    unsigned short cols, unsigned short rows, char *err, size_t errsz,
    char *program, size_t programsz)
{
	struct backend_params	 bp;
	struct proc_request	 q;
	int			 rv;

	s->started = true;
	m->peer.ops->params(m->peer.arg, &bp, &q, cols, rows);
	if (program != NULL)
		snprintf(program, programsz, "%s", q.program != NULL ?
		    q.program : s->route->argv.n > 0 ? s->route->argv.v[0] :
		    "");
	if ((rv = backend_start(&s->be, &bp, err, errsz)) == 0) {
		s->is_ready = true;
		session_attach_relay(s);
		if (s->route->mode != MODE_PTY)	/* pty: once titled */
			session_record_open(s, cols, rows);
	}
	return rv;
}

int
session_start(struct session *s, char *err, size_t errsz)
{
	struct session_member	*m;
	int			 rv;

	if (backend_flags(&s->be) & BACKEND_F_LATE)
		return 0;	/* spawned at the client's init message */
	if (!s->started) {
		rv = session_start_now(s, TAILQ_LAST(&s->members,
		    member_list), 80, 24, err, errsz, NULL, 0);
		if (rv != 0)
			return rv;
	} else if (!s->is_ready)
		return 1;	/* ready or failed follows for all */
	TAILQ_FOREACH(m, &s->members, entry)
		m->ready = true;
	return 0;
}

int
session_prefix(struct session *s, const void *p, size_t n)
{
	if (s->prefixed)
		return 0;	/* the first client's, once */
	s->prefixed = true;
	if (buf_append(&s->relay.out, p, n) == -1)
		return -1;
	endpoint_flush_later(&s->relay);
	return 0;
}

void
session_open(struct session_member *m, size_t buffer_size)
{
	struct session	*s = m->s;

	s->open = true;
	m->open = true;
	s->relay.out.high = buffer_size;
	if (s->shared)
		replay_send(s, m);
	session_update_reading(s);
}

void
session_leave(struct session_member *m)
{
	struct session	*s = m->s;

	if (s->turn == m)
		session_turn_abandoned(s);
	if (s->cur == m)
		s->cur = NULL;
	if (m->dropped > 0)
		log_debug("conn %llu %s: session %s: a viewer's %llu input "
		    "messages dropped", (unsigned long long)s->id, s->peer,
		    session_name(s), (unsigned long long)m->dropped);
	if (m->skipped > 0)
		log_info("conn %llu %s: session %s: a slow client skipped "
		    "%llu bytes in all", (unsigned long long)s->id, s->peer,
		    session_name(s), (unsigned long long)m->skipped);
	if (s->shared)
		metrics_session_clients(s->label, -1, m->viewer ? -1 : 0);
	if (m->viewer)
		s->nviewers--;
	TAILQ_REMOVE(&s->members, m, entry);
	s->nmembers--;
	registry_remove_member(m);
	free(m);
	if (s->stopped)
		return;
	if (s->nmembers == 0)
		session_last_left(s);
	else
		session_update_reading(s);
}

/* --- client -> backend --------------------------------------------------- */

/*
 * A viewer's input is dropped (counted); a terminal viewer's init
 * message is how it joins (title, then output), its resize is ignored.
 */
static int
session_viewer_input(struct session_member *m, const uint8_t *p, size_t n,
    bool fin)
{
	struct session	*s = m->s;

	if (!m->in_msg && n > 0) {
		if (s->route->mode == MODE_PTY && p[0] == PTY_IN_INIT)
			msgmode_pty_join(s, m);
		else
			m->dropped++;
	}
	m->in_msg = !fin;
	return 0;
}

/* The writer inside a message left: its message ends here. */
void
session_turn_abandoned(struct session *s)
{
	s->turn = NULL;
	s->pty_cmd = 0;
	buf_free(&s->ctl);
	base64_dec_init(&s->b64);
	/* A text route's partial line is ended, not joined to the next. */
	if (s->route->mode == MODE_TEXT && !s->stopped)
		session_sink(s, (const uint8_t *)"", 0, true);
	if (s->sh != NULL)
		ev_feed_event(relay_loop(), &s->sh->kick, EV_TIMER);
}

static void
session_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session	*s = w->data;

	(void)loop, (void)revents;
	if (!s->stopped && s->turn == NULL)
		session_input_moved(s, true);
}

int
session_input(struct session_member *m, enum msg_type type,
    const uint8_t *p, size_t n, bool fin)
{
	struct session	*s = m->s;
	int		 rv;

	if (s->stopped)
		return -1;
	if (m->viewer)
		return session_viewer_input(m, p, n, fin);
	if (s->turn != NULL && s->turn != m)
		return 0;	/* not asked for: its room was 0 */
	s->cur = m;
	s->in_type = (uint8_t)type;
	/* A terminal's keys are recorded where they go in (msgmode_pty). */
	if (s->cast != NULL && s->route->mode != MODE_PTY)
		session_record_in(s, type, p, n);
	if (backend_flags(&s->be) & BACKEND_F_MESSAGES)
		rv = backend_input(&s->be, (int)type, p, n, fin);
	else
		rv = msgmode_input(s, type, p, n, fin);
	s->cur = NULL;
	/* Whole messages: the others wait for this one's end. */
	if (s->shared && !s->stopped) {
		if (!fin)
			s->turn = m;
		else if (s->turn == m) {
			s->turn = NULL;
			ev_feed_event(relay_loop(), &s->sh->kick, EV_TIMER);
		}
	}
	return rv;
}

size_t
session_input_room(struct session_member *m)
{
	struct session	*s = m->s;

	if (m->viewer)
		return SIZE_MAX;	/* dropped */
	if (s->turn != NULL && s->turn != m)
		return 0;
	if (backend_flags(&s->be) & BACKEND_F_MESSAGES)
		return backend_room(&s->be);
	return buf_room(&s->relay.out);
}

bool
session_input_pending(const struct session_member *m)
{
	const struct session	*s = m->s;

	if (s->shared)
		return false;	/* the others' input is not this one's */
	return s->relay.wfd != -1 && buf_len(&s->relay.out) > 0;
}

/*
 * Writing to the backend failed: the client's bytes still queued are
 * lost. A socket that refused them (reset, closed) failed; a process's
 * stdin counts when its pipe broke (EPIPE: nothing reads it any more).
 * Both close 1011 with the first error seen (session_finish).
 */
static void
session_write_failed(struct session *s, int err)
{
	log_info("conn %llu %s: backend write: %s",
	    (unsigned long long)s->id, s->peer, strerror(err));
	if (s->backend_error == 0 && (!backend_has_process(&s->be) ||
	    err == EPIPE))
		s->backend_error = err;
	buf_free(&s->relay.out);
	watcher_set(&s->relay.wr, false);
	s->relay.wr_shut = true;
}

/* Bytes for the backend: without a copy when large, else queued. */
int
session_sink(struct session *s, const uint8_t *p, size_t n, bool end)
{
	struct endpoint	*b = &s->relay;
	struct iovec	 iov[2] = { { (void *)(uintptr_t)p, n }, { "\n", 1 } };
	enum relay_write res;
	size_t		 sent;
	/*
	 * A line per text message; in binary mode too for a process, as
	 * websocketd 0.4.1 does (sockets get bytes verbatim, websockify).
	 */
	int		 iovcnt = end && (s->route->mode == MODE_TEXT ||
	    (s->route->mode == MODE_BINARY && s->in_type == MSG_TEXT &&
	    backend_has_process(&s->be))) ? 2 : 1;

	if (b->wfd == -1 || b->wr_shut)
		return 0;	/* the backend stopped reading: drop */
	if (record_enabled())
		record_data(s->id, "in", iov, iovcnt);
	if (endpoint_write_through(b, iov, iovcnt, &res, &sent) == -1) {
		session_abort(s, "out of memory");
		return -1;
	}
	/*
	 * A socket reports a reset once (ECONNRESET), later calls say EPIPE
	 * or EOF: the backend's error is recorded here, where it was seen.
	 */
	if (res == RELAY_FAILED)
		session_write_failed(s, errno);
	else if (res == RELAY_BLOCKED)
		watcher_set(&b->wr, true);
	return 0;
}

/* No more client input: the backend sees EOF once all is written. */
static void
session_shut_input(struct session *s)
{
	struct endpoint	*b = &s->relay;

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

/* Shared: one client's end is not the backend's; its message ends. */
void
session_input_end(struct session_member *m)
{
	struct session	*s = m->s;

	if (s->shared) {
		if (s->turn == m)
			session_turn_abandoned(s);
		return;
	}
	s->input_ended = true;
	session_shut_input(s);
}

void
session_input_abort(struct session_member *m)
{
	struct session	*s = m->s;

	if (s->shared) {
		if (s->turn == m)
			session_turn_abandoned(s);
		return;
	}
	s->input_ended = true;
	buf_free(&s->relay.out);
	session_shut_input(s);
}

/* One write of the queued input; false when it would block. */
static bool
session_flush(struct session *s, bool *moved)
{
	struct buf	*b = &s->relay.out;
	ssize_t		 n;

	*moved = false;
	if (buf_len(b) == 0 || s->relay.wfd == -1 || s->relay.wr_shut)
		return true;
	n = write(s->relay.wfd, buf_head(b), buf_len(b));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n == -1)
		session_write_failed(s, errno);
	else {
		buf_consume(b, (size_t)n);
		*moved = n > 0;
	}
	return true;
}

/* Fires when the backend (stdin, socket) can take more input. */
static void
session_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session	*s = w->data;
	struct buf	*b = &s->relay.out;
	bool		 moved;

	(void)loop, (void)revents;
	if (s->stopped)
		return;
	if (!session_flush(s, &moved)) {
		watcher_set(&s->relay.wr, true);
		return;
	}
	if (buf_len(b) == 0) {
		watcher_set(&s->relay.wr, false);
		if (s->input_ended)
			session_shut_input(s);
	}
	if (moved || buf_low(b))
		session_input_moved(s, buf_low(b));
	if (!s->stopped && buf_len(b) > 0 && s->relay.wfd != -1)
		watcher_set(&s->relay.wr, true);
}

/* --- backend -> client ---------------------------------------------------- */

void
session_update_reading(struct session *s)
{
	bool	 on;

	on = s->open && !s->stopped && !s->backend_eof &&
	    s->relay.rfd != -1 && session_output_room(s) > 0 &&
	    !s->output_paused;
	watcher_set(&s->relay.rd, on);
	/*
	 * A pty whose leader exited: read what is left until the master
	 * runs dry, not until every background job lets go of the slave.
	 */
	if (on && s->proc_exited && s->route->mode == MODE_PTY)
		ev_feed_event(relay_loop(), &s->relay.rd, EV_READ);
}

void
session_output_resume(struct session_member *m)
{
	session_update_reading(m->s);
}

/* The backend ended or failed: every member hears it, nobody joins. */
void
session_end(struct session *s, unsigned code, const char *reason)
{
	struct session_member	*m, *next;

	s->ended = true;
	registry_remove(s);
	if (s->nmembers == 0) {
		session_stop(s);	/* persisting: may free s */
		return;
	}
	FOREACH_MEMBER(m, s, next)
		m->peer.ops->ended(m->peer.arg, code, reason);
}

/* Output EOF and (for processes) exit both seen: say goodbye. */
static void
session_finish(struct session *s)
{
	char		 reason[WS_MAX_CONTROL_PAYLOAD] = "";
	unsigned	 code = WS_CLOSE_NORMAL;
	int		 st = s->exit_status;
	bool		 proc = backend_has_process(&s->be), moved;

	if (!s->backend_eof || (proc && !s->proc_exited) || s->stopped ||
	    s->ended)
		return;
	/* What is still queued for stdin: can it be written (EPIPE)? */
	if (proc)
		session_flush(s, &moved);
	if (s->backend_error != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "backend: %s",
		    strerror(s->backend_error));
	} else if (s->backend_unsent) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "backend: closed with data "
		    "undelivered");
		/* Said lost: a peer that stopped reading never takes it. */
		buf_free(&s->relay.out);
		watcher_set(&s->relay.wr, false);
	} else if (proc && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "exit %d", WEXITSTATUS(st));
	} else if (proc && WIFSIGNALED(st)) {
		code = WS_CLOSE_INTERNAL;
		snprintf(reason, sizeof(reason), "signal %d", WTERMSIG(st));
	}
	session_end(s, code, reason);
}

/*
 * Socket EOF: the client's bytes count as delivered once none wait in
 * the relay or unacknowledged in the kernel (SIOCOUTQ; on a unix
 * socket, unread by the peer). A reset that came after the FIN, or
 * whose error no call has taken yet, is still in SO_ERROR.
 */
static void
session_check_delivery(struct session *s)
{
	struct endpoint	*b = &s->relay;
	socklen_t	 len = sizeof(int);
	int		 err = 0, queued = 0;

	if (backend_has_process(&s->be) || s->backend_error != 0 ||
	    b->wfd == -1)
		return;
	if (getsockopt(b->wfd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0) {
		s->backend_error = err;
		return;
	}
	/* Our side shut down: the client closed, the code is decided. */
	if (b->wr_shut)
		return;
	if (ioctl(b->wfd, SIOCOUTQ, &queued) == -1 || queued < 0)
		queued = 0;
	s->backend_unsent = buf_len(&b->out) > 0 || queued > 0;
}

static void
session_backend_eof(struct session *s)
{
	session_check_delivery(s);
	s->backend_eof = true;
	watcher_set(&s->relay.rd, false);
	msgmode_output_end(s);
	if (s->stopped)
		return;
	if (!s->proc_exited)
		backend_terminate(&s->be);
	session_finish(s);
}

/* Fires when the backend (stdout, socket, pty) has bytes for the client. */
static void
session_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session	*s = w->data;
	size_t		 room = session_output_room(s), chunk;
	struct iovec	 iov;
	ssize_t		 n;
	int		 rv;

	(void)loop, (void)revents;
	chunk = backend_has_process(&s->be) ? SESSION_READ_CHUNK :
	    relay_chunk(s->route->limits.buffer_size);
	if (room > chunk)
		room = chunk;
	if (room == 0) {
		session_update_reading(s);
		return;
	}
	n = read(s->relay.rfd, relay_scratch, room);
	/*
	 * After the pty's leader exited, a dry master is its EOF (a read
	 * first waits for the kernel to hand over what was written).
	 */
	if (n == -1 && errno == EAGAIN && s->proc_exited &&
	    s->route->mode == MODE_PTY) {
		session_backend_eof(s);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EIO is how a pty reports that its last writer closed. */
		if (n == -1 && errno != EIO) {
			log_info("conn %llu %s: backend read: %s",
			    (unsigned long long)s->id, s->peer,
			    strerror(errno));
			if (!backend_has_process(&s->be) &&
			    s->backend_error == 0)
				s->backend_error = errno;
		}
		session_backend_eof(s);
		return;
	}
	session_activity(s);
	if (record_enabled()) {
		iov.iov_base = relay_scratch;
		iov.iov_len = (size_t)n;
		record_data(s->id, "out", &iov, 1);
	}
	session_fanout_begin(s);
	rv = msgmode_output(s, relay_scratch, (size_t)n);
	session_fanout_end(s);
	if (rv == 0)
		session_update_reading(s);
}

/* --- the backend's callbacks ------------------------------------------ */

static void
session_be_ready(void *arg)
{
	struct session		*s = arg;
	struct session_member	*m, *next;

	s->is_ready = true;
	session_attach_relay(s);
	session_record_open(s, 0, 0);
	FOREACH_MEMBER(m, s, next)
		if (!m->ready) {
			m->ready = true;
			m->peer.ops->ready(m->peer.arg);
		}
}

static void
session_be_failed(void *arg, const char *why)
{
	struct session		*s = arg;
	struct session_member	*m, *next;

	s->ended = true;
	registry_remove(s);
	FOREACH_MEMBER(m, s, next)
		m->peer.ops->failed(m->peer.arg, why);
}

static void
session_be_exited(void *arg, int status)
{
	struct session	*s = arg;

	if (s->stopped)
		return;
	s->proc_exited = true;
	s->exit_status = status;
	if (s->route->mode == MODE_PTY && !s->backend_eof)
		session_update_reading(s);	/* drain, then EOF */
	session_finish(s);
}

/* A message backend's output (echo): a piece of a message. */
static int
session_be_output(void *arg, int type, const void *p, size_t n, bool fin)
{
	struct session	*s = arg;
	struct iovec	 iov = { (void *)(uintptr_t)p, n };

	return session_deliver(s, (enum msg_type)type, &iov, 1, fin);
}

static size_t
session_be_room(void *arg)
{
	return session_output_room(arg);
}

static const struct backend_owner session_backend_owner = {
	.ready = session_be_ready,
	.failed = session_be_failed,
	.exited = session_be_exited,
	.output = session_be_output,
	.room = session_be_room,
};

/* --- for the client's logs ------------------------------------------- */

bool
session_messages_only(const struct session *s)
{
	return (backend_flags(&s->be) & BACKEND_F_MESSAGES) != 0;
}

bool
session_starts_late(const struct session *s)
{
	return (backend_flags(&s->be) & BACKEND_F_LATE) != 0;
}

bool
session_spawns(const struct session *s)
{
	return (backend_flags(&s->be) & BACKEND_F_PROCESS) != 0;
}

bool
session_is_socket(const struct session *s)
{
	return (backend_flags(&s->be) & BACKEND_F_SOCKET) != 0;
}

void
session_backend_name(const struct session *s, char *buf, size_t len)
{
	backend_name(&s->be, buf, len);
}

bool
session_exit_pending(const struct session *s)
{
	return backend_has_process(&s->be) && !s->proc_exited;
}

int
session_exit_status(const struct session *s)
{
	return s->exit_status;
}

void
session_log_at_exit(struct session *s, const char *head, const char *tail,
    bool json)
{
	backend_log_at_exit(&s->be, head, tail, json);
}
