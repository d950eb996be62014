/*
 * Listening sockets: bind from the config, accept into connections,
 * pause on descriptor exhaustion, follow the config across reloads.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <stdbool.h>
#include <stdio.h>

#include <ev.h>

#include "config.h"

struct listener {
	int			 fd;
	ev_io			 io;
	ev_timer		 pause;		/* EMFILE back-off */
	struct listen_spec	 spec;		/* spec.spec owned */
	int			 refs;		/* open connections */
	bool			 closed;	/* removed; freed with last conn */
	bool			 seen;		/* reload bookkeeping */
	bool			 metrics_only;	/* metrics_listen: nothing else */
	bool			 owns_path;	/* a unix socket we bound */
	bool			 announced;	/* its start-up line is out */
	struct listener		*from;		/* reload: socket to take */
	struct listener		*next;
};

/*
 * Make the listener set match cfg: keep the sockets whose address is
 * unchanged (under their new declaration: TLS, PROXY, metrics only),
 * bind new ones, close removed ones. Errors are printed to
 * stderr/logged; returns -1 if any new listener failed (nothing changed
 * then).
 */
int	listeners_sync(const struct config *);
/*
 * Workers: the supervisor binds the unix-socket listeners once, before
 * forking, and removes them at exit; workers accept on copies.
 */
int	listeners_share_unix(const struct config *);
void	listeners_unshare_unix(void);
/* False when cfg adds or drops a unix listener the workers share. */
bool	listeners_unix_unchanged(const struct config *);
/*
 * --check: try binding every listener now, as a start would, then close
 * it. A port in use is a warning on errfp (the running wsbridge holds
 * it); anything else an error. Returns the number of errors.
 */
int	listeners_check(const struct config *, FILE *errfp);
/* Stop accepting (shutdown) and close every listening socket. */
void	listeners_close_all(void);
void	listener_conn_closed(struct listener *);
bool	listener_is_tls(const struct listener *);

#endif
