/*
 * websockify's "base64" subprotocol: bytes travel as base64 text. Encoding
 * and a decoder that takes a message in pieces of any size (OpenSSL does
 * the work).
 */
#ifndef BASE64_H
#define BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of base64 text for n bytes, with the terminating NUL. */
#define BASE64_ENCODED_SIZE(n)	(((n) + 2) / 3 * 4 + 1)

/* Encode n bytes into dst (BASE64_ENCODED_SIZE(n)); returns its length. */
size_t	base64_encode(char *dst, const uint8_t *src, size_t n);

/* A message being decoded: up to three characters wait for a fourth. */
struct base64_dec {
	uint8_t	 carry[4];
	size_t	 ncarry;
	bool	 ended;		/* padding seen: nothing may follow */
};

void	base64_dec_init(struct base64_dec *);
/*
 * Decode the next n characters into dst (room for 3 * (n + 3) / 4 bytes);
 * end: the message ends here. Returns the bytes written, or -1 if the
 * text is not base64 (or stops inside a group at the end).
 */
long	base64_dec_feed(struct base64_dec *, const uint8_t *src, size_t n,
	    bool end, uint8_t *dst);

#endif
