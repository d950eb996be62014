/*
 * Counters for metrics_path, rendered in the Prometheus text exposition
 * format 0.0.4. Pure: no libev, no sockets; conn.c counts, the HTTP side
 * serves metrics_render(). Each process (worker) counts its own traffic.
 *
 * Label sets are bounded so that hostile traffic cannot grow memory:
 * routes come from the configuration (at most METRICS_MAX_ROUTES), and
 * statuses, close codes and exit statuses keep METRICS_MAX_LABELS
 * distinct values each; anything past that is counted under "other".
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_ROUTES	256
#define METRICS_MAX_LABELS	32
#define METRICS_LABEL_LEN	16
#define METRICS_OTHER		"other"

/* Per route: the configured route path, "/" for the root. */
struct metrics_route {
	char		*path;
	uint64_t	 open;			/* gauge */
	uint64_t	 total;
	uint64_t	 bytes_in, bytes_out;	/* payload, client's view */
	uint64_t	 msgs_in, msgs_out;
	uint64_t	 spawn_failures;
};

/* A small counter table keyed by a short label ("404", "exit 1"). */
struct metrics_counts {
	struct {
		char		 label[METRICS_LABEL_LEN];
		uint64_t	 n;
	}		 v[METRICS_MAX_LABELS];
	size_t		 n;
};

struct metrics {
	uint64_t		 connections_open;
	uint64_t		 connections_total;
	struct metrics_route	*routes;
	size_t			 nroutes, routes_cap;
	struct metrics_counts	 handshake_failures;	/* by HTTP status */
	struct metrics_counts	 close_codes;		/* close codes sent */
	struct metrics_counts	 exits;	/* "exit N" or "signal N" */
};

extern struct metrics	 metrics;

/* A WebSocket connection to route opened (after the 101). */
void	 metrics_conn_open(const char *route);
/*
 * It closed: traffic of the whole connection, the close code we sent
 * (0: none), and the backend process's wait(2) status, or -1 when there
 * was no process or it was not reaped.
 */
void	 metrics_conn_close(const char *route, uint64_t bytes_in,
	    uint64_t bytes_out, uint64_t msgs_in, uint64_t msgs_out,
	    unsigned close_code);
void	 metrics_process_exit(int wait_status);
/* A request answered with an HTTP error status instead of a 101. */
void	 metrics_handshake_failed(int status);
/* A process route's spawn failed (the client got a 502). */
void	 metrics_spawn_failed(const char *route);
/* The exposition text, NUL-terminated and malloc'd; NULL when out of memory. */
char	*metrics_render(size_t *len);
/* Forget everything and free the tables (tests, exit). */
void	 metrics_reset(void);

#endif
