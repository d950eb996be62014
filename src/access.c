/*
 * Route access checks and token targets, with the htpasswd and token
 * files cached by path for the life of the process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "access.h"
#include "auth.h"
#include "base64.h"
#include "log.h"
#include "targets.h"

#define ACCESS_MAX_FILES	64
/* Characters of a token a log line shows, at most (and half of it). */
#define ACCESS_TOKEN_SHOWN	4

struct access_file {
	char		*path;
	void		*handle;
};

static struct access_file	 auth_files[ACCESS_MAX_FILES];
static struct access_file	 target_files[ACCESS_MAX_FILES];

static void
access_warn_cb(void *arg, const char *msg)
{
	(void)arg;
	log_warnx("%s", msg);
}

/*
 * The cached handle for path, opened on first use; NULL if unreadable,
 * with *nomem set when memory ran out (tried again next time).
 */
static void *
access_file(struct access_file *cache, const char *path, bool is_auth,
    bool *nomem)
{
	char	 err[256];
	size_t	 i;
	void	*h;

	*nomem = false;
	for (i = 0; i < ACCESS_MAX_FILES && cache[i].path != NULL; i++)
		if (strcmp(cache[i].path, path) == 0)
			return cache[i].handle;
	if (i == ACCESS_MAX_FILES)
		return NULL;
	errno = 0;
	h = is_auth ?
	    (void *)auth_open(path, access_warn_cb, NULL, err, sizeof(err)) :
	    (void *)targets_open(path, access_warn_cb, NULL, err,
	    sizeof(err));
	if (h == NULL) {
		*nomem = errno == ENOMEM;
		log_warnx("%s", err);
		return NULL;
	}
	if ((cache[i].path = strdup(path)) == NULL) {
		if (is_auth)
			auth_close(h);
		else
			targets_close(h);
		*nomem = true;
		log_warnx("%s: %s", path, strerror(ENOMEM));
		return NULL;
	}
	return cache[i].handle = h;
}

bool
access_origin_match(const char *pattern, const char *origin)
{
	const char	*ps, *os, *pport, *oport;
	size_t		 plen, olen;

	if ((ps = strstr(pattern, "://")) != NULL) {
		if (strncasecmp(pattern, origin, (size_t)(ps - pattern) + 3))
			return false;
		pattern = ps + 3;
	}
	if ((os = strstr(origin, "://")) != NULL)
		origin = os + 3;
	pport = strrchr(pattern, ':');
	oport = strrchr(origin, ':');
	if (oport != NULL && strchr(oport, ']') != NULL)
		oport = NULL;
	plen = pport ? (size_t)(pport - pattern) : strlen(pattern);
	olen = oport ? (size_t)(oport - origin) : strlen(origin);
	if (pport != NULL && strcmp(pport, ":*") != 0 &&
	    (oport == NULL || strcmp(pport, oport) != 0))
		return false;
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.')
		return olen > plen - 1 && strncasecmp(origin + olen -
		    (plen - 1), pattern + 1, plen - 1) == 0;
	return plen == olen && strncasecmp(pattern, origin, plen) == 0;
}

bool
access_origin_allowed(const struct route *r, const struct hs_request *req)
{
	const char	*origin = hs_header(req, "Origin");
	const char	*host = hs_header(req, "Host"), *o;
	size_t		 i;

	if (r->origins.n == 0 && !r->same_origin)
		return true;
	if (origin == NULL)
		return false;
	if (r->same_origin && host != NULL) {
		o = strstr(origin, "://");
		if (o != NULL && strcasecmp(o + 3, host) == 0)
			return true;
	}
	for (i = 0; i < r->origins.n; i++)
		if (access_origin_match(r->origins.v[i], origin))
			return true;
	return false;
}

/*
 * --credential: the Authorization header must carry exactly base64 of
 * "USER:PASSWORD" (compared without stopping at the first difference).
 */
static bool
access_credential_ok(const char *cred, const char *h, char *user,
    size_t usersz)
{
	unsigned char	 want[AUTH_MAX_HEADER];
	size_t		 len, wlen, i;
	unsigned	 d;

	if (h == NULL || BASE64_ENCODED_SIZE(strlen(cred)) > sizeof(want))
		return false;
	h += strspn(h, " \t");
	if (strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t'))
		return false;
	h += 5 + strspn(h + 5, " \t");
	len = strcspn(h, " \t");
	if (h[len + strspn(h + len, " \t")] != '\0')
		return false;
	wlen = (size_t)EVP_EncodeBlock(want, (const unsigned char *)cred,
	    (int)strlen(cred));
	d = len != wlen;
	for (i = 0; i < wlen; i++)
		d |= want[i] ^ (unsigned char)(i < len ? h[i] : 0);
	explicit_bzero(want, sizeof(want));
	if (d != 0)
		return false;
	snprintf(user, usersz, "%.*s", (int)strcspn(cred, ":"), cred);
	return true;
}

int
access_authenticate(const struct route *r, const struct hs_request *req,
    bool peer_trusted, char *user, size_t usersz, char *challenge,
    size_t challengesz, struct auth_job *job)
{
	struct auth_file	*af;
	const char		*v;
	bool			 nomem;

	user[0] = '\0';
	/* An SSO proxy in front vouches for the user; nobody else may. */
	if (r->auth_header != NULL && peer_trusted &&
	    (v = hs_header(req, r->auth_header)) != NULL && *v != '\0') {
		snprintf(user, usersz, "%s", v);
		return 0;
	}
	if (r->auth != AUTH_BASIC) {
		if (r->auth_header == NULL)
			return 0;
		auth_challenge(r->auth_realm, challenge, challengesz);
		return 401;
	}
	if (r->credential != NULL) {
		if (access_credential_ok(r->credential,
		    hs_header(req, "Authorization"), user, usersz))
			return 0;
		auth_challenge(r->auth_realm, challenge, challengesz);
		return 401;
	}
	if ((af = access_file(auth_files, r->auth_file, true, &nomem)) ==
	    NULL)
		return nomem ? 503 : 500;
	switch (auth_basic_start(af, hs_header(req, "Authorization"), user,
	    usersz, job)) {
	case AUTH_GOOD:
		return 0;
	case AUTH_HASH:
		return ACCESS_HASH;
	case AUTH_NOMEM:
		return 503;
	default:
		auth_challenge(r->auth_realm, challenge, challengesz);
		return 401;
	}
}

int
access_auth_finish(const struct route *r, struct auth_job *job, char *user,
    size_t usersz, char *challenge, size_t challengesz)
{
	user[0] = '\0';
	switch (auth_job_finish(job, user, usersz)) {
	case AUTH_GOOD:
		return 0;
	case AUTH_NOMEM:
		return 503;
	}
	auth_challenge(r->auth_realm, challenge, challengesz);
	return 401;
}

/*
 * Tokens are credentials: only their start (at most half, at most 4
 * characters) is logged, and their length: "secr... (13 characters)".
 */
static void
access_token_shown(const char *token, char *shown, size_t shownsz)
{
	size_t	 len = strlen(token), n = len / 2 < ACCESS_TOKEN_SHOWN ?
		    len / 2 : ACCESS_TOKEN_SHOWN;
	char	 start[LOG_ESCAPE_SIZE(ACCESS_TOKEN_SHOWN)];

	if (len == 0) {
		snprintf(shown, shownsz, "(none)");
		return;
	}
	log_escape(start, sizeof(start), token, n);
	if (n == 0)
		snprintf(shown, shownsz, "of %zu character%s", len,
		    len == 1 ? "" : "s");
	else
		snprintf(shown, shownsz, "%s... (%zu characters)", start, len);
}

int
access_target(const struct route *r, const char *query,
    const struct hs_request *req, struct sockaddr_storage *ss,
    socklen_t *len, char *shown, size_t shownsz)
{
	struct targets	*t;
	char		 token[TARGETS_MAX_TOKEN + 1], *dot;
	const char	*host;
	int		 rv;
	bool		 nomem;

	switch (targets_query_token(query, token, sizeof(token))) {
	case -1:
		snprintf(shown, shownsz, "(malformed)");
		return 404;	/* present but bad: never the Host's target */
	case 0:
		host = hs_header(req, "Host");
		snprintf(token, sizeof(token), "%s", host ? host : "");
		if ((dot = strchr(token, '.')) != NULL)
			*dot = '\0';
		break;
	}
	access_token_shown(token, shown, shownsz);
	if ((t = access_file(target_files, r->targets, false, &nomem)) ==
	    NULL)
		return nomem ? 503 : 502;
	rv = targets_lookup(t, token, ss, len);
	if (rv == TARGETS_NOMEM)
		return 503;
	return rv == 0 ? 0 : rv == -1 ? 404 : 502;
}
