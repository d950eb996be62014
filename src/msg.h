/*
 * What a message is, for every transport and session: the values are
 * WebSocket's opcodes on purpose (no mapping on the fast path).
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>

enum msg_type {
	MSG_TEXT = 1,
	MSG_BINARY = 2,
};

/*
 * How a transport puts a whole message on the wire when a client's bytes
 * depend on nothing but the message (no compression, no message open):
 * a header, then the payload as it is. A shared session encodes each
 * message once for every client whose transport has the same one
 * (session_fanout.c).
 */
struct msg_wire {
	size_t	 max_header;
	/* The header of a message of len bytes at dst; its length. */
	size_t	(*header)(uint8_t *dst, enum msg_type, size_t len);
};

#endif
