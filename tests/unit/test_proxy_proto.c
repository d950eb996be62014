/*
 * Unit tests for proxy_proto.c: the examples of HAProxy's
 * proxy-protocol.txt, headers fed one byte at a time, garbage, v2 with
 * TLVs, IPv6, and headers built then parsed back.
 */
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>

#include "test.h"
#include "proxy_proto.h"

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* "addr:port" of a parsed address, for comparing. */
static const char *
show(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else if (ss->ss_family == AF_UNIX)
		snprintf(buf, len, "unix:%s",
		    ((const struct sockaddr_un *)ss)->sun_path);
	else
		snprintf(buf, len, "none");
	return buf;
}

/*
 * Every proper prefix of a complete header needs more; the whole of it
 * (plus trailing client bytes) gives its length.
 */
static void
check_bytewise(const uint8_t *p, size_t hdrlen, size_t total)
{
	struct proxy_info	 pi;
	const char		*why = NULL;
	size_t			 i;
	int			 bad = 0;

	for (i = 0; i < hdrlen; i++)
		if (proxy_parse(p, i, &pi, &why) != 0)
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(proxy_parse(p, total, &pi, &why), hdrlen);
}

static void
check_v1(const char *line, const char *src, const char *dst)
{
	struct proxy_info	 pi;
	const char		*why = NULL;
	char			 buf[128];
	size_t			 len = strstr(line, "\r\n") + 2 - line;

	CHECK_EQ(proxy_parse((const uint8_t *)line, strlen(line), &pi, &why),
	    len);
	CHECK_STR(show(&pi.src, buf, sizeof(buf)), src);
	CHECK_STR(show(&pi.dst, buf, sizeof(buf)), dst);
	CHECK(pi.local == (strcmp(src, "none") == 0));
	check_bytewise((const uint8_t *)line, len, strlen(line));
}

static void
check_bad(const void *p, size_t n, const char *want)
{
	struct proxy_info	 pi;
	const char		*why = NULL;

	CHECK_EQ(proxy_parse(p, n, &pi, &why), -1);
	CHECK_STR(why, want);
}

#define BAD(s, want)	check_bad(s, sizeof(s) - 1, want)

static void
test_v1(void)
{
	char	 line[200];

	check_v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
	    "GET / HTTP/1.1\r\n", "192.168.0.1:56324", "192.168.0.11:443");
	check_v1("PROXY TCP6 2001:db8::1 ::1 0 65535\r\nxyz",
	    "[2001:db8::1]:0", "[::1]:65535");
	check_v1("PROXY UNKNOWN\r\n", "none", "none");
	/* the spec's worst case is exactly 107 bytes */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK_EQ(strlen(line), PROXY_V1_MAX);
	check_v1(line, "none", "none");
	memmove(line + 15, line + 14, strlen(line + 14) + 1);
	CHECK_EQ(strlen(line), PROXY_V1_MAX + 1);
	check_bad(line, strlen(line), "PROXY v1 line too long");
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY ", 6);
	check_bad(line, PROXY_V1_MAX, "PROXY v1 line too long");
}

static void
test_v1_garbage(void)
{
	BAD("GET / HTTP/1.1\r\n", "no PROXY protocol header");
	BAD("PROXX", "no PROXY protocol header");
	BAD("\x16\x03\x01", "no PROXY protocol header");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "bad character in PROXY v1 "
	    "line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", "bad character in PROXY v1 "
	    "line");
	BAD("PROXY \0", "bad character in PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 ::1 ::1 1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad PROXY v1 line");
	BAD("PROXY UNKNOWNX\r\n", "bad PROXY v1 line");
	BAD("PROXY \r\n", "bad PROXY v1 line");
}

/* A v2 header: sig, ver_cmd, fam, then body of blen bytes. */
static size_t
v2(uint8_t *out, uint8_t vc, uint8_t fam, const void *body, size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = vc;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	memcpy(out + 16, body, blen);
	return 16 + blen;
}

static void
test_v2(void)
{
	/* 192.0.2.1:4660 -> 198.51.100.2:443, then ALPN "h2" and NOOP TLVs */
	static const uint8_t b4[] = { 192, 0, 2, 1, 198, 51, 100, 2, 0x12,
	    0x34, 0x01, 0xbb, 0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00 };
	uint8_t			 b6[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint8_t			 buf[600], body[300];
	struct proxy_info	 pi;
	const char		*why;
	char			 s[128];
	size_t			 n;

	n = v2(buf, 0x21, 0x11, b4, sizeof(b4));
	memcpy(buf + n, "GET", 3);
	check_bytewise(buf, n, n + 3);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), n);
	CHECK(!pi.local);
	CHECK_STR(show(&pi.src, s, sizeof(s)), "192.0.2.1:4660");
	CHECK_STR(show(&pi.dst, s, sizeof(s)), "198.51.100.2:443");
	CHECK_EQ(pi.srclen, sizeof(struct sockaddr_in));
	b6[15] = 1;
	b6[31] = 2;
	b6[33] = 80;
	b6[35] = 81;
	n = v2(buf, 0x21, 0x21, b6, sizeof(b6));
	check_bytewise(buf, n, n);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), n);
	CHECK_STR(show(&pi.src, s, sizeof(s)), "[2001:db8::1]:80");
	CHECK_STR(show(&pi.dst, s, sizeof(s)), "[::2]:81");
	memset(body, 0, sizeof(body));
	strcpy((char *)body, "/run/a.sock");
	strcpy((char *)body + 108, "/run/b.sock");
	n = v2(buf, 0x21, 0x31, body, 216);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), n);
	CHECK_STR(show(&pi.src, s, sizeof(s)), "unix:/run/a.sock");
	CHECK_STR(show(&pi.dst, s, sizeof(s)), "unix:/run/b.sock");
}

static void
test_v2_local(void)
{
	struct proxy_info	 pi;
	const char		*why;
	uint8_t			 buf[64];
	size_t			 n;

	/* LOCAL: health checks from the proxy itself; addresses ignored */
	n = v2(buf, 0x20, 0x00, "", 0);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), 16);
	CHECK(pi.local);
	n = v2(buf, 0x20, 0x11, "\1\2\3\4\5\6\7\x08\0\1\0\2", 12);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), 28);
	CHECK(pi.local && pi.src.ss_family == 0);
	n = v2(buf, 0x21, 0x00, "ab", 2);
	CHECK_EQ(proxy_parse(buf, n, &pi, &why), 18);
	CHECK(pi.local);
}

static void
test_v2_bad(void)
{
	uint8_t	 buf[64];
	size_t	 n;

	n = v2(buf, 0x11, 0x11, "", 0);
	check_bad(buf, n, "bad PROXY v2 version");
	n = v2(buf, 0x22, 0x11, "", 0);
	check_bad(buf, n, "bad PROXY v2 command");
	n = v2(buf, 0x21, 0x11, "\1\2\3\4", 4);
	check_bad(buf, n, "PROXY v2 address block too short");
	n = v2(buf, 0x21, 0x12, "\1\2\3\4\5\6\7\x08\0\1\0\2", 12);
	check_bad(buf, n, "bad PROXY v2 family or transport (stream only)");
	n = v2(buf, 0x21, 0x41, "", 0);
	check_bad(buf, n, "bad PROXY v2 family or transport (stream only)");
	/* an absurd length is refused at once, not waited for */
	n = v2(buf, 0x21, 0x11, "", 0);
	buf[14] = buf[15] = 0xff;
	check_bad(buf, n, "PROXY v2 header too long");
	memcpy(buf, sig, 12);
	buf[7] = 'X';
	check_bad(buf, 12, "no PROXY protocol header");
}

static void
sa4(struct sockaddr_storage *ss, const char *a, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, a, &sin6->sin6_addr);
		sin6->sin6_port = htons((uint16_t)port);
	}
}

/* Build both versions for src -> dst, parse them back. */
static void
check_build(const char *src, const char *dst, const char *v1,
    const char *psrc, const char *pdst)
{
	struct sockaddr_storage	 s, d;
	struct proxy_info	 pi;
	const char		*why;
	uint8_t			 out[128];
	char			 buf[128];
	size_t			 n;

	sa4(&s, src, 1234);
	sa4(&d, dst, 443);
	n = proxy_build_v1((char *)out, sizeof(out), (struct sockaddr *)&s,
	    (struct sockaddr *)&d);
	CHECK_STR((char *)out, v1);
	CHECK_EQ(n, strlen(v1));
	CHECK_EQ(proxy_parse(out, n, &pi, &why), n);
	CHECK_STR(show(&pi.src, buf, sizeof(buf)), psrc);
	CHECK_STR(show(&pi.dst, buf, sizeof(buf)), pdst);
	n = proxy_build_v2(out, sizeof(out), (struct sockaddr *)&s,
	    (struct sockaddr *)&d);
	CHECK_EQ(proxy_parse(out, n, &pi, &why), n);
	CHECK_STR(show(&pi.src, buf, sizeof(buf)), psrc);
	CHECK_STR(show(&pi.dst, buf, sizeof(buf)), pdst);
}

static void
test_build(void)
{
	struct sockaddr_un	 su = { .sun_family = AF_UNIX };
	struct sockaddr_storage	 s;
	struct proxy_info	 pi;
	const char		*why;
	uint8_t			 out[128];

	check_build("203.0.113.9", "10.0.0.1",
	    "PROXY TCP4 203.0.113.9 10.0.0.1 1234 443\r\n",
	    "203.0.113.9:1234", "10.0.0.1:443");
	check_build("2001:db8::9", "::1",
	    "PROXY TCP6 2001:db8::9 ::1 1234 443\r\n",
	    "[2001:db8::9]:1234", "[::1]:443");
	check_build("::ffff:203.0.113.9", "10.0.0.1",
	    "PROXY TCP4 203.0.113.9 10.0.0.1 1234 443\r\n",
	    "203.0.113.9:1234", "10.0.0.1:443");
	check_build("203.0.113.9", "::1",
	    "PROXY TCP6 ::ffff:203.0.113.9 ::1 1234 443\r\n",
	    "[::ffff:203.0.113.9]:1234", "[::1]:443");
	sa4(&s, "1.2.3.4", 1);
	CHECK_EQ(proxy_build_v1((char *)out, sizeof(out),
	    (struct sockaddr *)&su, (struct sockaddr *)&s), 15);
	CHECK_STR((char *)out, "PROXY UNKNOWN\r\n");
	CHECK_EQ(proxy_build_v2(out, sizeof(out), (struct sockaddr *)&su,
	    (struct sockaddr *)&s), 16);
	CHECK_EQ(proxy_parse(out, 16, &pi, &why), 16);
	CHECK(pi.local);
	CHECK_EQ(proxy_build_v1((char *)out, 20, (struct sockaddr *)&s,
	    (struct sockaddr *)&s), 0);
	CHECK_EQ(proxy_build_v2(out, 27, (struct sockaddr *)&s,
	    (struct sockaddr *)&s), 0);
	CHECK_EQ(proxy_build_v2(out, 28, (struct sockaddr *)&s,
	    (struct sockaddr *)&s), 28);
}

int
main(void)
{
	test_v1();
	test_v1_garbage();
	test_v2();
	test_v2_local();
	test_v2_bad();
	test_build();
	TEST_REPORT();
}
