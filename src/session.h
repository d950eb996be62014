/*
 * A session is what a user talks to: a backend, the route's message mode
 * (text lines, binary chunks, ttyd's pty protocol, websockify's base64)
 * and the clients attached to it (members: one, or with route->share
 * many writers and read-only viewers). It owns the relay to the
 * backend's descriptors (the copy-free fast path for one client), the
 * output pipeline and its backpressure (one client: the backend waits;
 * shared: a client that cannot keep up is closed or skips), the replay
 * ring, the close code when the backend ends, and what happens when its
 * last client leaves (the backend's grace sequence, after persist).
 *
 * Arrows point one way: a client calls the session's functions; the
 * session calls its clients only through struct session_peer, and its
 * backend through backend.h. It includes no client header.
 */
#ifndef SESSION_H
#define SESSION_H

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct backend_params;
struct config_ref;
struct proc_request;
struct route;
struct session;
struct sockaddr;

/* A client as its session sees it (arg: the client's pointer). */
struct session_peer_ops {
	/* Output: a message, or a piece of one. -1: the client is gone. */
	int	(*deliver)(void *, enum msg_type, const struct iovec *,
		    int iovcnt, bool fin);
	/*
	 * Optional: how the client's whole messages look on the wire now
	 * (NULL: its bytes are its own), and whole messages (nmsgs, payload
	 * bytes) in those bytes. -1: the client is gone.
	 */
	const struct msg_wire *(*wire)(void *);
	int	(*deliver_wire)(void *, const void *, size_t, unsigned nmsgs,
		    size_t payload);
	/* How much output the client takes now; 0 also while it closes. */
	size_t	(*room)(void *);
	/* The backend is there (connected, or a terminal spawned). */
	void	(*ready)(void *);
	/* The backend could not be reached or started (before ready). */
	void	(*failed)(void *, const char *why);
	/* The session ended: say goodbye with this code and reason. */
	void	(*ended)(void *, unsigned code, const char *reason);
	/* The client's input broke the message mode's rules. */
	void	(*fail)(void *, unsigned code, const char *why);
	/* No memory (or the like) for this client: close it now. */
	void	(*abort)(void *, const char *why);
	/*
	 * The backend took some input (a half-closed client waits on), or
	 * its queue is low (drained): input may move again.
	 */
	void	(*input_moved)(void *, bool drained);
	/* Output came from the backend (idle_timeout counts it). */
	void	(*activity)(void *);
	/* A message came for this client by POST (counted as its input). */
	void	(*posted)(void *, size_t len);
	/* What a process started now needs (a terminal: at init). */
	void	(*params)(void *, struct backend_params *,
		    struct proc_request *, unsigned short cols,
		    unsigned short rows);
};

struct session_peer {
	const struct session_peer_ops	*ops;
	void				*arg;
};

struct session_params {
	const struct route	*route;		/* the session's (a writer's) */
	struct config_ref	*cref;		/* held while the session lives */
	uint64_t		 id;		/* log lines, recordings */
	const char		*peer;		/* log lines (the first client's) */
	const char		*path;
	const char		*label;		/* metrics: the route */
	const char		*key;		/* what selects it (session_find), or NULL */
	const char		*owner;		/* the user who starts it, or NULL */
};

/* One client of a session (a writer or a read-only viewer). */
struct session_member;

/*
 * A new session, not started, with peer as its first member (*member)
 * and a reference for that member's client (session_unref). With a key
 * (a shared route's, or an unshared session's secret id for input by
 * POST), session_find finds it from now until it ends. NULL: too many
 * sessions, or out of memory.
 */
struct session *session_new(const struct session_params *,
	    const struct session_peer *, struct session_member **);
/* The running session of route (a writer route) selected by key, or NULL. */
struct session *session_find(const struct route *, const char *key);
/* A reference more (for a client that joins it). */
void	session_ref(struct session *);
/* The last reference frees it; call at a safe point (not in a callback). */
void	session_unref(struct session *);
/* Join (a reference for the client, session_unref); NULL: out of memory. */
struct session_member *session_join(struct session *,
	    const struct session_peer *, bool viewer);
/*
 * The member answers to name (secret: an event stream's or a poll
 * session's id) on route r until it leaves. -1 out of memory.
 */
int	session_member_name(struct session_member *, const struct route *r,
	    const char *name);
/* The member named so on route r (its session may have ended), or NULL. */
struct session_member *session_find_member(const struct route *r,
	    const char *name);
struct session *session_of(const struct session_member *);
bool	session_member_viewer(const struct session_member *);
/* Its client, as the session calls it. */
const struct session_peer *session_member_peer(const struct session_member *);
/* Another client takes the member over (a poll session its opener's). */
void	session_member_move(struct session_member *,
	    const struct session_peer *);
/*
 * The sequence number of the message being delivered now (a replayed
 * one's own), given the piece's fin as deliver was called with it.
 */
uint64_t session_output_seq(const struct session *, bool fin);
/* The backend's goodbye was said (or it stopped): no input goes in. */
bool	session_ended(const struct session *);
/* The writer route it runs for. */
const struct route *session_route(const struct session *);
/* A whole message by POST: session_input, counted for the member's client. */
int	session_post(struct session_member *, enum msg_type, const uint8_t *,
	    size_t);
/* The user who started it (share with auth), or NULL. */
const char *session_owner(const struct session *);
/* The key that selects it, or NULL (not shared). */
const char *session_key(const struct session *);
/* For logs: "/feed", "/term?session=ID", "/term (user bob)" (static). */
const char *session_name(const struct session *);
/* Stop persisting sessions and refuse new ones: the server is stopping. */
void	session_shutdown(void);

/* websockify's base64 protocol was agreed: text both ways. */
void	session_use_base64(struct session *);
/* A socket route's target, when not the route's own (a token's); -1 no memory. */
int	session_set_target(struct session *, const struct sockaddr *,
	    unsigned len);
/*
 * Start the backend (a terminal waits for the client's init message):
 * 0 ready now, 1 under way (ready or failed follows), -1 failed (err).
 * For a session already started: 0 when ready, 1 while it starts.
 */
int	session_start(struct session *, char *err, size_t errsz);
/* The member's handshake is answered: replay, then live output. */
void	session_open(struct session_member *, size_t buffer_size);
/* Bytes the backend gets before any client input (a PROXY header). */
int	session_prefix(struct session *, const void *, size_t);

/* A piece of a client message; -1 when the client was closed/failed. */
int	session_input(struct session_member *, enum msg_type,
	    const uint8_t *, size_t, bool fin);
/* How much client input the session takes now from this member. */
size_t	session_input_room(struct session_member *);
/* The member's input not yet written to the backend. */
bool	session_input_pending(const struct session_member *);
/* The member sends no more (alone: the backend sees EOF once all is written). */
void	session_input_end(struct session_member *);
/* The member failed: what it sent and was not written is dropped. */
void	session_input_abort(struct session_member *);
/* The member has room again (or stops taking): read the backend. */
void	session_output_resume(struct session_member *);

/*
 * The member leaves: nothing is called back on it afterwards. The last
 * one out stops the session (descriptors closed, a process through its
 * TERM/KILL sequence), after route->persist_ms for a shared one.
 */
void	session_leave(struct session_member *);

/* For the client's logs and metrics. */
bool	session_messages_only(const struct session *);	/* echo */
bool	session_starts_late(const struct session *);	/* a terminal */
bool	session_spawns(const struct session *);
bool	session_is_socket(const struct session *);
/* "127.0.0.1:5900", "unix:/path", "pid 42", "echo". */
void	session_backend_name(const struct session *, char *, size_t);
/* A process still runs: its exit status is logged when it is reaped. */
bool	session_exit_pending(const struct session *);
int	session_exit_status(const struct session *);	/* -1 unknown */
void	session_log_at_exit(struct session *, const char *head,
	    const char *tail, bool json);

#endif
