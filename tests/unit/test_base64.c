/* Unit tests for the base64 subprotocol's coder. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "test.h"

static void
test_encode(void)
{
	char	 out[BASE64_ENCODED_SIZE(6)];

	CHECK_EQ(base64_encode(out, (const uint8_t *)"", 0), 0);
	CHECK_EQ(base64_encode(out, (const uint8_t *)"f", 1), 4);
	CHECK_STR(out, "Zg==");
	CHECK_EQ(base64_encode(out, (const uint8_t *)"foobar", 6), 8);
	CHECK_STR(out, "Zm9vYmFy");
}

/* Decode s fed in pieces of size step; the bytes, or NULL if invalid. */
static char *
decode_pieces(const char *s, size_t step, long *len)
{
	struct base64_dec	 d;
	static uint8_t		 out[256];
	size_t			 n = strlen(s), i, k;
	long			 got;

	base64_dec_init(&d);
	*len = 0;
	for (i = 0; i < n || i == 0; i += k) {
		k = n - i < step ? n - i : step;
		got = base64_dec_feed(&d, (const uint8_t *)s + i, k,
		    i + k == n, out + *len);
		if (got == -1)
			return NULL;
		*len += got;
		if (n == 0)
			break;
	}
	return (char *)out;
}

static void
test_decode(void)
{
	const char	*s;
	long		 len;
	size_t		 step;

	for (step = 1; step <= 9; step++) {
		s = decode_pieces("Zm9vYmFy", step, &len);
		CHECK(s != NULL && len == 6 && memcmp(s, "foobar", 6) == 0);
		s = decode_pieces("Zm9vYg==", step, &len);
		CHECK(s != NULL && len == 4 && memcmp(s, "foob", 4) == 0);
		s = decode_pieces("Zm9vYmE=", step, &len);
		CHECK(s != NULL && len == 5 && memcmp(s, "fooba", 5) == 0);
		CHECK(decode_pieces("Zm9vY", step, &len) == NULL);
		CHECK(decode_pieces("Zm9v!mFy", step, &len) == NULL);
		CHECK(decode_pieces("Zg==Zg==", step, &len) == NULL);
		CHECK(decode_pieces("Z===", step, &len) == NULL);
		CHECK(decode_pieces("Zm9v Ym", step, &len) == NULL);
	}
	s = decode_pieces("", 4, &len);
	CHECK(s != NULL && len == 0);
}

int
main(void)
{
	test_encode();
	test_decode();
	TEST_REPORT();
}
