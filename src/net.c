/*
 * Socket helpers: listening and connecting sockets, options, names.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

static int
net_error(char *err, size_t errsz, const char *what, int fd)
{
	snprintf(err, errsz, "%s: %s", what, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/*
 * An existing path: 0 a socket nobody listens on (stale), 1 a live
 * server's socket, -1 not a socket or the probe failed; err says why.
 */
static int
net_unix_probe(const struct sockaddr_un *sun, socklen_t len,
    const struct stat *st, char *err, size_t errsz)
{
	int	 fd, rv;

	if (!S_ISSOCK(st->st_mode)) {
		snprintf(err, errsz, "%s exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return net_error(err, errsz, "socket", -1);
	rv = connect(fd, (const struct sockaddr *)sun, len);
	close(fd);
	if (rv == 0) {
		snprintf(err, errsz, "%s: a server is listening there",
		    sun->sun_path);
		return 1;
	}
	return errno == ECONNREFUSED ? 0 :
	    net_error(err, errsz, "connect (probe)", -1);
}

/*
 * A unix socket path may only be taken over when it is a socket nobody
 * listens on any more (a crashed server's leftover): never a file, never
 * a live server's socket.
 */
static int
net_unix_reclaim(const struct sockaddr_un *sun, socklen_t len, char *err,
    size_t errsz)
{
	struct stat	 st;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : net_error(err, errsz, "lstat", -1);
	if (net_unix_probe(sun, len, &st, err, errsz) != 0)
		return -1;
	if (unlink(sun->sun_path) == -1 && errno != ENOENT)
		return net_error(err, errsz, "unlink stale socket", -1);
	return 0;
}

int
net_listen(const struct sockaddr *sa, socklen_t len, int backlog,
    bool shared, char *err, size_t errsz)
{
	int	 fd, on = 1;

	if (sa->sa_family == AF_UNIX && net_unix_reclaim(
	    (const struct sockaddr_un *)sa, len, err, errsz) == -1)
		return -1;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return net_error(err, errsz, "socket", -1);
	if (sa->sa_family != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		/*
		 * Workers share listeners; the kernel spreads connections.
		 * Alone, a port in use is an error, not a silent share.
		 */
		if (shared)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
			    sizeof(on));
	}
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, sa, len) == -1)
		return net_error(err, errsz, "bind", fd);
	if (listen(fd, backlog) == -1)
		return net_error(err, errsz, "listen", fd);
	return fd;
}

/* A unix path: free, or a stale socket net_listen would reclaim. */
static int
net_unix_try(const struct sockaddr_un *sun, socklen_t len, char *err,
    size_t errsz)
{
	struct stat	 st;
	int		 fd;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno != ENOENT)
			return net_error(err, errsz, "lstat", -1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return net_error(err, errsz, "socket", -1);
		if (bind(fd, (const struct sockaddr *)sun, len) == -1)
			return net_error(err, errsz, "bind", fd);
		close(fd);
		unlink(sun->sun_path);		/* ours: just made */
		return 0;
	}
	return net_unix_probe(sun, len, &st, err, errsz);
}

int
net_try_bind(const struct sockaddr *sa, socklen_t len, bool shared,
    char *err, size_t errsz)
{
	int	 fd, on = 1;

	if (sa->sa_family == AF_UNIX)
		return net_unix_try((const struct sockaddr_un *)sa, len, err,
		    errsz);
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return net_error(err, errsz, "socket", -1);
	/* The options net_listen sets, so that the answer is the same. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (shared)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, sa, len) == -1)
		return errno == EADDRINUSE ?
		    (net_error(err, errsz, "bind", fd), 1) :
		    net_error(err, errsz, "bind", fd);
	close(fd);
	return 0;
}

int
net_connect(const struct sockaddr *sa, socklen_t len, int *in_progress,
    char *err, size_t errsz)
{
	int	 fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return net_error(err, errsz, "socket", -1);
	if (sa->sa_family != AF_UNIX)
		net_set_nodelay(fd);
	*in_progress = 0;
	if (connect(fd, sa, len) == -1) {
		/*
		 * EAGAIN is not "in progress": on a unix socket it means the
		 * listener's backlog is full, and nothing is connecting.
		 */
		if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
			snprintf(err, errsz, "connect: listen backlog full");
			close(fd);
			errno = EAGAIN;
			return -1;
		}
		if (errno != EINPROGRESS)
			return net_error(err, errsz, "connect", fd);
		*in_progress = 1;
	}
	return fd;
}

int
net_set_nodelay(int fd)
{
	int	 on = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

void
net_addr_string(const struct sockaddr *sa, char *buf, size_t len, int *port)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;

	*port = 0;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(s6->sin6_port);
	} else
		snprintf(buf, len, "unix");
}
