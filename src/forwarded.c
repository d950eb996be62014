/*
 * REMOTE_ADDR behind proxies: X-Forwarded-For and Forwarded, walked from
 * the right past trusted_proxies, believed only from a trusted peer.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "forwarded.h"

/* Longest hop value kept: "[IPv6]:port" fits; longer is not an address. */
#define FORWARDED_VAL	64

/* The last FORWARDED_MAX_HOPS values of a header, as a ring. */
struct forwarded_hops {
	char	 v[FORWARDED_MAX_HOPS][FORWARDED_VAL];
	size_t	 n;		/* values seen, all of them */
};

static const char forwarded_tchar[] = "!#$%&'*+-.^_`|~0123456789"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Keep len bytes of s as the next hop; too long keeps "" (no address). */
static void
forwarded_push(struct forwarded_hops *h, const char *s, size_t len)
{
	char	*v = h->v[h->n++ % FORWARDED_MAX_HOPS];

	if (len >= FORWARDED_VAL)
		len = 0;
	memcpy(v, s, len);
	v[len] = '\0';
}

static const char *
forwarded_ows(const char *p)
{
	return p + strspn(p, " \t");
}

/* X-Forwarded-For: "client, proxy1, proxy2", no quoting. */
static void
forwarded_xff(const char *s, struct forwarded_hops *h)
{
	const char	*p, *e, *end;

	for (p = s;; p = e + 1) {
		e = p + strcspn(p, ",");
		p = forwarded_ows(p);
		for (end = e; end > p && (end[-1] == ' ' || end[-1] == '\t');)
			end--;
		if (end > p)
			forwarded_push(h, p, (size_t)(end - p));
		if (*e == '\0')
			break;
	}
}

/* A token or a quoted-string at p into val; NULL on bad syntax. */
static const char *
forwarded_value(const char *p, char *val, size_t valsz)
{
	size_t	 n = 0;

	if (*p != '"') {
		n = strspn(p, forwarded_tchar);
		if (n == 0)
			return NULL;
		snprintf(val, valsz, "%.*s", n < valsz ? (int)n : 0, p);
		return p + n;
	}
	for (p++; *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0' || (unsigned char)*p < ' ')
			return NULL;
		if (n + 1 < valsz)
			val[n] = *p;
		n++;
	}
	val[n + 1 < valsz ? n : 0] = '\0';
	return p + 1;
}

/* One "name=value" pair; *isfor tells whether it was for=. */
static const char *
forwarded_pair(const char *p, char *val, size_t valsz, bool *isfor)
{
	size_t	 n = strspn(p, forwarded_tchar);

	if (n == 0 || p[n] != '=')
		return NULL;
	*isfor = n == 3 && strncasecmp(p, "for", 3) == 0;
	return forwarded_value(p + n + 1, val, valsz);
}

/*
 * Forwarded: elements split by ',', pairs by ';'. An element without
 * for= is a hop we know nothing about: it stops the walk. -1 on bad
 * syntax.
 */
static int
forwarded_rfc7239(const char *p, struct forwarded_hops *h)
{
	char	 val[FORWARDED_VAL], hop[FORWARDED_VAL] = "";
	bool	 isfor, any = false;

	for (;;) {
		p = forwarded_ows(p);
		if (*p == ',' || *p == '\0') {
			if (any)
				forwarded_push(h, hop, strlen(hop));
			any = false;
			hop[0] = '\0';
			if (*p++ == '\0')
				return 0;
			continue;
		}
		if ((p = forwarded_pair(p, val, sizeof(val), &isfor)) == NULL)
			return -1;
		any = true;
		if (isfor)
			memcpy(hop, val, sizeof(hop));
		p = forwarded_ows(p);
		if (*p == ';')
			p++;
		else if (*p != ',' && *p != '\0')
			return -1;
	}
}

/* A port after an address: digits, or an obfuscated "_name" (ignored). */
static int
forwarded_port(const char *s, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 n = strspn(s, "0123456789");

	*port = 0;
	if (*s == '_' && strspn(s + 1, forwarded_tchar) == strlen(s + 1))
		return 0;
	if (n == 0 || n > 5 || s[n] != '\0')
		return -1;
	while (*s != '\0')
		v = v * 10 + (unsigned long)(*s++ - '0');
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[v6]:port", "[v6]", bare "v6", "v4" or "v4:port" into ss. */
static int
forwarded_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 a[FORWARDED_VAL], *e;
	uint16_t		 port = 0;

	snprintf(a, sizeof(a), "%s", *s == '[' ? s + 1 : s);
	if (*s == '[') {
		if ((e = strchr(a, ']')) == NULL || (e[1] != '\0' &&
		    (e[1] != ':' || forwarded_port(e + 2, &port) == -1)))
			return -1;
		*e = '\0';
	} else if ((e = strchr(a, ':')) != NULL && strchr(e + 1, ':') == NULL) {
		if (forwarded_port(e + 1, &port) == -1)
			return -1;
		*e = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (*s != '[' && inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

/* Copy an IP address into the result, with its text form. */
static void
forwarded_set(struct forwarded_client *fc, const struct sockaddr *sa)
{
	const void	*a;

	memset(fc, 0, sizeof(*fc));
	if (sa == NULL || (sa->sa_family != AF_INET &&
	    sa->sa_family != AF_INET6))
		return;
	fc->addrlen = sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memcpy(&fc->addr, sa, fc->addrlen);
	a = sa->sa_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	inet_ntop(sa->sa_family, a, fc->host, sizeof(fc->host));
}

int
forwarded_client(const struct sockaddr *peer, const struct cidr *trusted,
    size_t n, const char *xff, const char *forwarded,
    struct forwarded_client *fc)
{
	struct forwarded_hops		 h;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	size_t				 i, first;

	forwarded_set(fc, peer);
	if (!config_cidr_contains(trusted, n, peer))
		return 0;
	h.n = 0;
	if (forwarded != NULL && forwarded_rfc7239(forwarded, &h) == -1)
		return 0;	/* a proxy we trust sent garbage */
	if (h.n == 0 && xff != NULL)
		forwarded_xff(xff, &h);
	first = h.n > FORWARDED_MAX_HOPS ? h.n - FORWARDED_MAX_HOPS : 0;
	for (i = h.n; i > first; i--) {
		if (forwarded_addr(h.v[(i - 1) % FORWARDED_MAX_HOPS], &ss,
		    &len) == -1)
			break;
		forwarded_set(fc, (struct sockaddr *)&ss);
		fc->from_header = true;
		if (!config_cidr_contains(trusted, n, (struct sockaddr *)&ss))
			break;
	}
	return fc->from_header ? 1 : 0;
}
