/*
 * What a message is, for every transport and session: the values are
 * WebSocket's opcodes on purpose (no mapping on the fast path).
 */
#ifndef MSG_H
#define MSG_H

enum msg_type {
	MSG_TEXT = 1,
	MSG_BINARY = 2,
};

#endif
