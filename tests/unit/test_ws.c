/*
 * Unit tests for the frame codec: RFC 6455 vectors, header lengths fed
 * byte by byte, unmasking in pieces, message state rejections, UTF-8
 * validation (streaming, fail-fast, sanitizing) and close payloads.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "ws.h"

#define U8(s)	((const uint8_t *)(s))

static const uint8_t test_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A masked client frame header, as the daemon sees most frames. */
static struct ws_header
test_hdr(bool fin, int opcode, uint64_t len)
{
	struct ws_header	 h;

	memset(&h, 0, sizeof(h));
	h.fin = fin;
	h.opcode = (uint8_t)opcode;
	h.masked = true;
	memcpy(h.mask, test_mask, 4);
	h.len = len;
	return h;
}

static void
test_rfc_vectors(void)
{
	const uint8_t	 plain[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	uint8_t		 masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
			    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	uint8_t		 out[WS_MAX_HEADER];
	struct ws_header h;
	const char	*why = NULL;

	CHECK_EQ(ws_parse_header(plain, sizeof(plain), &h, &why), 2);
	CHECK(h.fin && !h.masked && h.rsv == 0);
	CHECK_EQ(h.opcode, WS_OP_TEXT);
	CHECK_EQ(h.len, 5);
	CHECK(memcmp(plain + 2, "Hello", 5) == 0);
	CHECK_EQ(ws_build_header(out, true, WS_OP_TEXT, 5), 2);
	CHECK(memcmp(out, plain, 2) == 0);

	CHECK_EQ(ws_parse_header(masked, sizeof(masked), &h, &why), 6);
	CHECK(h.fin && h.masked);
	CHECK_EQ(h.len, 5);
	CHECK(memcmp(h.mask, test_mask, 4) == 0);
	ws_unmask(masked + 6, 5, h.mask, 0);
	CHECK(memcmp(masked + 6, "Hello", 5) == 0);
	CHECK_EQ(ws_build_header_masked(out, true, WS_OP_TEXT, 5, test_mask),
	    6);
	CHECK(memcmp(out, masked, 6) == 0);
}

/* Build, parse whole, then parse a growing prefix: 0 until complete. */
static void
test_header_len(uint64_t len, size_t want, bool mask)
{
	uint8_t		 out[WS_MAX_HEADER];
	struct ws_header h;
	const char	*why = NULL;
	size_t		 n, i;

	if (mask)
		n = ws_build_header_masked(out, false, WS_OP_BINARY, len,
		    test_mask);
	else
		n = ws_build_header(out, false, WS_OP_BINARY, len);
	CHECK_EQ(n, want + (mask ? 4 : 0));
	for (i = 0; i < n; i++)
		CHECK_EQ(ws_parse_header(out, i, &h, &why), 0);
	memset(&h, 0xaa, sizeof(h));
	CHECK_EQ(ws_parse_header(out, n, &h, &why), n);
	CHECK_EQ(h.len, len);
	CHECK(!h.fin && h.masked == mask && h.rsv == 0);
	CHECK_EQ(h.opcode, WS_OP_BINARY);
	if (mask)
		CHECK(memcmp(h.mask, test_mask, 4) == 0);
}

static void
test_header_lengths(void)
{
	const uint8_t	 huge[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t	 min16[] = { 0x82, 0x7e, 0x00, 0x05 };
	struct ws_header h;
	const char	*why = NULL;
	int		 mask;

	for (mask = 0; mask <= 1; mask++) {
		test_header_len(0, 2, mask);
		test_header_len(125, 2, mask);
		test_header_len(126, 4, mask);
		test_header_len(65535, 4, mask);
		test_header_len(65536, 10, mask);
		test_header_len((uint64_t)1 << 32, 10, mask);
		test_header_len(INT64_MAX, 10, mask);
	}
	CHECK_EQ(ws_parse_header(huge, sizeof(huge) - 1, &h, &why), 0);
	CHECK_EQ(ws_parse_header(huge, sizeof(huge), &h, &why), -1);
	CHECK(why != NULL);
	/* Non-minimal lengths are no semantic check of the parser's. */
	CHECK_EQ(ws_parse_header(min16, sizeof(min16), &h, &why), 4);
	CHECK_EQ(h.len, 5);
	CHECK_EQ(ws_parse_header(U8("\xf1\x00"), 2, &h, &why), 2);
	CHECK_EQ(h.rsv, 7);
	CHECK_EQ(h.opcode, 1);
}

static void
test_unmask(void)
{
	static const size_t	 cuts[] = { 1, 3, 2, 7, 9, 5, 13, 17, 11 };
	uint8_t			 ref[203], once[203], piece[203];
	size_t			 i, off, c;

	for (i = 0; i < sizeof(ref); i++)
		ref[i] = (uint8_t)(i * 37 + 11);
	memcpy(once, ref, sizeof(ref));
	ws_unmask(once, sizeof(once), test_mask, 0);
	for (i = 0; i < sizeof(ref); i++)
		CHECK_EQ(once[i], ref[i] ^ test_mask[i & 3]);
	memcpy(piece, ref, sizeof(ref));
	for (off = 0, c = 0; off < sizeof(piece); off += i, c++) {
		i = cuts[c % (sizeof(cuts) / sizeof(cuts[0]))];
		if (i > sizeof(piece) - off)
			i = sizeof(piece) - off;
		ws_unmask(piece + off, i, test_mask, off);
	}
	CHECK(memcmp(piece, once, sizeof(once)) == 0);
	/* Unaligned start, offset not a multiple of 4 or 8. */
	memcpy(piece, ref, sizeof(ref));
	ws_unmask(piece + 3, 150, test_mask, 3);
	CHECK(memcmp(piece + 3, once + 3, 150) == 0);
	CHECK(memcmp(piece + 153, ref + 153, sizeof(ref) - 153) == 0);
	ws_unmask(piece + 3, 150, test_mask, 3);
	CHECK(memcmp(piece, ref, sizeof(ref)) == 0);
}

/* One frame alone on a fresh server-side state. */
static unsigned
test_frame_alone(struct ws_header h, const char **why)
{
	struct ws_msg	 m;

	ws_msg_init(&m, 0, true);
	return ws_msg_frame(&m, &h, why);
}

static void
test_msg_frame_alone(void)
{
	struct ws_header h;
	const char	*why = NULL;
	struct ws_msg	 m;
	int		 op;

	h = test_hdr(true, WS_OP_TEXT, 3);
	h.masked = false;
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
	ws_msg_init(&m, 0, false);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	h = test_hdr(true, WS_OP_TEXT, 3);
	CHECK_EQ(test_frame_alone(h, &why), 0);
	h.rsv = 4;
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "RSV bits set without an extension");
	h.rsv = 1;
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
	for (op = 0; op <= 15; op++) {
		h = test_hdr(true, op, 0);
		CHECK_EQ(test_frame_alone(h, &why),
		    (op >= 3 && op <= 7) || op >= 11 || op == WS_OP_CONT ?
		    WS_CLOSE_PROTOCOL : 0);
	}
	h = test_hdr(true, WS_OP_PING, 125);
	CHECK_EQ(test_frame_alone(h, &why), 0);
	h.len = 126;
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
	h = test_hdr(true, WS_OP_CLOSE, 126);
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
	h = test_hdr(false, WS_OP_PONG, 1);
	CHECK_EQ(test_frame_alone(h, &why), WS_CLOSE_PROTOCOL);
}

static void
test_msg_fragments(void)
{
	struct ws_header h;
	const char	*why = NULL;
	struct ws_msg	 m;

	ws_msg_init(&m, 0, true);
	h = test_hdr(false, WS_OP_TEXT, 2);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK(m.in_message);
	CHECK_EQ(ws_msg_payload(&m, U8("ab"), 2, false, &why), 0);
	h = test_hdr(true, WS_OP_PING, 4);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK(m.in_message);
	CHECK_EQ(m.opcode, WS_OP_TEXT);
	h = test_hdr(true, WS_OP_TEXT, 1);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_PROTOCOL);
	h = test_hdr(false, WS_OP_BINARY, 1);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_PROTOCOL);
	h = test_hdr(false, WS_OP_CONT, 3);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK_EQ(m.len, 5);
	CHECK_EQ(ws_msg_payload(&m, U8("cde"), 3, false, &why), 0);
	/* An empty FIN continuation ends the message. */
	h = test_hdr(true, WS_OP_CONT, 0);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK_EQ(ws_msg_payload(&m, NULL, 0, true, &why), 0);
	CHECK(!m.in_message);
	CHECK_EQ(m.len, 0);
	h = test_hdr(true, WS_OP_CONT, 1);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_PROTOCOL);
	h = test_hdr(true, WS_OP_BINARY, 1);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK(!m.in_message);
	CHECK_EQ(ws_msg_payload(&m, U8("\xff"), 1, true, &why), 0);
}

static void
test_msg_max_len(void)
{
	struct ws_header h;
	const char	*why = NULL;
	struct ws_msg	 m;

	ws_msg_init(&m, 10, true);
	h = test_hdr(true, WS_OP_BINARY, 10);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK_EQ(ws_msg_payload(&m, U8("0123456789"), 10, true, &why), 0);
	h = test_hdr(true, WS_OP_BINARY, 11);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_TOO_BIG);
	ws_msg_init(&m, 10, true);
	h = test_hdr(false, WS_OP_TEXT, 6);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	h = test_hdr(true, WS_OP_CONT, 5);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_TOO_BIG);
	CHECK(why != NULL);
	/* A sum that would wrap around 2^64 is still too big. */
	h = test_hdr(true, WS_OP_CONT, UINT64_MAX - 2);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_TOO_BIG);
	ws_msg_init(&m, 0, true);
	h = test_hdr(true, WS_OP_BINARY, INT64_MAX);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	/*
	 * Compressed: the inflated size is limited elsewhere; on the wire
	 * a little growth passes (random data), a lot does not.
	 */
	ws_msg_init(&m, 1000, true);
	m.allow_rsv1 = true;
	h = test_hdr(true, WS_OP_BINARY, 1100);
	h.rsv = 0x4;
	CHECK_EQ(ws_msg_frame(&m, &h, &why), 0);
	CHECK_EQ(ws_msg_payload(&m, NULL, 0, true, &why), 0);
	h = test_hdr(true, WS_OP_BINARY, 3100);
	h.rsv = 0x4;
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_TOO_BIG);
	ws_msg_init(&m, 1000, true);
	h = test_hdr(true, WS_OP_BINARY, 1100);
	CHECK_EQ(ws_msg_frame(&m, &h, &why), WS_CLOSE_TOO_BIG);
}

struct test_utf8 {
	const char	*s;
	size_t		 n;
	int		 reject_at;	/* -1: valid; n: incomplete at end */
};

#define T(s, at)	{ s, sizeof(s) - 1, at }
static const struct test_utf8 test_utf8_cases[] = {
	T("", -1),
	T("plain ascii, longer than one machine word", -1),
	T("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", -1),	/* κόσμε */
	T("\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf", -1),
	T("\xed\x9f\xbf\xee\x80\x80 \xe0\xa0\x80 \xc2\x80", -1),
	T("\xc0\xaf", 0),
	T("\xc1\xbf", 0),
	T("\xe0\x80\xaf", 1),
	T("\xf0\x80\x80\xaf", 1),
	T("\xed\xa0\x80", 1),
	T("\xed\xbf\xbf", 1),
	T("\xf4\x90\x80\x80", 1),
	T("\xf5\x80\x80\x80", 0),
	T("\xff", 0),
	T("abc\x80", 3),
	T("\xc2\x41", 1),
	T("\xe2\x82", 2),
	T("\xf0\x9f\x98", 3),
	T("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	    "\xed\xa0\x80" "edited", 12),
	T("0123456789abcdef\xe2\x28\xa1", 17),
};
#undef T

/* The index of the byte that made the state REJECT, fed one at a time. */
static int
test_utf8_reject_at(const struct test_utf8 *t)
{
	uint32_t	 state = WS_UTF8_ACCEPT;
	size_t		 i;

	for (i = 0; i < t->n; i++) {
		state = ws_utf8_feed(state, U8(t->s + i), 1);
		if (state == WS_UTF8_REJECT)
			return (int)i;
	}
	return state == WS_UTF8_ACCEPT ? -1 : (int)t->n;
}

/* The ASCII fast path must see a bad byte in any lane of a word. */
static void
test_utf8_lanes(void)
{
	uint8_t		 buf[24];
	size_t		 i;

	for (i = 0; i < sizeof(buf); i++) {
		memset(buf, 'a', sizeof(buf));
		buf[i] = 0xff;
		CHECK(!ws_utf8_valid(buf, sizeof(buf)));
		buf[i] = 0x80;
		CHECK(!ws_utf8_valid(buf, sizeof(buf)));
		if (i + 1 < sizeof(buf)) {
			memcpy(buf + i, "\xc2\xa9", 2);
			CHECK(ws_utf8_valid(buf, sizeof(buf)));
			CHECK(!ws_utf8_valid(buf, i + 1));
		}
	}
}

static void
test_utf8_validate(void)
{
	const struct test_utf8	*t;
	size_t			 i, k;
	uint32_t		 state;
	bool			 ok;

	for (i = 0; i < sizeof(test_utf8_cases) / sizeof(*t); i++) {
		t = &test_utf8_cases[i];
		ok = t->reject_at == -1;
		CHECK_EQ(ws_utf8_valid(U8(t->s), t->n), ok);
		CHECK_EQ(test_utf8_reject_at(t), t->reject_at);
		for (k = 0; k <= t->n; k++) {
			state = ws_utf8_feed(WS_UTF8_ACCEPT, U8(t->s), k);
			state = ws_utf8_feed(state, U8(t->s + k), t->n - k);
			CHECK_EQ(state == WS_UTF8_ACCEPT, ok);
		}
	}
	CHECK_EQ(ws_utf8_feed(WS_UTF8_REJECT, U8("abcdefghij"), 10),
	    WS_UTF8_REJECT);
}

/*
 * A text message in two fragments split at k, payload fed in two pieces
 * per frame: the verdict must not depend on where the cuts fall.
 */
static unsigned
test_utf8_fragments(const struct test_utf8 *t, size_t k)
{
	struct ws_header h;
	const char	*why = NULL;
	struct ws_msg	 m;
	unsigned	 code;

	ws_msg_init(&m, 0, true);
	h = test_hdr(false, WS_OP_TEXT, k);
	if ((code = ws_msg_frame(&m, &h, &why)) != 0)
		return code;
	if ((code = ws_msg_payload(&m, U8(t->s), k / 2, false, &why)) != 0 ||
	    (code = ws_msg_payload(&m, U8(t->s + k / 2), k - k / 2, false,
	    &why)) != 0)
		return code;
	h = test_hdr(true, WS_OP_CONT, t->n - k);
	if ((code = ws_msg_frame(&m, &h, &why)) != 0)
		return code;
	code = ws_msg_payload(&m, U8(t->s + k), t->n - k, true, &why);
	if (code == 0 && (m.in_message || m.utf8 != WS_UTF8_ACCEPT))
		return 1;
	return code;
}

static void
test_utf8_messages(void)
{
	const struct test_utf8	*t;
	size_t			 i, k;

	for (i = 0; i < sizeof(test_utf8_cases) / sizeof(*t); i++) {
		t = &test_utf8_cases[i];
		for (k = 0; k <= t->n; k++)
			CHECK_EQ(test_utf8_fragments(t, k),
			    t->reject_at == -1 ? 0 : WS_CLOSE_BAD_DATA);
	}
}

static void
test_sanitize_one(const char *in, size_t n, const char *want)
{
	uint8_t		 out[3 * 64];
	size_t		 len;

	len = ws_utf8_sanitize(out, U8(in), n);
	CHECK_EQ(len, strlen(want));
	CHECK(len == strlen(want) && memcmp(out, want, len) == 0);
	CHECK(ws_utf8_valid(out, len));
}

#define FFFD	"\xef\xbf\xbd"
static void
test_utf8_sanitize(void)
{
	test_sanitize_one("a\xff" "b", 3, "a" FFFD "b");
	test_sanitize_one("", 0, "");
	test_sanitize_one("\xce\xba\xe1\xbd\xb9", 5, "\xce\xba\xe1\xbd\xb9");
	test_sanitize_one("ab\xe2\x82", 4, "ab" FFFD);
	test_sanitize_one("ab\xf0\x9f\x98", 5, "ab" FFFD);
	test_sanitize_one("\xc0\xaf", 2, FFFD FFFD);
	test_sanitize_one("\xed\xa0\x80", 3, FFFD FFFD FFFD);
	test_sanitize_one("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	test_sanitize_one("\xc2\x41", 2, FFFD "A");
	/* Unicode 15, table 3-8: maximal subparts of ill-formed input. */
	test_sanitize_one("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf"
	    "\x64", 13, "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}
#undef FFFD

static void
test_utf8_boundary(void)
{
	CHECK_EQ(ws_utf8_boundary(U8(""), 0), 0);
	CHECK_EQ(ws_utf8_boundary(U8("abc"), 3), 3);
	CHECK_EQ(ws_utf8_boundary(U8("\xe2"), 1), 0);
	CHECK_EQ(ws_utf8_boundary(U8("a\xe2\x82"), 3), 1);
	CHECK_EQ(ws_utf8_boundary(U8("a\xe2\x82\xac"), 4), 4);
	CHECK_EQ(ws_utf8_boundary(U8("a\xce"), 2), 1);
	CHECK_EQ(ws_utf8_boundary(U8("a\xf0\x9f\x98"), 4), 1);
	CHECK_EQ(ws_utf8_boundary(U8("a\xf0\x9f\x98\x80"), 5), 5);
	/* Not the prefix of any character: left to the validator. */
	CHECK_EQ(ws_utf8_boundary(U8("a\x80"), 2), 2);
	CHECK_EQ(ws_utf8_boundary(U8("a\xed\xa0"), 3), 3);
	CHECK_EQ(ws_utf8_boundary(U8("a\xf4\x90"), 3), 3);
	CHECK_EQ(ws_utf8_boundary(U8("a\xff"), 2), 2);
}

static void
test_close_codes(void)
{
	static const unsigned	 good[] = { 1000, 1001, 1002, 1003, 1007,
				    1008, 1009, 1010, 1011, 1012, 1013, 1014,
				    3000, 3999, 4000, 4999 };
	static const unsigned	 bad[] = { 0, 999, 1004, 1005, 1006, 1015,
				    1016, 1100, 2000, 2999, 5000, 65535 };
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(ws_close_code_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!ws_close_code_valid(bad[i]));
}

static void
test_parse_close(void)
{
	const char	*why = NULL;
	unsigned	 code = 0;

	CHECK_EQ(ws_parse_close(NULL, 0, &code, &why), 0);
	CHECK_EQ(code, WS_CLOSE_NO_STATUS);
	CHECK_EQ(ws_parse_close(U8("\x03"), 1, &code, &why), -1);
	CHECK_EQ(code, WS_CLOSE_PROTOCOL);
	CHECK_EQ(ws_parse_close(U8("\x03\xe8"), 2, &code, &why), 0);
	CHECK_EQ(code, 1000);
	CHECK_EQ(ws_parse_close(U8("\x0f\x9f" "bye \xce\xba"), 8, &code, &why),
	    0);
	CHECK_EQ(code, 3999);
	CHECK_EQ(ws_parse_close(U8("\x03\xed"), 2, &code, &why), -1);
	CHECK_EQ(code, WS_CLOSE_PROTOCOL);
	CHECK_EQ(ws_parse_close(U8("\x03\xe8\xed\xa0\x80"), 5, &code, &why),
	    -1);
	CHECK_EQ(code, WS_CLOSE_BAD_DATA);
	CHECK_EQ(ws_parse_close(U8("\x03\xe8\xce"), 3, &code, &why), -1);
	CHECK_EQ(code, WS_CLOSE_BAD_DATA);
}

/* Parse a frame from ws_build_close(); returns the payload length. */
static size_t
test_close_frame(const uint8_t *f, size_t n, unsigned *code)
{
	struct ws_header h;
	const char	*why = NULL;
	ssize_t		 hl;

	hl = ws_parse_header(f, n, &h, &why);
	CHECK_EQ(hl, 2);
	CHECK(h.fin && !h.masked);
	CHECK_EQ(h.opcode, WS_OP_CLOSE);
	CHECK_EQ(h.len, n - 2);
	CHECK_EQ(ws_parse_close(f + 2, n - 2, code, &why), 0);
	return n - 2;
}

static void
test_build_close(void)
{
	uint8_t		 f[WS_MAX_HEADER + 125];
	char		 reason[200];
	unsigned	 code;
	size_t		 n;

	n = ws_build_close(f, 0, "ignored");
	CHECK_EQ(n, 2);
	CHECK(f[0] == 0x88 && f[1] == 0x00);
	n = ws_build_close(f, 1000, NULL);
	CHECK_EQ(test_close_frame(f, n, &code), 2);
	CHECK_EQ(code, 1000);
	n = ws_build_close(f, 1011, "exit 3");
	CHECK_EQ(test_close_frame(f, n, &code), 8);
	CHECK_EQ(code, 1011);
	CHECK(memcmp(f + 4, "exit 3", 6) == 0);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	n = ws_build_close(f, 1001, reason);
	CHECK_EQ(test_close_frame(f, n, &code), 125);
	/* A two-byte character across byte 123 is dropped whole. */
	memcpy(reason + 122, "\xce\xba", 2);
	n = ws_build_close(f, 1001, reason);
	CHECK_EQ(test_close_frame(f, n, &code), 124);
	CHECK_EQ(code, 1001);
	memcpy(reason + 121, "\xce\xba", 2);
	n = ws_build_close(f, 1001, reason);
	CHECK_EQ(test_close_frame(f, n, &code), 125);
}

int
main(void)
{
	test_rfc_vectors();
	test_header_lengths();
	test_unmask();
	test_msg_frame_alone();
	test_msg_fragments();
	test_msg_max_len();
	test_utf8_lanes();
	test_utf8_validate();
	test_utf8_messages();
	test_utf8_sanitize();
	test_utf8_boundary();
	test_close_codes();
	test_parse_close();
	test_build_close();
	TEST_REPORT();
}
