/*
 * Basic authentication: htpasswd files checked with crypt(3), re-read
 * when they change, Authorization headers decoded strictly.
 */
#include <crypt.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth.h"
#include "filewatch.h"

struct auth_user {
	char	*user;
	char	*hash;
	int	 line;
};

struct auth_file {
	struct file_watch	 fw;	/* path, stamp, warn */
	struct auth_user	*v;
	size_t			 n, nbad;
	const char		*dummy;	/* the dearest hash: unknown users */
	unsigned long		 gen;	/* loads so far: jobs made before */
	struct crypt_data	*cd;	/* 32K: too big for the stack */
	/* SHA-256 of "user\0password" of recent good checks, a ring */
	uint8_t			 cache[AUTH_CACHE_SIZE][AUTH_DIGEST];
	size_t			 ncache;
};

/* Fires before each read of the file and when it is gone. */
static void
auth_clear(void *owner)
{
	struct auth_file	*a = owner;
	size_t			 i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].user);
		explicit_bzero(a->v[i].hash, strlen(a->v[i].hash));
		free(a->v[i].hash);
	}
	free(a->v);
	a->v = NULL;
	a->n = a->nbad = 0;
	a->dummy = NULL;
	a->gen++;
	explicit_bzero(a->cache, sizeof(a->cache));
	a->ncache = 0;
}

/*
 * Why a hash is refused, or NULL. Only slow, salted methods: bcrypt,
 * sha-crypt, yescrypt, scrypt. libxcrypt calls sha256-crypt legacy, but
 * it is as good as sha512-crypt and what "openssl passwd -5" makes.
 */
static const char *
auth_hash_why(const char *hash)
{
	static const char *const ok[] = { "$2a$", "$2b$", "$2y$", "$5$",
	    "$6$", "$y$", "$gy$", "$7$", NULL };
	size_t	 i;
	int	 rc;

	if (strncmp(hash, "$apr1$", 6) == 0)
		return "apr1 MD5 hash (htpasswd -m) is not supported: use "
		    "htpasswd -B (bcrypt)";
	if (*hash != '$')
		return "not a crypt(3) hash (plain text or DES): use "
		    "htpasswd -B or openssl passwd -6";
	for (i = 0; ok[i] != NULL; i++)
		if (strncmp(hash, ok[i], strlen(ok[i])) == 0)
			break;
	if (ok[i] == NULL)
		return "hash method not accepted (MD5 or unknown): use "
		    "bcrypt, sha-crypt or yescrypt";
	if (strlen(hash) >= AUTH_MAX_HASH)
		return "hash too long";
	rc = crypt_checksalt(hash);
	if (rc == CRYPT_SALT_METHOD_DISABLED)
		return "hash method disabled in this libxcrypt";
	if (rc == CRYPT_SALT_INVALID)
		return "malformed hash";
	return NULL;
}

static const struct auth_user *
auth_find(const struct auth_file *a, const char *user)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].user, user) == 0)
			return &a->v[i];
	return NULL;
}

/* 0, or -1 when out of memory (nothing added). */
static int
auth_add(struct auth_file *a, const char *user, const char *hash, int line)
{
	struct auth_user	*v;

	if ((v = realloc(a->v, (a->n + 1) * sizeof(*v))) == NULL)
		return -1;
	a->v = v;
	v[a->n].user = strdup(user);
	v[a->n].hash = strdup(hash);
	if (v[a->n].user == NULL || v[a->n].hash == NULL) {
		free(v[a->n].user);
		free(v[a->n].hash);
		return -1;
	}
	v[a->n++].line = line;
	return 0;
}

/* One "user:hash" line; comments and blank lines pass. -1: no memory. */
static int
auth_line(void *owner, char *line, size_t len, int lineno)
{
	struct auth_file	*a = owner;
	const struct auth_user	*dup;
	const char		*why;
	char			*hash, *e;

	(void)len;
	for (e = line + strlen(line); e > line && strchr(" \t\r\n", e[-1]);)
		*--e = '\0';
	if (*line == '\0' || *line == '#')
		return 0;
	if ((hash = strchr(line, ':')) == NULL || hash == line) {
		file_watch_warn(&a->fw, "%s:%d: want USER:HASH", a->fw.path,
		    lineno);
		a->nbad++;
		return 0;
	}
	*hash++ = '\0';
	if ((why = auth_hash_why(hash)) != NULL ||
	    (dup = auth_find(a, line)) != NULL) {
		if (why != NULL)
			file_watch_warn(&a->fw, "%s:%d: user \"%s\": %s",
			    a->fw.path, lineno, line, why);
		else
			file_watch_warn(&a->fw, "%s:%d: user \"%s\": duplicate "
			    "(first on line %d)", a->fw.path, lineno, line,
			    dup->line);
		a->nbad++;
		return 0;
	}
	return auth_add(a, line, hash, lineno);
}

/* The value of a crypt(3) base-64 digit, or -1. */
static int
auth_a64(char c)
{
	static const char	 a64[] = "./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const char		*p = c != '\0' ? strchr(a64, c) : NULL;

	return p != NULL ? (int)(p - a64) : -1;
}

/* A yescrypt parameter (libxcrypt's decode64_uint32); NULL if bad. */
static const char *
auth_yes_param(const char *s, uint64_t min, uint64_t *v)
{
	unsigned	 start = 0, end = 47, chars = 1, bits = 0;
	int		 c;

	if ((c = auth_a64(*s++)) == -1)
		return NULL;
	for (*v = min; (unsigned)c > end; chars++, bits += 6) {
		*v += (uint64_t)(end + 1 - start) << bits;
		start = end + 1;
		end = start + (62 - end) / 2;
	}
	*v += (uint64_t)((unsigned)c - start) << bits;
	while (--chars > 0) {
		if ((c = auth_a64(*s++)) == -1)
			return NULL;
		bits -= 6;
		*v += (uint64_t)c << bits;
	}
	return s;
}

/* scrypt's 30-bit little-endian parameters, five digits. */
static uint64_t
auth_le30(const char *s)
{
	uint64_t	 v = 0;
	int		 i, c;

	for (i = 0; i < 5; i++) {
		if ((c = auth_a64(s[i])) == -1)
			return 0;
		v |= (uint64_t)c << (6 * i);
	}
	return v;
}

/*
 * Roughly what crypt(3) of a hash costs (nanoseconds on a current x86
 * core), from its method and parameters: bcrypt 2^cost rounds, sha-crypt
 * rounds, (gost-)yescrypt and scrypt N * r. Only the order matters.
 */
static double
auth_hash_cost(const char *h)
{
	uint64_t	 flavor, nlog2, r;
	unsigned long	 rounds = 5000;
	const char	*s;
	int		 cost;

	if (h[1] == '2')
		return (cost = atoi(h + 4)) >= 4 && cost <= 31 ?
		    62000. * (double)(1UL << cost) : 0;
	if (h[1] == '5' || h[1] == '6') {
		if (strncmp(h + 3, "rounds=", 7) == 0)
			rounds = strtoul(h + 10, NULL, 10);
		rounds = rounds < 1000 ? 1000 : rounds > 999999999 ?
		    999999999 : rounds;
		return (h[1] == '5' ? 350. : 450.) * (double)rounds;
	}
	if (h[1] == '7')
		return (cost = auth_a64(h[3])) >= 1 && cost <= 40 ? 1000. *
		    (double)(1UL << cost) * (double)auth_le30(h + 4) *
		    (double)auth_le30(h + 9) : 0;
	s = h + (h[1] == 'g' ? 4 : 3);
	if ((s = auth_yes_param(s, 0, &flavor)) == NULL ||
	    (s = auth_yes_param(s, 1, &nlog2)) == NULL ||
	    auth_yes_param(s, 1, &r) == NULL || nlog2 > 40 || r > 1U << 20)
		return 0;
	return (h[1] == 'g' ? 600. : 450.) * (double)(1UL << nlog2) *
	    (double)r;
}

/* After each read: the entry unknown users are checked against. */
static void
auth_pick_dummy(void *owner)
{
	struct auth_file	*a = owner;
	double			 cost, best = -1;
	size_t			 i;

	a->dummy = NULL;
	for (i = 0; i < a->n; i++)
		if ((cost = auth_hash_cost(a->v[i].hash)) > best) {
			best = cost;
			a->dummy = a->v[i].hash;
		}
}

static const struct file_watch_ops auth_file_ops = {
	auth_clear, auth_line, auth_pick_dummy
};

struct auth_file *
auth_open(const char *path, void (*warn)(void *, const char *), void *arg,
    char *err, size_t errsz)
{
	struct auth_file	*a;
	int			 saved;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto nomem;
	if (file_watch_init(&a->fw, path, &auth_file_ops, a, warn, arg) ==
	    -1 || (a->cd = calloc(1, sizeof(*a->cd))) == NULL) {
		auth_close(a);
		goto nomem;
	}
	if (file_watch_read(&a->fw, err, errsz) != 0) {
		saved = errno;	/* ENOMEM tells the caller: 503, not 500 */
		auth_close(a);
		errno = saved;
		return NULL;
	}
	return a;
nomem:
	snprintf(err, errsz, "%s: %s", path, strerror(ENOMEM));
	errno = ENOMEM;
	return NULL;
}

/* SHA-256 of "user\0password", the cache key: 0, -1, -2 no memory. */
static int
auth_digest(const char *user, const char *pw, uint8_t md[AUTH_DIGEST])
{
	EVP_MD_CTX	*ctx;
	int		 rv = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -2;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, user, strlen(user) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, pw, strlen(pw)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, NULL) == 1)
		rv = 0;
	EVP_MD_CTX_free(ctx);
	return rv;
}

static bool
auth_cached(const struct auth_file *a, const uint8_t md[AUTH_DIGEST])
{
	size_t	 i;

	for (i = 0; i < a->ncache && i < AUTH_CACHE_SIZE; i++)
		if (memcmp(a->cache[i], md, AUTH_DIGEST) == 0)
			return true;
	return false;
}

/* Compare without stopping at the first difference. */
static bool
auth_streq(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b), i;
	unsigned	 d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

/* A check of pw for user: AUTH_GOOD (cached), AUTH_BAD or AUTH_HASH. */
static int
auth_start(struct auth_file *a, const char *user, const char *pw,
    struct auth_job *j)
{
	const struct auth_user	*u;
	const char		*hash;
	int			 rv;

	memset(j, 0, sizeof(*j));
	/* stat on every check: an edited file takes effect at once */
	if (file_watch_refresh(&a->fw) == FILE_WATCH_NOMEM)
		return AUTH_NOMEM;
	u = auth_find(a, user);
	/* an unknown user costs the dearest hash: no enumeration by time */
	hash = u != NULL ? u->hash : a->dummy;
	if (hash == NULL || strlen(user) >= sizeof(j->user) ||
	    strlen(pw) >= sizeof(j->password))
		return AUTH_BAD;
	if ((rv = auth_digest(user, pw, j->digest)) != 0)
		return rv == -2 ? AUTH_NOMEM : AUTH_BAD;
	if (u != NULL && auth_cached(a, j->digest))
		return AUTH_GOOD;
	j->file = a;
	j->gen = a->gen;
	j->known = u != NULL;
	memcpy(j->user, user, strlen(user) + 1);
	memcpy(j->password, pw, strlen(pw) + 1);
	memcpy(j->hash, hash, strlen(hash) + 1);
	return AUTH_HASH;
}

void
auth_job_hash(struct auth_job *j, struct crypt_data *cd)
{
	const char	*out;

	memset(cd, 0, sizeof(*cd));
	out = crypt_rn(j->password, j->hash, cd, sizeof(*cd));
	j->match = j->known && out != NULL && auth_streq(out, j->hash);
	explicit_bzero(cd, sizeof(*cd));
	explicit_bzero(j->password, sizeof(j->password));
}

int
auth_job_finish(struct auth_job *j, char *user, size_t usersz)
{
	struct auth_file	*a = j->file;
	const struct auth_user	*u;
	bool			 ok = j->match;

	if (file_watch_refresh(&a->fw) == FILE_WATCH_NOMEM) {
		explicit_bzero(j, sizeof(*j));
		return AUTH_NOMEM;
	}
	/* re-read while hashing: only a hash still the user's counts */
	if (ok && j->gen != a->gen)
		ok = (u = auth_find(a, j->user)) != NULL &&
		    strcmp(u->hash, j->hash) == 0;
	if (ok && !auth_cached(a, j->digest))
		memcpy(a->cache[a->ncache++ % AUTH_CACHE_SIZE], j->digest,
		    AUTH_DIGEST);
	if (ok && user != NULL)
		snprintf(user, usersz, "%s", j->user);
	explicit_bzero(j, sizeof(*j));
	return ok ? AUTH_GOOD : AUTH_BAD;
}

int
auth_check_password(struct auth_file *a, const char *user, const char *pw)
{
	struct auth_job	 j;
	int		 rv;

	if ((rv = auth_start(a, user, pw, &j)) != AUTH_HASH)
		return rv;
	auth_job_hash(&j, a->cd);
	return auth_job_finish(&j, NULL, 0);
}

/* Strict base64: whole quads, padding only at the end. -1 or length. */
static int
auth_base64(const char *s, size_t len, uint8_t *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t	 pad = 0;
	int	 n;

	if (len == 0 || len % 4 != 0)
		return -1;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	if (strspn(s, b64) != len - pad)
		return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)s,
	    (int)len)) < 0)
		return -1;
	return n - (int)pad;
}

/* "Basic TOKEN" with blanks around: the decoded "user:password". */
static int
auth_decode(const char *h, char *dec, size_t decsz)
{
	size_t	 len;
	int	 n;

	h += strspn(h, " \t");
	if (strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t'))
		return -1;
	h += 5 + strspn(h + 5, " \t");
	len = strcspn(h, " \t");
	if (len > AUTH_MAX_HEADER || h[len + strspn(h + len, " \t")] != '\0')
		return -1;
	if (len / 4 * 3 + 1 > decsz || (n = auth_base64(h, len,
	    (uint8_t *)dec)) < 0)
		return -1;
	dec[n] = '\0';
	return strlen(dec) == (size_t)n ? 0 : -1;	/* no NUL inside */
}

int
auth_basic_start(struct auth_file *a, const char *authorization,
    char *user, size_t usersz, struct auth_job *job)
{
	char		 dec[AUTH_MAX_HEADER], *pw;
	const char	*p;
	int		 rv = AUTH_BAD;

	memset(job, 0, sizeof(*job));
	if (authorization == NULL ||
	    auth_decode(authorization, dec, sizeof(dec)) == -1)
		return AUTH_BAD;
	if ((pw = strchr(dec, ':')) != NULL && pw > dec &&
	    (size_t)(pw - dec) < usersz && pw - dec <= AUTH_MAX_USER) {
		*pw++ = '\0';
		/* the user goes to logs and REMOTE_USER: no controls */
		for (p = dec; *p != '\0' && (unsigned char)*p >= ' ' &&
		    *p != 0x7f; p++)
			;
		if (*p == '\0' && (rv = auth_start(a, dec, pw, job)) ==
		    AUTH_GOOD)
			snprintf(user, usersz, "%s", dec);
	}
	explicit_bzero(dec, sizeof(dec));
	return rv;
}

int
auth_basic_check(struct auth_file *a, const char *authorization,
    char *user, size_t usersz)
{
	struct auth_job	 j;
	int		 rv;

	if ((rv = auth_basic_start(a, authorization, user, usersz, &j)) !=
	    AUTH_HASH)
		return rv;
	auth_job_hash(&j, a->cd);
	return auth_job_finish(&j, user, usersz);
}

int
auth_challenge(const char *realm, char *buf, size_t bufsz)
{
	int	 n;

	n = snprintf(buf, bufsz, "Basic realm=\"%s\", charset=\"UTF-8\"",
	    realm);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

size_t
auth_count(const struct auth_file *a)
{
	return a->n;
}

size_t
auth_nbad(const struct auth_file *a)
{
	return a->nbad;
}

void
auth_close(struct auth_file *a)
{
	if (a == NULL)
		return;
	auth_clear(a);
	free(a->cd);
	file_watch_free(&a->fw);
	free(a);
}
