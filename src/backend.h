/*
 * Backends: what a connection talks to (a process over pipes or a pty,
 * a TCP or unix socket, the built-in echo). Each is a table of
 * operations (struct backend_ops) in a file of its own; backend.c is
 * the one place that maps a route to its table. A backend calls its
 * owner only through struct backend_owner, never by name, and includes
 * this header and leaf modules (log, net, metrics, config...) only.
 *
 * Descriptors: a process, pty or socket backend exposes rfd/wfd once
 * it is ready (start returned 0, or ready() was called). From then on
 * they belong to the owner: its relay reads and writes them directly
 * (no copy), shuts them down and closes them. The backend keeps the
 * numbers only for resize, which the owner calls while it still holds
 * rfd, and keeps what is private to it (a process's stderr, a socket
 * still connecting). Echo exposes none: messages go in through input()
 * and come back through the owner's output().
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct backend;
struct backend_connect;
struct config;
struct proc;
struct proc_request;
struct route;

/* What the owner learns from its backend (arg: the owner's pointer). */
struct backend_owner {
	/* Connected (start returned 1): the descriptors are set. */
	void	(*ready)(void *arg);
	/* Could not connect (start returned 1); nothing is left open. */
	void	(*failed)(void *arg, const char *why);
	/* A process backend's child was reaped (wait status). */
	void	(*exited)(void *arg, int status);
	/* A message backend's output: a piece of a message of this type. */
	int	(*output)(void *arg, int type, const void *, size_t,
		    bool fin);
	/* How much output the owner takes now (backpressure). */
	size_t	(*room)(void *arg);
};

/* What start needs to know; pointers are read during start only. */
struct backend_params {
	const struct config		*cfg;
	const struct route		*route;	  /* NULL: a CGI program */
	const struct proc_request	*request; /* processes' environment */
	const char			*label;	  /* metrics: the route */
	const char			*log_route; /* "route %s pid %d" */
	uint64_t			 id;	  /* the owner's, for logs */
	/* Kept by a socket backend for its log lines while connecting. */
	const char			*peer, *path;
	unsigned short			 cols, rows;	/* a pty's size */
};

/* Properties the owner's relay acts on. */
#define BACKEND_F_PROCESS	0x01	/* a child: exit status, stderr */
#define BACKEND_F_SOCKET	0x02	/* a stream socket: send_proxy, loss */
#define BACKEND_F_LATE		0x04	/* started by the client's init */
#define BACKEND_F_MESSAGES	0x08	/* no descriptors: input/output */

struct backend_ops {
	unsigned	 flags;
	/*
	 * 0: ready now (descriptors set); 1: under way, ready() or failed()
	 * follows from the loop; -1: failed now, with a reason in err.
	 */
	int	(*start)(struct backend *, const struct backend_params *,
		    char *err, size_t errsz);
	/* A message backend: a piece of a client message; -1 closes. */
	int	(*input)(struct backend *, int type, const void *, size_t,
		    bool fin);
	/* ... and how much of it input() takes now. */
	size_t	(*room)(struct backend *);
	/* The client sends no more (relayed descriptors: the owner's job). */
	void	(*shut_input)(struct backend *);
	/* A terminal's new size; -1 with errno. */
	int	(*resize)(struct backend *, unsigned short cols,
		    unsigned short rows);
	/* Output ended while the child runs: TERM, then KILL, after grace. */
	void	(*terminate)(struct backend *);
	/*
	 * The owner leaves (its descriptors are closed): a process gets the
	 * TERM/KILL sequence and outlives it until reaped; a connect under
	 * way is abandoned. No callback comes after stop.
	 */
	void	(*stop)(struct backend *);
	/* "127.0.0.1:5900", "unix:/path", "pid 42", "echo": for logs. */
	void	(*name)(const struct backend *, char *, size_t);
};

/* One backend instance, inside its owner. */
struct backend {
	const struct backend_ops	*ops;	/* NULL: none (plain HTTP) */
	const struct backend_owner	*owner;
	void				*arg;	/* the owner's */
	bool				 started; /* start was called */
	int				 rfd, wfd; /* exposed; -1 none */
	/*
	 * Socket backends: the target, the route's unless the owner points
	 * it elsewhere before start (a token's; the owner keeps that memory
	 * as long as the backend).
	 */
	const struct sockaddr		*addr;
	socklen_t			 addrlen;
	/*
	 * Private state, by kind. A socket's connect state (its own watcher
	 * and timer) lives only while it connects: an open connection does
	 * not carry it.
	 */
	union {
		struct proc		*proc;	/* a child, once spawned */
		struct backend_connect	*sock;	/* a connect under way */
	} u;
};

extern const struct backend_ops	backend_proc_ops;	/* pipes */
extern const struct backend_ops	backend_pty_ops;	/* a terminal */
extern const struct backend_ops	backend_cgi_ops;	/* CGI/1.1 */
extern const struct backend_ops	backend_tcp_ops;	/* TCP, unix */
extern const struct backend_ops	backend_echo_ops;

/* backend.c: the only place a route's kind (and mode) picks a table. */
const struct backend_ops *backend_ops_for(const struct route *);
/* A terminal route: a process on a pty (it has the terminal page). */
bool	backend_route_terminal(const struct route *);
/* A route whose clients start processes. */
bool	backend_route_spawns(const struct route *);
void	backend_init(struct backend *, const struct backend_ops *,
	    const struct backend_owner *, void *arg);
unsigned backend_flags(const struct backend *);
/* A process was spawned (pty routes spawn at the client's init). */
bool	backend_has_process(const struct backend *);
int	backend_start(struct backend *, const struct backend_params *,
	    char *err, size_t errsz);
int	backend_input(struct backend *, int type, const void *, size_t,
	    bool fin);
size_t	backend_room(struct backend *);
void	backend_shut_input(struct backend *);
int	backend_resize(struct backend *, unsigned short cols,
	    unsigned short rows);
void	backend_terminate(struct backend *);
void	backend_stop(struct backend *);
void	backend_name(const struct backend *, char *, size_t);

/* backend_proc.c: processes, which outlive their owners until reaped. */
/*
 * The owner's access line, written when the process is reaped with its
 * exit status between head and tail (the owner left first).
 */
void	backend_log_at_exit(struct backend *, const char *head,
	    const char *tail, bool json);
/* SIGKILL every process group still alive (shutdown deadline). */
void	backend_proc_kill_all(void);
/* Processes not yet reaped or still signalled. */
int	backend_proc_count(void);

#endif
