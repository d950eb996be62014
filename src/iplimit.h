/*
 * Open connections per client address, for max_connections_per_ip.
 * Pure: a hash table of counters, no I/O.
 */
#ifndef IPLIMIT_H
#define IPLIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

/* Count one more connection from the address unless max is reached. */
bool	iplimit_take(const struct sockaddr *, int max);
void	iplimit_release(const struct sockaddr *);
int	iplimit_count(const struct sockaddr *);

#endif
