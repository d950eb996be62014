/*
 * Unit tests for auth.c: htpasswd entries made at test time (openssl
 * passwd for sha-crypt, crypt_gensalt for bcrypt and yescrypt), refused
 * legacy hashes, strict Authorization parsing, re-reading the file, the
 * dearest entry for unknown users, jobs that outlive a re-read.
 */
#include <crypt.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test.h"
#include "auth.h"

static char	 path[64];
static char	 warnings[4096];

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

/* A hash from the openssl command line, e.g. "-6" for sha512-crypt. */
static const char *
openssl_passwd(const char *alg, const char *pw, char *buf, size_t len)
{
	char	 cmd[256];
	FILE	*fp;

	snprintf(cmd, sizeof(cmd), "openssl passwd %s '%s'", alg, pw);
	if ((fp = popen(cmd, "r")) == NULL || fgets(buf, (int)len, fp) ==
	    NULL) {
		perror(cmd);
		exit(1);
	}
	pclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* A hash from libxcrypt itself, for prefix "$2b$" or "$y$". */
static const char *
gen(const char *prefix, const char *pw, char *buf, size_t len)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	 cd;

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn(prefix, prefix[1] == '2' ? 4 : 0, NULL, 0, salt,
	    sizeof(salt)) == NULL || crypt_rn(pw, salt, &cd,
	    sizeof(cd)) == NULL) {
		perror("crypt");
		exit(1);
	}
	if (strlen(cd.output) >= len)
		exit(1);
	memcpy(buf, cd.output, strlen(cd.output) + 1);
	return buf;
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

/* "Basic " and the base64 of creds (len bytes: NULs allowed). */
static const char *
basic(const char *creds, size_t len, char *buf)
{
	strcpy(buf, "Basic ");
	EVP_EncodeBlock((unsigned char *)buf + 6,
	    (const unsigned char *)creds, (int)len);
	return buf;
}

#define B(s)	basic(s, sizeof(s) - 1, hdr)

static void
test_file(struct auth_file **ap)
{
	char	 text[4096], h[7][256], err[256];

	snprintf(text, sizeof(text),
	    "# users\n\nalice:%s\nbob:%s\ncarol:%s\ndave:%s\n"
	    "eve:%s\nfrank:secret\ngina:%s\nhal:ab01FAX.bQRSU\nnocolon\n"
	    "alice:%s\r\n",
	    openssl_passwd("-6", "wonderland", h[0], 256),
	    openssl_passwd("-5", "builder", h[1], 256),
	    gen("$2b$", "pa:ss", h[2], 256), gen("$y$", "", h[3], 256),
	    openssl_passwd("-apr1", "x", h[4], 256),
	    openssl_passwd("-1", "x", h[5], 256), h[0]);
	write_file(text);
	warnings[0] = '\0';
	*ap = auth_open(path, collect, NULL, err, sizeof(err));
	CHECK(*ap != NULL);
	if (*ap == NULL)
		exit(1);
	CHECK_EQ(auth_count(*ap), 4);
	CHECK_EQ(auth_nbad(*ap), 6);
	CHECK_STR(warnings,
	    "F:7: user \"eve\": apr1 MD5 hash (htpasswd -m) is not "
	    "supported: use htpasswd -B (bcrypt)\n"
	    "F:8: user \"frank\": not a crypt(3) hash (plain text or DES): "
	    "use htpasswd -B or openssl passwd -6\n"
	    "F:9: user \"gina\": hash method not accepted (MD5 or unknown): "
	    "use bcrypt, sha-crypt or yescrypt\n"
	    "F:10: user \"hal\": not a crypt(3) hash (plain text or DES): "
	    "use htpasswd -B or openssl passwd -6\n"
	    "F:11: want USER:HASH\n"
	    "F:12: user \"alice\": duplicate (first on line 3)\n");
}

static void
test_check(struct auth_file *a)
{
	char	 hdr[512], user[64];

	CHECK_EQ(auth_basic_check(a, B("alice:wonderland"), user,
	    sizeof(user)), 1);
	CHECK_STR(user, "alice");
	CHECK_EQ(auth_basic_check(a, B("alice:wonderland"), user,
	    sizeof(user)), 1);		/* cached */
	CHECK_EQ(auth_basic_check(a, B("alice:Wonderland"), user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("bob:builder"), user, sizeof(user)), 1);
	CHECK_EQ(auth_basic_check(a, B("carol:pa:ss"), user, sizeof(user)),
	    1);
	CHECK_STR(user, "carol");
	CHECK_EQ(auth_basic_check(a, B("dave:"), user, sizeof(user)), 1);
	CHECK_EQ(auth_basic_check(a, B("dave:x"), user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("mallory:wonderland"), user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("eve:x"), user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("frank:secret"), user, sizeof(user)),
	    0);
	CHECK_EQ(auth_check_password(a, "bob", "builder"), 1);
	CHECK_EQ(auth_check_password(a, "bob", "builder "), 0);
	CHECK_EQ(auth_basic_check(a, B("alice:wonderland"), user, 5), 0);
}

static void
test_header(struct auth_file *a)
{
	char	 hdr[512], user[64];

	CHECK_EQ(auth_basic_check(a, NULL, user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "  basic\tYm9iOmJ1aWxkZXI= ", user,
	    sizeof(user)), 1);	/* bob:builder */
	CHECK_EQ(auth_basic_check(a, "Basic Ym9iOmJ1aWxkZXI", user,
	    sizeof(user)), 0);	/* no padding */
	CHECK_EQ(auth_basic_check(a, "Basic Ym9iOmJ1aWxkZXI=x", user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "Basic Ym9iOmJ1a Wxk ZXI=", user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "BasicYm9iOmJ1aWxkZXI=", user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "Bearer Ym9iOmJ1aWxkZXI=", user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "Basic ", user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, "Basic =", user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, basic("bob:builder\0x", 13, hdr), user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B(":builder"), user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("bob"), user, sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("b\nob:builder"), user, sizeof(user)),
	    0);
	CHECK_EQ(auth_challenge("Private", hdr, sizeof(hdr)), 0);
	CHECK_STR(hdr, "Basic realm=\"Private\", charset=\"UTF-8\"");
	CHECK_EQ(auth_challenge("Private", hdr, 10), -1);
}

static void
test_reload(struct auth_file *a)
{
	char	 text[512], h[256], hdr[512], user[64];

	snprintf(text, sizeof(text), "alice:%s\n",
	    openssl_passwd("-6", "new password", h, sizeof(h)));
	write_file(text);
	/* the cached good check is forgotten with the old file */
	CHECK_EQ(auth_basic_check(a, B("alice:wonderland"), user,
	    sizeof(user)), 0);
	CHECK_EQ(auth_basic_check(a, B("alice:new password"), user,
	    sizeof(user)), 1);
	CHECK_EQ(auth_basic_check(a, B("bob:builder"), user, sizeof(user)), 0);
	CHECK_EQ(auth_count(a), 1);
	warnings[0] = '\0';
	unlink(path);
	CHECK_EQ(auth_basic_check(a, B("alice:new password"), user,
	    sizeof(user)), 0);
	CHECK(strstr(warnings, "No such file") != NULL);
	CHECK(auth_open(path, NULL, NULL, text, sizeof(text)) == NULL);
	CHECK(strstr(text, "No such file") != NULL);
}

/* A hash of pw by prefix at cost count (0: the default). */
static const char *
gen_cost(const char *prefix, unsigned long count, const char *pw,
    char *buf)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	 cd;

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn(prefix, count, NULL, 0, salt, sizeof(salt)) ==
	    NULL || crypt_rn(pw, salt, &cd, sizeof(cd)) == NULL ||
	    strlen(cd.output) >= 256)
		exit(1);
	return strcpy(buf, cd.output);
}

/* Which hash an unknown user is checked against, for this file text. */
static void
check_dummy(const char *text, const char *want)
{
	struct auth_file	*a;
	struct auth_job		 j;
	char			 err[256], user[64], hdr[512];

	write_file(text);
	if ((a = auth_open(path, NULL, NULL, err, sizeof(err))) == NULL)
		exit(1);
	CHECK_EQ(auth_basic_start(a, B("mallory:x"), user, sizeof(user), &j),
	    AUTH_HASH);
	CHECK_STR(j.hash, want);
	CHECK(!j.known);
	auth_close(a);
}

/*
 * Issue 13 item 6: an unknown user costs what the dearest entry costs,
 * wherever it is in the file; it is hashed and still fails, even with
 * that entry's password.
 */
static void
test_dummy(void)
{
	char	 text[2048], h[4][256];

	gen_cost("$6$", 0, "a", h[0]);
	gen_cost("$2b$", 8, "b", h[1]);
	gen_cost("$6$", 20000, "c", h[2]);
	snprintf(text, sizeof(text), "alice:%s\nbob:%s\ncarol:%s\n", h[0],
	    h[1], h[2]);
	check_dummy(text, h[1]);
	gen_cost("$2b$", 4, "a", h[0]);
	gen_cost("$y$", 0, "d", h[3]);
	snprintf(text, sizeof(text), "alice:%s\ncarol:%s\ndave:%s\n", h[0],
	    h[2], h[3]);
	check_dummy(text, h[3]);
	gen_cost("$5$", 50000, "s", h[1]);
	gen_cost("$6$", 0, "a", h[0]);
	snprintf(text, sizeof(text), "alice:%s\nsam:%s\n", h[0], h[1]);
	check_dummy(text, h[1]);
	/* mallory with bob's password is still no one */
	gen_cost("$2b$", 4, "b", h[1]);
	snprintf(text, sizeof(text), "bob:%s\n", h[1]);
	write_file(text);
	{
		struct auth_file	*a;
		char			 err[256];

		if ((a = auth_open(path, NULL, NULL, err, sizeof(err))) ==
		    NULL)
			exit(1);
		CHECK_EQ(auth_check_password(a, "mallory", "b"), AUTH_BAD);
		CHECK_EQ(auth_check_password(a, "bob", "b"), AUTH_GOOD);
		auth_close(a);
	}
}

static double
cpu_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * The same through the public check alone, measured in CPU time (which
 * other load on the machine does not stretch): with sha-512 first and
 * bcrypt-10 second, an unknown user used to cost the sha-512 (~1 ms),
 * a hundredth of bob's; now it costs bob's.
 */
static void
test_unknown_cost(void)
{
	struct auth_file	*a;
	char			 text[1024], h[2][256], err[256];
	double			 t0, bob, nobody;

	snprintf(text, sizeof(text), "alice:%s\nbob:%s\n",
	    gen_cost("$6$", 0, "a", h[0]), gen_cost("$2b$", 10, "b", h[1]));
	write_file(text);
	if ((a = auth_open(path, NULL, NULL, err, sizeof(err))) == NULL)
		exit(1);
	t0 = cpu_ms();
	CHECK_EQ(auth_check_password(a, "bob", "wrong"), 0);
	bob = cpu_ms() - t0;
	t0 = cpu_ms();
	CHECK_EQ(auth_check_password(a, "nobody", "wrong"), 0);
	nobody = cpu_ms() - t0;
	CHECK(bob > 5);
	CHECK(nobody > bob / 4);
	auth_close(a);
}

/*
 * A job hashed while the file changed: its verdict stands only if the
 * user still has the hash that was checked.
 */
static void
test_job_across_reload(void)
{
	struct auth_file	*a;
	struct auth_job		 j;
	struct crypt_data	*cd;
	char			 text[1024], h[256], err[256], user[64];
	char			 hdr[512];

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		exit(1);
	snprintf(text, sizeof(text), "bob:%s\n",
	    gen_cost("$2b$", 4, "right", h));
	write_file(text);
	if ((a = auth_open(path, NULL, NULL, err, sizeof(err))) == NULL)
		exit(1);
	CHECK_EQ(auth_basic_start(a, B("bob:right"), user, sizeof(user), &j),
	    AUTH_HASH);
	CHECK(j.known);
	auth_job_hash(&j, cd);
	CHECK(j.match);
	CHECK_EQ(j.password[0], 0);		/* wiped after hashing */
	/* the same password, a new salt and a longer file: a new hash */
	snprintf(text, sizeof(text), "# changed\nbob:%s\n",
	    gen_cost("$2b$", 4, "right", h));
	write_file(text);
	CHECK_EQ(auth_job_finish(&j, user, sizeof(user)), AUTH_BAD);
	/* a new job against the new file passes, and is cached after */
	user[0] = '\0';
	CHECK_EQ(auth_basic_start(a, B("bob:right"), user, sizeof(user), &j),
	    AUTH_HASH);
	auth_job_hash(&j, cd);
	CHECK_EQ(auth_job_finish(&j, user, sizeof(user)), AUTH_GOOD);
	CHECK_STR(user, "bob");
	CHECK_EQ(auth_basic_start(a, B("bob:right"), user, sizeof(user), &j),
	    AUTH_GOOD);
	free(cd);
	auth_close(a);
}

int
main(void)
{
	struct auth_file	*a;
	int			 fd;

	strcpy(path, "/tmp/wsbridge-htpasswd-XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_file(&a);
	test_check(a);
	test_header(a);
	test_reload(a);
	auth_close(a);
	test_dummy();
	test_unknown_cost();
	test_job_across_reload();
	unlink(path);
	TEST_REPORT();
}
