/*
 * PROXY protocol v1 and v2 (HAProxy's doc/proxy-protocol.txt): a parser
 * that never guesses from a partial header, and the two header builders.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "proxy_proto.h"

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char proxy_v1_sig[] = "PROXY ";

#define PROXY_V2_VERSION	0x20
#define PROXY_V2_LOCAL		0x00
#define PROXY_V2_PROXY		0x01
#define PROXY_AF_UNSPEC		0x00
#define PROXY_AF_INET		0x10
#define PROXY_AF_INET6		0x20
#define PROXY_AF_UNIX		0x30
#define PROXY_STREAM		0x01
#define PROXY_V2_UNIX_PATH	108

/* Is p[0..n) a prefix of sig? Then more bytes are needed to tell. */
static bool
proxy_prefix_of(const uint8_t *p, size_t n, const void *sig, size_t siglen)
{
	return memcmp(p, sig, n < siglen ? n : siglen) == 0;
}

static void
proxy_set_inet(struct sockaddr_storage *ss, socklen_t *len, int af,
    const void *addr, uint16_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	}
}

/* A v1 port: 1 to 5 digits, no leading zero, at most 65535. */
static int
proxy_v1_port(const char *s, uint16_t *port)
{
	size_t		 len = strlen(s), i;
	unsigned long	 v = 0;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * The fields after "PROXY TCP4 " or "PROXY TCP6 ", split on single
 * spaces: source, destination, source port, destination port.
 */
static int
proxy_v1_fields(char *line, int af, struct proxy_info *pi)
{
	char		*f[4], *save = NULL;
	uint8_t		 src[16], dst[16];
	uint16_t	 sport, dport;
	int		 i;

	if (strstr(line, "  ") != NULL || *line == ' ' || *line == '\0' ||
	    line[strlen(line) - 1] == ' ')
		return -1;
	for (i = 0; i < 4; i++)
		if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) == NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL)
		return -1;
	if (inet_pton(af, f[0], src) != 1 || inet_pton(af, f[1], dst) != 1 ||
	    proxy_v1_port(f[2], &sport) == -1 ||
	    proxy_v1_port(f[3], &dport) == -1)
		return -1;
	proxy_set_inet(&pi->src, &pi->srclen, af, src, sport);
	proxy_set_inet(&pi->dst, &pi->dstlen, af, dst, dport);
	return 0;
}

/* The whole v1 line is there, CRLF at p[len - 2]. */
static ssize_t
proxy_v1_line(const uint8_t *p, size_t len, struct proxy_info *pi,
    const char **why)
{
	char	 line[PROXY_V1_MAX + 1];

	memcpy(line, p, len - 2);
	line[len - 2] = '\0';
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		pi->local = true;
		return (ssize_t)len;
	}
	if (strncmp(line, "PROXY TCP4 ", 11) == 0 &&
	    proxy_v1_fields(line + 11, AF_INET, pi) == 0)
		return (ssize_t)len;
	if (strncmp(line, "PROXY TCP6 ", 11) == 0 &&
	    proxy_v1_fields(line + 11, AF_INET6, pi) == 0)
		return (ssize_t)len;
	*why = "bad PROXY v1 line";
	return -1;
}

/*
 * "PROXY ..." up to CRLF: printable ASCII only, 107 bytes at most, so
 * the CR is at index 105 at the latest.
 */
static ssize_t
proxy_parse_v1(const uint8_t *p, size_t n, struct proxy_info *pi,
    const char **why)
{
	size_t	 i, last = PROXY_V1_MAX - 2;

	for (i = 0; i < n && i <= last; i++) {
		if (p[i] == '\r') {
			if (i + 1 == n)
				return 0;
			if (p[i + 1] != '\n')
				break;
			return proxy_v1_line(p, i + 2, pi, why);
		}
		if (p[i] < 0x20 || p[i] > 0x7e)
			break;
	}
	if (i < n && i <= last) {
		*why = "bad character in PROXY v1 line";
		return -1;
	}
	if (i > last) {
		*why = "PROXY v1 line too long";
		return -1;
	}
	return 0;
}

static void
proxy_set_unix(struct sockaddr_storage *ss, socklen_t *len, const uint8_t *p)
{
	struct sockaddr_un	*su = (struct sockaddr_un *)ss;
	size_t			 n;

	n = strnlen((const char *)p, PROXY_V2_UNIX_PATH);
	memset(ss, 0, sizeof(*ss));
	su->sun_family = AF_UNIX;
	if (n >= sizeof(su->sun_path))
		n = sizeof(su->sun_path) - 1;
	memcpy(su->sun_path, p, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* The address block of a v2 PROXY command; TLVs after it are skipped. */
static int
proxy_v2_addrs(uint8_t fam, const uint8_t *a, size_t len,
    struct proxy_info *pi, const char **why)
{
	static const size_t	 need[] = { 0, 12, 36, 216 };
	unsigned		 af = fam >> 4;

	if (af > 3 || (fam & 0x0f) > PROXY_STREAM) {
		*why = "bad PROXY v2 family or transport (stream only)";
		return -1;
	}
	if (len < need[af]) {
		*why = "PROXY v2 address block too short";
		return -1;
	}
	if (af == PROXY_AF_UNSPEC >> 4)
		pi->local = true;
	else if (af == PROXY_AF_INET >> 4) {
		proxy_set_inet(&pi->src, &pi->srclen, AF_INET, a,
		    (uint16_t)(a[8] << 8 | a[9]));
		proxy_set_inet(&pi->dst, &pi->dstlen, AF_INET, a + 4,
		    (uint16_t)(a[10] << 8 | a[11]));
	} else if (af == PROXY_AF_INET6 >> 4) {
		proxy_set_inet(&pi->src, &pi->srclen, AF_INET6, a,
		    (uint16_t)(a[32] << 8 | a[33]));
		proxy_set_inet(&pi->dst, &pi->dstlen, AF_INET6, a + 16,
		    (uint16_t)(a[34] << 8 | a[35]));
	} else {
		proxy_set_unix(&pi->src, &pi->srclen, a);
		proxy_set_unix(&pi->dst, &pi->dstlen, a + PROXY_V2_UNIX_PATH);
	}
	return 0;
}

/* The 12-byte signature matched: 16 bytes of header, then len more. */
static ssize_t
proxy_parse_v2(const uint8_t *p, size_t n, struct proxy_info *pi,
    const char **why)
{
	size_t	 len;

	if (n < PROXY_V2_HEADER)
		return 0;
	len = (size_t)p[14] << 8 | p[15];
	if ((p[12] & 0xf0) != PROXY_V2_VERSION) {
		*why = "bad PROXY v2 version";
		return -1;
	}
	if ((p[12] & 0x0f) > PROXY_V2_PROXY) {
		*why = "bad PROXY v2 command";
		return -1;
	}
	if (PROXY_V2_HEADER + len > PROXY_MAX_HEADER) {
		*why = "PROXY v2 header too long";
		return -1;
	}
	if (n < PROXY_V2_HEADER + len)
		return 0;
	if ((p[12] & 0x0f) == PROXY_V2_LOCAL)
		pi->local = true;
	else if (proxy_v2_addrs(p[13], p + PROXY_V2_HEADER, len, pi,
	    why) == -1)
		return -1;
	return (ssize_t)(PROXY_V2_HEADER + len);
}

ssize_t
proxy_parse(const uint8_t *p, size_t n, struct proxy_info *pi,
    const char **why)
{
	memset(pi, 0, sizeof(*pi));
	if (n == 0)
		return 0;
	if (proxy_prefix_of(p, n, proxy_v2_sig, sizeof(proxy_v2_sig)))
		return n < sizeof(proxy_v2_sig) ? 0 :
		    proxy_parse_v2(p, n, pi, why);
	if (proxy_prefix_of(p, n, proxy_v1_sig, sizeof(proxy_v1_sig) - 1))
		return n < sizeof(proxy_v1_sig) - 1 ? 0 :
		    proxy_parse_v1(p, n, pi, why);
	*why = "no PROXY protocol header";
	return -1;
}

/* The address bytes and port of an IP sockaddr, IPv4-mapped unmapped. */
static int
proxy_addr(const struct sockaddr *sa, uint8_t addr[16], uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return AF_UNSPEC;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return AF_UNSPEC;
	*port = ntohs(sin6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(addr, sin6->sin6_addr.s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(addr, &sin6->sin6_addr, 16);
	return AF_INET6;
}

/* As IPv6: an IPv4 address becomes ::ffff:a.b.c.d. */
static void
proxy_to_v6(uint8_t addr[16])
{
	memmove(addr + 12, addr, 4);
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
}

/*
 * Both ends as one family: AF_INET when both are IPv4, AF_INET6 when
 * both are IP and one is IPv6, AF_UNSPEC otherwise.
 */
static int
proxy_pair(const struct sockaddr *src, const struct sockaddr *dst,
    uint8_t s[16], uint8_t d[16], uint16_t ports[2])
{
	int	 sf = proxy_addr(src, s, &ports[0]);
	int	 df = proxy_addr(dst, d, &ports[1]);

	if (sf == AF_UNSPEC || df == AF_UNSPEC)
		return AF_UNSPEC;
	if (sf == df)
		return sf;
	proxy_to_v6(sf == AF_INET ? s : d);
	return AF_INET6;
}

size_t
proxy_build_v1(char *out, size_t outsz, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	char		 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	uint8_t		 s[16], d[16];
	uint16_t	 ports[2];
	int		 af, n;

	af = proxy_pair(src, dst, s, d, ports);
	if (af == AF_UNSPEC)
		n = snprintf(out, outsz, "PROXY UNKNOWN\r\n");
	else {
		inet_ntop(af, s, sa, sizeof(sa));
		inet_ntop(af, d, da, sizeof(da));
		n = snprintf(out, outsz, "PROXY TCP%c %s %s %u %u\r\n",
		    af == AF_INET ? '4' : '6', sa, da, ports[0], ports[1]);
	}
	if (n < 0 || (size_t)n >= outsz)
		return 0;
	return (size_t)n;
}

size_t
proxy_build_v2(uint8_t *out, size_t outsz, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	uint8_t		 s[16], d[16];
	uint16_t	 ports[2];
	size_t		 alen;
	int		 af;

	af = proxy_pair(src, dst, s, d, ports);
	alen = af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
	if (outsz < PROXY_V2_HEADER + (alen ? 2 * alen + 4 : 0))
		return 0;
	memcpy(out, proxy_v2_sig, sizeof(proxy_v2_sig));
	out[12] = PROXY_V2_VERSION | PROXY_V2_PROXY;
	out[13] = af == AF_INET ? PROXY_AF_INET | PROXY_STREAM :
	    af == AF_INET6 ? PROXY_AF_INET6 | PROXY_STREAM : PROXY_AF_UNSPEC;
	out[14] = 0;
	out[15] = (uint8_t)(alen ? 2 * alen + 4 : 0);
	if (alen == 0)
		return PROXY_V2_HEADER;
	memcpy(out + 16, s, alen);
	memcpy(out + 16 + alen, d, alen);
	out[16 + 2 * alen] = (uint8_t)(ports[0] >> 8);
	out[17 + 2 * alen] = (uint8_t)ports[0];
	out[18 + 2 * alen] = (uint8_t)(ports[1] >> 8);
	out[19 + 2 * alen] = (uint8_t)ports[1];
	return PROXY_V2_HEADER + 2 * alen + 4;
}
