/*
 * libFuzzer target for the frame decoder as the server drives it: the
 * input is a client byte stream cut into chunks at points the input
 * chooses, parsed with ws_parse_header, checked by ws_msg_frame, unmasked
 * in pieces and accounted by ws_msg_payload; Close payloads go to
 * ws_parse_close. Each step is checked against a simpler model.
 *
 * Input: byte 0 options, bytes 1..4 chunk sizes (cycled, 0 = the rest),
 * then the stream. Options: bit 0 clear = server (masks required), bits
 * 1..3 pick max_len from fuzz_max_lens.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define FUZZ_PREFIX	5

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint64_t fuzz_max_lens[8] = {
	0, 1, 16, 125, 126, 65535, 65536, 1024 * 1024
};

/* What the server knows between chunks. */
struct fuzz_rx {
	struct ws_msg	 msg;
	struct ws_header hdr;
	bool		 in_frame;	/* header parsed, payload pending */
	uint64_t	 done;		/* payload bytes of this frame seen */
	uint8_t		*text;		/* unmasked bytes of the text message */
	size_t		 text_len;
	size_t		 text_cap;
	bool		 closed;	/* a Close frame or an error ended it */
};

/* Keep the unmasked text of the current message for the one-shot check. */
static void
fuzz_text_add(struct fuzz_rx *rx, const uint8_t *p, size_t n)
{
	if (rx->text_len + n > rx->text_cap) {
		rx->text_cap = (rx->text_len + n) * 2;
		rx->text = realloc(rx->text, rx->text_cap);
		assert(rx->text != NULL);
	}
	if (n != 0)
		memcpy(rx->text + rx->text_len, p, n);
	rx->text_len += n;
}

/* The parsed header, rebuilt and parsed again, must give the same fields. */
static void
fuzz_check_header(const uint8_t *p, size_t avail, ssize_t hl,
    const struct ws_header *h)
{
	struct ws_header	 h2;
	uint8_t			 out[WS_MAX_HEADER];
	const char		*why = NULL;
	size_t			 n;

	assert(hl >= 2 && hl <= WS_MAX_HEADER);
	assert(hl <= (ssize_t)avail);
	/* One byte fewer is never enough. */
	assert(ws_parse_header(p, (size_t)hl - 1, &h2, &why) == 0);
	assert(h->len >> 63 == 0);
	if (h->masked)
		n = ws_build_header_masked(out, h->fin, h->opcode, h->len,
		    h->mask);
	else
		n = ws_build_header(out, h->fin, h->opcode, h->len);
	assert(n <= (size_t)hl);
	out[0] |= (uint8_t)(h->rsv << 4);
	assert(ws_parse_header(out, n, &h2, &why) == (ssize_t)n);
	assert(h2.fin == h->fin && h2.rsv == h->rsv &&
	    h2.opcode == h->opcode && h2.masked == h->masked &&
	    h2.len == h->len && memcmp(h2.mask, h->mask, 4) == 0);
}

/* Unmask a piece and compare with the byte-at-a-time definition. */
static void
fuzz_unmask(uint8_t *p, size_t n, const struct ws_header *h, uint64_t off)
{
	uint8_t	*ref;
	size_t	 i;

	if (!h->masked || n == 0)
		return;
	ref = malloc(n);
	assert(ref != NULL);
	for (i = 0; i < n; i++)
		ref[i] = p[i] ^ h->mask[(off + i) & 3];
	ws_unmask(p, n, h->mask, off);
	assert(memcmp(p, ref, n) == 0);
	free(ref);
}

/* A whole control payload: only Close is looked at. */
static void
fuzz_control(struct fuzz_rx *rx, uint8_t *p)
{
	unsigned	 code = 0;
	const char	*why = NULL;
	size_t		 n = (size_t)rx->hdr.len;
	int		 rc;

	assert(n <= WS_MAX_CONTROL_PAYLOAD);
	fuzz_unmask(p, n, &rx->hdr, 0);
	if (rx->hdr.opcode != WS_OP_CLOSE)
		return;
	rc = ws_parse_close(p, n, &code, &why);
	if (rc == 0) {
		assert(n == 0 ? code == WS_CLOSE_NO_STATUS :
		    ws_close_code_valid(code));
		assert(n == 0 || ws_utf8_valid(p + 2, n - 2));
	} else {
		assert(rc == -1 && why != NULL);
		assert(code == WS_CLOSE_PROTOCOL ||
		    code == WS_CLOSE_BAD_DATA);
	}
	rx->closed = true;
}

/* Payload bytes of a data frame, as many as have arrived. */
static void
fuzz_data(struct fuzz_rx *rx, uint8_t *p, size_t n)
{
	const char	*why = NULL;
	bool		 end, text;
	uint32_t	 ref;
	unsigned	 code;

	text = rx->msg.opcode == WS_OP_TEXT;
	fuzz_unmask(p, n, &rx->hdr, rx->done);
	rx->done += n;
	end = rx->hdr.fin && rx->done == rx->hdr.len;
	if (text)
		fuzz_text_add(rx, p, n);
	code = ws_msg_payload(&rx->msg, p, n, end, &why);
	if (code == 0 && end)
		assert(!rx->msg.in_message && rx->msg.len == 0);
	if (!text) {
		assert(code == 0);
		return;
	}
	ref = ws_utf8_feed(WS_UTF8_ACCEPT, rx->text, rx->text_len);
	if (code != 0) {
		assert(code == WS_CLOSE_BAD_DATA && why != NULL);
		assert(ref == WS_UTF8_REJECT || (end && ref != WS_UTF8_ACCEPT));
		assert(!ws_utf8_valid(rx->text, rx->text_len));
		rx->closed = true;
		return;
	}
	if (end)
		assert(ws_utf8_valid(rx->text, rx->text_len));
	else
		assert(ref == rx->msg.utf8 && ref != WS_UTF8_REJECT);
}

/* A new header: run the message checks and start the frame. */
static void
fuzz_frame(struct fuzz_rx *rx)
{
	const struct ws_header	*h = &rx->hdr;
	const char		*why = NULL;
	bool			 was_in = rx->msg.in_message;
	unsigned		 code;

	code = ws_msg_frame(&rx->msg, h, &why);
	if (code != 0) {
		assert(why != NULL);
		assert(code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_TOO_BIG);
		if (code == WS_CLOSE_TOO_BIG)
			assert(rx->msg.max_len != 0);
		rx->closed = true;
		return;
	}
	assert(h->rsv == 0);
	assert(!rx->msg.require_mask || h->masked);
	assert(rx->msg.max_len == 0 || rx->msg.len <= rx->msg.max_len);
	if (h->opcode & 0x8)
		assert(h->fin && h->len <= WS_MAX_CONTROL_PAYLOAD);
	else {
		assert(h->opcode == WS_OP_CONT ? was_in : !was_in);
		/* A final continuation closes it in ws_msg_payload. */
		assert(rx->msg.in_message ==
		    (h->opcode == WS_OP_CONT || !h->fin));
		if (h->opcode != WS_OP_CONT)
			rx->text_len = 0;
	}
	rx->in_frame = true;
	rx->done = 0;
}

/*
 * Consume what buf[0..n) allows: bytes used (0 for an empty payload), or
 * -1 when more bytes are needed or the stream has ended. A control
 * payload stays in the buffer until all of it is there, as in the daemon.
 */
static ssize_t
fuzz_step(struct fuzz_rx *rx, uint8_t *buf, size_t n)
{
	const char	*why = NULL;
	ssize_t		 hl;
	size_t		 take;

	if (!rx->in_frame) {
		hl = ws_parse_header(buf, n, &rx->hdr, &why);
		if (hl <= 0) {
			assert(hl == 0 || (hl == -1 && why != NULL));
			rx->closed = hl == -1;
			return -1;
		}
		fuzz_check_header(buf, n, hl, &rx->hdr);
		fuzz_frame(rx);
		return hl;
	}
	if (rx->hdr.opcode & 0x8) {
		if (n < rx->hdr.len)
			return -1;
		fuzz_control(rx, buf);
		rx->in_frame = false;
		return (ssize_t)rx->hdr.len;
	}
	take = n;
	if (rx->hdr.len - rx->done < n)
		take = (size_t)(rx->hdr.len - rx->done);
	if (take == 0 && rx->hdr.len != 0)
		return -1;
	fuzz_data(rx, buf, take);
	if (rx->done == rx->hdr.len)
		rx->in_frame = false;
	return (ssize_t)take;
}

/* Feed the stream chunk by chunk into a buffer the parser consumes. */
static void
fuzz_stream(struct fuzz_rx *rx, const uint8_t *cuts, const uint8_t *p,
    size_t n)
{
	uint8_t	*buf;
	size_t	 have = 0, off = 0, chunk, i = 0;
	ssize_t	 used;

	buf = malloc(n + 1);
	assert(buf != NULL);
	while (off < n && !rx->closed) {
		chunk = cuts[i++ % 4];
		if (chunk == 0 || chunk > n - off)
			chunk = n - off;
		memcpy(buf + have, p + off, chunk);
		have += chunk;
		off += chunk;
		while (!rx->closed && (used = fuzz_step(rx, buf, have)) >= 0) {
			memmove(buf, buf + used, have - (size_t)used);
			have -= (size_t)used;
		}
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rx	 rx;

	if (size < FUZZ_PREFIX)
		return 0;
	memset(&rx, 0, sizeof(rx));
	ws_msg_init(&rx.msg, fuzz_max_lens[(data[0] >> 1) & 7],
	    (data[0] & 1) == 0);
	fuzz_stream(&rx, data + 1, data + FUZZ_PREFIX, size - FUZZ_PREFIX);
	free(rx.text);
	return 0;
}
