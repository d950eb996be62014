/*
 * Unit tests for targets.c: token file syntax, bad lines with their line
 * numbers, lookups, re-reading a changed file, a removed file.
 */
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <unistd.h>

#include "test.h"
#include "targets.h"

static char	 path[64];
static char	 warnings[4096];

/* The warn callback: collect messages, one a line, "F" for the path. */
static void
collect(void *arg, const char *msg)
{
	size_t	 plen = strlen(path);

	(void)arg;
	if (strncmp(msg, path, plen) == 0) {
		strcat(warnings, "F");
		msg += plen;
	}
	strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
	strcat(warnings, "\n");
}

static void
write_file(const char *text)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

static const char *
lookup(struct targets *t, const char *token, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 a[INET6_ADDRSTRLEN];
	int			 rc;

	if ((rc = targets_lookup(t, token, &ss, &sl)) != 0)
		snprintf(buf, len, "%d", rc);
	else if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "unix:%s",
		    ((struct sockaddr_un *)&ss)->sun_path);
	return buf;
}

static const char good[] =
    "# websockify token file\n"
    "\n"
    "vnc1: 127.0.0.1:5901\n"
    "  vnc2 :[::1]:5902   \r\n"
    "sock: unix:/run/vnc.sock\n"
    "ws: unix_socket:/run/ws.sock\n"
    "name: localhost:80\n"
    "gone: no-such-host.invalid:80\n";

static void
test_load(void)
{
	struct targets	*t;
	char		 err[256], buf[256];

	write_file(good);
	warnings[0] = '\0';
	t = targets_open(path, collect, NULL, err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_EQ(targets_count(t), 6);
	CHECK_EQ(targets_nbad(t), 0);
	CHECK_STR(lookup(t, "vnc1", buf, sizeof(buf)), "127.0.0.1:5901");
	CHECK_STR(lookup(t, "vnc2", buf, sizeof(buf)), "[::1]:5902");
	CHECK_STR(lookup(t, "sock", buf, sizeof(buf)), "unix:/run/vnc.sock");
	CHECK_STR(lookup(t, "ws", buf, sizeof(buf)), "unix:/run/ws.sock");
	CHECK_STR(lookup(t, "vnc", buf, sizeof(buf)), "-1");
	CHECK_STR(lookup(t, "", buf, sizeof(buf)), "-1");
	CHECK_STR(lookup(t, NULL, buf, sizeof(buf)), "-1");
	CHECK(strncmp(lookup(t, "name", buf, sizeof(buf)), "-", 1) != 0);
	CHECK_STR(warnings, "");
	CHECK_STR(lookup(t, "gone", buf, sizeof(buf)), "-2");
	CHECK(strncmp(warnings, "F:8: target \"no-such-host.invalid:80\": ",
	    39) == 0);
	targets_close(t);
}

static void
test_bad_lines(void)
{
	struct targets	*t;
	char		 err[256], buf[256], line[2000];

	memset(line, 'x', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\n", 2);
	write_file("a: 1.2.3.4:5\nno colon\n: 1.2.3.4:5\nb c: 1.2.3.4:5\n"
	    "d:\ne: 1.2.3.4\nf: 1.2.3.4:0\ng: 1.2.3.4:70000\nh: ::1:80\n"
	    "i: unix:\na: 5.6.7.8:9\nj: [::1]80\nk: 1.2.3.4:5 x\n");
	warnings[0] = '\0';
	t = targets_open(path, collect, NULL, err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_EQ(targets_count(t), 1);
	CHECK_EQ(targets_nbad(t), 12);
	CHECK_STR(warnings, "F:2: want TOKEN: TARGET\nF:3: missing token\n"
	    "F:4: blank in token\nF:5: missing target\n"
	    "F:6: want HOST:PORT, [IPv6]:PORT or unix:/PATH\n"
	    "F:7: bad port\nF:8: bad port\n"
	    "F:9: want HOST:PORT, [IPv6]:PORT or unix:/PATH\n"
	    "F:10: bad unix socket path\n"
	    "F:11: duplicate token (first on line 1)\n"
	    "F:12: bad [IPv6]:PORT\nF:13: blank in target\n");
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "1.2.3.4:5");
	/* a changed file is read again at the next lookup */
	warnings[0] = '\0';
	write_file(line);
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "-1");
	CHECK_STR(warnings, "F:1: line too long\n");
	write_file("a: 9.9.9.9:99\nnew: 127.0.0.2:1\n");
	CHECK_STR(lookup(t, "new", buf, sizeof(buf)), "127.0.0.2:1");
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "9.9.9.9:99");
	/* removed: no tokens, one warning; back: read again */
	warnings[0] = '\0';
	unlink(path);
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "-1");
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "-1");
	CHECK(strstr(warnings, "No such file") != NULL &&
	    strchr(warnings, '\n') == warnings + strlen(warnings) - 1);
	write_file("a: 1.1.1.1:1\n");
	CHECK_STR(lookup(t, "a", buf, sizeof(buf)), "1.1.1.1:1");
	targets_close(t);
}

static void
test_missing(void)
{
	char	 err[256];

	unlink(path);
	CHECK(targets_open(path, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "No such file or directory") != NULL);
}

/* Issue 13 item 8: a token that is there but bad is not "no token". */
static void
test_query_token(void)
{
	char	 tok[256], q[600];

	CHECK_EQ(targets_query_token("token=alpha", tok, sizeof(tok)), 1);
	CHECK_STR(tok, "alpha");
	CHECK_EQ(targets_query_token("x=1&token=ab%2Bc%2Fd%3D&token=z", tok,
	    sizeof(tok)), 1);
	CHECK_STR(tok, "ab+c/d=");
	CHECK_EQ(targets_query_token("a+b", tok, sizeof(tok)), 0);
	CHECK_EQ(targets_query_token("", tok, sizeof(tok)), 0);
	CHECK_EQ(targets_query_token("mytoken=x&tokens=y", tok, sizeof(tok)),
	    0);
	CHECK_EQ(targets_query_token("token=", tok, sizeof(tok)), -1);
	CHECK_EQ(targets_query_token("token=&x=1", tok, sizeof(tok)), -1);
	CHECK_EQ(targets_query_token("token=a%00b", tok, sizeof(tok)), -1);
	memset(q, 'z', sizeof(q));
	memcpy(q, "token=", 6);
	q[6 + 255] = '\0';
	CHECK_EQ(targets_query_token(q, tok, sizeof(tok)), 1);
	q[6 + 255] = 'z';
	q[6 + 256] = '\0';
	CHECK_EQ(targets_query_token(q, tok, sizeof(tok)), -1);
}

int
main(void)
{
	int	 fd;

	strcpy(path, "/tmp/wsbridge-targets-XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_load();
	test_bad_lines();
	test_missing();
	test_query_token();
	unlink(path);
	TEST_REPORT();
}
