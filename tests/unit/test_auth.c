/*
 * Unit tests for auth.c: htpasswd entries made at test time (openssl
 * passwd for sha-crypt, crypt_gensalt for bcrypt and yescrypt), refused
 * legacy hashes, strict Authorization parsing, re-reading the file.
 */
#include <crypt.h>
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

/*
 * A flood of wrong passwords spends the hashing budget: further checks
 * that would hash answer -1 (busy) at once; a cached good login still
 * passes. bcrypt at cost 10 makes each check cost some milliseconds.
 */
static void
test_budget(void)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE], text[512];
	char			 err[256], user[64], hdr[512];
	struct crypt_data	 cd;
	struct auth_file	*a;
	int			 i, rv = 0;

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof(salt)) ==
	    NULL || crypt_rn("right", salt, &cd, sizeof(cd)) == NULL)
		exit(1);
	snprintf(text, sizeof(text), "ann:%s\n", cd.output);
	write_file(text);
	a = auth_open(path, NULL, NULL, err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK_EQ(auth_basic_check(a, B("ann:right"), user, sizeof(user)), 1);
	/* Bounded: 2,000 checks at cost 10 would be far past any budget. */
	for (i = 0; i < 2000 && rv != -1; i++)
		rv = auth_basic_check(a, B("ann:wrong"), user, sizeof(user));
	CHECK_EQ(rv, -1);
	CHECK_EQ(auth_basic_check(a, B("ann:right"), user, sizeof(user)), 1);
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
	test_budget();
	unlink(path);
	TEST_REPORT();
}
