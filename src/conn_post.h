/*
 * POST /route?session=ID: a message for the program behind an open
 * Server-Sent Events stream (conn_post.c).
 */
#ifndef CONN_POST_H
#define CONN_POST_H

#include <stdbool.h>

struct conn;

/* A POST for an SSE route's session: taken (answered or reading), true. */
bool	conn_post_input(struct conn *);
/* More of the body is in c->in: decode it, deliver once whole. */
void	conn_post_pump(struct conn *);
void	conn_post_free(struct conn *);

#endif
