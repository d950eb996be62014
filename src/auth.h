/*
 * HTTP basic authentication against an htpasswd file ("USER:HASH" lines;
 * bcrypt, sha-crypt, yescrypt: whatever crypt(3) of libxcrypt supports
 * and does not call legacy). The file is re-read when it changes.
 * Pure: files, crypt(3) and base64, no event loop.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

struct auth_file;

/* Longest Authorization header value and user name looked at. */
#define AUTH_MAX_HEADER		1024
#define AUTH_MAX_USER		256
/* Credentials remembered after a good check, so bcrypt runs once. */
#define AUTH_CACHE_SIZE		16

/*
 * Load path. Bad lines (unsupported or legacy hashes such as
 * "$apr1$", DES or plain text) are skipped and reported to warn (may be
 * NULL) as "FILE:LINE: reason", now and at every re-read. NULL with err
 * set when the file cannot be read.
 */
struct auth_file	*auth_open(const char *path,
			    void (*warn)(void *arg, const char *msg),
			    void *arg, char *err, size_t errsz);

/*
 * Check an Authorization header value ("Basic dXNlcjpwYXNz"), re-reading
 * the file first if it changed. 1 and the user name in user when the
 * password matches; 0 otherwise (header NULL, malformed, other scheme,
 * unknown user or wrong password). crypt(3) is slow on purpose (bcrypt
 * ~50 ms): a good check is cached until the file changes. Hashing may
 * take at most AUTH_BUDGET_MS of every second of the (single) event
 * loop: past that, checks that would hash return -1 (busy) at once, so
 * a flood of wrong passwords cannot stall every other connection.
 */
#define AUTH_BUDGET_MS		250
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
