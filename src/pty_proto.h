/*
 * ttyd's WebSocket protocol for terminals (subprotocol "tty"): every
 * message starts with a command byte. Parsing of its JSON messages with
 * json-c. Pure: no I/O.
 */
#ifndef PTY_PROTO_H
#define PTY_PROTO_H

#include <stddef.h>

/* Client to server. */
#define PTY_IN_INPUT	'0'
#define PTY_IN_RESIZE	'1'
#define PTY_IN_PAUSE	'2'
#define PTY_IN_RESUME	'3'
#define PTY_IN_INIT	'{'	/* the JSON init message, '{' included */

/* Server to client. */
#define PTY_OUT_OUTPUT	'0'
#define PTY_OUT_TITLE	'1'
#define PTY_OUT_PREFS	'2'

#define PTY_DEFAULT_COLS	80
#define PTY_DEFAULT_ROWS	24
#define PTY_MAX_DIM		4096
#define PTY_MAX_CONTROL		4096	/* bytes of a JSON message */

struct pty_size {
	unsigned short	cols, rows;
};

/*
 * {"AuthToken":"..","columns":C,"rows":R}: sizes default to 80x24 when
 * absent; token copied (may be empty). 0, or -1 with *why.
 */
int	pty_parse_init(const char *, size_t, struct pty_size *, char *token,
	    size_t tokensz, const char **why);
/* {"columns":C,"rows":R}: both required. 0, or -1 with *why. */
int	pty_parse_resize(const char *, size_t, struct pty_size *,
	    const char **why);

#endif
