/*
 * spawn_rate: how many short processes this machine can start and reap per
 * second, with no WebSocket involved. It is the ceiling of the benchmark's
 * process-route connect load (each session spawns one `cat` that exits at
 * EOF on its stdin), as raw TCP echo is the ceiling of the TCP route.
 *
 *   spawn_rate [--conns N] [--seconds T] [COMMAND]   (default: cat)
 */

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char	**environ;

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start COMMAND with its stdin a pipe we close at once: `cat` sees EOF. */
static int
spawn_one(char *cmd)
{
	posix_spawn_file_actions_t	 fa;
	char				*argv[] = { cmd, NULL };
	pid_t				 pid;
	int				 p[2], rv;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	rv = posix_spawnp(&pid, cmd, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	close(p[1]);
	if (rv != 0) {
		fprintf(stderr, "spawn_rate: %s: %s\n", cmd, strerror(rv));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char	*cmd = "cat";
	long	 conns = 1, seconds = 3, running = 0, done = 0, errors = 0;
	double	 t0, until;
	int	 i, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
			conns = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = strtol(argv[++i], NULL, 10);
		else if (argv[i][0] != '-')
			cmd = argv[i];
		else {
			fprintf(stderr, "usage: spawn_rate [--conns N] "
			    "[--seconds T] [COMMAND]\n");
			return 2;
		}
	}
	if (conns < 1 || seconds < 1 || seconds > 600) {
		fprintf(stderr, "spawn_rate: --conns >= 1, --seconds 1..600\n");
		return 2;
	}
	t0 = now_s();
	until = t0 + (double)seconds;
	while (now_s() < until) {
		while (running < conns && spawn_one(cmd) == 0)
			running++;
		if (running == 0) {
			errors++;
			break;
		}
		if (wait(&status) == -1 && errno != EINTR)
			break;
		running--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			done++;
		else
			errors++;
	}
	for (; running > 0; running--)
		wait(NULL);
	printf("spawn: %ld x %s in %.2fs with %ld at a time: %.0f/s, "
	    "errors %ld\n", done, cmd, now_s() - t0, conns,
	    (double)done / (now_s() - t0), errors);
	printf("RESULT mode=spawn conns=%ld sessions=%ld sessions_per_s=%.0f "
	    "errors=%ld\n", conns, done, (double)done / (now_s() - t0),
	    errors);
	return errors > 0 ? 1 : 0;
}
