/*
 * HAProxy's PROXY protocol, versions 1 (text) and 2 (binary): parse the
 * header a load balancer sends before the client's bytes, and build one
 * for a backend (send_proxy). Pure: no I/O.
 */
#ifndef PROXY_PROTO_H
#define PROXY_PROTO_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_V1_MAX		107	/* longest v1 line, CRLF included */
#define PROXY_V2_HEADER		16	/* signature, command, family, length */
/* Largest v2 header accepted, TLVs included: buffer this much at most. */
#define PROXY_MAX_HEADER	4096

struct proxy_info {
	bool			 local;	/* v2 LOCAL, v1 UNKNOWN, AF_UNSPEC */
	struct sockaddr_storage	 src, dst;	/* the client, the address
						   it connected to */
	socklen_t		 srclen, dstlen;
};

/*
 * Parse a header at the start of p. Returns the bytes it took (the
 * client's own data follows), 0 when more bytes are needed to decide (a
 * v1 line waits for its CRLF, a v2 header for all 16 + length bytes) or
 * -1 with *why set when p does not start with a valid header.
 */
ssize_t	 proxy_parse(const uint8_t *p, size_t n, struct proxy_info *,
	    const char **why);

/*
 * A header saying src connected to dst: "PROXY TCP4 ...\r\n" (TCP6 when
 * either is IPv6, "PROXY UNKNOWN\r\n" for other families). Returns its
 * length (out is NUL-terminated too) or 0 if outsz is too small.
 */
size_t	 proxy_build_v1(char *out, size_t outsz, const struct sockaddr *src,
	    const struct sockaddr *dst);
/* The same as a v2 PROXY header (AF_UNSPEC for non-IP addresses). */
size_t	 proxy_build_v2(uint8_t *out, size_t outsz,
	    const struct sockaddr *src, const struct sockaddr *dst);

#endif
