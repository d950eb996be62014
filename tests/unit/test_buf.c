/*
 * Unit tests for buf.c: memory only while data waits, growth by
 * doubling, compaction before growth, the flow-control marks, and
 * requests too large to ever fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "test.h"

/* n bytes of a pattern that shows where each byte came from */
static void
fill(uint8_t *p, size_t n, size_t from)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((from + i) * 7 + 1);
}

/* The first n unread bytes are the pattern from from on. */
static int
holds_n(const struct buf *b, size_t n, size_t from)
{
	size_t	 i;

	for (i = 0; i < n && i < buf_len(b); i++)
		if (buf_head(b)[i] != (uint8_t)((from + i) * 7 + 1))
			return 0;
	return n <= buf_len(b);
}

static int
holds(const struct buf *b, size_t from)
{
	return holds_n(b, buf_len(b), from);
}

static void
test_empty(void)
{
	struct buf	 b;

	buf_init(&b, 1000);
	CHECK_EQ(buf_len(&b), 0);
	CHECK(b.data == NULL);
	CHECK(!buf_full(&b));
	CHECK(buf_low(&b));
	CHECK_EQ(buf_room(&b), 1000);
	/* nothing appended, nothing allocated */
	CHECK_EQ(buf_append(&b, "x", 0), 0);
	CHECK(b.data == NULL);
	CHECK_EQ(b.cap, 0);
	buf_free(&b);
	buf_free(&b);	/* twice is harmless */
	CHECK(b.data == NULL);
}

/* A zero-byte reservation is a place to write nothing, not a failure. */
static void
test_reserve_zero(void)
{
	struct buf	 b;
	uint8_t		*p;

	buf_init(&b, 100);
	p = buf_reserve(&b, 0);
	CHECK(p != NULL);
	buf_commit(&b, 0);
	CHECK_EQ(buf_len(&b), 0);
	buf_consume(&b, 0);
	CHECK(b.data == NULL);
	buf_free(&b);
}

static void
test_append_consume(void)
{
	struct buf	 b;
	uint8_t		 src[100];

	buf_init(&b, 1 << 20);
	fill(src, sizeof(src), 0);
	CHECK_EQ(buf_append(&b, src, sizeof(src)), 0);
	CHECK_EQ(buf_len(&b), 100);
	CHECK_EQ(b.cap, BUF_MIN_ALLOC);
	CHECK(holds(&b, 0));
	buf_consume(&b, 30);
	CHECK_EQ(buf_len(&b), 70);
	CHECK(holds(&b, 30));
	fill(src, sizeof(src), 100);
	CHECK_EQ(buf_append(&b, src, sizeof(src)), 0);
	CHECK_EQ(buf_len(&b), 170);
	CHECK(holds(&b, 30));
	/* drained: the memory goes back */
	buf_consume(&b, 170);
	CHECK_EQ(buf_len(&b), 0);
	CHECK(b.data == NULL);
	CHECK_EQ(b.cap, 0);
	CHECK_EQ(b.start, 0);
	/* and comes again on the next append */
	CHECK_EQ(buf_append(&b, src, 1), 0);
	CHECK_EQ(b.cap, BUF_MIN_ALLOC);
	buf_free(&b);
}

/* reserve + commit, as readers use it; the rest stays the caller's */
static void
test_reserve_commit(void)
{
	struct buf	 b;
	uint8_t		*p;

	buf_init(&b, 1 << 20);
	p = buf_reserve(&b, 4096);
	CHECK(p != NULL);
	fill(p, 10, 0);
	buf_commit(&b, 10);
	CHECK_EQ(buf_len(&b), 10);
	CHECK(holds(&b, 0));
	p = buf_reserve(&b, 5);
	CHECK(p == b.data + 10);
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf	 b;
	uint8_t		*src;
	size_t		 n = BUF_MIN_ALLOC * 5 + 3;

	if ((src = malloc(n)) == NULL)
		exit(1);
	fill(src, n, 0);
	buf_init(&b, SIZE_MAX);
	CHECK_EQ(buf_append(&b, src, BUF_MIN_ALLOC), 0);
	CHECK_EQ(b.cap, BUF_MIN_ALLOC);
	/* full to the byte: one more doubles */
	CHECK_EQ(buf_append(&b, src + BUF_MIN_ALLOC, 1), 0);
	CHECK_EQ(b.cap, 2 * BUF_MIN_ALLOC);
	/* doubles until the request fits, in one step */
	CHECK_EQ(buf_append(&b, src + BUF_MIN_ALLOC + 1,
	    n - BUF_MIN_ALLOC - 1), 0);
	CHECK_EQ(b.cap, 8 * BUF_MIN_ALLOC);
	CHECK_EQ(buf_len(&b), n);
	CHECK(holds(&b, 0));
	buf_free(&b);
	/* a first request larger than the minimum */
	CHECK(buf_reserve(&b, 3 * BUF_MIN_ALLOC) != NULL);
	CHECK_EQ(b.cap, 4 * BUF_MIN_ALLOC);
	buf_free(&b);
	free(src);
}

/* Room made by moving the unread bytes to the front, before growing. */
static void
test_compaction(void)
{
	struct buf	 b;
	uint8_t		 src[BUF_MIN_ALLOC], *p;

	fill(src, sizeof(src), 0);
	buf_init(&b, SIZE_MAX);
	CHECK_EQ(buf_append(&b, src, BUF_MIN_ALLOC - 10), 0);
	buf_consume(&b, 1000);
	/* fits at the end: no move */
	p = buf_reserve(&b, 10);
	CHECK(p == b.data + BUF_MIN_ALLOC - 10);
	CHECK_EQ(b.start, 1000);
	/* fits only once compacted: same memory, no growth */
	p = buf_reserve(&b, 500);
	CHECK_EQ(b.cap, BUF_MIN_ALLOC);
	CHECK_EQ(b.start, 0);
	CHECK_EQ(buf_len(&b), BUF_MIN_ALLOC - 10 - 1000);
	CHECK(p == b.data + buf_len(&b));
	CHECK(holds(&b, 1000));
	/* does not fit even compacted: compacted, then grown */
	buf_consume(&b, 5);
	CHECK_EQ(buf_append(&b, src, 2000), 0);
	CHECK_EQ(b.cap, 2 * BUF_MIN_ALLOC);
	CHECK_EQ(b.start, 0);
	CHECK_EQ(buf_len(&b), BUF_MIN_ALLOC - 10 - 1005 + 2000);
	CHECK_EQ(memcmp(buf_head(&b) + BUF_MIN_ALLOC - 10 - 1005, src, 2000),
	    0);
	CHECK(holds_n(&b, BUF_MIN_ALLOC - 10 - 1005, 1005));
	buf_free(&b);
}

static void
test_marks(void)
{
	struct buf	 b;
	uint8_t		 src[400];

	memset(src, 'm', sizeof(src));
	buf_init(&b, 400);
	CHECK_EQ(buf_append(&b, src, 100), 0);
	CHECK(buf_low(&b));		/* 100 <= 400 / 4 */
	CHECK(!buf_full(&b));
	CHECK_EQ(buf_room(&b), 300);
	CHECK_EQ(buf_append(&b, src, 1), 0);
	CHECK(!buf_low(&b));
	CHECK_EQ(buf_append(&b, src, 298), 0);
	CHECK(!buf_full(&b));
	CHECK_EQ(buf_room(&b), 1);
	CHECK_EQ(buf_append(&b, src, 1), 0);
	CHECK(buf_full(&b));		/* at the mark */
	CHECK_EQ(buf_room(&b), 0);
	/* the mark is flow control, not a limit: a producer may overshoot */
	CHECK_EQ(buf_append(&b, src, 50), 0);
	CHECK(buf_full(&b));
	CHECK_EQ(buf_room(&b), 0);
	buf_consume(&b, 350);
	CHECK(!buf_full(&b));
	CHECK(buf_low(&b));
	buf_free(&b);
	/* high 0: always full, never room */
	buf_init(&b, 0);
	CHECK(buf_full(&b));
	CHECK(buf_low(&b));
	CHECK_EQ(buf_room(&b), 0);
}

/*
 * A request no size_t can hold is out of memory, at once: the doubling
 * must not wrap to 0 and spin. The alarm turns a hang into a failure.
 */
static void
test_too_large(void)
{
	struct buf	 b;

	alarm(10);
	buf_init(&b, SIZE_MAX);
	CHECK(buf_reserve(&b, SIZE_MAX) == NULL);
	CHECK(buf_reserve(&b, SIZE_MAX / 2 + 2) == NULL);
	CHECK_EQ(buf_append(&b, "x", 1), 0);
	CHECK(buf_reserve(&b, SIZE_MAX) == NULL);
	CHECK(buf_reserve(&b, SIZE_MAX - BUF_MIN_ALLOC) == NULL);
	/* the data survives a failed request */
	CHECK_EQ(buf_len(&b), 1);
	CHECK_EQ(buf_head(&b)[0], 'x');
	buf_free(&b);
	alarm(0);
}

int
main(void)
{
	test_empty();
	test_reserve_zero();
	test_append_consume();
	test_reserve_commit();
	test_growth();
	test_compaction();
	test_marks();
	test_too_large();
	TEST_REPORT();
}
