/*
 * CORS and caching for the routes a browser reaches without WebSocket
 * (transports sse, poll): a page's fetch/EventSource is a CORS request,
 * a WebSocket is not. The route's origins / same_origin decide.
 */
#ifndef CONN_CORS_H
#define CONN_CORS_H

#include <stdbool.h>

struct conn;
struct route;
struct strlist;

/* How long a browser may keep a preflight's answer (seconds). */
#define CONN_CORS_MAX_AGE	600

/*
 * Vary and Access-Control-* lines for a response on route r (none for a
 * route without fallback transports); *nomem set when out of memory.
 */
void	conn_cors_headers(const struct conn *, const struct route *,
	    struct strlist *, bool *nomem);
/* 204 with the CORS lines (and a preflight's), then close. */
void	conn_cors_no_content(struct conn *, const struct route *,
	    bool preflight);
/* An OPTIONS preflight on such a route: answered (204 or 403), true. */
bool	conn_cors_preflight(struct conn *, const struct route *);
/*
 * An event stream asked for without Origin by a page of this very
 * origin (Sec-Fetch-Site: same-origin; Fetch sends Origin only across
 * origins): does the route's rule admit this server's own origin?
 */
bool	conn_cors_same_origin(const struct conn *, const struct route *);

#endif
