/*
 * Unit tests for notify.c: a unix datagram socket stands in for systemd,
 * bound at a path and at an abstract name, and each payload is checked.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "notify.h"

static char	 got[NOTIFY_MAX_MSG + 64];

/* Bind a datagram socket at name ('@' = abstract); returns the fd. */
static int
listen_at(const char *name)
{
	struct sockaddr_un	 sun;
	size_t			 len = strlen(name);
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1) {
		perror("bind");
		exit(1);
	}
	return fd;
}

/* The datagram waiting on fd, or "" when none: sends are synchronous. */
static const char *
recv_one(int fd)
{
	ssize_t	 n;

	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	got[n > 0 ? n : 0] = '\0';
	return got;
}

static void
test_path_socket(void)
{
	char			 path[] = "/tmp/wsbridge-notify-XXXXXX";
	char			 sock[64];
	unsigned long long	 usec;
	struct timespec		 ts;
	int			 fd;

	CHECK(mkdtemp(path) != NULL);
	snprintf(sock, sizeof(sock), "%s/notify", path);
	fd = listen_at(sock);
	setenv("NOTIFY_SOCKET", sock, 1);

	notify_ready();
	CHECK_STR(recv_one(fd), "READY=1");
	notify_stopping();
	CHECK_STR(recv_one(fd), "STOPPING=1");
	notify_status("%d routes, %s", 3, "listening");
	CHECK_STR(recv_one(fd), "STATUS=3 routes, listening");
	notify_status("two\nlines\r");
	CHECK_STR(recv_one(fd), "STATUS=two lines ");

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_reloading();
	recv_one(fd);
	CHECK(strncmp(got, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	usec = strtoull(got + 27, NULL, 10);
	CHECK(usec >= (unsigned long long)ts.tv_sec * 1000000ULL);
	CHECK(usec < (unsigned long long)(ts.tv_sec + 60) * 1000000ULL);
	CHECK_STR(recv_one(fd), "");

	close(fd);
	unlink(sock);
	rmdir(path);
	/* Nobody listening any more: an error, not a crash. */
	CHECK_EQ(notify_send("READY=1"), -1);
	notify_ready();
}

static void
test_abstract_socket(void)
{
	char	 name[64];
	int	 fd;

	snprintf(name, sizeof(name), "@wsbridge-notify-test-%ld",
	    (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	notify_ready();
	CHECK_STR(recv_one(fd), "READY=1");
	close(fd);
}

static void
test_long_status(void)
{
	char	 name[64], big[4096];
	int	 fd;

	snprintf(name, sizeof(name), "@wsbridge-notify-long-%ld",
	    (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_status("%s", big);
	recv_one(fd);
	CHECK_EQ(strlen(got), NOTIFY_MAX_MSG - 1);
	CHECK(strncmp(got, "STATUS=xxx", 10) == 0);
	close(fd);
}

static void
test_unset_and_invalid(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ(notify_send("READY=1"), 0);
	notify_ready();
	notify_status("nothing %d", 1);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	errno = 0;
	CHECK_EQ(notify_send("READY=1"), -1);
	CHECK_EQ(errno, EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK_EQ(notify_send("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	test_path_socket();
	test_abstract_socket();
	test_long_status();
	test_unset_and_invalid();
	TEST_REPORT();
}
