/*
 * Socket helpers in the manner of redis's anet.c: they fill the caller's
 * error buffer and leave the logging to the caller.
 */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * A non-blocking, close-on-exec listening socket bound to addr; shared:
 * SO_REUSEPORT, for workers that each bind the same port.
 */
int	net_listen(const struct sockaddr *, socklen_t, int backlog,
	    bool shared, char *err, size_t errsz);
/*
 * --check: could net_listen bind there now? Binds and closes at once,
 * never listens, leaves a unix path as it was. 0 yes; 1 in use (a
 * server listens there, maybe this very wsbridge); -1 no. err says why.
 */
int	net_try_bind(const struct sockaddr *, socklen_t, bool shared,
	    char *err, size_t errsz);
/*
 * Start a non-blocking connect; sets *in_progress. -1 on failure, with
 * errno EAGAIN when it may be tried again (a full unix backlog).
 */
int	net_connect(const struct sockaddr *, socklen_t, int *in_progress,
	    char *err, size_t errsz);
int	net_set_nodelay(int fd);
/* Numeric address and port of sa ("unix" for AF_UNIX). */
void	net_addr_string(const struct sockaddr *, char *, size_t, int *port);

#endif
