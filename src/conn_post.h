/*
 * POST /route?session=ID: a message for the program behind an open
 * Server-Sent Events stream or a poll session; DELETE: its end
 * (conn_post.c).
 */
#ifndef CONN_POST_H
#define CONN_POST_H

#include <stdbool.h>

struct conn;

struct route;

/*
 * A POST or DELETE ?session= on a route with sse or poll: its route,
 * else NULL.
 */
struct route *conn_post_route(struct conn *);
/* Access is granted: check the session, then read the body. */
void	conn_post_begin(struct conn *, struct route *);
/* More of the body is in c->in: decode it, deliver once whole. */
void	conn_post_pump(struct conn *);
void	conn_post_free(struct conn *);

#endif
