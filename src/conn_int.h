/*
 * Internals shared by the conn_*.c files, which split one client
 * connection's work by job: conn.c (life cycle, socket I/O, TLS, PROXY),
 * conn_send.c (messages through the transport, finishing), conn_timer.c
 * (timers), conn_http.c (routing, access, the upgrade, plain responses),
 * conn_input.c (decoded messages to the session), conn_session.c (what
 * the session calls back), conn_log.c. Other modules use conn.h.
 */
#ifndef CONN_INT_H
#define CONN_INT_H

#include <sys/uio.h>

#include "backend.h"
#include "conn.h"
#include "proc_env.h"

struct session_peer;

/* conn.c: watchers, buffers, closing, frames to the client. */
size_t	conn_socket_chunk(const struct conn *);
/* Bytes for the client, without a copy when large; -1 closed it. */
int	conn_client_write_through(struct conn *, const struct iovec *, int);
void	conn_deadline(struct conn *, int64_t ms);
/* --reverselookup: 1 while REMOTE_HOST is looked up, then(c) follows. */
int	conn_lookup(struct conn *, void (*then)(struct conn *));
/* The lookup's deadline passed: go on with the address. */
void	conn_lookup_timeout(struct conn *);
int	conn_send_raw(struct conn *, const void *, size_t);
int	conn_send_wire(struct conn *, const void *, size_t);
/* A message (or a piece: fin false) to the client, by its transport. */
int	conn_deliver(struct conn *, enum msg_type, const void *, size_t,
	    bool fin);
int	conn_deliverv(struct conn *, enum msg_type, const struct iovec *,
	    int iovcnt, bool fin);
void	conn_fail(struct conn *, unsigned code, const char *why);
/* The client's Close arrived: its input ends. */
void	conn_close_received(struct conn *);
void	conn_maybe_finish(struct conn *);
void	conn_update_client_reading(struct conn *);
/* The client takes output again: the session (or CGI) reads on. */
void	conn_output_resume(struct conn *);
/* Bytes for the client not yet on the wire (buffer, TLS records). */
size_t	client_unsent(const struct conn *);
void	conn_set_peer(struct conn *, const struct sockaddr *, socklen_t);

/* conn_timer.c: the phase deadline, idle and send timeouts. */
void	conn_deadline_cb(struct ev_loop *, ev_timer *, int);
void	conn_idle_cb(struct ev_loop *, ev_timer *, int);
void	conn_send_timer_cb(struct ev_loop *, ev_timer *, int);
int64_t	conn_send_timeout_ms(const struct conn *);
void	conn_sent_progress(struct conn *);
void	conn_client_writing(struct conn *, bool on);
bool	conn_client_stalled(const struct conn *, int64_t ms);

/* conn_http.c */
void	conn_handle_request(struct conn *);
void	conn_http_respond(struct conn *, int status, const char *why);
/* An error answer with extra header lines, then close. */
void	conn_http_error(struct conn *, int status, char *const *more,
	    size_t nmore);
/* header and header_http (the route's, when r) for a plain response. */
void	conn_http_headers(const struct conn *, const struct route *,
	    struct strlist *, bool *nomem);
void	conn_list_add(struct strlist *, const char *, bool *nomem);
/* A built-in page (terminal page, devconsole), then keep-alive or close. */
void	conn_send_status_page(struct conn *, int status, const char *type,
	    const char *body, size_t len, bool head);
void	conn_send_page(struct conn *, const char *type, const char *body,
	    size_t len, bool head);

/* conn_plain.c: static files, metrics, pages; the next request. */
void	conn_plain_request(struct conn *, struct route *);
void	conn_free_request(struct conn *);
/* A complete answer with a body (route headers, CORS), then close. */
void	conn_http_answer(struct conn *, int status, const char *type,
	    const char *body, size_t len);
void	conn_backend_connected(struct conn *);
/* Server and per-address limits; the route's too unless resuming. */
int	conn_check_limits(struct conn *, struct route *);
/* The backend is there (or a stream resumes): 200 and the event stream. */
void	conn_open_sse(struct conn *);

/* conn_session.c: the client as its session calls it. */
void	conn_session_peer(struct conn *, struct session_peer *);

/* conn_sse.c: an event stream's reconnect. 1 handled, 0 a new stream. */
int	conn_sse_resume(struct conn *, struct route *);
void	conn_backend_failed(struct conn *, const char *why);
/* The request facts a process's environment is built from. */
void	conn_backend_params(struct conn *, struct backend_params *,
	    struct proc_request *, unsigned short cols, unsigned short rows);
void	conn_file_pump(struct conn *);
void	conn_next_request(struct conn *);

/* conn_input.c: what the transport decoded, to the session. */
/* Decode the client's bytes (the transport), as far as the sink takes. */
void	conn_process_input(struct conn *);
int	conn_deliver_input(struct conn *, enum msg_type, const uint8_t *,
	    size_t, bool msg_end);
/* How much client input the session takes now. */
size_t	conn_sink_room(struct conn *);
/* A message of this type is refused here: true, with code and why. */
bool	conn_input_refuses(const struct conn *, enum msg_type, unsigned *code,
	    const char **why);

/* conn_session.c: the route's session, with c attached; -1 no memory. */
int	conn_session_new(struct conn *);

/* conn_log.c */
void	conn_access_log(struct conn *, const char *reason);
void	conn_log_connected(const struct conn *);
void	conn_log_disconnected(const struct conn *, const char *reason);
/* "127.0.0.1:5900", "unix:/path", "pid 42", "echo": c's backend. */
void	conn_backend_name(const struct conn *, char *, size_t);

#endif
