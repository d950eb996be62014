/*
 * Hang-ups of sockets nobody is reading: a peer's FIN or RST is seen
 * while reading it is paused (backpressure), without a read watcher
 * that would fire for every byte waiting.
 */
#ifndef HANGUP_H
#define HANGUP_H

#include <ev.h>

#define HANGUP_EOF	1	/* the peer shut down its side (FIN) */
#define HANGUP_ERROR	2	/* reset or error: the socket is dead */

/* Once per process (after fork); cb(arg, HANGUP_*) reports a hang-up. */
int	hangup_init(struct ev_loop *, void (*cb)(void *, int));
/* Report fd's hang-up once, to cb with arg; 0, or -1 with errno. */
int	hangup_watch(int fd, void *arg);
void	hangup_unwatch(int fd);

#endif
