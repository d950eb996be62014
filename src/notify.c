/*
 * sd_notify(3) over a unix datagram socket, written out so that wsbridge
 * needs no libsystemd: the protocol is "KEY=VALUE\n..." in one datagram.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Fill sun from $NOTIFY_SOCKET; returns the address length, or 0. */
static socklen_t
notify_addr(const char *name, struct sockaddr_un *sun)
{
	size_t	 len = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || len < 2 ||
	    len >= sizeof(sun->sun_path))
		return 0;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, len);
	if (name[0] == '@')	/* abstract: leading NUL, no terminator */
		sun->sun_path[0] = '\0';
	else
		len++;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

int
notify_send(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*name = getenv("NOTIFY_SOCKET");
	socklen_t		 slen;
	ssize_t			 n;
	int			 fd, saved;

	if (name == NULL || *name == '\0')
		return 0;
	if ((slen = notify_addr(name, &sun)) == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, slen);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(msg) ? 0 : -1;
}

void
notify_ready(void)
{
	(void)notify_send("READY=1");
}

/*
 * systemd (Type=notify-reload, and 253+ for Type=notify) wants the
 * CLOCK_MONOTONIC time with RELOADING=1 to order it against READY=1.
 */
void
notify_reloading(void)
{
	struct timespec	 ts;
	char		 msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	(void)notify_send(msg);
}

void
notify_stopping(void)
{
	(void)notify_send("STOPPING=1");
}

/* A newline would start another KEY=VALUE: status text stays one line. */
void
notify_status(const char *fmt, ...)
{
	char	 msg[NOTIFY_MAX_MSG], *p;
	va_list	 ap;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	for (p = msg + 7; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	(void)notify_send(msg);
}
