/*
 * Out of memory in the files re-read on change (issue 14: a connection
 * that cannot get memory is closed with 503, the daemon lives). Linked
 * with -Wl,--wrap for malloc, calloc, realloc and strdup (UNIT_LDFLAGS
 * in the Makefile), so each call the modules make can be made to fail,
 * one at a time: auth_open and targets_open return NULL with ENOMEM, a
 * re-read that runs out says AUTH_NOMEM / TARGETS_NOMEM, access.c
 * answers 503, and the next request reads the file whole. Before, each
 * of these was abort() or fatal().
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <crypt.h>
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "access.h"
#include "auth.h"
#include "targets.h"
#include "test.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
char	*__real_strdup(const char *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
char	*__wrap_strdup(const char *);

static long	 fail_at = -1;	/* which call fails, from 0; -1 none */
static long	 calls;
static bool	 failed;

/* Arm: the n-th allocation from now fails (only that one); -1 disarms. */
static void
fail_nth(long n)
{
	fail_at = n;
	calls = 0;
	if (n >= 0)
		failed = false;	/* else: still says whether one failed */
}

static bool
fail_now(void)
{
	if (fail_at < 0 || calls++ != fail_at)
		return false;
	failed = true;
	errno = ENOMEM;
	return true;
}

void *
__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

static char	 hpath[64], tpath[64];

static void
write_file(const char *path, const char *text)
{
	char	 tmp[80];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		perror(tmp);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	if (rename(tmp, path) == -1) {
		perror(path);
		exit(1);
	}
}

/* A bcrypt hash of pw at the lowest cost: quick to check. */
static const char *
hash(const char *pw, char *buf, size_t len)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	 cd;

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) ==
	    NULL || crypt_rn(pw, salt, &cd, sizeof(cd)) == NULL ||
	    strlen(cd.output) >= len)
		exit(1);
	memcpy(buf, cd.output, strlen(cd.output) + 1);
	return buf;
}

static const char *
basic(const char *creds, char *buf)
{
	strcpy(buf, "Basic ");
	EVP_EncodeBlock((unsigned char *)buf + 6,
	    (const unsigned char *)creds, (int)strlen(creds));
	return buf;
}

/* Every allocation of auth_open failed in turn: NULL, ENOMEM, no leak. */
static void
test_auth_open(void)
{
	struct auth_file	*a;
	char			 err[256];
	long			 n;

	for (n = 0; n < 1000; n++) {
		fail_nth(n);
		errno = 0;
		a = auth_open(hpath, NULL, NULL, err, sizeof(err));
		fail_nth(-1);
		if (!failed) {
			CHECK(a != NULL);
			if (a == NULL)
				break;
			CHECK_EQ(auth_count(a), 3);
			auth_close(a);
			break;
		}
		CHECK(a == NULL);
		CHECK_EQ(errno, ENOMEM);
		CHECK(strstr(err, strerror(ENOMEM)) != NULL);
	}
	CHECK(n > 4 && n < 1000);	/* the struct, path, cd, 3 users */
}

/* A re-read that runs out: AUTH_NOMEM, then the whole file next time. */
static void
test_auth_reread(void)
{
	struct auth_file	*a;
	char			 err[256], text[1024], h[3][128], hdr[256];
	char			 user[AUTH_MAX_USER];
	long			 n;
	int			 rv;

	a = auth_open(hpath, NULL, NULL, err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL)
		return;
	for (n = 0; n < 1000; n++) {
		snprintf(text, sizeof(text), "dan:%s\nemma:%s\nfay:%s\n",
		    hash("d", h[0], 128), hash("e", h[1], 128),
		    hash("f", h[2], 128));
		write_file(hpath, text);
		fail_nth(n);
		rv = auth_basic_check(a, basic("emma:e", hdr), user,
		    sizeof(user));
		fail_nth(-1);
		if (!failed) {
			CHECK_EQ(rv, AUTH_GOOD);
			break;
		}
		CHECK_EQ(rv, AUTH_NOMEM);
		/* nothing half-loaded: the next check reads it all */
		CHECK_EQ(auth_basic_check(a, basic("fay:f", hdr), user,
		    sizeof(user)), AUTH_GOOD);
		CHECK_EQ(auth_count(a), 3);
	}
	CHECK(n > 0 && n < 1000);
	auth_close(a);
}

static void
test_targets(void)
{
	struct targets		*t;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	char			 err[256];
	long			 n;
	int			 rv;

	for (n = 0; n < 1000; n++) {
		fail_nth(n);
		errno = 0;
		t = targets_open(tpath, NULL, NULL, err, sizeof(err));
		fail_nth(-1);
		if (!failed)
			break;
		CHECK(t == NULL);
		CHECK_EQ(errno, ENOMEM);
	}
	CHECK(n > 2 && n < 1000);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	for (n = 0; n < 1000; n++) {
		write_file(tpath, "a: 127.0.0.1:1\nb: 127.0.0.1:2\n"
		    "c: 127.0.0.1:3\n");
		fail_nth(n);
		rv = targets_lookup(t, "b", &ss, &sl);
		fail_nth(-1);
		if (!failed) {
			CHECK_EQ(rv, 0);
			break;
		}
		CHECK_EQ(rv, TARGETS_NOMEM);
		CHECK_EQ(targets_lookup(t, "c", &ss, &sl), 0);
		CHECK_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 3);
		CHECK_EQ(targets_count(t), 3);
	}
	CHECK(n > 0 && n < 1000);
	targets_close(t);
}

static struct route		 r;
static struct hs_request	 req;

static int
target(struct sockaddr_storage *ss)
{
	socklen_t	 sl;
	char		 shown[64];

	return access_target(&r, "token=a", &req, ss, &sl, shown,
	    sizeof(shown));
}

static int
authenticate(struct auth_job *job)
{
	char	 user[AUTH_MAX_USER], ch[300];

	return access_authenticate(&r, &req, false, user, sizeof(user), ch,
	    sizeof(ch), job);
}

/* access.c turns each of them into 503 for this request only. */
static void
test_access(void)
{
	static struct crypt_data cd;
	struct sockaddr_storage	 ss;
	struct auth_job		 job;
	char			 user[AUTH_MAX_USER], ch[300], hdr[256];
	long			 n;
	int			 st;

	memset(&r, 0, sizeof(r));
	memset(&req, 0, sizeof(req));
	r.targets = tpath;
	r.auth = AUTH_BASIC;
	r.auth_file = hpath;
	r.auth_realm = "R";
	req.headers[0].name = "Authorization";
	req.headers[0].value = basic("dan:d", hdr);
	req.nheaders = 1;
	/* the first use opens the file, and keeps a copy of its path */
	for (n = 0; n < 100; n++) {
		fail_nth(n);
		st = target(&ss);
		fail_nth(-1);
		if (!failed)
			break;
		CHECK_EQ(st, 503);
	}
	CHECK_EQ(st, 0);
	CHECK(n > 5 && n < 100);	/* the 6th: the cache's path copy */
	for (n = 0; n < 100; n++) {
		fail_nth(n);
		st = authenticate(&job);
		fail_nth(-1);
		if (!failed)
			break;
		CHECK_EQ(st, 503);
	}
	CHECK(n > 3 && n < 100);
	CHECK_EQ(st, ACCESS_HASH);
	auth_job_hash(&job, &cd);
	CHECK_EQ(access_auth_finish(&r, &job, user, sizeof(user), ch,
	    sizeof(ch)), 0);
	CHECK_STR(user, "dan");
	/* a re-read that runs out */
	write_file(tpath, "a: 127.0.0.1:9\n");
	fail_nth(0);
	st = target(&ss);
	fail_nth(-1);
	CHECK_EQ(st, 503);
	CHECK_EQ(target(&ss), 0);
	CHECK_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9);
	write_file(hpath, "# nobody\n");
	CHECK_EQ(authenticate(&job), 401);
}

int
main(void)
{
	char	 text[1024], h[3][128];
	int	 fd;

	strcpy(hpath, "/tmp/wsbridge-nomem-h-XXXXXX");
	strcpy(tpath, "/tmp/wsbridge-nomem-t-XXXXXX");
	if ((fd = mkstemp(hpath)) == -1 || close(fd) == -1 ||
	    (fd = mkstemp(tpath)) == -1 || close(fd) == -1) {
		perror("mkstemp");
		return 1;
	}
	snprintf(text, sizeof(text), "# users\nann:%s\nbea:%s\ndan:%s\n",
	    hash("a", h[0], 128), hash("b", h[1], 128), hash("d", h[2], 128));
	write_file(hpath, text);
	write_file(tpath, "a: 127.0.0.1:1\n");
	test_auth_open();
	test_auth_reread();
	test_targets();
	test_access();
	unlink(hpath);
	unlink(tpath);
	TEST_REPORT();
}
