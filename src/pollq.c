/*
 * A long-polling session's client: output queued (bounded by the route's
 * buffer_size, so the backend waits while a poller is away), handed out
 * as JSON to polls, dropped once a poll acknowledges it; the session ends
 * when no poll came for session_timeout (its backend through the grace
 * sequence, the process group gone).
 */
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "pollq.h"
#include "relay.h"
#include "session.h"
#include "transport.h"
#include "ws.h"

struct pollq_msg {
	TAILQ_ENTRY(pollq_msg)	 entry;
	uint64_t		 seq;
	uint8_t			 type;		/* enum msg_type */
	size_t			 len;
	uint8_t			 data[];
};

struct pollq {
	struct session		*s;
	struct session_member	*m;		/* NULL once it left */
	struct route		*route;		/* counts in route->active */
	uint64_t		 log_id;
	char			*peer;
	char			 id[TRANSPORT_ID_HEX + 1];
	TAILQ_HEAD(, pollq_msg)	 msgs;		/* not yet acknowledged */
	size_t			 queued;	/* their bytes */
	struct buf		 partial;	/* a message in pieces */
	uint64_t		 seq;		/* messages so far */
	uint64_t		 msgs_in, msgs_out;
	bool			 closed;
	unsigned		 code;
	char			 reason[WS_MAX_CONTROL_PAYLOAD];
	void			*waiter;	/* a poll waiting, or NULL */
	pollq_answer_fn		*answer;
	ev_timer		 wait;		/* poll_timeout */
	ev_timer		 expire;	/* session_timeout */
	ev_timer		 wake;		/* fed: answer the waiter */
	ev_timer		 leave;		/* fed: leave the session */
	LIST_ENTRY(pollq)	 all;
};

static LIST_HEAD(, pollq)	pollqs = LIST_HEAD_INITIALIZER(pollqs);
static const struct session_peer_ops pollq_peer_ops;

static struct pollq *
pq_of(void *arg)
{
	return arg;
}

/* A JSON string's body: quotes, backslashes and controls escaped. */
static void
pollq_json_text(FILE *f, const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] < 0x20)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
}

static void
pollq_json_msg(FILE *f, const struct pollq_msg *pm, bool first)
{
	char	*b64;
	bool	 text = pm->type == MSG_TEXT && ws_utf8_valid(pm->data,
		    pm->len);

	fprintf(f, "%s{\"seq\":%llu,\"type\":\"%s\",\"data\":\"",
	    first ? "" : ",", (unsigned long long)pm->seq,
	    text ? "text" : "binary");
	if (text)
		pollq_json_text(f, pm->data, pm->len);
	else if ((b64 = malloc(BASE64_ENCODED_SIZE(pm->len))) != NULL) {
		base64_encode(b64, pm->data, pm->len);
		fputs(b64, f);
		free(b64);
	} else
		fputc('\0', f);	/* makes the stream fail: out of memory */
	fputs("\"}", f);
}

/* The waiting poll gets what is queued (none: empty) and the close. */
static void
pollq_answer(struct pollq *q, bool empty)
{
	struct pollq_msg	*pm;
	void			*w = q->waiter;
	char			*json = NULL;
	size_t			 len = 0;
	unsigned		 n = 0;
	FILE			*f;

	if (w == NULL)
		return;
	q->waiter = NULL;
	ev_timer_stop(relay_loop(), &q->wait);
	ev_timer_again(relay_loop(), &q->expire);
	if ((f = open_memstream(&json, &len)) == NULL) {
		q->answer(w, NULL, 0, 0);
		return;
	}
	fputs("{\"messages\":[", f);
	if (!empty)
		TAILQ_FOREACH(pm, &q->msgs, entry)
			pollq_json_msg(f, pm, n++ == 0);
	fputs("],\"closed\":", f);
	if (q->closed && (empty ? TAILQ_EMPTY(&q->msgs) : true)) {
		fprintf(f, "{\"code\":%u,\"reason\":\"", q->code);
		pollq_json_text(f, (const uint8_t *)q->reason,
		    strlen(q->reason));
		fputs("\"}}", f);
	} else
		fputs("null}", f);
	if (fclose(f) != 0 || memchr(json, '\0', len) != NULL) {
		free(json);
		q->answer(w, NULL, 0, 0);
		return;
	}
	q->msgs_out += n;
	q->answer(w, json, len, n);
	free(json);
}

/* Fed when output or the close came for a waiting poll. */
static void
pollq_wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pollq	*q = w->data;

	(void)loop, (void)revents;
	if (!TAILQ_EMPTY(&q->msgs) || q->closed)
		pollq_answer(q, false);
}

/* Fires poll_timeout after a poll began waiting: nothing came. */
static void
pollq_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	pollq_answer(w->data, false);
}

/* The session goes on without this client (its backend may stop). */
static void
pollq_leave(struct pollq *q)
{
	struct session_member	*m = q->m;

	if (m == NULL)
		return;
	q->m = NULL;
	session_leave(m);
}

static void	pollq_free(struct pollq *);

/*
 * Fed after a fail or abort, to run outside the session's callback: a
 * waiting poll hears the close, the session goes on without this client
 * (alone, its backend stops) and the id is forgotten (later polls: 404).
 */
static void
pollq_leave_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pollq	*q = w->data;

	(void)loop, (void)revents;
	pollq_answer(q, false);
	pollq_free(q);
}

static void
pollq_free(struct pollq *q)
{
	struct pollq_msg	*pm;
	struct ev_loop		*loop = relay_loop();

	pollq_leave(q);
	ev_timer_stop(loop, &q->wait);
	ev_timer_stop(loop, &q->expire);
	ev_clear_pending(loop, &q->wake);
	ev_clear_pending(loop, &q->leave);
	ev_clear_pending(loop, &q->wait);
	ev_clear_pending(loop, &q->expire);
	while ((pm = TAILQ_FIRST(&q->msgs)) != NULL) {
		TAILQ_REMOVE(&q->msgs, pm, entry);
		free(pm);
	}
	buf_free(&q->partial);
	LIST_REMOVE(q, all);
	q->route->active--;
	session_unref(q->s);
	explicit_bzero(q->id, sizeof(q->id));
	free(q->peer);
	free(q);
}

/* Fires when no poll came for session_timeout: the session ends. */
static void
pollq_expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pollq	*q = w->data;

	(void)loop, (void)revents;
	log_info("conn %llu %s: poll session %.8s...: no poll for "
	    "session_timeout: ended (in=%llu out=%llu messages)",
	    (unsigned long long)q->log_id, q->peer, q->id,
	    (unsigned long long)q->msgs_in, (unsigned long long)q->msgs_out);
	pollq_free(q);
}

/* The session ends for this client with code and reason. */
static void
pollq_close(struct pollq *q, unsigned code, const char *reason)
{
	if (q->closed)
		return;
	q->closed = true;
	q->code = code;
	snprintf(q->reason, sizeof(q->reason), "%s", reason);
	buf_free(&q->partial);	/* a message cut short is not passed on */
	if (q->waiter != NULL)
		ev_feed_event(relay_loop(), &q->wake, EV_TIMER);
}

/* --- what the session calls ------------------------------------------- */

static int
pollq_deliver(void *arg, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct pollq		*q = pq_of(arg);
	struct pollq_msg	*pm;
	size_t			 len;
	int			 i;

	if (q->closed)
		return 0;
	for (i = 0; i < iovcnt; i++)
		if (buf_append(&q->partial, iov[i].iov_base,
		    iov[i].iov_len) == -1)
			goto nomem;
	if (!fin)
		return 0;
	len = buf_len(&q->partial);
	if ((pm = malloc(sizeof(*pm) + len)) == NULL)
		goto nomem;
	if (len > 0)
		memcpy(pm->data, buf_head(&q->partial), len);
	buf_free(&q->partial);
	buf_init(&q->partial, SIZE_MAX);
	pm->len = len;
	pm->type = (uint8_t)type;
	pm->seq = ++q->seq;
	TAILQ_INSERT_TAIL(&q->msgs, pm, entry);
	q->queued += len;
	if (q->waiter != NULL)
		ev_feed_event(relay_loop(), &q->wake, EV_TIMER);
	return 0;
nomem:
	pollq_close(q, WS_CLOSE_INTERNAL, "out of memory");
	ev_feed_event(relay_loop(), &q->leave, EV_TIMER);
	return 0;
}

/* The queue's room: the backend is read no further than this. */
static size_t
pollq_room(void *arg)
{
	struct pollq	*q = pq_of(arg);
	size_t		 used = q->queued + buf_len(&q->partial);
	size_t		 cap = (size_t)q->route->limits.buffer_size;

	return q->closed || used >= cap ? 0 : cap - used;
}

static void
pollq_nothing(void *arg)
{
	(void)arg;
}

static void
pollq_failed(void *arg, const char *why)
{
	struct pollq	*q = pq_of(arg);

	pollq_close(q, WS_CLOSE_INTERNAL, why);
	ev_feed_event(relay_loop(), &q->leave, EV_TIMER);
}

static void
pollq_ended(void *arg, unsigned code, const char *reason)
{
	pollq_close(pq_of(arg), code, reason);
}

static void
pollq_fail(void *arg, unsigned code, const char *why)
{
	struct pollq	*q = pq_of(arg);

	pollq_close(q, code, why);
	ev_feed_event(relay_loop(), &q->leave, EV_TIMER);
}

static void
pollq_abort(void *arg, const char *why)
{
	pollq_fail(arg, WS_CLOSE_INTERNAL, why);
}

static void
pollq_input_moved(void *arg, bool drained)
{
	(void)arg, (void)drained;
}

static void
pollq_posted(void *arg, size_t len)
{
	(void)len;
	pq_of(arg)->msgs_in++;
}

/* A terminal's late start needs a request: poll routes have none (config). */
static void
pollq_params(void *arg, struct backend_params *bp, struct proc_request *pr,
    unsigned short cols, unsigned short rows)
{
	(void)arg, (void)bp, (void)pr, (void)cols, (void)rows;
	fatalx("poll session: a backend start without a request");
}

static const struct session_peer_ops pollq_peer_ops = {
	.deliver = pollq_deliver,
	.room = pollq_room,
	.ready = pollq_nothing,
	.failed = pollq_failed,
	.ended = pollq_ended,
	.fail = pollq_fail,
	.abort = pollq_abort,
	.input_moved = pollq_input_moved,
	.activity = pollq_nothing,
	.posted = pollq_posted,
	.params = pollq_params,
};

/* --- for the HTTP side --------------------------------------------------- */

struct pollq *
pollq_new(struct session *s, struct session_member *m, struct route *r,
    uint64_t log_id, const char *peer)
{
	struct pollq		*q;
	struct session_peer	 p;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if (transport_random_id(q->id) == -1 ||
	    (q->peer = strdup(peer)) == NULL ||
	    session_member_name(m, r, q->id) == -1) {
		free(q->peer);
		free(q);
		return NULL;
	}
	q->s = s;
	q->m = m;
	q->route = r;
	q->log_id = log_id;
	TAILQ_INIT(&q->msgs);
	buf_init(&q->partial, SIZE_MAX);
	ev_init(&q->wait, pollq_wait_cb);
	q->wait.data = q;
	ev_init(&q->expire, pollq_expire_cb);
	q->expire.repeat = r->limits.session_timeout_ms / 1000.;
	q->expire.data = q;
	ev_init(&q->wake, pollq_wake_cb);
	q->wake.data = q;
	ev_init(&q->leave, pollq_leave_cb);
	q->leave.data = q;
	ev_timer_again(relay_loop(), &q->expire);
	r->active++;
	p.ops = &pollq_peer_ops;
	p.arg = q;
	session_member_move(m, &p);
	LIST_INSERT_HEAD(&pollqs, q, all);
	return q;
}

const char *
pollq_id(const struct pollq *q)
{
	return q->id;
}

struct pollq *
pollq_of(struct session_member *m)
{
	const struct session_peer	*p = session_member_peer(m);

	return p->ops == &pollq_peer_ops ? p->arg : NULL;
}

int
pollq_poll(struct pollq *q, int64_t after, void *waiter,
    pollq_answer_fn *answer)
{
	struct pollq_msg	*pm;
	bool			 freed = false;

	while (after >= 0 && (pm = TAILQ_FIRST(&q->msgs)) != NULL &&
	    pm->seq <= (uint64_t)after) {
		TAILQ_REMOVE(&q->msgs, pm, entry);
		q->queued -= pm->len;
		free(pm);
		freed = true;
	}
	/* Room again: the backend is read on. */
	if (freed && q->m != NULL)
		session_output_resume(q->m);
	pollq_answer(q, true);	/* superseded */
	q->waiter = waiter;
	q->answer = answer;
	if (!TAILQ_EMPTY(&q->msgs) || q->closed ||
	    q->route->limits.poll_timeout_ms == 0) {
		pollq_answer(q, false);
		return 0;
	}
	ev_timer_stop(relay_loop(), &q->expire);
	ev_timer_set(&q->wait, q->route->limits.poll_timeout_ms / 1000., 0.);
	ev_timer_start(relay_loop(), &q->wait);
	return 0;
}

void
pollq_cancel(struct pollq *q, void *waiter)
{
	if (q->waiter != waiter)
		return;
	q->waiter = NULL;
	ev_timer_stop(relay_loop(), &q->wait);
	ev_clear_pending(relay_loop(), &q->wake);
	ev_timer_again(relay_loop(), &q->expire);
}

void
pollq_end_by_client(struct pollq *q, const char *reason)
{
	log_info("conn %llu %s: poll session %.8s...: %s (in=%llu out=%llu "
	    "messages)", (unsigned long long)q->log_id, q->peer, q->id, reason,
	    (unsigned long long)q->msgs_in, (unsigned long long)q->msgs_out);
	pollq_close(q, WS_CLOSE_NORMAL, reason);
	pollq_answer(q, false);
	pollq_free(q);
}

void
pollq_shutdown(void)
{
	struct pollq	*q;

	while ((q = LIST_FIRST(&pollqs)) != NULL) {
		pollq_close(q, WS_CLOSE_GOING_AWAY, "server shutting down");
		pollq_answer(q, false);
		pollq_free(q);
	}
}
