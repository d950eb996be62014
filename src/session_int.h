/*
 * Internals shared by session.c (life cycle, the relay to the backend,
 * the close code), msgmode.c (lines, binary, base64) and msgmode_pty.c
 * (ttyd's protocol). Clients use session.h.
 */
#ifndef SESSION_INT_H
#define SESSION_INT_H

#include <sys/socket.h>

#include "backend.h"
#include "base64.h"
#include "buf.h"
#include "config.h"
#include "relay.h"
#include "session.h"

/* A process's read is one message of at most this (websocketd). */
#define SESSION_READ_CHUNK	(64 * 1024)

struct session {
	uint64_t		 id;
	const struct route	*route;
	const char		*peer, *path;	/* the client's, for logs */
	const char		*label;
	struct session_peer	 client;	/* the one client */
	struct backend		 be;
	struct sockaddr_storage	*target;	/* a token's, when not the route's */
	struct endpoint		 relay;		/* the backend's descriptors */
	bool			 open;		/* the client's handshake done */
	bool			 detached;	/* nothing is called back */
	bool			 input_ended;	/* the client sends no more */

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

/* session.c */
int	session_sink(struct session *, const uint8_t *, size_t, bool end);
void	session_update_reading(struct session *);
/* Start the backend now; *program (if given) names what runs. */
int	session_start_now(struct session *, unsigned short cols,
	    unsigned short rows, char *err, size_t errsz, char *program,
	    size_t programsz);
int	session_deliver(struct session *, enum msg_type, const struct iovec *,
	    int iovcnt, bool fin);
void	session_fail(struct session *, unsigned code, const char *why);
void	session_abort(struct session *, const char *why);

/* msgmode.c */
int	msgmode_input(struct session *, enum msg_type, const uint8_t *,
	    size_t, bool fin);
int	msgmode_output(struct session *, const uint8_t *, size_t);
/* The backend's output ended: a partial line goes out whole. */
void	msgmode_output_end(struct session *);

/* msgmode_pty.c */
int	msgmode_pty_input(struct session *, const uint8_t *, size_t,
	    bool fin);
int	msgmode_pty_output(struct session *, uint8_t cmd, const void *,
	    size_t);
void	msgmode_pty_end(struct session *);

#endif
