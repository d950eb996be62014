/* Unit tests for the per-address connection counters. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "iplimit.h"
#include "test.h"

static struct sockaddr_in
v4(const char *ip, int port)
{
	struct sockaddr_in	 s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	inet_pton(AF_INET, ip, &s.sin_addr);
	return s;
}

int
main(void)
{
	struct sockaddr_in	 a = v4("127.0.0.1", 1000), b = v4("127.0.0.1",
				    2000), c = v4("127.0.0.2", 1000);
	struct sockaddr_in6	 m;

	CHECK(iplimit_take((struct sockaddr *)&a, 2));
	/* The port does not matter: same address. */
	CHECK(iplimit_take((struct sockaddr *)&b, 2));
	CHECK(!iplimit_take((struct sockaddr *)&a, 2));
	CHECK(iplimit_take((struct sockaddr *)&c, 2));
	CHECK_EQ(iplimit_count((struct sockaddr *)&a), 2);
	/* A v4-mapped IPv6 address is the same client. */
	memset(&m, 0, sizeof(m));
	m.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
	CHECK_EQ(iplimit_count((struct sockaddr *)&m), 2);
	iplimit_release((struct sockaddr *)&a);
	CHECK(iplimit_take((struct sockaddr *)&a, 2));
	iplimit_release((struct sockaddr *)&a);
	iplimit_release((struct sockaddr *)&b);
	iplimit_release((struct sockaddr *)&c);
	CHECK_EQ(iplimit_count((struct sockaddr *)&a), 0);
	CHECK_EQ(iplimit_count((struct sockaddr *)&c), 0);
	/* Unlimited. */
	CHECK(iplimit_take((struct sockaddr *)&a, 0));
	iplimit_release((struct sockaddr *)&a);
	TEST_REPORT();
}
