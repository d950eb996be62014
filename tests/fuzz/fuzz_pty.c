/*
 * libFuzzer target for ttyd's JSON messages (pty_proto.c): the input as
 * an init and as a resize message, into a token buffer of a size the
 * input picks (an exact-size allocation so ASan sees one byte too many).
 * Checked: sizes always within 1..PTY_MAX_DIM, the token terminated in
 * its buffer, what a resize accepts an init accepts with the same size,
 * over-long messages refused; then the first bytes as two numbers and a
 * token, written as JSON by json-c and read back exactly.
 *
 * Input: byte 0 the token buffer size, then the message.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pty_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
size_ok(const struct pty_size *sz)
{
	return sz->cols >= 1 && sz->cols <= PTY_MAX_DIM && sz->rows >= 1 &&
	    sz->rows <= PTY_MAX_DIM;
}

/* The input as both messages. */
static void
check_parse(const char *p, size_t n, size_t tokensz)
{
	struct pty_size	 si, sr;
	const char	*why = NULL, *rwhy = NULL;
	char		*tok = malloc(tokensz ? tokensz : 1);
	int		 ri, rr;

	assert(tok != NULL);
	memset(tok, 'Z', tokensz ? tokensz : 1);
	ri = pty_parse_init(p, n, &si, tok, tokensz, &why);
	rr = pty_parse_resize(p, n, &sr, &rwhy);
	assert(ri == 0 || ri == -1);
	assert(rr == 0 || rr == -1);
	assert(ri == 0 ? size_ok(&si) : why != NULL && *why != '\0');
	assert(rr == 0 ? size_ok(&sr) : rwhy != NULL && *rwhy != '\0');
	if (ri == 0 && tokensz > 0)
		assert(strnlen(tok, tokensz) < tokensz);
	if (n > PTY_MAX_CONTROL || memchr(p, '{', n) == NULL)
		assert(ri == -1 && rr == -1);
	/* a resize is an init with both sizes required */
	if (rr == 0)
		assert(ri == 0 && si.cols == sr.cols && si.rows == sr.rows);
	free(tok);
}

/* {"columns":C,"rows":R,"AuthToken":T} as json-c writes it. */
static void
check_built(const uint8_t *data, size_t size)
{
	struct json_object	*o;
	struct pty_size		 sz;
	const char		*s, *why;
	char			 tok[64];
	int64_t			 c, r;
	size_t			 tlen, cut;
	bool			 good;
	int			 rv;

	if (size < 4)
		return;
	/* small numbers mostly, at times the edges and beyond */
	c = (int16_t)(data[0] << 8 | data[1]);
	r = (int16_t)(data[2] << 8 | data[3]);
	tlen = strnlen((const char *)data + 4, size - 4);
	o = json_object_new_object();
	assert(o != NULL);
	json_object_object_add(o, "columns", json_object_new_int64(c));
	json_object_object_add(o, "rows", json_object_new_int64(r));
	json_object_object_add(o, "AuthToken", json_object_new_string_len(
	    (const char *)data + 4, (int)tlen));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	good = c >= 1 && c <= PTY_MAX_DIM && r >= 1 && r <= PTY_MAX_DIM;
	rv = pty_parse_resize(s, strlen(s), &sz, &why);
	if (strlen(s) > PTY_MAX_CONTROL)
		assert(rv == -1);
	else {
		assert(rv == (good ? 0 : -1));
		if (good)
			assert(sz.cols == c && sz.rows == r);
		rv = pty_parse_init(s, strlen(s), &sz, tok, sizeof(tok), &why);
		/* the token whole, or cut to the buffer; any bytes but NUL */
		cut = tlen < sizeof(tok) ? tlen : sizeof(tok) - 1;
		assert(rv == (good ? 0 : -1));
		if (good)
			assert(strlen(tok) == cut &&
			    memcmp(tok, data + 4, cut) == 0);
	}
	json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*p;

	if (size == 0)
		return 0;
	/* exact size, no terminator: a read past the end is caught */
	p = malloc(size - 1 ? size - 1 : 1);
	assert(p != NULL);
	memcpy(p, data + 1, size - 1);
	check_parse(p, size - 1, data[0]);
	free(p);
	check_built(data + 1, size - 1);
	return 0;
}
