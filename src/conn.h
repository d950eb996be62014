/*
 * One client connection: its state machine, its two endpoints (client
 * and backend) with bounded output buffers, its timers, and the relay
 * between WebSocket frames and the backend's byte stream.
 */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ev.h>

#include "buf.h"
#include "config.h"
#include "handshake.h"
#include "relay.h"
#include "transport.h"
#include "ws.h"

#define CONN_READ_CHUNK		(64 * 1024)	/* process output per message */
#define CONN_SOCKET_CHUNK_MIN	RELAY_CHUNK_MIN
#define CONN_SOCKET_CHUNK_MAX	RELAY_CHUNK_MAX
#define CONN_MAX_WRITE_PER_EVENT (1024 * 1024)	/* fairness between conns */
/*
 * A client whose input is paused gets a ping this often: one that closed
 * its socket can't send a FIN we would see (it waits behind data our
 * full window refuses), but answers data with a reset.
 */
#define CONN_PAUSE_PROBE_S	2.
/* What a 429 or 503 (a limit, no memory) asks the client to wait. */
#define CONN_RETRY_AFTER_S	5

enum conn_state {
	CONN_ACCEPTED,
	CONN_TLS,
	CONN_HTTP,
	CONN_AUTH,	/* waiting for the password check (auth_pool) */
	CONN_LOOKUP,	/* waiting for the client's host name (rdns) */
	CONN_BACKEND,	/* waiting for the backend (TCP connect) */
	CONN_OPEN,
	CONN_CLOSING,
	CONN_CLOSED,
};

struct conn;
struct cgi;
struct conn_post;
struct pmd;
struct pollq;
struct tls_conn;
struct listener;
struct auth_pool_job;
struct jobpool_job;


struct sse_stream;

/*
 * A client's or local address: IPv4 or IPv6 (a unix socket's keeps only
 * its family, all that is used of it); not a sockaddr_storage, which
 * would cost every connection 200 bytes more.
 */
union conn_addr {
	struct sockaddr		 sa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
};

struct conn_stats {
	uint64_t	 bytes_in, bytes_out;	/* payload, client's view */
	uint64_t	 msgs_in, msgs_out;
};

struct conn {
	uint64_t		 id;
	enum conn_state		 state;
	struct endpoint		 client;
	struct buf		 in;		/* client bytes not yet decoded */
	struct config_ref	*cref;
	struct route		*route;
	const struct route	*matched;	/* by path, for metrics */
	struct listener		*listener;
	struct tls_conn		*tls;
	bool			 tls_started;
	struct hs_request	*req;		/* only until the 101 */
	char			*path;		/* decoded request path */
	char			*query;
	char			*script_name;	/* dir routes: /scripts/NAME */
	char			*path_info;	/* path after the script */
	char			*program;	/* dir routes: resolved program */
	union conn_addr		 peer_addr;	/* the client (PROXY, XFF) */
	union conn_addr		 local_addr;
	bool			 peer_trusted;	/* in trusted_proxies */
	bool			 ip_counted;	/* in the per-address count */
	char			*remote_user;	/* authenticated user */
	struct auth_pool_job	*auth;		/* password being hashed */
	struct jobpool_job	*rdns;		/* host name being looked up */
	char			*remote_host;	/* its result, or the address */
	void			(*rdns_then)(struct conn *);	/* after it */
	char			 peer[INET6_ADDRSTRLEN + 8];
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 peer_port;
	char			 local_ip[INET6_ADDRSTRLEN];
	int			 local_port;
	int			 status;	/* HTTP status answered */
	const char		*refusal;	/* why an error status (static) */

	/* Messages: the transport, and the session they go to. */
	struct transport	*transport;	/* after the upgrade: WebSocket */
	bool			 sse;		/* asked for text/event-stream */
	struct sse_stream	*resume;	/* the stream its Last-Event-ID names */
	uint64_t		 resume_after;	/* ... and the seq there */
	bool			 poll_open;	/* POST ?transport=poll */
	bool			 poll_get;	/* GET ?session= on a poll route */
	bool			 post_in;	/* POST ?session=: input */
	struct pollq		*pollq;		/* its poll waits on it */
	struct session		*session;	/* from routing on (a reference) */
	struct session_member	*member;	/* this client in it, until close */
	bool			 input_blocked;	/* destination full */
	bool			 hup_watched;	/* paused: FIN/RST seen */
	bool			 client_hup;	/* FIN while paused */

	/* Closing. */
	bool			 close_sent, close_received;
	bool			 linger;	/* flush, shut down, await EOF */
	bool			 failed;	/* conn_fail: we ended it */
	unsigned		 close_code;	/* code we sent, for the log */

	/* Timers. */
	ev_timer		 deadline;	/* handshake, close, connect */
	ev_timer		 idle_timer;
	ev_timer		 send_timer;	/* output waits */
	ev_tstamp		 sent_at;	/* its last progress */
	ev_tstamp		 last_activity;
	ev_tstamp		 started;

	/* Plain HTTP (static files, devconsole). */
	int			 file_fd;	/* body being sent, or -1 */
	uint64_t		 file_left;
	bool			 keep_alive;	/* next request after this one */
	bool			 responded;	/* a plain response is under way */
	bool			 idle_keepalive; /* no byte of a next request */

	struct cgi		*cgi;		/* a CGI request under way */
	struct conn_post	*post;		/* POST input for an SSE session */
	struct conn_stats	 stats;
	TAILQ_ENTRY(conn)	 entry;
};

TAILQ_HEAD(conn_list, conn);

/* Runtime state of this process: one per worker. */
struct server {
	struct ev_loop		*loop;
	struct config_ref	*cref;		/* config for new connections */
	struct tls_ctx		*tls;		/* for new TLS connections */
	struct conn_list	 conns;
	struct conn_list	 dead;		/* freed at the next safe point */
	int			 nconns;
	int			 nprocs;	/* process backends not yet reaped */
	bool			 stopping;
	uint64_t		 next_id;
	ev_prepare		 reaper;
	ev_timer		 probe;		/* pings paused clients */
	int			 nhup;		/* hup_watched conns */
};

extern struct server	server;

void		 server_init(struct ev_loop *, struct config *);

/* Take ownership of an accepted socket. */
void		 conn_accept(int fd, const struct sockaddr *, socklen_t,
		    struct listener *);
/* The only way out: stop everything, log once, free at a safe point. */
void		 conn_close(struct conn *, const char *reason);
void		 conn_set_state(struct conn *, enum conn_state);
const char	*conn_state_name(enum conn_state);
/* The route's name for logs and metrics ("-" before routing). */
const char	*conn_route_name(const struct conn *);
/*
 * Start closing with code and reason (shutdown: 1001): the transport says
 * goodbye, the backend's output has nowhere to go any more.
 */
void		 conn_transport_close(struct conn *, unsigned code,
		    const char *reason);
/* Graceful stop of every connection (SIGTERM). */
void		 conn_shutdown_all(void);

#endif
