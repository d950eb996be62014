/*
 * An event stream's place in its session, which outlives its connection
 * (see sse_stream.h): output numbered by the session's sequence, a ring
 * of what went out (buffer_size bytes), a reconnect served from it, and
 * session_timeout for the reconnect to come.
 */
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "sse_stream.h"
#include "transport.h"
#include "ws.h"

/* A message that went out (or waits to), kept for a reconnect. */
struct sse_rec {
	TAILQ_ENTRY(sse_rec)	 entry;
	uint64_t		 seq;
	uint8_t			 type;		/* enum msg_type */
	size_t			 len;
	uint8_t			 data[];
};

struct sse_stream {
	struct session		*s;
	struct session_member	*m;		/* NULL once it left */
	struct config_ref	*cref;		/* route's config */
	struct route		*route;
	bool			 counted;	/* in route->active (detached) */
	uint64_t		 log_id;
	char			*peer;
	char			 id[TRANSPORT_ID_HEX + 1];
	struct session_peer	 client;	/* attached: ops not NULL */
	TAILQ_HEAD(, sse_rec)	 ring;
	size_t			 ring_len;	/* its bytes */
	size_t			 unsent;	/* bytes of it after sent */
	struct buf		 partial;	/* the message in pieces so far */
	bool			 in_msg;
	uint8_t			 cur_type;
	uint64_t		 cur;		/* its seq */
	uint64_t		 out;		/* seq handed to the client now */
	uint64_t		 start, last;	/* first and last message kept */
	uint64_t		 sent;		/* last handed to a client */
	uint64_t		 lost;		/* last dropped from the ring */
	bool			 closed;	/* the session's goodbye came */
	bool			 told;		/* ... and went to a client */
	bool			 ending;	/* left: freed on the loop */
	unsigned		 code;
	char			 reason[WS_MAX_CONTROL_PAYLOAD];
	ev_timer		 expire;	/* session_timeout, detached */
	ev_timer		 leave;		/* fed: free it */
	LIST_ENTRY(sse_stream)	 all;
};

static LIST_HEAD(, sse_stream)	streams = LIST_HEAD_INITIALIZER(streams);
static bool			stopping;
static const struct session_peer_ops sse_stream_ops;

static struct sse_stream *
st_of(void *arg)
{
	return arg;
}

static bool
attached(const struct sse_stream *st)
{
	return st->client.ops != NULL;
}

static void
sse_stream_free(struct sse_stream *st)
{
	struct session_member	*m = st->m;
	struct sse_rec		*r;
	struct ev_loop		*loop = relay_loop();

	st->m = NULL;
	if (m != NULL)
		session_leave(m);
	ev_timer_stop(loop, &st->expire);
	ev_clear_pending(loop, &st->expire);
	ev_clear_pending(loop, &st->leave);
	while ((r = TAILQ_FIRST(&st->ring)) != NULL) {
		TAILQ_REMOVE(&st->ring, r, entry);
		free(r);
	}
	buf_free(&st->partial);
	if (st->counted)
		st->route->active--;
	LIST_REMOVE(st, all);
	config_ref_put(st->cref);
	session_unref(st->s);
	explicit_bzero(st->id, sizeof(st->id));
	free(st->peer);
	free(st);
}

/* Fed by sse_stream_end: free outside the session's callbacks. */
static void
sse_stream_leave_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	sse_stream_free(w->data);
}

/*
 * Done: the session goes on without it now (alone, its program stops:
 * the grace sequence), and its id is forgotten (a reconnect gets 404).
 */
static void
sse_stream_end(struct sse_stream *st)
{
	struct session_member	*m = st->m;

	if (st->ending)
		return;
	st->ending = true;
	st->m = NULL;
	if (m != NULL)
		session_leave(m);
	ev_timer_stop(relay_loop(), &st->expire);
	ev_feed_event(relay_loop(), &st->leave, EV_TIMER);
}

/* Fires session_timeout after the stream dropped: nobody came back. */
static void
sse_stream_expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sse_stream	*st = w->data;

	(void)loop, (void)revents;
	log_info("conn %llu %s: sse session %.8s...: no reconnect within "
	    "session_timeout: ended", (unsigned long long)st->log_id,
	    st->peer, st->id);
	sse_stream_end(st);
}

/* Drop what went out, oldest first, while over buffer_size. */
static void
sse_stream_trim(struct sse_stream *st)
{
	size_t		 cap = (size_t)st->route->limits.buffer_size;
	struct sse_rec	*r;

	while (st->ring_len > cap && (r = TAILQ_FIRST(&st->ring)) != NULL &&
	    r->seq <= st->sent) {
		TAILQ_REMOVE(&st->ring, r, entry);
		st->ring_len -= r->len;
		st->lost = r->seq;
		free(r);
	}
}

/* The message is whole: into the ring (from partial, or iov alone). */
static int
sse_stream_keep(struct sse_stream *st, enum msg_type type,
    const struct iovec *iov, int iovcnt)
{
	struct sse_rec	*r;
	size_t		 len = buf_len(&st->partial), off = 0;
	int		 i;

	if (len == 0)
		for (i = 0; i < iovcnt; i++)
			len += iov[i].iov_len;
	if ((r = malloc(sizeof(*r) + len)) == NULL)
		return -1;
	if (buf_len(&st->partial) > 0)
		memcpy(r->data, buf_head(&st->partial), len);
	else
		for (i = 0; i < iovcnt; i++) {
			memcpy(r->data + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
	buf_free(&st->partial);
	buf_init(&st->partial, SIZE_MAX);
	r->seq = st->cur;
	r->type = (uint8_t)type;
	r->len = len;
	TAILQ_INSERT_TAIL(&st->ring, r, entry);
	st->ring_len += len;
	if (st->start == 0)
		st->start = r->seq;
	st->last = r->seq;
	if (attached(st))
		st->sent = r->seq;
	else
		st->unsent += len;
	sse_stream_trim(st);
	return 0;
}

/* The session is over for this stream (said now, or at a reconnect). */
static void
sse_stream_close(struct sse_stream *st, unsigned code, const char *reason)
{
	if (st->closed)
		return;
	st->closed = true;
	st->code = code;
	snprintf(st->reason, sizeof(st->reason), "%s", reason);
	/* A message cut short is not passed on whole. */
	buf_free(&st->partial);
	buf_init(&st->partial, SIZE_MAX);
	st->in_msg = false;
	if (attached(st))
		st->told = true;
}

/* --- what the session calls --------------------------------------------- */

static int
sse_stream_deliver(void *arg, enum msg_type type, const struct iovec *iov,
    int iovcnt, bool fin)
{
	struct sse_stream	*st = st_of(arg);
	int			 i;

	if (st->closed || st->ending)
		return 0;
	if (!st->in_msg) {
		st->cur = session_output_seq(st->s, fin);
		st->cur_type = (uint8_t)type;
		st->in_msg = true;
	}
	if (!fin || buf_len(&st->partial) > 0)
		for (i = 0; i < iovcnt; i++)
			if (buf_append(&st->partial, iov[i].iov_base,
			    iov[i].iov_len) == -1)
				goto nomem;
	if (attached(st)) {
		st->out = st->cur;
		st->client.ops->deliver(st->client.arg, type, iov, iovcnt, fin);
	}
	if (!fin)
		return 0;
	st->in_msg = false;
	if (sse_stream_keep(st, type, iov, iovcnt) == -1)
		goto nomem;
	return 0;
nomem:
	if (attached(st)) {
		st->told = st->closed = true;
		st->client.ops->abort(st->client.arg, "out of memory");
	} else
		sse_stream_end(st);
	return 0;
}

/* Attached: what the client takes; else what the ring holds unsent. */
static size_t
sse_stream_room(void *arg)
{
	struct sse_stream	*st = st_of(arg);
	size_t			 cap = (size_t)st->route->limits.buffer_size;
	size_t			 used = st->unsent + buf_len(&st->partial);

	if (st->closed || st->ending)
		return 0;
	if (attached(st))
		return st->client.ops->room(st->client.arg);
	return used >= cap ? 0 : cap - used;
}

static void
sse_stream_ready(void *arg)
{
	struct sse_stream	*st = st_of(arg);

	if (attached(st))
		st->client.ops->ready(st->client.arg);
}

static void
sse_stream_failed(void *arg, const char *why)
{
	struct sse_stream	*st = st_of(arg);

	sse_stream_close(st, WS_CLOSE_INTERNAL, why);
	if (attached(st))
		st->client.ops->failed(st->client.arg, why);
}

static void
sse_stream_ended(void *arg, unsigned code, const char *reason)
{
	struct sse_stream	*st = st_of(arg);

	sse_stream_close(st, code, reason);
	if (attached(st))
		st->client.ops->ended(st->client.arg, code, reason);
}

static void
sse_stream_fail(void *arg, unsigned code, const char *why)
{
	struct sse_stream	*st = st_of(arg);

	sse_stream_close(st, code, why);
	if (attached(st))
		st->client.ops->fail(st->client.arg, code, why);
}

static void
sse_stream_abort(void *arg, const char *why)
{
	struct sse_stream	*st = st_of(arg);

	sse_stream_close(st, WS_CLOSE_INTERNAL, why);
	if (attached(st))
		st->client.ops->abort(st->client.arg, why);
	else
		sse_stream_end(st);
}

static void
sse_stream_input_moved(void *arg, bool drained)
{
	struct sse_stream	*st = st_of(arg);

	if (attached(st))
		st->client.ops->input_moved(st->client.arg, drained);
}

static void
sse_stream_activity(void *arg)
{
	struct sse_stream	*st = st_of(arg);

	if (attached(st))
		st->client.ops->activity(st->client.arg);
}

static void
sse_stream_posted(void *arg, size_t len)
{
	struct sse_stream	*st = st_of(arg);

	if (attached(st))
		st->client.ops->posted(st->client.arg, len);
}

/* Only at a start, with the first client attached (no pty routes). */
static void
sse_stream_params(void *arg, struct backend_params *bp,
    struct proc_request *pr, unsigned short cols, unsigned short rows)
{
	struct sse_stream	*st = st_of(arg);

	if (!attached(st))
		fatalx("sse stream: a backend start without a client");
	st->client.ops->params(st->client.arg, bp, pr, cols, rows);
}

static const struct session_peer_ops sse_stream_ops = {
	.deliver = sse_stream_deliver,
	.room = sse_stream_room,
	.ready = sse_stream_ready,
	.failed = sse_stream_failed,
	.ended = sse_stream_ended,
	.fail = sse_stream_fail,
	.abort = sse_stream_abort,
	.input_moved = sse_stream_input_moved,
	.activity = sse_stream_activity,
	.posted = sse_stream_posted,
	.params = sse_stream_params,
};

/* --- for the client --------------------------------------------------- */

struct sse_stream *
sse_stream_new(struct session *s, struct session_member *m,
    const struct session_peer *client, struct route *r,
    struct config_ref *cref, const char *id, uint64_t log_id,
    const char *peer)
{
	struct sse_stream	*st;
	struct session_peer	 p;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->peer = strdup(peer)) == NULL ||
	    session_member_name(m, r, id) == -1) {
		free(st->peer);
		free(st);
		return NULL;
	}
	snprintf(st->id, sizeof(st->id), "%s", id);
	st->s = s;
	session_ref(s);
	st->m = m;
	st->cref = cref;
	cref->refs++;
	st->route = r;
	st->log_id = log_id;
	st->client = *client;
	TAILQ_INIT(&st->ring);
	buf_init(&st->partial, SIZE_MAX);
	ev_init(&st->expire, sse_stream_expire_cb);
	st->expire.data = st;
	ev_init(&st->leave, sse_stream_leave_cb);
	st->leave.data = st;
	LIST_INSERT_HEAD(&streams, st, all);
	p.ops = &sse_stream_ops;
	p.arg = st;
	session_member_move(m, &p);
	return st;
}

struct sse_stream *
sse_stream_of(struct session_member *m)
{
	const struct session_peer	*p = session_member_peer(m);

	return p->ops == &sse_stream_ops && !st_of(p->arg)->ending ?
	    p->arg : NULL;
}

const char *
sse_stream_id(const struct sse_stream *st)
{
	return st->id;
}

struct session_member *
sse_stream_member(const struct sse_stream *st)
{
	return st->m;
}

bool
sse_stream_attached_to(const struct sse_stream *st, const void *arg)
{
	return attached(st) && st->client.arg == arg;
}

uint64_t
sse_stream_seq(const struct sse_stream *st)
{
	return st->out;
}

const char *
sse_stream_check(const struct sse_stream *st, uint64_t after)
{
	uint64_t	 from = after == 0 ? st->start : after + 1;

	if (after > st->last)
		return "resume: no such event";
	if (st->lost != 0 && from <= st->lost)
		return "resume: output lost";
	return NULL;
}

int
sse_stream_attach(struct sse_stream *st, const struct session_peer *client,
    uint64_t after)
{
	struct sse_rec	*r;
	struct iovec	 iov;
	uint64_t	 from = after == 0 ? st->start : after + 1;
	const char	*why;

	/* Its old connection may not know yet that it is dead. */
	if (attached(st))
		st->client.ops->abort(st->client.arg, "sse: resumed by "
		    "another connection");
	ev_timer_stop(relay_loop(), &st->expire);
	if (st->counted)
		st->route->active--;
	st->counted = false;
	st->client = *client;
	/* It cannot go on: the session ends for it (and, alone, ends). */
	if ((why = sse_stream_check(st, after)) != NULL) {
		log_info("conn %llu %s: sse session %.8s...: %s after %llu",
		    (unsigned long long)st->log_id, st->peer, st->id, why,
		    (unsigned long long)after);
		sse_stream_close(st, WS_CLOSE_INTERNAL, why);
		client->ops->ended(client->arg, WS_CLOSE_INTERNAL, why);
		return attached(st) ? 0 : -1;
	}
	TAILQ_FOREACH(r, &st->ring, entry) {
		if (r->seq < from)
			continue;
		st->out = r->seq;
		iov.iov_base = r->data;
		iov.iov_len = r->len;
		if (client->ops->deliver(client->arg, (enum msg_type)r->type,
		    &iov, 1, true) == -1 || !attached(st))
			return -1;
	}
	st->sent = st->last;
	st->unsent = 0;
	/* The message under way: its first pieces again. */
	if (st->in_msg && buf_len(&st->partial) > 0) {
		st->out = st->cur;
		iov.iov_base = buf_head(&st->partial);
		iov.iov_len = buf_len(&st->partial);
		if (client->ops->deliver(client->arg,
		    (enum msg_type)st->cur_type, &iov, 1, false) == -1 ||
		    !attached(st))
			return -1;
	}
	if (st->closed) {
		st->told = true;
		client->ops->ended(client->arg, st->code, st->reason);
		return attached(st) ? 0 : -1;
	}
	if (st->m != NULL)
		session_output_resume(st->m);
	return 0;
}

void
sse_stream_detach(struct sse_stream *st)
{
	int64_t		 ms = st->route->limits.session_timeout_ms;

	st->client.ops = NULL;
	st->client.arg = NULL;
	if (st->told || stopping || ms == 0 || st->m == NULL) {
		sse_stream_end(st);
		return;
	}
	st->counted = true;
	st->route->active++;
	log_info("conn %llu %s: sse session %.8s...: the stream dropped: "
	    "kept for a reconnect", (unsigned long long)st->log_id, st->peer,
	    st->id);
	ev_timer_set(&st->expire, ms / 1000., 0.);
	ev_timer_start(relay_loop(), &st->expire);
}

int
sse_stream_end_by_client(struct sse_stream *st, const char *reason)
{
	struct session_member	*m;

	if (sse_stream_told(st))
		return -1;
	log_info("conn %llu %s: sse session %.8s...: %s",
	    (unsigned long long)st->log_id, st->peer, st->id, reason);
	if (!attached(st)) {
		sse_stream_close(st, WS_CLOSE_NORMAL, reason);
		sse_stream_end(st);
		return 0;
	}
	/*
	 * Told now: its connection says the goodbye and ends the stream
	 * (sse_stream_detach); the member leaves now, not when that
	 * connection is done (the caller took the member from it).
	 */
	sse_stream_close(st, WS_CLOSE_NORMAL, reason);
	st->client.ops->ended(st->client.arg, WS_CLOSE_NORMAL, reason);
	if (!st->ending && st->m != NULL) {
		m = st->m;
		st->m = NULL;
		session_leave(m);
	}
	return 0;
}

bool
sse_stream_told(const struct sse_stream *st)
{
	return st->told || st->ending;
}

void *
sse_stream_client(const struct sse_stream *st)
{
	return attached(st) ? st->client.arg : NULL;
}

void
sse_stream_shutdown(void)
{
	struct sse_stream	*st, *next;

	stopping = true;
	for (st = LIST_FIRST(&streams); st != NULL; st = next) {
		next = LIST_NEXT(st, all);
		if (!attached(st))
			sse_stream_free(st);
	}
}
