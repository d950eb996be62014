/*
 * libFuzzer target for the UTF-8 functions of ws.c, checked against a
 * plain reading of Unicode 15 Table 3-7 (well-formed byte sequences):
 * streaming ws_utf8_feed at every split equals ws_utf8_valid and the
 * reference; ws_utf8_sanitize output is valid, at most 3n bytes and the
 * reference's U+FFFD-per-maximal-subpart; ws_utf8_boundary cuts only at
 * character boundaries.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

/* Beyond this, only some splits are tried: every one is quadratic. */
#define FUZZ_ALL_SPLITS	32

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Table 3-7: the length of the sequence a lead byte starts (0 if none)
 * and the range its second byte must be in; later bytes are 80..BF.
 */
static size_t
ref_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b == 0xe0)
		*lo = 0xa0;
	else if (b == 0xed)
		*hi = 0x9f;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b == 0xf0)
		*lo = 0x90;
	else if (b == 0xf4)
		*hi = 0x8f;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/*
 * At p[0..n): 1 with *len the length of a whole valid character, or 0
 * with *len the maximal subpart (0 when p[0] cannot start one; then the
 * caller replaces one byte). *partial is set when the bytes run out
 * before an ill-formed byte is met.
 */
static int
ref_char(const uint8_t *p, size_t n, size_t *len, bool *partial)
{
	uint8_t	 lo, hi;
	size_t	 need, i;

	*partial = false;
	if ((need = ref_lead(p[0], &lo, &hi)) == 0) {
		*len = 0;
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i == n) {
			*partial = true;
			*len = i;
			return 0;
		}
		if (p[i] < lo || p[i] > hi) {
			*len = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*len = need;
	return 1;
}

/*
 * The reference's verdict on every prefix in one pass: cls[i] is the
 * class of the state after p[0..i] (accept, reject or inside a
 * character).
 */
static void
ref_states(const uint8_t *p, size_t n, uint8_t *cls)
{
	size_t	 i = 0, len, k;
	bool	 partial;

	while (i < n) {
		if (ref_char(p + i, n - i, &len, &partial)) {
			memset(cls + i, 2, len - 1);
			cls[i + len - 1] = WS_UTF8_ACCEPT;
			i += len;
			continue;
		}
		/* A valid start, until the byte that breaks it. */
		memset(cls + i, 2, len);
		for (k = i + len; k < n && !partial; k++)
			cls[k] = WS_UTF8_REJECT;
		return;
	}
}

/* Reference sanitizer: one U+FFFD per maximal subpart. */
static size_t
ref_sanitize(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t	 i = 0, o = 0, len;
	bool	 partial;

	while (i < n) {
		if (ref_char(src + i, n - i, &len, &partial)) {
			memcpy(dst + o, src + i, len);
			o += len;
			i += len;
			continue;
		}
		memcpy(dst + o, "\xef\xbf\xbd", 3);
		o += 3;
		i += len == 0 ? 1 : len;
	}
	return o;
}

/* Reduce a validator state to accept / reject / in a character. */
static uint32_t
state_class(uint32_t s)
{
	return s == WS_UTF8_ACCEPT || s == WS_UTF8_REJECT ? s : 2;
}

static void
check_feed(const uint8_t *p, size_t n)
{
	uint32_t	 whole, s;
	uint8_t		*cls;
	size_t		 i, step;

	cls = malloc(n + 1);
	assert(cls != NULL);
	ref_states(p, n, cls);
	whole = ws_utf8_feed(WS_UTF8_ACCEPT, p, n);
	assert(state_class(whole) == (n == 0 ? WS_UTF8_ACCEPT : cls[n - 1]));
	assert(ws_utf8_valid(p, n) == (whole == WS_UTF8_ACCEPT));
	/* Byte by byte: REJECT comes exactly where the reference says. */
	s = WS_UTF8_ACCEPT;
	for (i = 0; i < n; i++) {
		s = ws_utf8_feed(s, p + i, 1);
		assert(state_class(s) == cls[i]);
	}
	assert(s == whole);
	/* In two pieces, cut anywhere (some cuts only, on long inputs). */
	step = n <= FUZZ_ALL_SPLITS ? 1 : n / FUZZ_ALL_SPLITS + 1;
	for (i = 0; i <= n; i += step) {
		s = ws_utf8_feed(WS_UTF8_ACCEPT, p, i);
		assert(ws_utf8_feed(s, p + i, n - i) == whole);
	}
	free(cls);
}

static void
check_sanitize(const uint8_t *p, size_t n)
{
	uint8_t	*out, *ref;
	size_t	 len, rlen;

	out = malloc(3 * n + 1);
	ref = malloc(3 * n + 1);
	assert(out != NULL && ref != NULL);
	len = ws_utf8_sanitize(out, p, n);
	assert(len <= 3 * n);
	assert(ws_utf8_valid(out, len));
	rlen = ref_sanitize(ref, p, n);
	assert(len == rlen && memcmp(out, ref, len) == 0);
	if (ws_utf8_valid(p, n))
		assert(len == n && memcmp(out, p, n) == 0);
	free(ref);
	free(out);
}

/* The largest character boundary <= k of valid text s[0..n). */
static size_t
ref_boundary(const uint8_t *s, size_t n, size_t k)
{
	while (k > 0 && k < n && (s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/*
 * On any bytes: the cut is at most 3 bytes back, and only happens over
 * an incomplete but so far valid tail. On valid text (the sanitizer's
 * output): every prefix is cut at its last character boundary.
 */
static void
check_boundary(const uint8_t *p, size_t n)
{
	uint8_t	*s;
	size_t	 b, k, len, step;
	uint32_t st;

	b = ws_utf8_boundary(p, n);
	assert(b <= n && n - b <= 3);
	if (b < n) {
		st = ws_utf8_feed(WS_UTF8_ACCEPT, p + b, n - b);
		assert(st != WS_UTF8_ACCEPT && st != WS_UTF8_REJECT);
	}
	if (ws_utf8_valid(p, n))
		assert(b == n);
	s = malloc(3 * n + 1);
	assert(s != NULL);
	len = ws_utf8_sanitize(s, p, n);
	/* Runs of 4 cuts: each position within a character. */
	step = len <= FUZZ_ALL_SPLITS ? 4 : len / FUZZ_ALL_SPLITS + 4;
	for (k = 0; k <= len; k++) {
		if (k % step >= 4)
			continue;
		b = ws_utf8_boundary(s, k);
		assert(b == ref_boundary(s, len, k));
		if (k % step == 0)
			assert(ws_utf8_valid(s, b) &&
			    ws_utf8_valid(s + b, len - b));
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer's data is an exact-size heap copy: ASan sees overreads. */
	check_feed(data, size);
	check_sanitize(data, size);
	check_boundary(data, size);
	return 0;
}
