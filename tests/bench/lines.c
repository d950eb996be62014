/*
 * lines: the fan-out benchmark's program (tests/bench/run.sh): prints
 * fixed-size lines to stdout as fast as the reader takes them, each one
 * "SEQUENCE-IN-HEX pattern...\n", so a client can tell a lost, repeated
 * or reordered line from a good one.
 *
 *   lines [--size N] [--seconds T] [--rate LINES_PER_S]
 *
 * Lines go out 1024 at a time (one write of 64 KiB at the default size):
 * the program must never be what limits a fan-out. It stops when stdout
 * closes (EPIPE, the session ended) or after T seconds (default 600), so
 * a forgotten one cannot run on. --rate caps the lines per second (the
 * smoke test's readers must keep up on a loaded machine: there a reader
 * dropped for being behind is the policy working, not the tools broken).
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINES_PER_WRITE	1024
#define LINES_SEQ_LEN	16	/* hex digits, then a space */
#define LINES_MIN_SIZE	(LINES_SEQ_LEN + 2)
#define LINES_MAX_SIZE	4096
#define LINES_MAX_SECS	3600

static const char	 hex[] = "0123456789abcdef";

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
arg_num(const char *s, long min, long max, const char *what)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "lines: %s: %s: not a number from %ld to %ld\n",
		    what, s, min, max);
		exit(2);
	}
	return v;
}

/* The batch's lines keep their pattern; only the numbers change. */
static void
number(char *buf, long size, uint64_t seq)
{
	long	 i;
	int	 d;

	for (i = 0; i < LINES_PER_WRITE; i++, seq++)
		for (d = 0; d < LINES_SEQ_LEN; d++)
			buf[i * size + d] = hex[(seq >> (4 * (LINES_SEQ_LEN -
			    1 - d))) & 0xf];
}

int
main(int argc, char *argv[])
{
	static const struct option	 lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	long		 size = 64, secs = 600, rate = 0, i, j;
	size_t		 len, off;
	ssize_t		 w;
	uint64_t	 seq = 0;
	double		 until, start;
	struct timespec	 nap;
	char		*buf;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 's')
			size = arg_num(optarg, LINES_MIN_SIZE, LINES_MAX_SIZE,
			    "--size");
		else if (ch == 't')
			secs = arg_num(optarg, 1, LINES_MAX_SECS, "--seconds");
		else if (ch == 'r')
			rate = arg_num(optarg, 1, 100000000, "--rate");
		else {
			fprintf(stderr, "usage: lines [--size N] "
			    "[--seconds T] [--rate LINES_PER_S]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	len = (size_t)size * LINES_PER_WRITE;
	if ((buf = malloc(len)) == NULL) {
		fprintf(stderr, "lines: out of memory\n");
		return 1;
	}
	for (i = 0; i < LINES_PER_WRITE; i++) {
		buf[i * size + LINES_SEQ_LEN] = ' ';
		for (j = LINES_SEQ_LEN + 1; j < size - 1; j++)
			buf[i * size + j] = (char)('a' + (i + j) % 26);
		buf[i * size + size - 1] = '\n';
	}
	start = now_s();
	until = start + (double)secs;
	/* Each pass writes one batch; the clock bounds the passes. */
	while (now_s() < until) {
		/* --rate: batch k waits until its time, k * batch / rate. */
		if (rate > 0 && (double)seq / (double)rate > now_s() - start) {
			double	 d = (double)seq / (double)rate -
				    (now_s() - start);

			nap.tv_sec = (time_t)d;
			nap.tv_nsec = (long)((d - (double)nap.tv_sec) * 1e9);
			nanosleep(&nap, NULL);
			continue;
		}
		number(buf, size, seq);
		seq += LINES_PER_WRITE;
		for (off = 0; off < len; off += (size_t)w) {
			w = write(STDOUT_FILENO, buf + off, len - off);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return 0;	/* the reader is gone */
		}
	}
	return 0;
}
