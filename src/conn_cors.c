/*
 * CORS and caching for routes with fallback transports (issue 16). An
 * EventSource or a fetch from another site's page is a CORS request: it
 * reads the answer only with Access-Control-Allow-Origin, which goes to
 * the origins the route allows and to no one when it has no rule (no
 * rule means "not checked", as for a WebSocket, not "granted"). One URL
 * answers a page or 426 and an event stream by Accept: Vary says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access.h"
#include "config.h"
#include "handshake.h"
#include "http_response.h"
#include "conn_cors.h"
#include "conn_int.h"

static bool
conn_cors_route(const struct route *r)
{
	return r != NULL && (r->transports & ~ROUTE_TRANSPORT_WS) != 0;
}

static bool
conn_cors_has_rule(const struct route *r)
{
	return r->origins.n > 0 || r->same_origin;
}

/* The Origin to echo: allowed, and plain enough to be a header value. */
static const char *
conn_cors_origin(const struct conn *c, const struct route *r)
{
	const char	*o = hs_header(c->req, "Origin");
	const char	*p;

	if (o == NULL || !conn_cors_has_rule(r) ||
	    !access_origin_allowed(r, c->req))
		return NULL;
	for (p = o; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return NULL;
	return o;
}

void
conn_cors_headers(const struct conn *c, const struct route *r,
    struct strlist *hv, bool *nomem)
{
	char		 line[600];
	const char	*o;

	if (!conn_cors_route(r) || c->req == NULL)
		return;
	if (strlist_try_add(hv, conn_cors_has_rule(r) ?
	    "Vary: Accept, Origin" : "Vary: Accept") == -1)
		*nomem = true;
	if ((o = conn_cors_origin(c, r)) == NULL)
		return;
	/* Listed origins get what a WebSocket from them gets: cookies. */
	if (snprintf(line, sizeof(line), "Access-Control-Allow-Origin: %s",
	    o) >= (int)sizeof(line))
		return;
	if (strlist_try_add(hv, line) == -1 || strlist_try_add(hv,
	    "Access-Control-Allow-Credentials: true") == -1)
		*nomem = true;
}

/* 204 without a body (RFC 9110 15.3.5: no Content-Length either). */
static char *
conn_cors_204(const struct conn *c, const struct route *r, bool preflight,
    size_t *len)
{
	struct http_response	 h;
	struct strlist		 hv = { NULL, 0 };
	bool			 nomem = false;
	char			*resp;

	if (http_response_begin(&h, 204, NULL, time(NULL)) == -1)
		return NULL;
	if (preflight) {
		http_response_header(&h, "Access-Control-Allow-Methods",
		    "GET, POST, DELETE, OPTIONS");
		http_response_header(&h, "Access-Control-Allow-Headers",
		    "Content-Type, Last-Event-ID");
		http_response_header(&h, "Access-Control-Max-Age", "%d",
		    CONN_CORS_MAX_AGE);
	}
	http_response_header(&h, "Connection", "close");
	conn_cors_headers(c, r, &hv, &nomem);
	http_response_lines(&h, hv.v, hv.n);
	h.bad = h.bad || nomem;
	resp = http_response_end(&h, "", 0, len);
	strlist_free(&hv);
	return resp;
}

void
conn_cors_no_content(struct conn *c, const struct route *r, bool preflight)
{
	char	*resp;
	size_t	 len;

	if ((resp = conn_cors_204(c, r, preflight, &len)) == NULL) {
		conn_http_respond(c, 503, "out of memory");
		return;
	}
	c->status = 204;
	c->refusal = preflight ? "preflight" : c->req->method == HTTP_DELETE ?
	    "session ended" : "input queued";
	c->linger = true;
	conn_set_state(c, CONN_CLOSING);
	conn_deadline(c, c->cref->cfg->close_timeout_ms);
	conn_send_raw(c, resp, len);
	free(resp);
}

bool
conn_cors_preflight(struct conn *c, const struct route *r)
{
	if (!conn_cors_route(r) || c->req->method != HTTP_OPTIONS)
		return false;
	if (!access_origin_allowed(r, c->req))
		conn_http_respond(c, 403, "origin not allowed");
	else
		conn_cors_no_content(c, r, true);
	return true;
}

bool
conn_cors_same_origin(const struct conn *c, const struct route *r)
{
	const char	*site = hs_header(c->req, "Sec-Fetch-Site");
	const char	*host = hs_header(c->req, "Host");
	char		 own[2][300];
	size_t		 i;

	if (!c->sse || hs_header(c->req, "Origin") != NULL || site == NULL ||
	    strcasecmp(site, "same-origin") != 0 || host == NULL ||
	    *host == '\0')
		return false;
	if (r->same_origin)
		return true;
	/* The scheme the browser used may differ behind a TLS proxy. */
	snprintf(own[0], sizeof(own[0]), "http://%s", host);
	snprintf(own[1], sizeof(own[1]), "https://%s", host);
	for (i = 0; i < r->origins.n; i++)
		if (access_origin_match(r->origins.v[i], own[0]) ||
		    access_origin_match(r->origins.v[i], own[1]))
			return true;
	return false;
}
