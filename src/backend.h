/*
 * What the backends offer conn.c. A backend fills c->backend.rfd/wfd;
 * conn.c relays bytes on them. Process backends also own the child:
 * stderr, reaping and the SIGTERM/SIGKILL sequence, which outlive the
 * connection when the client leaves first.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct conn;
struct proc;

/*
 * Spawn the route's program for c with pipes (or a pty of cols x rows
 * when the route's mode is pty). 0, or -1 with a reason in err.
 */
int	backend_proc_spawn(struct conn *, unsigned short cols,
	    unsigned short rows, char *err, size_t errsz);
/*
 * Run c->program as a CGI program (environment from c->req, stdin
 * empty); its stdout becomes c->backend.rfd. 0, or -1 with err.
 */
int	backend_proc_spawn_cgi(struct conn *, char *err, size_t errsz);
/* The connection is gone: close stdin, then TERM and KILL the group. */
void	backend_proc_detach(struct proc *);
/*
 * The connection's access line, to be written when the process is
 * reaped, with its exit status between head and tail.
 */
void	backend_proc_log_at_exit(struct proc *, const char *head,
	    const char *tail, bool json);
/* Start the TERM/KILL sequence now (stdout EOF while still running). */
void	backend_proc_terminate(struct proc *);
pid_t	backend_proc_pid(const struct proc *);
/* SIGKILL every process group still alive (shutdown deadline). */
void	backend_proc_kill_all(void);
int	backend_proc_count(void);

/*
 * Start a non-blocking connect to the route's target. 0: connected or
 * in progress (conn_backend_connected/failed will be called), -1: failed
 * at once with a reason in err.
 */
int	backend_tcp_connect(struct conn *, char *err, size_t errsz);
/* The deadline fired while connecting: try again, or fail with 502. */
void	backend_tcp_deadline(struct conn *);

#endif
