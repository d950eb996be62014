/*
 * Unit tests for forwarded.c: X-Forwarded-For and Forwarded believed
 * only from trusted peers, walked from the right past trusted proxies.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include "test.h"
#include "config.h"
#include "forwarded.h"

static struct cidr	 trusted[4];
static size_t		 ntrusted;

static void
sa(struct sockaddr_storage *ss, const char *a)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	else
		ss->ss_family = AF_UNIX;
}

/* The client seen from peer with these headers; want "" + rc. */
static void
check(const char *peer, const char *xff, const char *fwd, const char *want,
    int wantrc)
{
	struct sockaddr_storage	 ss;
	struct forwarded_client	 fc;

	sa(&ss, peer);
	CHECK_EQ(forwarded_client((struct sockaddr *)&ss, trusted, ntrusted,
	    xff, fwd, &fc), wantrc);
	CHECK_STR(fc.host, want);
	CHECK(fc.from_header == (wantrc == 1));
}

static void
test_xff(void)
{
	/* untrusted peers: headers ignored */
	check("198.51.100.7", "203.0.113.1", NULL, "198.51.100.7", 0);
	check("198.51.100.7", NULL, "for=203.0.113.1", "198.51.100.7", 0);
	/* trusted peer: the rightmost untrusted address */
	check("127.0.0.1", "203.0.113.1", NULL, "203.0.113.1", 1);
	check("127.0.0.1", "6.6.6.6, 203.0.113.1, 10.0.0.2 ,10.0.0.3", NULL,
	    "203.0.113.1", 1);
	check("::1", " 2001:db8::5 ", NULL, "2001:db8::5", 1);
	check("::ffff:127.0.0.1", "203.0.113.1", NULL, "203.0.113.1", 1);
	check("127.0.0.1", "[2001:db8::5]:443, 203.0.113.1:80", NULL,
	    "203.0.113.1", 1);
	check("127.0.0.1", "[2001:db8::5]:443, 10.0.0.1", NULL,
	    "2001:db8::5", 1);
	/* all trusted: the leftmost */
	check("127.0.0.1", "10.0.0.9, 10.0.0.8", NULL, "10.0.0.9", 1);
	/* garbage stops the walk at the last address found */
	check("127.0.0.1", "203.0.113.1, bogus, 10.0.0.1", NULL, "10.0.0.1",
	    1);
	check("127.0.0.1", "bogus", NULL, "127.0.0.1", 0);
	check("127.0.0.1", "", NULL, "127.0.0.1", 0);
	check("127.0.0.1", "1.2.3.4:99999", NULL, "127.0.0.1", 0);
	check("127.0.0.1", "[1.2.3.4]", NULL, "127.0.0.1", 0);
	check("127.0.0.1", "[::1", NULL, "127.0.0.1", 0);
	/* unix peers are never trusted and have no address */
	check("unix", "203.0.113.1", NULL, "", 0);
}

static void
test_rfc7239(void)
{
	check("127.0.0.1", NULL, "for=192.0.2.60;proto=http;by=203.0.113.43",
	    "192.0.2.60", 1);
	check("127.0.0.1", NULL, "For=\"[2001:db8:cafe::17]:4711\"",
	    "2001:db8:cafe::17", 1);
	check("127.0.0.1", NULL, "for=192.0.2.43, for=198.51.100.17",
	    "198.51.100.17", 1);
	check("127.0.0.1", NULL, "for=192.0.2.43,for=\"[::1]\";by=x, "
	    "for=10.1.1.1", "192.0.2.43", 1);
	check("127.0.0.1", NULL, "for=\"192.0.2.43:80\"", "192.0.2.43", 1);
	check("127.0.0.1", NULL, "for=\"[2001:db8::1]:_p\"", "2001:db8::1", 1);
	/* obfuscated and unknown hops say nothing: stop there */
	check("127.0.0.1", NULL, "for=192.0.2.43, for=_hidden", "127.0.0.1",
	    0);
	check("127.0.0.1", NULL, "for=192.0.2.43, for=unknown, for=10.0.0.1",
	    "10.0.0.1", 1);
	check("127.0.0.1", NULL, "for=192.0.2.43, proto=https", "127.0.0.1",
	    0);
	/* bad syntax from a trusted proxy: the proxy itself */
	check("127.0.0.1", NULL, "for=\"192.0.2.43", "127.0.0.1", 0);
	check("127.0.0.1", NULL, "for 192.0.2.43", "127.0.0.1", 0);
	check("127.0.0.1", NULL, "for=1.2.3.4 x", "127.0.0.1", 0);
	/* Forwarded wins over X-Forwarded-For; empty falls back */
	check("127.0.0.1", "203.0.113.1", "for=192.0.2.1", "192.0.2.1", 1);
	check("127.0.0.1", "203.0.113.1", "", "203.0.113.1", 1);
}

static void
test_many_hops(void)
{
	char	 xff[4096] = "203.0.113.1";
	int	 i;

	for (i = 0; i < 40; i++)
		strcat(xff, ", 10.0.0.1");
	/* only the last FORWARDED_MAX_HOPS are looked at */
	check("127.0.0.1", xff, NULL, "10.0.0.1", 1);
	strcpy(xff, "203.0.113.1");
	for (i = 0; i < 20; i++)
		strcat(xff, ", 10.0.0.1");
	check("127.0.0.1", xff, NULL, "203.0.113.1", 1);
}

static void
test_port(void)
{
	struct sockaddr_storage	 ss;
	struct forwarded_client	 fc;

	sa(&ss, "127.0.0.1");
	forwarded_client((struct sockaddr *)&ss, trusted, ntrusted,
	    "203.0.113.1:8080", NULL, &fc);
	CHECK_EQ(ntohs(((struct sockaddr_in *)&fc.addr)->sin_port), 8080);
	CHECK_EQ(fc.addrlen, sizeof(struct sockaddr_in));
}

int
main(void)
{
	const char	*why;

	config_parse_cidr("127.0.0.0/8", &trusted[0], &why);
	config_parse_cidr("::1", &trusted[1], &why);
	config_parse_cidr("10.0.0.0/8", &trusted[2], &why);
	ntrusted = 3;
	test_xff();
	test_rfc7239();
	test_many_hops();
	test_port();
	TEST_REPORT();
}
