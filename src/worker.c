/*
 * Worker supervision with plain signals and waitpid: the supervisor has
 * no event loop and no listeners, so the kernel spreads connections over
 * the workers' SO_REUSEPORT sockets only.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "worker.h"

#define WORKER_MAX		256
#define WORKER_RESTART_WAIT	1	/* seconds between crash restarts */

/*
 * One flag per signal: a SIGTERM and a SIGCHLD delivered together (a
 * worker died just before the stop) must both be seen.
 */
static volatile sig_atomic_t	 worker_pending[NSIG];
static pid_t			 workers[WORKER_MAX];
/* The signals the supervisor handles, in the order it handles them. */
static const int		 worker_sigs[] = { SIGTERM, SIGINT, SIGHUP,
				    SIGUSR1, SIGCHLD };

static void
worker_sig_cb(int sig)
{
	worker_pending[sig] = 1;
}

/* Take one pending signal, or 0 when none is. */
static int
worker_next_signal(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(worker_sigs) / sizeof(worker_sigs[0]); i++)
		if (worker_pending[worker_sigs[i]]) {
			worker_pending[worker_sigs[i]] = 0;
			return worker_sigs[i];
		}
	return 0;
}

static pid_t
worker_start(int (*run)(int), int ready_fd)
{
	pid_t	 pid, supervisor = getpid();

	if ((pid = fork()) == -1) {
		log_warn("fork worker");
		return -1;
	}
	if (pid == 0) {
		sigset_t	 none;

		/*
		 * Default handlers first, then unblock: a SIGTERM already
		 * forwarded must stop this worker, not hit the
		 * supervisor's handler.
		 */
		signal(SIGHUP, SIG_IGN);	/* until the loop watches it */
		signal(SIGUSR1, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/*
		 * A supervisor killed outright takes its workers with it:
		 * no orphans keep serving the port behind a new instance.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != supervisor)
			_exit(1);
		_exit(run(ready_fd));
	}
	return pid;
}

static void
worker_forward(int n, int sig)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (workers[i] > 0)
			kill(workers[i], sig);
}

static int
worker_index(int n, pid_t pid)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (workers[i] == pid)
			return i;
	return -1;
}

/* Collect exits: restart crashed workers unless stopping. */
static int
worker_reap(int n, bool stopping, int (*run)(int), int ready_fd)
{
	pid_t	 pid;
	int	 st, i, alive = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((i = worker_index(n, pid)) == -1)
			continue;
		workers[i] = 0;
		if (stopping)
			continue;
		if (WIFSIGNALED(st))
			log_error("worker %d (pid %d) killed by signal %d; "
			    "restarting", i, (int)pid, WTERMSIG(st));
		else
			log_error("worker %d (pid %d) exited with %d; "
			    "restarting", i, (int)pid, WEXITSTATUS(st));
		sleep(WORKER_RESTART_WAIT);
		workers[i] = worker_start(run, ready_fd);
	}
	for (i = 0; i < n; i++)
		alive += workers[i] > 0;
	return alive;
}

/* Wait until every worker wrote its ready byte, or one died. */
static int
worker_wait_ready(int n, int rfd)
{
	struct pollfd	 pfd = { .fd = rfd, .events = POLLIN };
	char		 ch;
	int		 ready = 0, st;

	while (ready < n) {
		if (poll(&pfd, 1, 500) > 0 && read(rfd, &ch, 1) == 1) {
			ready++;
			continue;
		}
		if (waitpid(-1, &st, WNOHANG) > 0)
			return -1;
	}
	return 0;
}

int
worker_supervise(int n, int (*run)(int), void (*on_ready)(void),
    void (*on_reload)(void))
{
	struct sigaction	 sa;
	sigset_t		 mask, old;
	int			 pfd[2], sig;
	size_t			 i;
	bool			 stopping = false;

	if (n > WORKER_MAX)
		n = WORKER_MAX;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_sig_cb;
	for (i = 0; i < sizeof(worker_sigs) / sizeof(worker_sigs[0]); i++)
		sigaction(worker_sigs[i], &sa, NULL);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		fatal("pipe");
	for (i = 0; i < (size_t)n; i++)
		workers[i] = worker_start(run, pfd[1]);
	if (worker_wait_ready(n, pfd[0]) == -1) {
		log_error("workers failed to start");
		worker_forward(n, SIGKILL);
		while (wait(NULL) > 0)
			;
		return 1;
	}
	log_info("%d workers ready", n);
	if (on_ready != NULL)
		on_ready();
	sigemptyset(&mask);
	for (i = 0; i < sizeof(worker_sigs) / sizeof(worker_sigs[0]); i++)
		sigaddset(&mask, worker_sigs[i]);
	sigprocmask(SIG_BLOCK, &mask, &old);
	for (;;) {
		if (worker_reap(n, stopping, run, pfd[1]) == 0 && stopping)
			break;
		while ((sig = worker_next_signal()) == 0)
			sigsuspend(&old);
		if (sig == SIGCHLD)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			stopping = true;
			notify_stopping();
		}
		if (sig == SIGHUP) {
			notify_reloading();
			if (on_reload != NULL)
				on_reload();
		}
		worker_forward(n, sig);
		if (sig == SIGHUP)
			notify_ready();
	}
	log_info("all workers stopped");
	return 0;
}
