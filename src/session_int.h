/*
 * Internals shared by session.c (life cycle, the relay to the backend,
 * the close code), msgmode.c (lines, binary, base64) and msgmode_pty.c
 * (ttyd's protocol). Clients use session.h.
 */
#ifndef SESSION_INT_H
#define SESSION_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include "backend.h"
#include "base64.h"
#include "buf.h"
#include "config.h"
#include "relay.h"
#include "session.h"

/* A process's read is one message of at most this (websocketd). */
#define SESSION_READ_CHUNK	(64 * 1024)
/* A shared session's client without room this long no longer paces it. */
#define SESSION_STALL_S		0.25

/* A piece of output kept for clients that join later. */
struct replay_rec {
	TAILQ_ENTRY(replay_rec)	 entry;
	uint64_t		 seq;		/* the message's */
	uint8_t			 type;		/* enum msg_type */
	size_t			 len;
	uint8_t			 data[];
};
TAILQ_HEAD(replay_list, replay_rec);

struct session_member {
	TAILQ_ENTRY(session_member) entry;
	struct session		*s;
	struct session_peer	 peer;
	bool			 viewer;	/* read-only */
	bool			 open;		/* handshake done: gets output */
	bool			 ready;		/* told the backend is there */
	bool			 pty_init;	/* pty: its init message came */
	bool			 in_msg;	/* viewer: inside a message */
	bool			 gone;		/* closed as too slow */
	ev_tstamp		 full_since;	/* no room since, or 0 */
	uint64_t		 dropped;	/* viewer: messages dropped */
	uint64_t		 skipped;	/* slow_client = skip: bytes */
	uint64_t		 skipping;	/* since it last got output */
	/* Named (POST input, polls): a secret id on the client's route. */
	char			*name;
	const struct route	*name_route;
	LIST_ENTRY(session_member) named;
};
TAILQ_HEAD(member_list, session_member);

/* Members, safe against the current one leaving. */
#define FOREACH_MEMBER(m, s, next)					\
	for ((m) = TAILQ_FIRST(&(s)->members);				\
	    (m) != NULL && ((next) = TAILQ_NEXT((m), entry), 1);	\
	    (m) = (next))

/*
 * What only a shared session (share != no) needs, allocated with it: an
 * unshared one, the common case, is smaller by this (idle memory per
 * connection, issue 14).
 */
struct session_shared {
	ev_timer		 persist;	/* no client: kept until it fires */
	ev_timer		 kick;		/* the input turn is free: tell */
	ev_timer		 stall;		/* a full member may be stalled */
	struct replay_list	 replay;
	size_t			 replay_len;
	bool			 replay_trimmed; /* the oldest output is gone */
};

struct session {
	uint64_t		 id;
	const struct route	*route;
	struct config_ref	*cref;
	char			*peer, *path;	/* the first client's, for logs */
	const char		*label;
	char			*key;		/* shared: selects it */
	char			*owner;		/* the user who started it */
	int			 refs;
	struct member_list	 members;
	unsigned		 nmembers, nviewers;
	struct session_member	*turn;		/* writer inside a message */
	struct session_member	*cur;		/* whose input runs now */
	bool			 shared;	/* route->share != SHARE_NO */
	bool			 registered;	/* session_find finds it */
	bool			 started, is_ready, prefixed;
	bool			 stopped;	/* backend stopped */
	bool			 ended;		/* its goodbye was said */
	struct session_shared	*sh;		/* shared sessions only, or NULL */
	LIST_ENTRY(session)	 reg;		/* registry bucket */
	TAILQ_ENTRY(session)	 all;		/* every live session */

	struct backend		 be;
	struct sockaddr_storage	*target;	/* a token's, when not the route's */
	struct endpoint		 relay;		/* the backend's descriptors */
	bool			 open;		/* a client's handshake done */
	bool			 input_ended;	/* the client sends no more */

	/* Output: sequence numbers and the replay ring. */
	uint64_t		 seq;		/* messages so far */
	uint64_t		 replay_seq;	/* the record replay_send sends */
	char			*title;		/* pty: what joiners are told */
	struct cast		*cast;		/* record = DIR, or NULL */

	/* Message mode. */
	bool			 base64;	/* websockify's base64 protocol */
	struct base64_dec	 b64;		/* the client message so far */
	uint8_t			 in_type;	/* enum msg_type coming in */
	struct buf		 line;		/* text: partial output line */
	bool			 output_paused;	/* pty: client asked to pause */
	uint8_t			 pty_cmd;	/* pty: command of this message */
	struct buf		 ctl;		/* pty: JSON message so far */
	uint64_t		 pty_unknown;	/* pty: unknown commands seen */

	/* The backend's end. */
	bool			 backend_eof;
	int			 backend_error;	/* first errno that lost data */
	bool			 backend_unsent; /* at socket EOF, not taken */
	bool			 proc_exited;
	int			 exit_status;	/* wait status, -1 unknown */
};

/* session_record.c: record = DIR, one recording per session. */
void	session_record_open(struct session *, unsigned cols, unsigned rows);
void	session_record_out(struct session *, enum msg_type,
	    const struct iovec *, int iovcnt);
void	session_record_in(struct session *, enum msg_type, const void *,
	    size_t);
void	session_record_resize(struct session *, unsigned cols,
	    unsigned rows);
void	session_record_close(struct session *);

/* session_fanout.c: output to the members, replay, pacing. */
void	replay_send(struct session *, struct session_member *);
size_t	session_output_room(struct session *);
void	session_stall_cb(struct ev_loop *, ev_timer *, int);
void	session_activity(struct session *);
void	session_input_moved(struct session *, bool drained);
/* Around a backend read: its messages go to the members as one batch. */
void	session_fanout_begin(struct session *);
void	session_fanout_end(struct session *);

/* session.c */
int	session_deliver_to(struct session_member *, enum msg_type,
	    const struct iovec *, int iovcnt);
/* Members that sent their init (pty) and wait for the backend: tell them. */
void	session_tell_ready(struct session *);
int	session_sink(struct session *, const uint8_t *, size_t, bool end);
void	session_update_reading(struct session *);
/* Start the backend now; *program (if given) names what runs. */
int	session_start_now(struct session *, struct session_member *,
	    unsigned short cols,
	    unsigned short rows, char *err, size_t errsz, char *program,
	    size_t programsz);
int	session_deliver(struct session *, enum msg_type, const struct iovec *,
	    int iovcnt, bool fin);
void	session_fail(struct session *, unsigned code, const char *why);
/* The backend ended or cannot start: every member hears it. */
void	session_end(struct session *, unsigned code, const char *reason);
void	session_turn_abandoned(struct session *);
void	session_abort(struct session *, const char *why);

/* msgmode.c */
int	msgmode_input(struct session *, enum msg_type, const uint8_t *,
	    size_t, bool fin);
int	msgmode_output(struct session *, const uint8_t *, size_t);
/* The backend's output ended: a partial line goes out whole. */
void	msgmode_output_end(struct session *);

/* session_registry.c: shared sessions by route and key. */
void	registry_add(struct session *);
void	registry_remove(struct session *);
struct session *registry_find(const char *route, const char *key);
/* Members by name (session_member_name). */
void	registry_add_member(struct session_member *);
void	registry_remove_member(struct session_member *);
struct session_member *registry_find_member(const char *route,
	    const char *name);

/* msgmode_pty.c */
int	msgmode_pty_input(struct session *, const uint8_t *, size_t,
	    bool fin);
int	msgmode_pty_output(struct session *, uint8_t cmd, const void *,
	    size_t);
void	msgmode_pty_end(struct session *);
void	msgmode_pty_join(struct session *, struct session_member *);

#endif
