/*
 * What a session's clients see: output to its one client (backpressure)
 * or fanned out to its members, each with its own bounded queue, paced by
 * the least roomy one that is not stalled; the replay ring a joining
 * member gets first; the callbacks that reach every member.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "pty_proto.h"
#include "session_int.h"
#include "ws.h"

/* --- what the clients see ----------------------------------------------- */

static size_t
iov_total(const struct iovec *iov, int iovcnt)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Output a shared session keeps for clients that join later. */
static void
replay_add(struct session *s, enum msg_type type, const struct iovec *iov,
    int iovcnt)
{
	size_t			 cap = (size_t)s->route->replay, len, off = 0;
	struct replay_rec	*r;
	int			 i;

	if (cap == 0 || s->sh == NULL)
		return;
	/* A terminal's screen is its output: not its title or prefs. */
	if (s->route->mode == MODE_PTY && (iovcnt < 1 ||
	    iov[0].iov_len < 1 ||
	    *(const uint8_t *)iov[0].iov_base != PTY_OUT_OUTPUT))
		return;
	len = iov_total(iov, iovcnt);
	if (len <= cap && (r = malloc(sizeof(*r) + len)) != NULL) {
		for (i = 0; i < iovcnt; i++) {
			memcpy(r->data + off, iov[i].iov_base,
			    iov[i].iov_len);
			off += iov[i].iov_len;
		}
		r->len = len;
		r->seq = s->seq;
		r->type = (uint8_t)type;
		TAILQ_INSERT_TAIL(&s->sh->replay, r, entry);
		s->sh->replay_len += len;
	}
	while (s->sh->replay_len > cap ||
	    (len > cap && !TAILQ_EMPTY(&s->sh->replay))) {
		r = TAILQ_FIRST(&s->sh->replay);
		TAILQ_REMOVE(&s->sh->replay, r, entry);
		s->sh->replay_len -= r->len;
		s->sh->replay_trimmed = true;
		free(r);
		if (len > cap && TAILQ_EMPTY(&s->sh->replay))
			break;
	}
}

/*
 * What a joining member sees first. A terminal's replay starts at a line
 * start (after the first newline of what is kept, unless nothing was
 * dropped yet), so that the screen it draws is whole lines.
 */
void
replay_send(struct session *s, struct session_member *m)
{
	struct replay_rec	*r;
	struct iovec		 iov[2];
	const uint8_t		*nl;
	bool			 started;

	if (s->sh == NULL)
		return;		/* unshared: nothing is kept */
	started = !s->sh->replay_trimmed || s->route->mode != MODE_PTY;
	TAILQ_FOREACH(r, &s->sh->replay, entry) {
		s->replay_seq = r->seq;	/* session_output_seq() */
		iov[0].iov_base = r->data;
		iov[0].iov_len = r->len;
		if (!started) {
			/* data[0] is the output command byte. */
			if (r->len < 2 || (nl = memchr(r->data + 1, '\n',
			    r->len - 1)) == NULL)
				continue;
			started = true;
			iov[0].iov_len = 1;
			iov[1].iov_base = (void *)(uintptr_t)(nl + 1);
			iov[1].iov_len = r->len - (size_t)(nl + 1 - r->data);
			if (session_deliver_to(m, (enum msg_type)r->type, iov,
			    2) == -1)
				break;
			continue;
		}
		if (session_deliver_to(m, (enum msg_type)r->type, iov, 1) ==
		    -1)
			break;
	}
	s->replay_seq = 0;
}

/* How logs name it: "/feed", "/term?session=ID", "/term (user bob)". */
const char *
session_name(const struct session *s)
{
	static char	 name[PATH_MAX + 80];

	if (s->key == NULL || !s->shared)
		return s->path;	/* an unshared session's key is a secret */
	snprintf(name, sizeof(name), "%s%s%s%s", s->route->path,
	    s->route->share == SHARE_ID ? "?session=" :
	    s->route->share == SHARE_USER ? " (user " : "", s->key,
	    s->route->share == SHARE_USER ? ")" : "");
	return name;
}

int
session_deliver_to(struct session_member *m, enum msg_type type,
    const struct iovec *iov, int iovcnt)
{
	return m->peer.ops->deliver(m->peer.arg, type, iov, iovcnt, true);
}

/* A shared session's member has no room for this output. */
static void
session_too_slow(struct session *s, struct session_member *m, size_t len)
{
	if (s->route->slow_client == SLOW_SKIP) {
		m->skipped += len;
		m->skipping += len;
		metrics_session_skipped(s->label, len);
		return;
	}
	log_info("conn %llu %s: session %s: a client fell behind by more "
	    "than buffer_size: closed", (unsigned long long)s->id, s->peer,
	    session_name(s));
	metrics_session_too_slow(s->label);
	m->gone = true;		/* its goodbye is said: no more output */
	m->peer.ops->fail(m->peer.arg, WS_CLOSE_POLICY, "too slow");
}

/* A member's turn for a message of len bytes: false when too slow. */
static bool
member_takes(struct session *s, struct session_member *m, size_t len)
{
	if (m->peer.ops->room(m->peer.arg) < len) {
		session_too_slow(s, m, len);
		return false;
	}
	if (m->skipping > 0) {
		log_info("conn %llu %s: session %s: a slow client skipped "
		    "%llu bytes", (unsigned long long)s->id, s->peer,
		    session_name(s), (unsigned long long)m->skipping);
		m->skipping = 0;
	}
	return true;
}

/*
 * Every open member gets the message, or is too slow for it: one
 * member's full queue never holds the others or the program.
 */
static int
session_broadcast(struct session *s, enum msg_type type,
    const struct iovec *iov, int iovcnt)
{
	struct session_member	*m, *next;
	size_t			 len = iov_total(iov, iovcnt);

	FOREACH_MEMBER(m, s, next) {
		if (!m->open || m->gone)
			continue;
		if (member_takes(s, m, len))
			session_deliver_to(m, type, iov, iovcnt);
	}
	return 0;
}

/*
 * The messages of one backend read (text: a line each), encoded once on
 * the members' wire and handed to each member at the end of the read:
 * one copy or write per member, not a frame and a call per member and
 * line. Each member gets them in order with the same room rule as one
 * by one (its room is known to cover them all, or they go one by one).
 * One batch at a time: the loop runs one read callback at a time.
 */
struct fan_msg {
	size_t		 off;		/* the frame in fan.data */
	size_t		 flen, plen;	/* frame and payload lengths */
	uint8_t		 type;
};

static struct {
	struct session		*s;	/* batching for it, or NULL */
	const struct msg_wire	*wire;	/* the encoding, once chosen */
	bool			 nowire; /* no member has one: no batching */
	uint8_t			*data;
	size_t			 len, cap, payload;
	struct fan_msg		*msgs;
	size_t			 n, ncap;
} fan;

/* Larger messages go as before (written through from where they lie). */
#define FAN_MSG_MAX	(16 * 1024)
/* A batch flushes when it holds this much (bounds the static buffers). */
#define FAN_BYTES_MAX	(256 * 1024)
#define FAN_MSGS_MAX	4096

/* The batch's messages [i, j) to one member, one by one. */
static void
fan_one_by_one(struct session *s, struct session_member *m,
    const struct msg_wire *w, size_t i, size_t j)
{
	const struct fan_msg	*f;
	struct iovec		 iov;

	for (; i < j && !m->gone && m->open; i++) {
		f = &fan.msgs[i];
		if (!member_takes(s, m, f->plen))
			continue;
		if (w == fan.wire) {
			if (m->peer.ops->deliver_wire(m->peer.arg,
			    fan.data + f->off, f->flen, 1, f->plen) == -1)
				return;
			continue;
		}
		iov.iov_base = fan.data + f->off + (f->flen - f->plen);
		iov.iov_len = f->plen;
		if (session_deliver_to(m, (enum msg_type)f->type, &iov, 1) ==
		    -1)
			return;
	}
}

static void
fan_flush(struct session *s)
{
	struct session_member	*m, *next;
	const struct msg_wire	*w;

	if (fan.n == 0)
		return;
	FOREACH_MEMBER(m, s, next) {
		if (!m->open || m->gone)
			continue;
		w = m->peer.ops->wire != NULL ?
		    m->peer.ops->wire(m->peer.arg) : NULL;
		/*
		 * Room for all of it: each message one by one would find
		 * room too (what it has left is at least its length).
		 */
		if (w == fan.wire && m->skipping == 0 &&
		    m->peer.ops->room(m->peer.arg) >= fan.len) {
			m->peer.ops->deliver_wire(m->peer.arg, fan.data,
			    fan.len, (unsigned)fan.n, fan.payload);
			continue;
		}
		fan_one_by_one(s, m, w, 0, fan.n);
	}
	fan.n = 0;
	fan.len = 0;
	fan.payload = 0;
}

/* The wire a member of s puts whole messages on, if any has one. */
static const struct msg_wire *
fan_wire(struct session *s)
{
	struct session_member	*m;
	const struct msg_wire	*w;

	TAILQ_FOREACH(m, &s->members, entry)
		if (m->open && !m->gone && m->peer.ops->wire != NULL &&
		    (w = m->peer.ops->wire(m->peer.arg)) != NULL)
			return w;
	return NULL;
}

/* Add a whole message to the batch; -1: not batched (deliver it now). */
static int
fan_add(struct session *s, enum msg_type type, const struct iovec *iov,
    int iovcnt)
{
	size_t		 len = iov_total(iov, iovcnt), need, hlen;
	struct fan_msg	*f;
	uint8_t		*p;
	void		*q;
	int		 i;

	if (fan.s != s || fan.nowire || len >= FAN_MSG_MAX)
		return -1;
	if (fan.wire == NULL && (fan.wire = fan_wire(s)) == NULL) {
		fan.nowire = true;
		return -1;
	}
	if (fan.n == FAN_MSGS_MAX || fan.len + len +
	    fan.wire->max_header > FAN_BYTES_MAX)
		fan_flush(s);
	need = fan.len + len + fan.wire->max_header;
	if (need > fan.cap) {
		if ((q = realloc(fan.data, FAN_BYTES_MAX)) == NULL)
			return -1;
		fan.data = q;
		fan.cap = FAN_BYTES_MAX;
	}
	if (fan.n == fan.ncap) {
		if ((q = reallocarray(fan.msgs, fan.ncap == 0 ? 256 :
		    fan.ncap * 2, sizeof(*fan.msgs))) == NULL)
			return -1;
		fan.msgs = q;
		fan.ncap = fan.ncap == 0 ? 256 : fan.ncap * 2;
	}
	f = &fan.msgs[fan.n++];
	f->off = fan.len;
	f->type = (uint8_t)type;
	f->plen = len;
	p = fan.data + fan.len;
	hlen = fan.wire->header(p, type, len);
	p += hlen;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	f->flen = hlen + len;
	fan.len += f->flen;
	fan.payload += len;
	return 0;
}

void
session_fanout_begin(struct session *s)
{
	if (!s->shared || fan.s != NULL)
		return;
	fan.s = s;
	fan.wire = NULL;
	fan.nowire = false;
}

void
session_fanout_end(struct session *s)
{
	if (fan.s != s)
		return;
	fan_flush(s);
	fan.s = NULL;
}

/* What is batched goes first: nothing overtakes it. */
static void
fan_flush_if(struct session *s)
{
	if (fan.s == s)
		fan_flush(s);
}

int
session_deliver(struct session *s, enum msg_type type,
    const struct iovec *iov, int iovcnt, bool fin)
{
	struct session_member	*m;

	if (s->stopped)
		return -1;
	if (fin)
		s->seq++;
	if (s->cast != NULL)
		session_record_out(s, type, iov, iovcnt);
	if (!s->shared) {
		if ((m = TAILQ_FIRST(&s->members)) == NULL)
			return -1;
		return m->peer.ops->deliver(m->peer.arg, type, iov, iovcnt,
		    fin);
	}
	replay_add(s, type, iov, iovcnt);
	if (fin && fan_add(s, type, iov, iovcnt) == 0)
		return 0;
	fan_flush_if(s);
	return session_broadcast(s, type, iov, iovcnt);
}

/* The member whose input runs now (alone: the one). */
static struct session_member *
session_current(struct session *s)
{
	return s->cur != NULL ? s->cur : s->shared ? NULL :
	    TAILQ_FIRST(&s->members);
}

void
session_fail(struct session *s, unsigned code, const char *why)
{
	struct session_member	*m = session_current(s);

	fan_flush_if(s);
	if (!s->stopped && m != NULL)
		m->peer.ops->fail(m->peer.arg, code, why);
}

void
session_abort(struct session *s, const char *why)
{
	struct session_member	*m, *next;

	if (s->stopped)
		return;
	fan_flush_if(s);
	if ((m = session_current(s)) != NULL) {
		m->peer.ops->abort(m->peer.arg, why);
		return;
	}
	FOREACH_MEMBER(m, s, next)
		m->peer.ops->abort(m->peer.arg, why);
}

/*
 * How much output the backend may give now. Alone: what the client
 * takes (the program waits for it). Shared: what the least roomy member
 * takes, so that every client that reads keeps up; a member that has had
 * no room for SESSION_STALL_S (stopped, or far slower) no longer holds
 * the others: it is left out, and the next message it cannot take closes
 * it (or it skips). Reads come in pieces small against buffer_size. With
 * no member (persist): all of it, for the replay ring.
 */
size_t
session_output_room(struct session *s)
{
	struct session_member	*m;
	size_t			 room = SIZE_MAX, r, cap, held;
	ev_tstamp		 now = ev_now(relay_loop());
	bool			 waiting = false;

	if (s->stopped)
		return 0;
	if (!s->shared) {
		m = TAILQ_FIRST(&s->members);
		return m == NULL ? 0 : m->peer.ops->room(m->peer.arg);
	}
	cap = (size_t)s->route->limits.buffer_size / 4;
	if (s->nmembers == 0)
		return cap;
	/*
	 * What a read of k bytes becomes must fit: the partial line held
	 * from before (L) completed by it, and a frame header per line (up
	 * to 4 bytes, for "\n" alone too): at most L + 5k + 4 bytes, so k
	 * is (room - L - 16) / 5.
	 */
	held = buf_len(&s->line) + 16;
	TAILQ_FOREACH(m, &s->members, entry) {
		if (!m->open || m->gone)
			continue;
		r = m->peer.ops->room(m->peer.arg);
		r = r > held ? (r - held) / 5 : 0;
		if (r >= cap / 8 + 1) {
			m->full_since = 0;
		} else {
			if (m->full_since == 0)
				m->full_since = now;
			if (now - m->full_since >= SESSION_STALL_S)
				continue;	/* stalled: left out */
			waiting = true;
		}
		if (r < room)
			room = r;
	}
	if (room == SIZE_MAX)
		return 0;	/* all stalled: nobody waits on anyone, pause */
	/* Held by a full member: look again once it may count as stalled. */
	if (waiting && room < cap / 8 + 1 && !ev_is_active(&s->sh->stall)) {
		ev_timer_set(&s->sh->stall, SESSION_STALL_S, 0.);
		ev_timer_start(relay_loop(), &s->sh->stall);
	}
	return room < cap ? room : cap;
}

void
session_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session	*s = w->data;

	(void)loop, (void)revents;
	session_update_reading(s);
}

void
session_activity(struct session *s)
{
	struct session_member	*m;

	TAILQ_FOREACH(m, &s->members, entry)
		m->peer.ops->activity(m->peer.arg);
}

/* Input moved toward the backend: writers waiting on it go on. */
void
session_input_moved(struct session *s, bool drained)
{
	struct session_member	*m, *next;

	FOREACH_MEMBER(m, s, next)
		if (!m->viewer)
			m->peer.ops->input_moved(m->peer.arg, drained);
}

