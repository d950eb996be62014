/*
 * The WebSocket transport: made at the upgrade, with the
 * permessage-deflate state agreed there (or NULL), which it then owns.
 */
#ifndef TRANSPORT_WS_H
#define TRANSPORT_WS_H

#include "transport.h"

struct conn;
struct pmd;

/* Pieces of one payload that deliver() takes (a prefix and the data). */
#define WS_MAX_IOV	4

/* NULL when out of memory (pmd is then still the caller's). */
struct transport *transport_ws_new(struct conn *, struct pmd *);

#endif
