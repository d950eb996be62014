/*
 * The sd_notify protocol without libsystemd: one datagram per state change
 * to the unix socket named by $NOTIFY_SOCKET (a path, or '@' for an
 * abstract name). Every call is a no-op when the variable is unset, so the
 * daemon calls them unconditionally. Only the main process should call
 * them: the unit's NotifyAccess=main drops messages from workers.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* Longest datagram notify sends; longer STATUS= texts are cut. */
#define NOTIFY_MAX_MSG	1024

/* Start-up done, listeners bound: "READY=1" (also after a reload). */
void	 notify_ready(void);
/* SIGHUP taken: "RELOADING=1" and MONOTONIC_USEC; send ready when done. */
void	 notify_reloading(void);
/* Shutdown started: "STOPPING=1". */
void	 notify_stopping(void);
/* Free-form one-line state for systemctl status: "STATUS=...". */
void	 notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * Send msg as it is; returns 0 when sent or when $NOTIFY_SOCKET is unset,
 * -1 on an error (bad address, socket or sendto failure; errno set).
 */
int	 notify_send(const char *msg);

#endif
