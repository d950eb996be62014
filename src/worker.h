/*
 * workers = N: a supervisor process that forks N workers, each binding
 * its own SO_REUSEPORT listeners, restarts any that crash, and passes
 * SIGHUP/SIGTERM/SIGINT/SIGUSR1 on to all of them.
 */
#ifndef WORKER_H
#define WORKER_H

/*
 * Run n workers, each calling run(ready_fd) in a fresh child; a worker
 * writes one byte to ready_fd once it listens. Returns the supervisor's
 * exit status: 0 after a clean stop, 1 if the workers failed to start.
 * on_ready is called once every worker has reported ready; on_reload on
 * each SIGHUP, before the workers get it.
 */
int	worker_supervise(int n, int (*run)(int ready_fd),
	    void (*on_ready)(void), void (*on_reload)(void));

#endif
