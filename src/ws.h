/*
 * RFC 6455 frame codec: header parsing and building, unmasking, close
 * payloads, streaming UTF-8 validation and the per-connection message
 * state (fragmentation, limits). Pure: no I/O, no libev.
 */
#ifndef WS_H
#define WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,	/* never on the wire */
	WS_CLOSE_ABNORMAL = 1006,	/* never on the wire */
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_EXTENSION = 1010,
	WS_CLOSE_INTERNAL = 1011,
};

#define WS_MAX_HEADER		14	/* 2 + 8 length + 4 mask */
#define WS_MAX_CONTROL_PAYLOAD	125

struct ws_header {
	bool		fin;
	uint8_t		rsv;		/* RSV1..3 as bits 0x4 0x2 0x1 */
	uint8_t		opcode;
	bool		masked;
	uint8_t		mask[4];
	uint64_t	len;		/* payload length */
};

/*
 * Parse one frame header. Returns the header length (2..14), 0 when more
 * bytes are needed, -1 on a malformed header (64-bit length with the top
 * bit set: a protocol error, close 1002) with the reason in *why. Semantic checks live in ws_msg_frame().
 */
ssize_t	 ws_parse_header(const uint8_t *, size_t, struct ws_header *,
	    const char **why);

/* Build an unmasked (server) frame header into out; returns its length. */
size_t	 ws_build_header(uint8_t out[WS_MAX_HEADER], bool fin, int opcode,
	    uint64_t len);
/* Build a masked (client) frame header; used by tests and the benchmark. */
size_t	 ws_build_header_masked(uint8_t out[WS_MAX_HEADER], bool fin,
	    int opcode, uint64_t len, const uint8_t mask[4]);

/*
 * XOR payload bytes with the mask; offset is the position of p[0] within
 * the frame payload so a payload can be unmasked in pieces.
 */
void	 ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);

/* Streaming UTF-8 validation (Hoehrmann-style DFA state; 0 = accept). */
#define WS_UTF8_ACCEPT	0
#define WS_UTF8_REJECT	1
/*
 * Feed bytes; returns the new state, WS_UTF8_REJECT (sticky) at the first
 * byte that no valid text could continue with: overlongs, surrogates and
 * code points over U+10FFFF are caught at their second byte.
 */
uint32_t ws_utf8_feed(uint32_t state, const uint8_t *p, size_t n);
/* Whole-buffer check. */
bool	 ws_utf8_valid(const uint8_t *p, size_t n);

/*
 * Copy src to dst replacing each invalid UTF-8 sequence by U+FFFD
 * (EF BF BD). dst must hold 3 * n bytes. Returns bytes written. Used for
 * process output sent in text frames.
 */
size_t	 ws_utf8_sanitize(uint8_t *dst, const uint8_t *src, size_t n);
/*
 * Length of the longest prefix of p[0..n) that does not end inside an
 * incomplete (but so far valid) UTF-8 sequence: where a text piece may be
 * cut without splitting a character.
 */
size_t	 ws_utf8_boundary(const uint8_t *p, size_t n);

/* May this code appear in a Close frame on the wire? (RFC 6455 7.4) */
bool	 ws_close_code_valid(unsigned code);
/*
 * Validate a Close payload: empty (code 1005), or a valid code followed
 * by UTF-8 reason. Returns 0 with *code set, or -1 with *why and the
 * close code to answer with in *code (1002 or 1007).
 */
int	 ws_parse_close(const uint8_t *p, size_t n, unsigned *code,
	    const char **why);
/*
 * Build a whole Close frame (header + code + reason, reason truncated to
 * fit 125 bytes at a UTF-8 boundary). code 0 means an empty payload.
 * out must hold WS_MAX_HEADER + 125 bytes. Returns the frame length.
 */
size_t	 ws_build_close(uint8_t *out, unsigned code, const char *reason);

/*
 * Receiving-side message state for one connection: what is legal next,
 * running message length and UTF-8 state of the text message in progress.
 */
struct ws_msg {
	bool		in_message;	/* a fragmented message is open */
	uint8_t		opcode;		/* WS_OP_TEXT/BINARY of that message */
	uint32_t	utf8;		/* validator state for text */
	uint64_t	len;		/* bytes of the message so far */
	uint64_t	max_len;	/* 0 = unlimited */
	bool		require_mask;	/* server side: true */
	bool		allow_rsv1;	/* permessage-deflate negotiated */
	bool		compressed;	/* RSV1 on this message's first frame */
};

void	 ws_msg_init(struct ws_msg *, uint64_t max_len, bool require_mask);
/*
 * Check a parsed frame header against RFC 6455 and the message state:
 * RSV bits (no extension negotiated), reserved opcodes, masking, control
 * frames (<= 125 bytes, FIN set), continuation without a message, a new
 * data frame inside a fragmented message, and max_len, in that order.
 * Updates the state for data frames only: control frames may come
 * between the fragments of a message. Returns 0, or the close code to
 * fail with (1002 or 1009) and the reason in *why.
 */
unsigned ws_msg_frame(struct ws_msg *, const struct ws_header *,
	    const char **why);
/*
 * Account unmasked payload bytes of the current data frame (never of a
 * control frame: a Close payload goes to ws_parse_close()). Call it once
 * or more per data frame, as bytes arrive, so bad UTF-8 fails fast; set
 * message_end on the last piece of a FIN frame, even an empty one. UTF-8
 * is validated for text messages and must end on a character boundary
 * at message_end, which also closes the message. Returns 0 or 1007 with
 * *why.
 */
unsigned ws_msg_payload(struct ws_msg *, const uint8_t *p, size_t n,
	    bool message_end, const char **why);

#endif
