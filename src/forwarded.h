/*
 * The real client behind trusted proxies: X-Forwarded-For and Forwarded
 * (RFC 7239) are believed only from peers in trusted_proxies, and only
 * as far back as the chain of trusted proxies goes. Pure: no I/O.
 */
#ifndef FORWARDED_H
#define FORWARDED_H

#include <sys/socket.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

struct cidr;

/* Entries of one header looked at, from the right: the rest is ignored. */
#define FORWARDED_MAX_HOPS	32

struct forwarded_client {
	struct sockaddr_storage	 addr;	/* port 0 unless the header gave one */
	socklen_t		 addrlen;	/* 0: no IP address at all */
	char			 host[INET6_ADDRSTRLEN]; /* REMOTE_ADDR */
	bool			 from_header;	/* false: the peer itself */
};

/*
 * Who the client is. When peer is not in trusted[0..n), the peer. Else
 * walk the Forwarded for= list (or, without one, X-Forwarded-For) from
 * the right, past trusted addresses: the first untrusted one is the
 * client. An entry that is not an address ("unknown", an obfuscated
 * "_name", garbage) stops the walk at the last address found. Either
 * header may be NULL; repeated header lines must be joined with ", ".
 * Returns 1 if the address came from a header, 0 if it is the peer's.
 */
int	 forwarded_client(const struct sockaddr *peer,
	    const struct cidr *trusted, size_t n, const char *xff,
	    const char *forwarded, struct forwarded_client *);

#endif
