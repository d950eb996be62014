/* Unit tests for permessage-deflate negotiation and the zlib streams. */
#include <stdlib.h>
#include <string.h>

#include "pmd.h"
#include "test.h"

static void
test_negotiate(void)
{
	struct pmd_params	 p;
	char			 resp[256];

	CHECK_EQ(pmd_negotiate("permessage-deflate", &p, resp, sizeof(resp)),
	    0);
	CHECK_STR(resp, "permessage-deflate; server_no_context_takeover");
	CHECK_EQ(pmd_negotiate("permessage-deflate; client_max_window_bits; "
	    "client_no_context_takeover", &p, resp, sizeof(resp)), 0);
	CHECK(p.client_no_context_takeover);
	CHECK(strstr(resp, "client_no_context_takeover") != NULL);
	/* 8 cannot be honoured by zlib: the next offer is taken. */
	CHECK_EQ(pmd_negotiate("permessage-deflate; server_max_window_bits=8, "
	    "permessage-deflate; server_max_window_bits=10", &p, resp,
	    sizeof(resp)), 0);
	CHECK_EQ(p.server_max_window_bits, 10);
	CHECK(strstr(resp, "server_max_window_bits=10") != NULL);
	/* An accepted server_max_window_bits is answered, even 15. */
	CHECK_EQ(pmd_negotiate("permessage-deflate; server_max_window_bits=15",
	    &p, resp, sizeof(resp)), 0);
	CHECK(strstr(resp, "server_max_window_bits=15") != NULL);
	CHECK_EQ(pmd_negotiate("permessage-deflate; bogus", &p, resp,
	    sizeof(resp)), -1);
	CHECK_EQ(pmd_negotiate("permessage-deflate; server_no_context_takeover;"
	    " server_no_context_takeover", &p, resp, sizeof(resp)), -1);
	CHECK_EQ(pmd_negotiate("x-webkit-deflate-frame", &p, resp,
	    sizeof(resp)), -1);
	CHECK_EQ(pmd_negotiate("permessage-deflate; client_max_window_bits=16",
	    &p, resp, sizeof(resp)), -1);
}

/* Deflate in pieces, inflate in small output steps: same bytes back. */
static void
test_round_trip(void)
{
	struct pmd_params	 p;
	struct pmd		*d;
	uint8_t			*z1, *z2, out[100], all[5000];
	size_t			 n1, n2, used, produced, got = 0, off = 0;
	char			 resp[128], msg[4000];
	const char		*why;
	bool			 done = false;
	size_t			 i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = "abcabcabd"[i % 9];
	pmd_negotiate("permessage-deflate", &p, resp, sizeof(resp));
	d = pmd_new(&p);
	CHECK_EQ(pmd_deflate(d, (uint8_t *)msg, 1000, false, &z1, &n1), 0);
	CHECK_EQ(pmd_deflate(d, (uint8_t *)msg + 1000, 3000, true, &z2, &n2),
	    0);
	/* The sender drops the 00 00 ff ff tail. */
	CHECK(n2 < 4 || memcmp(z2 + n2 - 4, "\0\0\xff\xff", 4) != 0);
	memcpy(all, z1, n1);
	memcpy(all + n1, z2, n2);
	/* Bounded: a stream that stops making progress fails, not hangs. */
	for (i = 0; !done && i < 1000; i++) {
		CHECK_EQ(pmd_inflate(d, all + off, n1 + n2 - off, true, out,
		    sizeof(out), &used, &produced, &done, &why), 0);
		CHECK(memcmp(out, msg + got, produced) == 0);
		off += used;
		got += produced;
	}
	CHECK(done);
	CHECK_EQ(got, sizeof(msg));
	CHECK_EQ(pmd_inflate(d, (const uint8_t *)"\xff\xff\xff", 3, true, out,
	    sizeof(out), &used, &produced, &done, &why), -1);
	free(z1);
	free(z2);
	pmd_free(d);
}

/*
 * A message whose last fragment is empty (the sender's chunks ended on a
 * boundary): nothing new to flush is not an error, and the message still
 * inflates to the same bytes.
 */
static void
test_empty_last_fragment(void)
{
	struct pmd_params	 p;
	struct pmd		*tx, *rx;
	uint8_t			*z1, *z2, out[8192], all[8192];
	size_t			 n1, n2, used, produced;
	char			 resp[128];
	const char		*why;
	bool			 done = false;

	pmd_negotiate("permessage-deflate", &p, resp, sizeof(resp));
	tx = pmd_new(&p);
	rx = pmd_new(&p);
	CHECK_EQ(pmd_deflate(tx, (const uint8_t *)"hello hello hello", 17,
	    false, &z1, &n1), 0);
	CHECK_EQ(pmd_deflate(tx, NULL, 0, true, &z2, &n2), 0);
	CHECK(n1 + n2 <= sizeof(all));
	memcpy(all, z1, n1);
	memcpy(all + n1, z2, n2);
	CHECK_EQ(pmd_inflate(rx, all, n1 + n2, true, out, sizeof(out), &used,
	    &produced, &done, &why), 0);
	CHECK(done);
	CHECK_EQ(produced, 17);
	CHECK(memcmp(out, "hello hello hello", 17) == 0);
	free(z1);
	free(z2);
	/* The next message, on the same streams, is whole too. */
	CHECK_EQ(pmd_deflate(tx, (const uint8_t *)"again", 5, true, &z1, &n1),
	    0);
	done = false;
	CHECK_EQ(pmd_inflate(rx, z1, n1, true, out, sizeof(out), &used,
	    &produced, &done, &why), 0);
	CHECK(done);
	CHECK_EQ(produced, 5);
	CHECK(memcmp(out, "again", 5) == 0);
	free(z1);
	pmd_free(tx);
	pmd_free(rx);
}

int
main(void)
{
	test_negotiate();
	test_round_trip();
	test_empty_last_fragment();
	TEST_REPORT();
}
