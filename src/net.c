/*
 * Socket helpers: listening and connecting sockets, options, names.
 */
#include <sys/socket.h>
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

int
net_listen(const struct sockaddr *sa, socklen_t len, int backlog, char *err,
    size_t errsz)
{
	int	 fd, on = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return net_error(err, errsz, "socket", -1);
	if (sa->sa_family != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		/* Workers share listeners; the kernel spreads connections. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	} else
		unlink(((const struct sockaddr_un *)sa)->sun_path);
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, sa, len) == -1)
		return net_error(err, errsz, "bind", fd);
	if (listen(fd, backlog) == -1)
		return net_error(err, errsz, "listen", fd);
	return fd;
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
		if (errno != EINPROGRESS && errno != EAGAIN)
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
