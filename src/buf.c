/*
 * Bounded byte buffer: grows by doubling while data waits, compacts
 * before growing, and frees its memory when drained.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t high)
{
	memset(b, 0, sizeof(*b));
	b->high = high;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->start = b->end = b->cap = 0;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	size_t	 len = buf_len(b), cap;
	uint8_t	*p;

	/* an empty buffer has no memory: even 0 bytes need a place */
	if (b->data != NULL && b->cap - b->end >= n)
		return b->data + b->end;
	if (b->start > 0 && b->cap - len >= n) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
		return b->data + b->end;
	}
	if (n > SIZE_MAX / 2 - len)
		return NULL;	/* no doubling could hold it: do not wrap */
	for (cap = b->cap ? b->cap : BUF_MIN_ALLOC; cap - len < n; cap *= 2)
		;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, len);
		b->start = 0;
		b->end = len;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return NULL;
	b->data = p;
	b->cap = cap;
	return b->data + b->end;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->end += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t	*dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(dst, p, n);
	b->end += n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		buf_free(b);
}
