/*
 * websockify-style token files for targets routes: "TOKEN: HOST:PORT" or
 * "TOKEN: unix:/PATH" lines, '#' comments and blank lines ignored. The
 * file is re-read when it changes, so tokens come and go without a
 * reload. Pure: files and getaddrinfo only, no event loop.
 */
#ifndef TARGETS_H
#define TARGETS_H

#include <sys/socket.h>

#include <stddef.h>

struct targets;

/* The longest line of a token file, and of a token in a request. */
#define TARGETS_MAX_LINE	1024
#define TARGETS_MAX_TOKEN	255

/*
 * Load path. Each bad line is skipped and reported to warn (may be NULL)
 * as "FILE:LINE: reason", now and at every re-read. NULL, with err set,
 * when the file cannot be read or memory runs out (then errno is ENOMEM).
 */
struct targets	*targets_open(const char *path,
		    void (*warn)(void *arg, const char *msg), void *arg,
		    char *err, size_t errsz);

/*
 * The address of token's target, re-reading the file first if its
 * mtime, size or inode changed (an unreadable or removed file leaves no
 * tokens). Host names are resolved now, with getaddrinfo, which blocks:
 * numeric addresses do not. Returns 0; -1 for an unknown token; -2 when
 * the target does not resolve (reported to warn); TARGETS_NOMEM when
 * memory ran out re-reading the file (answer 503; the next lookup reads
 * it again).
 */
#define TARGETS_NOMEM	(-3)
int		 targets_lookup(struct targets *, const char *token,
		    struct sockaddr_storage *, socklen_t *);

/*
 * The "token" parameter of a query string, percent-decoded as browsers
 * encode it (URLSearchParams: "+" is a space, "%2B" a plus); the first
 * one counts. 1 with the token in out; 0 when there is none; -1 when it
 * is there but unusable (empty, outsz bytes or longer, a NUL inside): a
 * bad token is refused, never taken as absent.
 */
int		 targets_query_token(const char *query, char *out,
		    size_t outsz);

/* Bad lines skipped in the last read; tokens loaded. */
size_t		 targets_nbad(const struct targets *);
size_t		 targets_count(const struct targets *);

void		 targets_close(struct targets *);

#endif
