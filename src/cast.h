/*
 * Session recordings (route key record = DIR): one file per session.
 * Pure: no libev, no sockets; one write(2) per line, so a reader (tail -f,
 * a player) never sees half a line.
 *
 * The file is DIR/ROUTE-TIME-ID.cast (pty) or .jsonl (other routes):
 * ROUTE is the route path without its first '/', every character but
 * [A-Za-z0-9_-] made '_' ("/term/x" -> "term_x", "/" -> "root"), TIME is
 * the UTC start as 20250102T030405Z, ID the session id (same rule). It is
 * created with O_EXCL (an existing name is an error, never overwritten)
 * and mode 0640 whatever the umask. t is seconds on the monotonic clock
 * since cast_open, with 6 decimals, never decreasing.
 *
 * pty sessions: asciicast v2 (docs.asciinema.org/manual/asciicast/v2):
 *   {"version": 2, "width": 80, "height": 24, "timestamp": 1735787045,
 *    "title": "..", "env": {"TERM": "xterm-256color", "SHELL": "/bin/bash",
 *    "REMOTE_USER": "alice"}}
 *   [0.012345, "o", "output"]      backend -> clients
 *   [1.500000, "i", "keys"]        clients -> backend, only with input
 *   [2.000000, "r", "100x30"]      pty resized
 *   [9.000000, "m", "record_max reached"]   last line at the cap
 * The user goes in env as REMOTE_USER, which is what the program sees
 * (asciicast's env is an open map of strings; title is left out when
 * NULL). Output and input are arbitrary bytes: a UTF-8 sequence split
 * between two calls is carried over and written whole with the next
 * event; bytes that are not UTF-8 become U+FFFD (one per maximal ill-formed
 * subpart, as WHATWG decoders do); control characters are \u escaped.
 *
 * Other routes: JSON lines, a first line describing the session, then one
 * line per message, both directions:
 *   {"timestamp": 1735787045, "route": "/feed", "session": "ID",
 *    "user": "alice"}
 *   {"t":0.012345,"dir":"out","type":"text","data":"a line"}
 *   {"t":0.020000,"dir":"in","type":"binary","data":"BASE64"}
 *   {"t":9.000000,"marker":"record_max reached"}
 * (text data through the same U+FFFD rule, whole messages, no carry).
 *
 * record_max: a line that would take the file past max is not written;
 * the marker line above is written instead (so the file is at most max
 * plus one marker line, under 64 bytes) and nothing more. A failed write
 * (ENOSPC, EIO) stops the recording the same way, without a marker. In
 * both cases the session goes on, and cast_problem() says so once.
 */
#ifndef CAST_H
#define CAST_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

struct cast_info {
	const char	*dir;		/* record = DIR (required) */
	const char	*route;		/* route path, "/term" */
	const char	*id;		/* session id, or NULL (left out) */
	const char	*term;		/* pty: TERM, or NULL */
	const char	*shell;		/* pty: SHELL, or NULL */
	const char	*title;		/* pty: header title, or NULL */
	const char	*user;		/* authenticated user, or NULL */
	bool		 pty;		/* asciicast v2, else JSON lines */
	bool		 input;		/* pty: record "i" events */
	unsigned	 cols, rows;	/* pty: initial size (0: 80x24) */
	size_t		 max;		/* record_max in bytes, 0: no cap */
};

struct cast;

/* Create the file and write its first line; NULL with err set. */
struct cast	*cast_open(const struct cast_info *, char *err, size_t errsz);
/* Backend to clients (pty: type ignored, bytes may split UTF-8). */
void		 cast_output(struct cast *, enum msg_type, const void *,
		    size_t);
/* Clients to backend (pty: the keys, recorded only with info.input). */
void		 cast_input(struct cast *, enum msg_type, const void *,
		    size_t);
/* pty size changed: an "r" event (nothing for other routes). */
void		 cast_resize(struct cast *, unsigned cols, unsigned rows);
/*
 * Non-NULL exactly once after recording stopped: "record_max reached", or
 * the strerror() of the failed write. The caller logs it.
 */
const char	*cast_problem(struct cast *);
const char	*cast_path(const struct cast *);
/* The file's descriptor (tests put /dev/full behind it with dup2). */
int		 cast_fd(const struct cast *);
/*
 * Flush a carried partial UTF-8 sequence (as U+FFFD), close, free. Call
 * cast_problem() before: what this last write meets is not reported.
 */
void		 cast_close(struct cast *);

#endif
