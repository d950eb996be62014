/*
 * Internals shared by the conn_*.c files, which split one connection's
 * work by job: conn.c (life cycle, I/O), conn_send.c (frames to the client),
 * conn_timer.c (timers), conn_http.c (upgrade and
 * plain responses), conn_input.c (frames to the backend), conn_output.c
 * (backend output to frames), conn_pty.c (ttyd's protocol), conn_log.c.
 * Other modules use conn.h.
 */
#ifndef CONN_INT_H
#define CONN_INT_H

#include <sys/uio.h>

#include "conn.h"
#include "proc_env.h"

/* Socket reads land here; the loop is single-threaded. */
extern uint8_t	 conn_scratch[CONN_SOCKET_CHUNK_MAX];

/* conn.c: watchers, buffers, closing, frames to the client. */
size_t	conn_socket_chunk(const struct conn *);
/* Bytes for the client, without a copy when large; -1 closed it. */
int	conn_client_write_through(struct conn *, const struct iovec *, int);
void	conn_deadline(struct conn *, int64_t ms);
int	conn_send_raw(struct conn *, const void *, size_t);
/* A message (or a piece: fin false) to the client, by its transport. */
int	conn_deliver(struct conn *, enum msg_type, const void *, size_t,
	    bool fin);
int	conn_deliverv(struct conn *, enum msg_type, const struct iovec *,
	    int iovcnt, bool fin);
void	conn_fail(struct conn *, unsigned code, const char *why);
void	conn_maybe_finish(struct conn *);
void	conn_update_client_reading(struct conn *);
void	conn_update_backend_reading(struct conn *);
size_t	conn_sink_room(struct conn *);
int	conn_sink_backend(struct conn *, const uint8_t *, size_t, bool end);
void	conn_backend_write_cb(struct ev_loop *, ev_io *, int);
void	conn_backend_write_failed(struct conn *, int err);
void	conn_backend_stop_input(struct conn *);
/* Bytes for the client not yet on the wire (buffer, TLS records). */
size_t	client_unsent(const struct conn *);
bool	conn_backend_flush(struct conn *);
void	conn_set_peer(struct conn *, const struct sockaddr *, socklen_t);

/* conn_timer.c: the phase deadline, pings, idle and send timeouts. */
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
void	conn_free_request(struct conn *);
void	conn_backend_attach(struct conn *);
/* What c->be calls up (ready, failed, exited, output, room). */
extern const struct backend_owner conn_backend_owner;
void	conn_backend_connected(struct conn *);
void	conn_backend_failed(struct conn *, const char *why);
/* The request facts a process's environment is built from. */
void	conn_backend_params(struct conn *, struct backend_params *,
	    struct proc_request *, unsigned short cols, unsigned short rows);
void	conn_file_pump(struct conn *);
void	conn_next_request(struct conn *);

/* conn_input.c: what the transport decoded, to the backend. */
/* Decode the client's bytes (the transport), as far as the sink takes. */
void	conn_process_input(struct conn *);
int	conn_deliver_input(struct conn *, enum msg_type, const uint8_t *,
	    size_t, bool msg_end);
/* A message of this type is refused here: true, with code and why. */
bool	conn_input_refuses(const struct conn *, enum msg_type, unsigned *code,
	    const char **why);

/* conn_output.c */
void	conn_backend_read_cb(struct ev_loop *, ev_io *, int);
void	conn_proc_exited(struct conn *, int status);
/* A message backend's output, as frames (continuations kept). */
int	conn_backend_output(void *, int type, const void *, size_t, bool fin);
size_t	conn_backend_output_room(void *);

/* conn_pty.c */
int	conn_pty_input(struct conn *, const uint8_t *, size_t, bool msg_end);
int	conn_pty_output(struct conn *, uint8_t cmd, const void *, size_t);
void	conn_pty_closed(struct conn *);

/* conn_log.c */
void	conn_access_log(struct conn *, const char *reason);
void	conn_log_connected(const struct conn *);
void	conn_log_disconnected(const struct conn *, const char *reason);
/* "127.0.0.1:5900", "unix:/path", "pid 42", "echo": c's backend. */
void	conn_backend_name(const struct conn *, char *, size_t);

#endif
