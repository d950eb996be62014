/*
 * Long polling's HTTP side (conn_poll.c): POST /route?transport=poll
 * opens a session, GET /route?session=ID&after=SEQ polls it.
 */
#ifndef CONN_POLL_H
#define CONN_POLL_H

#include <stdbool.h>

struct conn;
struct route;

/* POST ?transport=poll on a route with transports = poll. */
bool	conn_poll_wants_open(const struct conn *, const struct route *);
/* GET ?session=ID on such a route. */
bool	conn_poll_wants_poll(const struct conn *, const struct route *);
/* The backend is there: a poll session takes the client's place; 201. */
void	conn_poll_open(struct conn *);
/* Access granted: find the poll session, answer now or when output comes. */
void	conn_poll_get(struct conn *, const struct route *);
/* The client closes: a waiting poll is no longer answered. */
void	conn_poll_cancel(struct conn *);

#endif
