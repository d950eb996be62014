/*
 * Who may use a route, and where a token sends them: Origin patterns,
 * HTTP Basic and trusted auth headers, token-file targets. The files
 * (htpasswd, token files) are opened once per path and re-read by their
 * modules when they change. No libev, no sockets.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "auth.h"
#include "config.h"
#include "handshake.h"

/* Does origin match pattern ("[scheme://]host[:port|:*]", "*.domain")? */
bool	access_origin_match(const char *pattern, const char *origin);
/* The route's origins / same_origin rules for this request. */
bool	access_origin_allowed(const struct route *, const struct hs_request *);

/*
 * Authentication for the route: 0 allowed (user set, maybe ""), or the
 * HTTP status to answer (401, with the WWW-Authenticate value in
 * challenge; 500 when the htpasswd file is unreadable; 503 when memory
 * ran out reading it: only this request fails), or ACCESS_HASH:
 * job is filled, the password needs hashing (auth_job_hash, off the
 * loop), then access_auth_finish gives the answer.
 * peer_trusted: the TCP peer is in trusted_proxies (auth_header).
 */
#define ACCESS_HASH	1
int	access_authenticate(const struct route *, const struct hs_request *,
	    bool peer_trusted, char *user, size_t usersz, char *challenge,
	    size_t challengesz, struct auth_job *job);
/* A hashed job's answer: 0 (user set), 401 (challenge set) or 503. */
int	access_auth_finish(const struct route *, struct auth_job *,
	    char *user, size_t usersz, char *challenge, size_t challengesz);

/*
 * Token routes: the target for "?token=" (or the Host header's first
 * label when there is no token in the query). 0 with the address;
 * 404 for an unknown token or a bad one (empty, too long, a NUL); 502
 * when it does not resolve or the file cannot be read; 503 when memory
 * ran out reading the file. shown gets a
 * loggable form of the token (its start).
 */
int	access_target(const struct route *, const char *query,
	    const struct hs_request *, struct sockaddr_storage *,
	    socklen_t *, char *shown, size_t shownsz);

#endif
