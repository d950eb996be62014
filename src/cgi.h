/*
 * websocketd's --cgidir: a plain request (any method but CONNECT) for a
 * program under cgi_dir runs it as CGI/1.1 (RFC 3875): the request body
 * streams to its stdin, its parsed output goes back to the client.
 */
#ifndef CGI_H
#define CGI_H

#include <stdbool.h>
#include <stddef.h>

#define CGI_HEAD_MAX	16384	/* the program's header block */
#define CGI_BODY_CHUNK	16384	/* request body decoded per write */

struct conn;

/*
 * Is c->path a program under dir? 0: no, the caller goes on (static
 * files, 404); 1: answered or running (extra: the header lines every
 * plain response carries).
 */
int	cgi_request(struct conn *, const char *dir, char *const *extra,
	    size_t nextra);
/* Request body bytes in c->in (or its stdin drained): pass them on. */
void	cgi_body_pump(struct conn *);
/* The client's buffer drained: read more of the program's output. */
void	cgi_update_reading(struct conn *);
/* The program was reaped. */
void	cgi_exited(struct conn *, int status);
/* conn_close: stop the timer, free the state (the proc is detached). */
void	cgi_free(struct conn *);
/* For the access log: the program's pid, and its exit when reaped. */
bool	cgi_exit_pending(const struct conn *);
int	cgi_exit_status(const struct conn *);
void	cgi_backend_name(const struct conn *, char *, size_t);
void	cgi_log_at_exit(struct conn *, const char *head, const char *tail,
	    bool json);

#endif
