/*
 * Counters for metrics_path, rendered in the Prometheus text exposition
 * format 0.0.4. Pure: no libev, no sockets; conn.c counts, the HTTP side
 * serves metrics_render(). Each process (worker) counts its own traffic,
 * and reports its own process_* metrics (read from /proc/self).
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
/* Connection durations, seconds: the histogram's upper bounds. */
#define METRICS_DURATION_BUCKETS \
	{ 0.1, 1, 10, 60, 300, 900, 3600, 14400, 86400 }
#define METRICS_NBUCKETS	9

/* A small counter table keyed by a short label ("404", "code=3"). */
struct metrics_counts {
	struct {
		char		 label[METRICS_LABEL_LEN];
		uint64_t	 n;
	}		 v[METRICS_MAX_LABELS];
	size_t		 n;
};

/* Per route: the route as configured (its label, "/echo"). */
struct metrics_route {
	char			*path;
	uint64_t		 open;			/* gauge */
	uint64_t		 total;
	uint64_t		 bytes_in, bytes_out;	/* payload, client's view */
	uint64_t		 msgs_in, msgs_out;
	uint64_t		 spawn_failures;
	uint64_t		 backend_failures;	/* answered 502 */
	uint64_t		 sessions;		/* gauge: shared, running */
	uint64_t		 session_clients;	/* gauge: their clients */
	uint64_t		 session_viewers;	/* gauge: of which viewers */
	uint64_t		 too_slow;		/* closed 1008 "too slow" */
	uint64_t		 skipped_bytes;		/* slow_client = skip */
	struct metrics_counts	 refused;	/* by HTTP status */
	struct metrics_counts	 exits;		/* "code=N", "signal=N" */
	uint64_t		 duration[METRICS_NBUCKETS];	/* not cumulative */
	uint64_t		 duration_count;
	double			 duration_sum;
};

struct metrics {
	uint64_t		 connections_open;
	uint64_t		 connections_total;
	struct metrics_route	*routes;
	size_t			 nroutes, routes_cap;
	struct metrics_counts	 unrouted;	/* refused, no route matched */
	struct metrics_counts	 close_codes;	/* close codes sent */
};

extern struct metrics	 metrics;

/* A configured route: its series exist from now on, at zero. */
void	 metrics_route_declare(const char *route);
/* A WebSocket connection to route opened (after the 101). */
void	 metrics_conn_open(const char *route);
/*
 * It closed: traffic of the whole connection, the close code we sent
 * (0: none) and how long it was open, in seconds.
 */
void	 metrics_conn_close(const char *route, uint64_t bytes_in,
	    uint64_t bytes_out, uint64_t msgs_in, uint64_t msgs_out,
	    unsigned close_code, double seconds);
/* A route's process was reaped with this wait(2) status. */
void	 metrics_process_exit(const char *route, int wait_status);
/*
 * A request answered with an HTTP error status instead of a 101; route
 * NULL when none matched. A 502 also counts as a backend failure.
 */
void	 metrics_handshake_failed(const char *route, int status);
/* A process route's spawn failed (the client got a 502). */
void	 metrics_spawn_failed(const char *route);
/* Shared sessions: one started (+1) or stopped (-1). */
void	 metrics_session_open(const char *route, int delta);
/* A client (a viewer: viewers too) joined (+1) or left (-1) one. */
void	 metrics_session_clients(const char *route, int delta,
	    int viewers);
/* A client too slow for its session: closed, or bytes it skipped. */
void	 metrics_session_too_slow(const char *route);
void	 metrics_session_skipped(const char *route, uint64_t bytes);
/* The exposition text, NUL-terminated and malloc'd; NULL when out of memory. */
char	*metrics_render(size_t *len);
/* Forget everything and free the tables (tests, exit). */
void	 metrics_reset(void);

#endif
