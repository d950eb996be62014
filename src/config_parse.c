/*
 * Strict parsers for configuration values: numbers, durations, sizes,
 * booleans, addresses, networks and shell-like command lines.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_int.h"

/* Digits only, overflow checked; *end gets the first non-digit. */
static int
config_digits(const char *s, int64_t *v, const char **end)
{
	const char	*p;
	int64_t		 n = 0;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (p == s)
		return -1;
	*v = n;
	*end = p;
	return 0;
}

int
config_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char	*end;
	int64_t		 n;
	bool		 neg = false;

	if (*s == '-' && min < 0) {
		neg = true;
		s++;
	}
	if (config_digits(s, &n, &end) == -1 || *end != '\0')
		return -1;
	if (neg)
		n = -n;
	if (n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

struct config_unit {
	const char	*name;
	int64_t		 mult;
};

/* An integer and one of units (NULL-terminated); n * mult, no overflow. */
static int
config_parse_units(const char *s, const struct config_unit *units,
    int64_t *out)
{
	const char	*unit;
	int64_t		 n;

	if (config_digits(s, &n, &unit) == -1)
		return -1;
	for (; units->name != NULL; units++)
		if (strcasecmp(unit, units->name) == 0)
			break;
	if (units->name == NULL || n > INT64_MAX / units->mult)
		return -1;
	*out = n * units->mult;
	return 0;
}

/* An integer and a unit; a bare number is only allowed for 0. */
int
config_parse_duration(const char *s, int64_t *ms)
{
	static const struct config_unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
		{ "h", 60 * 60 * 1000 }, { "", 1 }, { NULL, 0 },
	};

	/* "10S" or "5M" would read like sizes: units are lower case. */
	if (strpbrk(s, "MSH") != NULL ||
	    config_parse_units(s, units, ms) == -1)
		return -1;
	return strspn(s, "0123456789") == strlen(s) && *ms != 0 ? -1 : 0;
}

/* An integer with an optional K, M or G (1024-based). */
int
config_parse_size(const char *s, int64_t *bytes)
{
	static const struct config_unit units[] = {
		{ "", 1 }, { "K", 1024 }, { "M", 1024 * 1024 },
		{ "G", 1024 * 1024 * 1024 }, { NULL, 0 },
	};

	return config_parse_units(s, units, bytes);
}

int
config_parse_bool(const char *s, bool *b)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 ||
	    strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*b = true;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0 ||
	    strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*b = false;
	else
		return -1;
	return 0;
}

/* Shell-like word splitting: one character of input at a time. */
struct config_split {
	const char	*p;
	char		*word;		/* current word, room for all input */
	size_t		 len;
	bool		 inword;
};

/* Inside double quotes a backslash only escapes $ ` " \ (POSIX). */
static int
config_split_dquote(struct config_split *s, const char **why)
{
	for (s->p++; *s->p != '"'; s->p++) {
		if (*s->p == '\0') {
			*why = "unterminated double quote";
			return -1;
		}
		if (*s->p == '\\' && s->p[1] != '\0' &&
		    strchr("$`\"\\", s->p[1]) != NULL)
			s->p++;
		s->word[s->len++] = *s->p;
	}
	return 0;
}

static int
config_split_char(struct config_split *s, const char **why)
{
	const char	*q;

	s->inword = true;
	if (*s->p == '\'') {
		if ((q = strchr(s->p + 1, '\'')) == NULL) {
			*why = "unterminated single quote";
			return -1;
		}
		memcpy(s->word + s->len, s->p + 1, (size_t)(q - s->p - 1));
		s->len += (size_t)(q - s->p - 1);
		s->p = q;
		return 0;
	}
	if (*s->p == '"')
		return config_split_dquote(s, why);
	if (*s->p == '\\' && *++s->p == '\0') {
		*why = "trailing backslash";
		return -1;
	}
	s->word[s->len++] = *s->p;
	return 0;
}

static void
config_split_word(struct config_split *s, struct strlist *l)
{
	if (s->inword) {
		s->word[s->len] = '\0';
		strlist_add(l, s->word);
	}
	s->inword = false;
	s->len = 0;
}

int
config_split_argv(const char *line, struct strlist *out, const char **why)
{
	struct config_split	 s = { line, NULL, 0, false };
	struct strlist		 l = { NULL, 0 };
	size_t			 i;
	int			 rc = 0;

	s.word = config_xcalloc(1, strlen(line) + 1);
	for (; *s.p != '\0' && rc == 0; s.p++) {
		if (*s.p == ' ' || *s.p == '\t' || *s.p == '\n')
			config_split_word(&s, &l);
		else
			rc = config_split_char(&s, why);
	}
	config_split_word(&s, &l);
	free(s.word);
	if (rc == 0 && l.n == 0) {
		*why = "empty command";
		rc = -1;
	}
	for (i = 0; i < l.n && rc == 0; i++)
		strlist_add(out, l.v[i]);
	strlist_free(&l);
	return rc;
}

static int
config_addr_unix(const char *path, struct sockaddr_storage *ss,
    socklen_t *len, const char **why)
{
	struct sockaddr_un	*su = (struct sockaddr_un *)ss;

	if (*path == '\0') {
		*why = "empty unix socket path";
		return -1;
	}
	if (strlen(path) >= sizeof(su->sun_path)) {
		*why = "unix socket path too long";
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	su->sun_family = AF_UNIX;
	strcpy(su->sun_path, path);
	*len = (socklen_t)sizeof(*su);
	return 0;
}

/* Resolve host (numeric or by name, first result) and set the port. */
static int
config_addr_resolve(const char *host, int port, struct sockaddr_storage *ss,
    socklen_t *len, const char **why)
{
	struct addrinfo	 hints, *res;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		*why = gai_strerror(rc);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	return 0;
}

/* Split "host:port", "[v6]:port", ":port", "port" or "host". */
static int
config_addr_split(const char *s, char *host, size_t hostlen,
    const char **port, const char **why)
{
	const char	*colon, *h = s, *hend;

	*port = NULL;
	if (*s == '[') {
		h = s + 1;
		if ((hend = strchr(h, ']')) == NULL || (hend[1] != '\0' &&
		    hend[1] != ':')) {
			*why = "bad [IPv6] address";
			return -1;
		}
		if (hend[1] == ':')
			*port = hend + 2;
	} else if ((colon = strchr(s, ':')) != NULL) {
		if (strchr(colon + 1, ':') != NULL) {
			*why = "IPv6 addresses need brackets: [::1]:8080";
			return -1;
		}
		hend = colon;
		*port = colon + 1;
	} else if (strspn(s, "0123456789") == strlen(s) && *s != '\0') {
		hend = h;
		*port = s;
	} else
		hend = s + strlen(s);
	if ((size_t)(hend - h) >= hostlen) {
		*why = "host name too long";
		return -1;
	}
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	return 0;
}

int
config_parse_addr(const char *s, int default_port,
    struct sockaddr_storage *ss, socklen_t *len, const char **why)
{
	char		 host[NI_MAXHOST];
	const char	*portstr;
	int64_t		 port = default_port;

	if (strncmp(s, "unix:", 5) == 0)
		return config_addr_unix(s + 5, ss, len, why);
	if (config_addr_split(s, host, sizeof(host), &portstr, why) == -1)
		return -1;
	if (portstr != NULL &&
	    config_parse_int(portstr, 0, 65535, &port) == -1) {
		*why = "invalid port";
		return -1;
	}
	if (port < 0) {
		*why = "missing port";
		return -1;
	}
	if (*host == '\0' || strcmp(host, "*") == 0)
		strcpy(host, "0.0.0.0");
	return config_addr_resolve(host, (int)port, ss, len, why);
}

size_t
config_listens_set_port(struct config *cfg, const char *port)
{
	struct listen_spec	*ls;
	char			 host[NI_MAXHOST], *spec;
	const char		*old, *why;
	size_t			 i, n = 0;

	for (i = 0; i < cfg->nlistens; i++) {
		ls = &cfg->listens[i];
		/* unix sockets have no port; a bad spec is reported later */
		if (strncmp(ls->spec, "unix:", 5) == 0 ||
		    config_addr_split(ls->spec, host, sizeof(host), &old,
		    &why) == -1)
			continue;
		if (asprintf(&spec, strchr(host, ':') != NULL ? "[%s]:%s" :
		    "%s:%s", host, port) == -1)
			config_oom();
		free(ls->spec);
		ls->spec = spec;
		n++;
	}
	return n;
}


/* Do the first bits of a and b agree? */
static bool
config_prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	size_t	 full = (size_t)bits / 8;
	uint8_t	 mask = (uint8_t)(0xff << (8 - bits % 8));

	if (memcmp(a, b, full) != 0)
		return false;
	return bits % 8 == 0 || (a[full] & mask) == (b[full] & mask);
}

/* 10.0.0.1/8 is a typo for 10.0.0.0/8 or for 10.0.0.1/32: refuse it. */
static bool
config_cidr_clean(const struct cidr *c)
{
	uint8_t	 zero[16] = { 0 };
	int	 bits = c->family == AF_INET ? 32 : 128, i;

	for (i = c->prefix; i < bits; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return c->prefix > 0 || memcmp(c->addr, zero, sizeof(zero)) == 0;
}

static int
config_cidr_family(const char *host, uint8_t addr[16])
{
	if (inet_pton(AF_INET, host, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, host, addr) == 1)
		return AF_INET6;
	return AF_UNSPEC;
}

int
config_parse_cidr(const char *s, struct cidr *c, const char **why)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*slash = strchr(s, '/');
	size_t		 len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int64_t		 bits;

	memset(c, 0, sizeof(*c));
	*why = "not an IPv4 or IPv6 address or network";
	if (len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if ((c->family = config_cidr_family(host, c->addr)) == AF_UNSPEC)
		return -1;
	bits = c->family == AF_INET ? 32 : 128;
	if (slash != NULL &&
	    config_parse_int(slash + 1, 0, bits, &bits) == -1) {
		*why = "invalid prefix length";
		return -1;
	}
	c->prefix = (int)bits;
	if (!config_cidr_clean(c)) {
		*why = "address has bits set beyond the prefix length";
		return -1;
	}
	return 0;
}

bool
config_cidr_contains(const struct cidr *v, size_t n, const struct sockaddr *sa)
{
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;
	const uint8_t			*a4 = NULL, *a6 = NULL;
	size_t				 i;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		a4 = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = s6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			a4 = a6 + 12;
	}
	for (i = 0; i < n; i++) {
		if (v[i].family == AF_INET && a4 != NULL &&
		    config_prefix_eq(v[i].addr, a4, v[i].prefix))
			return true;
		if (v[i].family == AF_INET6 && a6 != NULL &&
		    config_prefix_eq(v[i].addr, a6, v[i].prefix))
			return true;
	}
	return false;
}

bool
config_cidr_match(const struct config *cfg, const struct sockaddr *sa)
{
	return config_cidr_contains(cfg->trusted_proxies,
	    cfg->ntrusted_proxies, sa);
}
