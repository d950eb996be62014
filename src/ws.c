/*
 * RFC 6455 frame codec: header parsing and building, unmasking, close
 * payloads, streaming UTF-8 validation and the receiving-side message
 * state. Pure: no I/O, no libev, only libc, so unit tests link it alone.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "ws.h"

/*
 * UTF-8 automaton. Bytes fall into classes with identical transitions;
 * the states between ACCEPT and REJECT say what the next byte must be.
 * The narrow first-continuation states (after E0, ED, F0, F4) are what
 * reject overlongs, surrogates and code points above U+10FFFF at the
 * first byte that proves them, not at the end of the sequence.
 */
enum ws_utf8_class {
	WS_C_ASCII,	/* 00..7F */
	WS_C_80_8F,	/* continuation, low */
	WS_C_90_9F,	/* continuation, middle */
	WS_C_A0_BF,	/* continuation, high */
	WS_C_BAD,	/* C0 C1 F5..FF: never valid */
	WS_C_2BYTE,	/* C2..DF */
	WS_C_E0,	/* 3 bytes, second A0..BF */
	WS_C_3BYTE,	/* E1..EC EE EF */
	WS_C_ED,	/* 3 bytes, second 80..9F (no surrogates) */
	WS_C_F0,	/* 4 bytes, second 90..BF */
	WS_C_4BYTE,	/* F1..F3 */
	WS_C_F4,	/* 4 bytes, second 80..8F (<= U+10FFFF) */
	WS_C_COUNT
};

enum ws_utf8_state {
	WS_S_ACCEPT = WS_UTF8_ACCEPT,
	WS_S_REJECT = WS_UTF8_REJECT,
	WS_S_TAIL1,	/* one continuation byte left */
	WS_S_TAIL2,	/* two left */
	WS_S_TAIL3,	/* three left */
	WS_S_E0,	/* after E0: A0..BF, then one more */
	WS_S_ED,	/* after ED: 80..9F, then one more */
	WS_S_F0,	/* after F0: 90..BF, then two more */
	WS_S_F4,	/* after F4: 80..8F, then two more */
	WS_S_COUNT
};

/* Values are enum ws_utf8_class; 00..7F are WS_C_ASCII (0). */
static const uint8_t ws_utf8_class[256] = {
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	[0xa0] = 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	[0xb0] = 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	[0xc0] = 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	[0xd0] = 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	[0xe0] = 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
	[0xf0] = 9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Short names so that each state's row fits on one line. */
#define A	WS_S_ACCEPT
#define R	WS_S_REJECT
#define T1	WS_S_TAIL1
#define T2	WS_S_TAIL2
#define T3	WS_S_TAIL3
#define SE0	WS_S_E0
#define SED	WS_S_ED
#define SF0	WS_S_F0
#define SF4	WS_S_F4
static const uint8_t ws_utf8_next[WS_S_COUNT][WS_C_COUNT] = {
	/* byte:   00   80   90   A0  bad   C2   E0   E1   ED   F0   F1   F4 */
	[A] =	{   A,   R,   R,   R,   R,  T1, SE0,  T2, SED, SF0,  T3, SF4 },
	[R] =	{   R,   R,   R,   R,   R,   R,   R,   R,   R,   R,   R,   R },
	[T1] =	{   R,   A,   A,   A,   R,   R,   R,   R,   R,   R,   R,   R },
	[T2] =	{   R,  T1,  T1,  T1,   R,   R,   R,   R,   R,   R,   R,   R },
	[T3] =	{   R,  T2,  T2,  T2,   R,   R,   R,   R,   R,   R,   R,   R },
	[SE0] =	{   R,   R,   R,  T1,   R,   R,   R,   R,   R,   R,   R,   R },
	[SED] =	{   R,  T1,  T1,   R,   R,   R,   R,   R,   R,   R,   R,   R },
	[SF0] =	{   R,   R,  T2,  T2,   R,   R,   R,   R,   R,   R,   R,   R },
	[SF4] =	{   R,  T2,   R,   R,   R,   R,   R,   R,   R,   R,   R,   R },
};
#undef A
#undef R
#undef T1
#undef T2
#undef T3
#undef SE0
#undef SED
#undef SF0
#undef SF4

#define WS_HIGH_BITS	0x8080808080808080ULL

static inline uint32_t
ws_utf8_step(uint32_t state, uint8_t b)
{
	return ws_utf8_next[state][ws_utf8_class[b]];
}

/* Big-endian extended length: 2 or 8 bytes. */
static uint64_t
ws_parse_len(const uint8_t *p, size_t n)
{
	uint64_t	 len = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		len = len << 8 | p[i];
	return len;
}

ssize_t
ws_parse_header(const uint8_t *p, size_t n, struct ws_header *h,
    const char **why)
{
	struct ws_header	 t;
	size_t			 need, lenbytes;

	if (n < 2)
		return 0;
	t.fin = (p[0] & 0x80) != 0;
	t.rsv = (p[0] >> 4) & 0x7;
	t.opcode = p[0] & 0xf;
	t.masked = (p[1] & 0x80) != 0;
	t.len = p[1] & 0x7f;
	lenbytes = t.len == 126 ? 2 : t.len == 127 ? 8 : 0;
	need = 2 + lenbytes + (t.masked ? 4 : 0);
	if (n < need)
		return 0;
	if (lenbytes != 0)
		t.len = ws_parse_len(p + 2, lenbytes);
	/* RFC 6455 5.2: the most significant bit MUST be 0. */
	if (t.len >> 63) {
		*why = "64-bit payload length with the top bit set";
		return -1;
	}
	memset(t.mask, 0, sizeof(t.mask));
	if (t.masked)
		memcpy(t.mask, p + 2 + lenbytes, 4);
	*h = t;
	return (ssize_t)need;
}

size_t
ws_build_header(uint8_t out[WS_MAX_HEADER], bool fin, int opcode,
    uint64_t len)
{
	size_t	 i;

	out[0] = (fin ? 0x80 : 0) | (opcode & 0xf);
	if (len <= 125) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

size_t
ws_build_header_masked(uint8_t out[WS_MAX_HEADER], bool fin, int opcode,
    uint64_t len, const uint8_t mask[4])
{
	size_t	 n;

	n = ws_build_header(out, fin, opcode, len);
	out[1] |= 0x80;
	memcpy(out + n, mask, 4);
	return n + 4;
}

/*
 * The key is laid out in memory as the bytes it meets, so XORing through
 * memcpy'd words needs no byte-order handling; 8 is a multiple of the
 * mask period, so one key word serves the whole run.
 */
void
ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
	uint8_t		 key[8];
	uint64_t	 k, w;
	size_t		 i;

	for (i = 0; i < 8; i++)
		key[i] = mask[(offset + i) & 3];
	memcpy(&k, key, sizeof(k));
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, sizeof(w));
		w ^= k;
		memcpy(p + i, &w, sizeof(w));
	}
	for (; i < n; i++)
		p[i] ^= key[i & 7];
}

uint32_t
ws_utf8_feed(uint32_t state, const uint8_t *p, size_t n)
{
	uint64_t	 w;
	size_t		 i = 0;

	while (i < n && state != WS_UTF8_REJECT) {
		/* Text is mostly ASCII: skip it a word at a time. */
		if (state == WS_UTF8_ACCEPT && n - i >= 8) {
			memcpy(&w, p + i, sizeof(w));
			if ((w & WS_HIGH_BITS) == 0) {
				i += 8;
				continue;
			}
		}
		state = ws_utf8_step(state, p[i++]);
	}
	return state;
}

bool
ws_utf8_valid(const uint8_t *p, size_t n)
{
	return ws_utf8_feed(WS_UTF8_ACCEPT, p, n) == WS_UTF8_ACCEPT;
}

/*
 * Length of the valid character at p, or 0 when p starts an ill-formed
 * sequence; then *bad is its maximal subpart (at least one byte), the
 * longest prefix of some valid sequence, as Unicode ch. 3 "U+FFFD
 * Substitution of Maximal Subparts" defines it.
 */
static size_t
ws_utf8_char(const uint8_t *p, size_t n, size_t *bad)
{
	uint32_t	 state = WS_UTF8_ACCEPT;
	size_t		 i;

	for (i = 0; i < n; i++) {
		state = ws_utf8_step(state, p[i]);
		if (state == WS_UTF8_ACCEPT)
			return i + 1;
		if (state == WS_UTF8_REJECT)
			break;
	}
	/* The rejected byte is not part of the subpart, unless first. */
	*bad = i == 0 ? 1 : i;
	return 0;
}

size_t
ws_utf8_sanitize(uint8_t *dst, const uint8_t *src, size_t n)
{
	static const uint8_t	 fffd[3] = { 0xef, 0xbf, 0xbd };
	size_t			 i = 0, o = 0, len, bad;

	while (i < n) {
		if (src[i] < 0x80) {
			dst[o++] = src[i++];
			continue;
		}
		if ((len = ws_utf8_char(src + i, n - i, &bad)) != 0) {
			memcpy(dst + o, src + i, len);
			o += len;
			i += len;
		} else {
			memcpy(dst + o, fffd, sizeof(fffd));
			o += sizeof(fffd);
			i += bad;
		}
	}
	return o;
}

size_t
ws_utf8_boundary(const uint8_t *p, size_t n)
{
	uint32_t	 state;
	size_t		 k;

	/* An incomplete character is at most 3 bytes long. */
	for (k = n; k > 0 && n - k < 3; k--) {
		if ((p[k - 1] & 0xc0) == 0x80)
			continue;
		state = ws_utf8_feed(WS_UTF8_ACCEPT, p + k - 1, n - k + 1);
		if (state != WS_UTF8_ACCEPT && state != WS_UTF8_REJECT)
			return k - 1;
		break;
	}
	return n;
}

bool
ws_close_code_valid(unsigned code)
{
	if (code >= 1000 && code <= 1003)
		return true;
	/* 1004 reserved; 1005, 1006 and 1015 are never sent. */
	if (code >= 1007 && code <= 1014)
		return true;
	/* 3000-3999 registered with IANA, 4000-4999 private use. */
	return code >= 3000 && code <= 4999;
}

int
ws_parse_close(const uint8_t *p, size_t n, unsigned *code,
    const char **why)
{
	unsigned	 c;

	if (n == 0) {
		*code = WS_CLOSE_NO_STATUS;
		return 0;
	}
	*code = WS_CLOSE_PROTOCOL;
	if (n == 1) {
		*why = "close payload of 1 byte";
		return -1;
	}
	if (n > WS_MAX_CONTROL_PAYLOAD) {
		*why = "close payload over 125 bytes";
		return -1;
	}
	c = (unsigned)p[0] << 8 | p[1];
	if (!ws_close_code_valid(c)) {
		*why = "invalid close code";
		return -1;
	}
	if (!ws_utf8_valid(p + 2, n - 2)) {
		*code = WS_CLOSE_BAD_DATA;
		*why = "close reason is not UTF-8";
		return -1;
	}
	*code = c;
	return 0;
}

size_t
ws_build_close(uint8_t *out, unsigned code, const char *reason)
{
	const size_t	 max = WS_MAX_CONTROL_PAYLOAD - 2;
	size_t		 n = 0, h;

	if (code == 0)
		return ws_build_header(out, true, WS_OP_CLOSE, 0);
	if (reason != NULL)
		n = strlen(reason);
	if (n > max)
		n = ws_utf8_boundary((const uint8_t *)reason, max);
	h = ws_build_header(out, true, WS_OP_CLOSE, 2 + n);
	out[h] = (uint8_t)(code >> 8);
	out[h + 1] = (uint8_t)code;
	if (n != 0)
		memcpy(out + h + 2, reason, n);
	return h + 2 + n;
}

void
ws_msg_init(struct ws_msg *m, uint64_t max_len, bool require_mask)
{
	memset(m, 0, sizeof(*m));
	m->utf8 = WS_UTF8_ACCEPT;
	m->max_len = max_len;
	m->require_mask = require_mask;
}

/* Checks that need no message state: a frame that is wrong on its own. */
static unsigned
ws_msg_frame_alone(const struct ws_msg *m, const struct ws_header *h,
    const char **why)
{
	/* With permessage-deflate, RSV1 may mark a message's first frame. */
	if (h->rsv != 0 && !(m->allow_rsv1 && h->rsv == 0x4 &&
	    (h->opcode == WS_OP_TEXT || h->opcode == WS_OP_BINARY))) {
		*why = "RSV bits set without an extension";
		return WS_CLOSE_PROTOCOL;
	}
	if ((h->opcode > WS_OP_BINARY && h->opcode < WS_OP_CLOSE) ||
	    h->opcode > WS_OP_PONG) {
		*why = "reserved opcode";
		return WS_CLOSE_PROTOCOL;
	}
	if (m->require_mask && !h->masked) {
		*why = "unmasked client frame";
		return WS_CLOSE_PROTOCOL;
	}
	if ((h->opcode & 0x8) && h->len > WS_MAX_CONTROL_PAYLOAD) {
		*why = "control frame over 125 bytes";
		return WS_CLOSE_PROTOCOL;
	}
	if ((h->opcode & 0x8) && !h->fin) {
		*why = "fragmented control frame";
		return WS_CLOSE_PROTOCOL;
	}
	return 0;
}

/* Data frames: fragmentation order and the message size limit. */
static unsigned
ws_msg_data(struct ws_msg *m, const struct ws_header *h, const char **why)
{
	uint64_t	 limit;

	if (h->opcode == WS_OP_CONT && !m->in_message) {
		*why = "continuation frame without a message";
		return WS_CLOSE_PROTOCOL;
	}
	if (h->opcode != WS_OP_CONT && m->in_message) {
		*why = "new data frame inside a fragmented message";
		return WS_CLOSE_PROTOCOL;
	}
	if (h->opcode != WS_OP_CONT) {
		m->compressed = (h->rsv & 0x4) != 0;
		m->opcode = h->opcode;
		m->len = 0;
		m->utf8 = WS_UTF8_ACCEPT;
		m->in_message = !h->fin;
	}
	/*
	 * A compressed message's limit is on its inflated size (checked as
	 * it inflates); its wire size only has a loose bound, as random
	 * data grows a little when deflated. Written as a subtraction:
	 * m->len + h->len may overflow.
	 */
	limit = m->max_len;
	if (m->compressed && limit != 0)
		limit = limit > (UINT64_MAX - 1024) / 2 ? UINT64_MAX :
		    2 * limit + 1024;
	if (limit != 0 && h->len > limit - m->len) {
		*why = "message over the size limit";
		return WS_CLOSE_TOO_BIG;
	}
	m->len += h->len;
	return 0;
}

unsigned
ws_msg_frame(struct ws_msg *m, const struct ws_header *h, const char **why)
{
	unsigned	 code;

	if ((code = ws_msg_frame_alone(m, h, why)) != 0)
		return code;
	/* Control frames may interleave and leave the message alone. */
	if (h->opcode & 0x8)
		return 0;
	return ws_msg_data(m, h, why);
}

unsigned
ws_msg_payload(struct ws_msg *m, const uint8_t *p, size_t n,
    bool message_end, const char **why)
{
	if (m->opcode == WS_OP_TEXT) {
		m->utf8 = ws_utf8_feed(m->utf8, p, n);
		if (m->utf8 == WS_UTF8_REJECT) {
			*why = "invalid UTF-8 in text message";
			return WS_CLOSE_BAD_DATA;
		}
		if (message_end && m->utf8 != WS_UTF8_ACCEPT) {
			*why = "text message ends inside a UTF-8 sequence";
			return WS_CLOSE_BAD_DATA;
		}
	}
	if (message_end) {
		m->in_message = false;
		m->len = 0;
		m->utf8 = WS_UTF8_ACCEPT;
	}
	return 0;
}
