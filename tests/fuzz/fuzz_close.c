/*
 * libFuzzer target for Close payloads: ws_parse_close on the input as a
 * received payload, checked against RFC 6455 5.5.1 and 7.4 read
 * directly; then ws_build_close with the first two bytes as the code and
 * the rest as the reason, parsed back.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define FUZZ_REASON_MAX	(WS_MAX_CONTROL_PAYLOAD - 2)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* RFC 6455 7.4.1/7.4.2: the codes an endpoint may send. */
static bool
ref_code_valid(unsigned c)
{
	switch (c) {
	case 1000: case 1001: case 1002: case 1003:
	case 1007: case 1008: case 1009: case 1010: case 1011:
		return true;
	}
	/* 1012-1014 were registered with IANA after the RFC. */
	if (c >= 1012 && c <= 1014)
		return true;
	return c >= 3000 && c <= 4999;
}

static void
check_parse(const uint8_t *p, size_t n)
{
	unsigned	 code = 0, c;
	const char	*why = NULL;
	int		 rc;

	rc = ws_parse_close(p, n, &code, &why);
	if (n == 0) {
		assert(rc == 0 && code == WS_CLOSE_NO_STATUS);
		return;
	}
	c = n >= 2 ? (unsigned)p[0] << 8 | p[1] : 0;
	if (n >= 2)
		assert(ws_close_code_valid(c) == ref_code_valid(c));
	if (n == 1 || n > WS_MAX_CONTROL_PAYLOAD || !ref_code_valid(c)) {
		assert(rc == -1 && code == WS_CLOSE_PROTOCOL && why != NULL);
		return;
	}
	if (!ws_utf8_valid(p + 2, n - 2)) {
		assert(rc == -1 && code == WS_CLOSE_BAD_DATA && why != NULL);
		return;
	}
	assert(rc == 0 && code == c);
}

static void
check_build(const uint8_t *data, size_t size)
{
	struct ws_header	 h;
	uint8_t			*out;
	char			*reason;
	const char		*why = NULL;
	unsigned		 code, got;
	size_t			 len, rlen, plen;
	ssize_t			 hl;

	if (size < 2)
		return;
	code = (unsigned)data[0] << 8 | data[1];
	reason = malloc(size - 1);
	assert(reason != NULL);
	memcpy(reason, data + 2, size - 2);
	reason[size - 2] = '\0';
	rlen = strlen(reason);
	out = malloc(WS_MAX_HEADER + WS_MAX_CONTROL_PAYLOAD);
	assert(out != NULL);
	len = ws_build_close(out, code, reason);
	assert(len <= WS_MAX_HEADER + WS_MAX_CONTROL_PAYLOAD);
	hl = ws_parse_header(out, len, &h, &why);
	assert(hl == 2 && h.fin && h.opcode == WS_OP_CLOSE && !h.masked &&
	    h.rsv == 0 && h.len <= WS_MAX_CONTROL_PAYLOAD);
	plen = (size_t)h.len;
	assert((size_t)hl + plen == len);
	if (code == 0) {
		assert(plen == 0);
		goto done;
	}
	assert(plen >= 2 && (out[2] << 8 | out[3]) == (int)code);
	if (rlen <= FUZZ_REASON_MAX)
		assert(plen - 2 == rlen);
	else
		assert(plen - 2 <= FUZZ_REASON_MAX &&
		    plen - 2 + 3 >= FUZZ_REASON_MAX);
	assert(memcmp(out + 4, reason, plen - 2) == 0);
	/* A valid reason stays valid when cut. */
	if (ws_utf8_valid((const uint8_t *)reason, rlen)) {
		assert(ws_utf8_valid(out + 4, plen - 2));
		if (ws_close_code_valid(code)) {
			assert(ws_parse_close(out + 2, plen, &got, &why) == 0);
			assert(got == code);
		}
	}
done:
	free(out);
	free(reason);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	check_build(data, size);
	return 0;
}
