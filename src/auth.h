/*
 * HTTP basic authentication against an htpasswd file ("USER:HASH" lines;
 * bcrypt, sha-crypt, yescrypt: whatever crypt(3) of libxcrypt supports
 * and does not call legacy). The file is re-read when it changes.
 * Pure: files, crypt(3) and base64, no event loop.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_file;
struct crypt_data;

/* Longest Authorization header value and user name looked at. */
#define AUTH_MAX_HEADER		1024
#define AUTH_MAX_USER		256
/* Longest hash accepted in the file (libxcrypt's CRYPT_OUTPUT_SIZE). */
#define AUTH_MAX_HASH		384
/* Credentials remembered after a good check, so bcrypt runs once. */
#define AUTH_CACHE_SIZE		16
#define AUTH_DIGEST		32	/* SHA-256 of "user\0password" */

/*
 * Load path. Bad lines (unsupported or legacy hashes such as
 * "$apr1$", DES or plain text) are skipped and reported to warn (may be
 * NULL) as "FILE:LINE: reason", now and at every re-read. NULL with err
 * set when the file cannot be read, or memory runs out (then errno is
 * ENOMEM). Each (re)load also picks the file's dearest entry (method and
 * cost): unknown users are hashed against it.
 */
struct auth_file	*auth_open(const char *path,
			    void (*warn)(void *arg, const char *msg),
			    void *arg, char *err, size_t errsz);

/*
 * One password check that needs crypt(3), which is slow on purpose
 * (bcrypt-12 ~250 ms): made by auth_basic_start on the event loop,
 * hashed by auth_job_hash on any thread (it reads nothing but the job
 * and the caller's crypt_data), judged by auth_job_finish on the loop.
 * An unknown user is hashed against the dearest entry of the file and
 * always fails, so the time taken does not say whether a user exists.
 */
struct auth_job {
	struct auth_file	*file;
	unsigned long		 gen;		/* the file's load */
	bool			 known;		/* the user is in the file */
	bool			 match;		/* set by auth_job_hash */
	uint8_t			 digest[AUTH_DIGEST];	/* for the cache */
	char			 user[AUTH_MAX_USER + 1];
	char			 password[AUTH_MAX_HEADER];
	char			 hash[AUTH_MAX_HASH];
};

#define AUTH_BAD		0	/* refused */
#define AUTH_GOOD		1	/* allowed: the user is set */
#define AUTH_HASH		2	/* the job is filled: hash it */
/*
 * Out of memory re-reading the file (or for the check): neither good
 * nor bad. Answer this request 503; the next check reads the file again.
 */
#define AUTH_NOMEM		(-1)

/*
 * Check an Authorization header value ("Basic dXNlcjpwYXNz"), re-reading
 * the file first if it changed. AUTH_GOOD with the user name in user for
 * credentials that passed before (a good check is cached until the file
 * changes); AUTH_BAD for a header that is NULL, malformed or of another
 * scheme, or a file without users; AUTH_NOMEM; else AUTH_HASH with job
 * filled.
 */
int			 auth_basic_start(struct auth_file *,
			    const char *authorization, char *user,
			    size_t usersz, struct auth_job *job);
/* Thread-safe: crypt_rn with the caller's cd; wipes the password. */
void			 auth_job_hash(struct auth_job *,
			    struct crypt_data *cd);
/*
 * The verdict of a hashed job: AUTH_GOOD (user set, credentials cached),
 * AUTH_BAD or AUTH_NOMEM. A file re-read meanwhile keeps the verdict
 * only if the user still has the hash that was checked. The job is
 * wiped.
 */
int			 auth_job_finish(struct auth_job *, char *user,
			    size_t usersz);

/*
 * All three at once, hashing here (tests, tools): AUTH_GOOD, AUTH_BAD or
 * AUTH_NOMEM. The daemon hashes on auth_pool's threads instead.
 */
int			 auth_basic_check(struct auth_file *,
			    const char *authorization, char *user,
			    size_t usersz);
/* The same for a user and password already decoded. */
int			 auth_check_password(struct auth_file *,
			    const char *user, const char *password);

/* "Basic realm=\"REALM\", charset=\"UTF-8\"" for WWW-Authenticate. */
int			 auth_challenge(const char *realm, char *buf,
			    size_t bufsz);

size_t			 auth_count(const struct auth_file *);
size_t			 auth_nbad(const struct auth_file *);
void			 auth_close(struct auth_file *);

#endif
