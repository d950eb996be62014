/*
 * permessage-deflate (RFC 7692) with zlib: negotiation of the client's
 * offers, and per-connection streams to inflate received messages and
 * deflate sent ones. Pure: no I/O.
 */
#ifndef PMD_H
#define PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pmd_params {
	bool	server_no_context_takeover;
	bool	client_no_context_takeover;
	int	server_max_window_bits;		/* 9..15 */
	bool	server_max_window_bits_asked;	/* must be answered */
};

struct pmd;

/*
 * Pick the first acceptable permessage-deflate offer in the
 * Sec-WebSocket-Extensions value (all header lines joined with ", ").
 * 0 with the response value in resp, or -1 when none is acceptable.
 */
int	 pmd_negotiate(const char *offers, struct pmd_params *, char *resp,
	    size_t respsz);
struct pmd *pmd_new(const struct pmd_params *);
void	 pmd_free(struct pmd *);

/*
 * Inflate part of a received compressed message into out. last: in is
 * the rest of the message (its end follows once in is consumed). Sets
 * *used (input consumed), *produced, and *done once the whole message is
 * out. 0, or -1 with *why on corrupt data.
 */
int	 pmd_inflate(struct pmd *, const uint8_t *in, size_t inlen, bool last,
	    uint8_t *out, size_t outsz, size_t *used, size_t *produced,
	    bool *done, const char **why);

/*
 * Deflate a piece of a message to send; fin ends the message (the
 * 00 00 ff ff tail is dropped, RFC 7692 7.2.1). *out is malloc'd.
 * 0, or -1 when out of memory.
 */
int	 pmd_deflate(struct pmd *, const uint8_t *in, size_t n, bool fin,
	    uint8_t **out, size_t *outlen);

#endif
