/*
 * A connection's clocks: the phase deadline (handshake, backend connect,
 * close), idle_timeout and send_timeout; pings are the transport's.
 * Each timer ends in a state change or a close.
 */
#include <string.h>

#include "conn_int.h"
#include "log.h"

/* --- the send deadline ------------------------------------------------- */

/* send_timeout: the route's, or the server's before routing. */
int64_t
conn_send_timeout_ms(const struct conn *c)
{
	return (c->route != NULL ? &c->route->limits :
	    &c->cref->cfg->limits)->send_timeout_ms;
}

/* The client socket took bytes: what waits for it is moving. */
void
conn_sent_progress(struct conn *c)
{
	c->sent_at = ev_now(server.loop);
	/* A half-closed client that still reads keeps its connection. */
	if (c->client_hup && c->state == CONN_OPEN)
		conn_deadline(c, c->cref->cfg->close_timeout_ms);
}

/*
 * Client output waits on a full socket (on), or no longer: only then
 * the send deadline runs, from the last progress (nginx send_timeout).
 */
void
conn_client_writing(struct conn *c, bool on)
{
	int64_t	 ms = conn_send_timeout_ms(c);

	if (on && !ev_is_active(&c->client.wr)) {
		c->sent_at = ev_now(server.loop);
		ev_timer_stop(server.loop, &c->send_timer);
		if (ms > 0 && c->client.wfd != -1) {
			ev_timer_set(&c->send_timer, ms / 1000., 0.);
			ev_timer_start(server.loop, &c->send_timer);
		}
	} else if (!on)
		ev_timer_stop(server.loop, &c->send_timer);
	watcher_set(&c->client.wr, on);
}

/* Output waits for the client, and its socket took none for ms. */
bool
conn_client_stalled(const struct conn *c, int64_t ms)
{
	return ev_is_active(&c->client.wr) &&
	    ev_now(server.loop) - c->sent_at >= ms / 1000.;
}

void
conn_deadline(struct conn *c, int64_t ms)
{
	ev_timer_stop(server.loop, &c->deadline);
	if (ms <= 0)
		return;
	ev_timer_set(&c->deadline, ms / 1000., 0.);
	ev_timer_start(server.loop, &c->deadline);
}

/* Fires when a phase (handshake, connect, close) overran its time. */
void
conn_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	(void)loop, (void)revents;
	switch (c->state) {
	case CONN_ACCEPTED:
	case CONN_TLS:
	case CONN_HTTP:
	case CONN_AUTH:
		/* A browser keeps idle connections after static GETs. */
		if (c->idle_keepalive) {
			log_debug("conn %llu %s: idle keep-alive closed",
			    (unsigned long long)c->id, c->peer);
			conn_close(c, "idle keep-alive");
			break;
		}
		log_info("conn %llu %s: handshake timeout",
		    (unsigned long long)c->id, c->peer);
		conn_close(c, "handshake timeout");
		break;
	case CONN_LOOKUP:
		conn_lookup_timeout(c);
		break;
	case CONN_OPEN:
		if (c->client_hup) {
			log_info("conn %llu %s: client gone, its data not "
			    "taken within %.1fs", (unsigned long long)c->id,
			    c->peer, c->cref->cfg->close_timeout_ms / 1000.);
			conn_close(c, "client gone");
			break;
		}
		/* FALLTHROUGH */
	default:
		conn_close(c, "close timeout");
		break;
	}
}

/* --- timers ------------------------------------------------------------------ */

/* Fires when no data moved for idle_timeout (re-armed lazily). */
void
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
	conn_transport_close(c, WS_CLOSE_GOING_AWAY, "idle timeout");
}

/* Fires send_timeout after client output last moved (re-armed lazily). */
void
conn_send_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	int64_t		 ms = conn_send_timeout_ms(c);
	ev_tstamp	 left = c->sent_at + ms / 1000. - ev_now(loop);

	(void)revents;
	if (!ev_is_active(&c->client.wr) || ms <= 0)
		return;
	if (left > 0.001) {
		ev_timer_set(w, left, 0.);
		ev_timer_start(loop, w);
		return;
	}
	log_info("conn %llu %s: send timeout: the client took nothing for "
	    "%.1fs", (unsigned long long)c->id, c->peer, ms / 1000.);
	conn_close(c, "send timeout");
}
