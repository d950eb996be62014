/*
 * Byte buffer for one direction of a connection. Memory is allocated only
 * while data waits and returned once drained, so idle connections cost
 * nothing here. The high mark is a flow-control threshold: producers stop
 * reading their source while buf_full() and resume below buf_low().
 */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUF_MIN_ALLOC	(16 * 1024)

struct buf {
	uint8_t		*data;
	size_t		 start;		/* first unread byte */
	size_t		 end;		/* one past the last byte */
	size_t		 cap;		/* allocated bytes */
	size_t		 high;		/* flow-control high-water mark */
};

void	 buf_init(struct buf *, size_t high);
void	 buf_free(struct buf *);
/*
 * Make room for n more contiguous bytes at the end; returns where to
 * write them (then buf_commit), or NULL when out of memory.
 */
uint8_t	*buf_reserve(struct buf *, size_t n);
void	 buf_commit(struct buf *, size_t n);
int	 buf_append(struct buf *, const void *, size_t);
/* Drop n bytes from the front; frees the memory once empty. */
void	 buf_consume(struct buf *, size_t n);

static inline size_t
buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline uint8_t *
buf_head(const struct buf *b)
{
	return b->data + b->start;
}

/* At or over the high mark: stop the producer. */
static inline bool
buf_full(const struct buf *b)
{
	return buf_len(b) >= b->high;
}

/* Under the low mark (a quarter of high): restart the producer. */
static inline bool
buf_low(const struct buf *b)
{
	return buf_len(b) <= b->high / 4;
}

/* Bytes a producer may still add before reaching the high mark. */
static inline size_t
buf_room(const struct buf *b)
{
	return buf_full(b) ? 0 : b->high - buf_len(b);
}

#endif
