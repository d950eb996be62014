/*
 * Basic authentication: htpasswd files checked with crypt(3), re-read
 * when they change, Authorization headers decoded strictly.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <openssl/evp.h>

#include "filestamp.h"
#include "auth.h"

#define AUTH_DIGEST	32	/* SHA-256 */

struct auth_user {
	char	*user;
	char	*hash;
	int	 line;
};

struct auth_file {
	char			*path;
	void			(*warn)(void *, const char *);
	void			*arg;
	struct auth_user	*v;
	size_t			 n, nbad;
	struct file_stamp	 stamp;		/* the file as last read */
	struct crypt_data	*cd;	/* 32K: too big for the stack */
	/* SHA-256 of "user\0password" of recent good checks, a ring */
	uint8_t			 cache[AUTH_CACHE_SIZE][AUTH_DIGEST];
	size_t			 ncache;
};

static void __attribute__((format(printf, 2, 3)))
auth_warn(struct auth_file *a, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	if (a->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->warn(a->arg, msg);
}

static void
auth_clear(struct auth_file *a)
{
	size_t	 i;

	for (i = 0; i < a->n; i++) {
		free(a->v[i].user);
		explicit_bzero(a->v[i].hash, strlen(a->v[i].hash));
		free(a->v[i].hash);
	}
	free(a->v);
	a->v = NULL;
	a->n = a->nbad = 0;
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

static void
auth_add(struct auth_file *a, const char *user, const char *hash, int line)
{
	struct auth_user	*v;

	if ((v = realloc(a->v, (a->n + 1) * sizeof(*v))) == NULL)
		abort();
	a->v = v;
	v[a->n].user = strdup(user);
	v[a->n].hash = strdup(hash);
	if (v[a->n].user == NULL || v[a->n].hash == NULL)
		abort();
	v[a->n++].line = line;
}

/* One "user:hash" line; comments and blank lines pass. */
static void
auth_line(struct auth_file *a, char *line, int lineno)
{
	const struct auth_user	*dup;
	const char		*why;
	char			*hash, *e;

	for (e = line + strlen(line); e > line && strchr(" \t\r\n", e[-1]);)
		*--e = '\0';
	if (*line == '\0' || *line == '#')
		return;
	if ((hash = strchr(line, ':')) == NULL || hash == line) {
		auth_warn(a, "%s:%d: want USER:HASH", a->path, lineno);
		a->nbad++;
		return;
	}
	*hash++ = '\0';
	if ((why = auth_hash_why(hash)) != NULL ||
	    (dup = auth_find(a, line)) != NULL) {
		if (why != NULL)
			auth_warn(a, "%s:%d: user \"%s\": %s", a->path, lineno,
			    line, why);
		else
			auth_warn(a, "%s:%d: user \"%s\": duplicate (first on "
			    "line %d)", a->path, lineno, line, dup->line);
		a->nbad++;
		return;
	}
	auth_add(a, line, hash, lineno);
}

/* Read the file again from scratch; -1 leaves no users. */
static int
auth_read(struct auth_file *a, char *err, size_t errsz)
{
	FILE		*fp;
	struct stat	 st;
	char		*line = NULL;
	size_t		 cap = 0;
	int		 lineno = 0;

	auth_clear(a);
	if ((fp = fopen(a->path, "re")) == NULL || fstat(fileno(fp),
	    &st) == -1) {
		snprintf(err, errsz, "%s: %s", a->path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		a->stamp.valid = false;
		return -1;
	}
	while (getline(&line, &cap, fp) != -1)
		auth_line(a, line, ++lineno);
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	file_stamp_set(&a->stamp, &st);
	return 0;
}

struct auth_file *
auth_open(const char *path, void (*warn)(void *, const char *), void *arg,
    char *err, size_t errsz)
{
	struct auth_file	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->path = strdup(path)) == NULL ||
	    (a->cd = calloc(1, sizeof(*a->cd))) == NULL)
		abort();
	a->warn = warn;
	a->arg = arg;
	if (auth_read(a, err, errsz) == -1) {
		auth_close(a);
		return NULL;
	}
	return a;
}

/* stat on every check: an edited file takes effect at once. */
static void
auth_refresh(struct auth_file *a)
{
	char	 err[512];

	switch (file_stamp_changed(a->path, &a->stamp)) {
	case 0:
		return;
	case -1:
		if (a->stamp.valid)
			auth_warn(a, "%s: %s", a->path, strerror(errno));
		auth_clear(a);
		a->stamp.valid = false;
		return;
	}
	if (auth_read(a, err, sizeof(err)) == -1)
		auth_warn(a, "%s", err);
}

/* Is "user\0password" in the cache? Adds it when add is set. */
static bool
auth_cache(struct auth_file *a, const char *user, const char *pw, bool add)
{
	uint8_t		 md[AUTH_DIGEST];
	EVP_MD_CTX	*ctx;
	size_t		 i;
	bool		 hit = false;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, user, strlen(user) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, pw, strlen(pw)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return false;
	}
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < a->ncache && i < AUTH_CACHE_SIZE && !hit; i++)
		hit = memcmp(a->cache[i], md, sizeof(md)) == 0;
	if (add && !hit)
		memcpy(a->cache[a->ncache++ % AUTH_CACHE_SIZE], md, sizeof(md));
	return hit;
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

static double
auth_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Hashing time spent in the current one-second window (all files). */
static double	 auth_window_start, auth_window_spent;

static bool
auth_budget_left(void)
{
	double	 now = auth_now_ms();

	if (now - auth_window_start >= 1000) {
		auth_window_start = now;
		auth_window_spent = 0;
	}
	return auth_window_spent < AUTH_BUDGET_MS;
}

int
auth_check_password(struct auth_file *a, const char *user, const char *pw)
{
	const struct auth_user	*u;
	const char		*hash, *out;
	double			 t0;
	bool			 ok;

	auth_refresh(a);
	if ((u = auth_find(a, user)) != NULL && auth_cache(a, user, pw, false))
		return 1;
	/* an unknown user costs a hash too: no user enumeration by time */
	hash = u != NULL ? u->hash : a->n > 0 ? a->v[0].hash : NULL;
	if (hash == NULL)
		return 0;
	if (!auth_budget_left())
		return -1;
	t0 = auth_now_ms();
	memset(a->cd, 0, sizeof(*a->cd));
	out = crypt_rn(pw, hash, a->cd, sizeof(*a->cd));
	ok = u != NULL && out != NULL && auth_streq(out, u->hash);
	explicit_bzero(a->cd, sizeof(*a->cd));
	auth_window_spent += auth_now_ms() - t0;
	if (ok)
		auth_cache(a, user, pw, true);
	return ok ? 1 : 0;
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
auth_basic_check(struct auth_file *a, const char *authorization,
    char *user, size_t usersz)
{
	char		 dec[AUTH_MAX_HEADER], *pw;
	const char	*p;
	int		 ok = 0;

	if (authorization == NULL ||
	    auth_decode(authorization, dec, sizeof(dec)) == -1)
		return 0;
	if ((pw = strchr(dec, ':')) != NULL && pw > dec &&
	    (size_t)(pw - dec) < usersz && pw - dec <= AUTH_MAX_USER) {
		*pw++ = '\0';
		/* the user goes to logs and REMOTE_USER: no controls */
		for (p = dec; *p != '\0' && (unsigned char)*p >= ' ' &&
		    *p != 0x7f; p++)
			;
		if (*p == '\0' && (ok = auth_check_password(a, dec,
		    pw)) == 1)
			snprintf(user, usersz, "%s", dec);
	}
	explicit_bzero(dec, sizeof(dec));
	return ok;
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
	free(a->path);
	free(a);
}
