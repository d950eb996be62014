/*
 * wsbench: options, event loop, modes and reports of an epoll WebSocket
 * load client for loopback benchmarks of wsbridge and its peers
 * (tests/bench/run.sh).
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsbench.h"

struct wb_opts			 opt;
struct sockaddr_storage		 addr;
socklen_t			 addrlen;
char				 hostport[128];
int				 epfd;
struct wb_conn			*conns;
static long			 nconns;
uint64_t			 now;
static uint64_t			 t_start, t_end, t_last;
long				 nlive;		/* not free */
long				 nopen;		/* open */
uint64_t			 nerrors;
static uint64_t			 nmsgs;
static uint64_t			 nsessions;
static bool			 fan_counting;	/* in the measured window */
static struct hist		 lat;

void
die(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "wsbench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

uint64_t
clock_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void
check_deadlines(void)
{
	static uint64_t	 next;
	long		 i;

	if (now < next)
		return;
	next = now + WB_TICK;
	for (i = 0; i < nconns; i++)
		if (conns[i].state != WB_FREE && conns[i].deadline != 0 &&
		    now >= conns[i].deadline)
			conn_fail(&conns[i], "timeout (state %d)",
			    conns[i].state);
}

/* Connect mode: a loop whose session ended starts the next one. */
static void
restart_sessions(void)
{
	long	 i;

	if (opt.mode != WB_CONNECT || now >= t_end)
		return;
	for (i = 0; i < nconns; i++)
		if (conns[i].state == WB_FREE)
			conn_start(&conns[i]);
}

static void
loop_once(int timeout_ms)
{
	struct epoll_event	 evs[WB_MAX_EVENTS];
	int			 i, n;

	n = epoll_wait(epfd, evs, WB_MAX_EVENTS, timeout_ms);
	if (n == -1 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	now = clock_ns();
	for (i = 0; i < n; i++)
		conn_event(&evs[i]);
	check_deadlines();
	restart_sessions();
}

/* Run the loop until time t. */
static void
loop_until(uint64_t t)
{
	uint64_t	 ms;

	while (now < t) {
		ms = (t - now) / 1000000 + 1;
		loop_once(ms > 10 ? 10 : (int)ms);
	}
}

void
mode_open(struct wb_conn *c)
{
	long	 i = (long)(c - conns);

	if (opt.mode == WB_CONNECT)
		queue_msg(c);
	if (opt.mode != WB_FANOUT)
		return;
	/* The first --stopped clients never read; every 8th other checks. */
	c->stopped = i < opt.stopped;
	if (!c->stopped && (i - opt.stopped) % WB_VERIFY_EVERY == 0 &&
	    (c->line = malloc((size_t)opt.size)) == NULL)
		die("out of memory");
}

/* Fires with the whole lines a fan-out client got. */
void
mode_lines(struct wb_conn *c, uint64_t k)
{
	c->done += k;
	if (fan_counting) {
		c->win += k;
		nmsgs += k;
	}
}

static void
session_done(struct wb_conn *c)
{
	hist_add(&lat, now - c->t0);
	nsessions++;
	t_last = now;
	conn_drop(c);
}

/* Fires for each message echoed in full, with its round trip. */
void
mode_echoed(struct wb_conn *c, uint64_t rtt)
{
	switch (opt.mode) {
	case WB_ECHO:
		if (now >= t_end)
			return;
		nmsgs++;
		hist_add(&lat, rtt);
		queue_msg(c);
		break;
	case WB_CONNECT:
		if (opt.raw) {
			session_done(c);
			return;
		}
		queue_close(c);
		conn_set_state(c, WB_CLOSING);
		c->deadline = now + WB_CLOSE_TIMEOUT;
		break;
	default:
		nmsgs++;
		break;
	}
}

/* Fires at EOF after the closing handshake. */
void
mode_closed(struct wb_conn *c)
{
	session_done(c);
}

static int
wait_open(long want, uint64_t until)
{
	while (nopen < want && nlive > nopen && now < until)
		loop_once(10);
	return nopen == want ? 0 : -1;
}

static void
open_all(long n)
{
	long	 i;

	for (i = 0; i < n; i++)
		conn_start(&conns[i]);
	if (wait_open(n, now + WB_OPEN_TIMEOUT + NSEC) == -1)
		fprintf(stderr, "wsbench: %ld of %ld connections open\n",
		    nopen, n);
	if (nopen == 0)
		die("no connection opened");
}

static const char *
mode_label(void)
{
	if (opt.raw)
		return "raw";
	return opt.binary ? "binary" : "text";
}

static void
print_latency(const char *mode, double secs, double rate,
    const char *unit)
{
	printf("%s: %lld conns x %lld x %lld B %s, %.1f s: %.0f %s/s, "
	    "%.1f MB/s, p50 %.0f us, p99 %.0f us, max %.0f us, errors %"
	    PRIu64 "\n", mode, opt.conns, opt.depth, opt.size, mode_label(),
	    secs, rate, unit, rate * (double)opt.size / 1e6,
	    hist_us(&lat, 0.5), hist_us(&lat, 0.99), hist_us(&lat, 1.0),
	    nerrors);
}

/* Server CPU over the measured window (--pid), per unit of work. */
static long long	 cpu_t0;

/* Fan-out: the daemon alone, not the program it runs for all. */
static long long
server_ticks(void)
{
	if (opt.mode == WB_FANOUT)
		return proc_cpu_ticks(opt.pid);
	return tree_cpu_ticks(opt.pid);
}

static void
cpu_mark(void)
{
	if (opt.pid != 0)
		cpu_t0 = server_ticks();
}

static double
cpu_since_mark(void)
{
	if (opt.pid == 0)
		return -1;
	return (double)(server_ticks() - cpu_t0) * 1e6 /
	    (double)sysconf(_SC_CLK_TCK);
}

/* " cpu_us_per_UNIT=X server_cores=Y" for RESULT, or "" without --pid. */
static const char *
cpu_fields(const char *unit, double cpu_us, uint64_t n, double secs)
{
	static char	 out[128];

	out[0] = '\0';
	if (cpu_us >= 0 && n > 0 && secs > 0)
		snprintf(out, sizeof(out), " cpu_us_per_%s=%.2f "
		    "server_cores=%.2f", unit, cpu_us / (double)n,
		    cpu_us / 1e6 / secs);
	return out;
}

static void
run_echo(void)
{
	double	 secs, rate, cpu_us;
	long	 i, j;

	open_all(opt.conns);
	cpu_mark();
	t_start = now;
	t_end = now + (uint64_t)opt.seconds * NSEC;
	for (i = 0; i < nconns; i++) {
		if (conns[i].state != WB_OPEN)
			continue;
		conns[i].verify = i % WB_VERIFY_EVERY == 0;
		for (j = 0; j < opt.depth; j++)
			queue_msg(&conns[i]);
		conn_flush(&conns[i]);
	}
	loop_until(t_end);
	cpu_us = cpu_since_mark();
	secs = (double)(now - t_start) / 1e9;
	rate = (double)nmsgs / secs;
	print_latency(opt.raw ? "raw" : "echo", secs, rate, "msgs");
	printf("RESULT mode=%s conns=%lld depth=%lld size=%lld msgs_per_s=%.0f "
	    "mb_per_s=%.2f p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%"
	    PRIu64 "%s\n", opt.raw ? "raw" : "echo", opt.conns, opt.depth,
	    opt.size, rate, rate * (double)opt.size / 1e6, hist_us(&lat, 0.5),
	    hist_us(&lat, 0.99), hist_us(&lat, 1.0), nerrors,
	    cpu_fields("msg", cpu_us, nmsgs, secs));
}

static void
run_connect(void)
{
	double	 secs, rate, cpu_us;
	long	 i;

	cpu_mark();
	t_start = now;
	t_end = now + (uint64_t)opt.seconds * NSEC;
	for (i = 0; i < nconns; i++)
		conns[i].verify = true;
	restart_sessions();
	while (nlive > 0 && now < t_end + WB_GRACE)
		loop_once(10);
	if (nlive > 0)
		fprintf(stderr, "wsbench: %ld sessions unfinished\n", nlive);
	nerrors += (uint64_t)nlive;
	cpu_us = cpu_since_mark();
	secs = (double)((t_last > t_start ? t_last : now) - t_start) / 1e9;
	rate = (double)nsessions / secs;
	printf("connect: %lld loops, %s, %.1f s: %" PRIu64 " sessions, "
	    "%.0f sessions/s, p50 %.0f us, p99 %.0f us, max %.0f us, "
	    "errors %" PRIu64 "\n", opt.conns, mode_label(), secs, nsessions,
	    rate, hist_us(&lat, 0.5), hist_us(&lat, 0.99), hist_us(&lat, 1.0),
	    nerrors);
	printf("RESULT mode=connect conns=%lld sessions=%" PRIu64
	    " sessions_per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f "
	    "offered=%" PRIu64 " resumed=%" PRIu64 " errors=%" PRIu64 "%s\n",
	    opt.conns, nsessions, rate, hist_us(&lat, 0.5),
	    hist_us(&lat, 0.99), hist_us(&lat, 1.0), wtls_offered,
	    wtls_resumed, nerrors,
	    cpu_fields("session", cpu_us, nsessions, secs));
}

/* Idle: open at a bounded rate, at most WB_IDLE_PENDING handshakes at once. */
static void
idle_open(void)
{
	uint64_t	 until = now + (uint64_t)opt.count * NSEC /
	    (uint64_t)opt.rate + 30 * NSEC;
	long		 next = 0, allowed;

	t_start = now;
	while (now < until && (next < nconns || nlive > nopen)) {
		allowed = (long)((now - t_start) * (uint64_t)opt.rate / NSEC)
		    + 1;
		while (next < nconns && next < allowed &&
		    nlive - nopen < WB_IDLE_PENDING)
			conn_start(&conns[next++]);
		loop_once(1);
	}
	printf("idle: %ld of %lld connections open after %.1f s\n", nopen,
	    opt.count, (double)(now - t_start) / 1e9);
}

/* Idle: a sample of the held connections must still echo. */
static long
idle_sample(void)
{
	long	 i, step, picked = 0;

	step = nconns / opt.sample > 0 ? nconns / opt.sample : 1;
	for (i = 0; i < nconns && picked < opt.sample; i += step) {
		if (conns[i].state != WB_OPEN)
			continue;
		conns[i].verify = true;
		queue_msg(&conns[i]);
		conn_flush(&conns[i]);
		picked++;
	}
	t_end = now + WB_SAMPLE_WAIT;
	while ((long)nmsgs < picked && now < t_end)
		loop_once(10);
	return picked;
}

static void
run_idle(void)
{
	long	 base, tbase, rss, trss, open, picked;
	double	 per, tper;

	if ((base = proc_rss_kb(opt.pid)) < 0)
		die("no process %lld", opt.pid);
	tbase = tree_rss_kb(opt.pid);
	idle_open();
	loop_until(now + WB_SETTLE);
	open = nopen;
	rss = proc_rss_kb(opt.pid);
	trss = tree_rss_kb(opt.pid);
	picked = idle_sample();
	per = open ? (double)(rss - base) * 1024 / (double)open : 0;
	tper = open ? (double)(trss - tbase) * 1024 / (double)open : 0;
	if (open < opt.count || (long)nmsgs < picked || picked < opt.sample)
		nerrors++;
	printf("idle: %ld conns held, RSS %ld -> %ld KiB (%.0f B/conn), "
	    "with children %ld -> %ld KiB (%.0f B/conn), echo %" PRIu64
	    "/%ld, errors %" PRIu64 "\n", open, base, rss, per, tbase, trss,
	    tper, nmsgs, picked, nerrors);
	printf("RESULT mode=idle conns=%lld open=%ld rss_base_kb=%ld "
	    "rss_kb=%ld bytes_per_conn=%.0f tree_base_kb=%ld tree_kb=%ld "
	    "tree_bytes_per_conn=%.0f echo_ok=%" PRIu64 " sample=%ld "
	    "errors=%" PRIu64 "\n", opt.count, open, base, rss, per, tbase,
	    trss, tper, nmsgs, picked, nerrors);
}

/* Large: one message per round; the first round's echo is compared. */
static uint64_t
large_round(struct wb_conn *c, long r, uint64_t until)
{
	uint64_t	 t0;

	c->verify = r == 0;
	queue_msg(c);
	/* The frame is built before the clock starts: time the server. */
	now = t0 = clock_ns();
	if (conn_flush(c) == -1)
		return 0;
	while (c->state == WB_OPEN && c->done < (uint64_t)r + 1 && now < until)
		loop_once(10);
	if (c->state != WB_OPEN || c->done < (uint64_t)r + 1) {
		if (c->state == WB_OPEN)
			conn_fail(c, "large: round %ld timed out", r);
		return 0;
	}
	return now - t0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Large: the median round, so the first (page faults, checks) counts less. */
static void
run_large(void)
{
	uint64_t	*t, until;
	long		 r, done = 0;
	double		 mb = (double)opt.size / 1e6, med = 0, best = 0;

	if ((t = calloc((size_t)opt.count, sizeof(*t))) == NULL)
		die("out of memory");
	open_all(1);
	until = now + (uint64_t)opt.seconds * NSEC;
	for (r = 0; r < opt.count; r++) {
		if ((t[r] = large_round(&conns[0], r, until)) == 0)
			break;
		done++;
	}
	if (done > 0) {
		qsort(t, (size_t)done, sizeof(*t), cmp_u64);
		med = mb / ((double)t[done / 2] / 1e9);
		best = mb / ((double)t[0] / 1e9);
	}
	printf("large: %ld x %lld B %s: %.0f MB/s median round (best %.0f "
	    "MB/s), errors %" PRIu64 "\n", done, opt.size, mode_label(), med,
	    best, nerrors);
	printf("RESULT mode=large size=%lld rounds=%ld mb_per_s=%.0f "
	    "best_mb_per_s=%.0f errors=%" PRIu64 "\n", opt.size, done, med,
	    best, nerrors);
	free(t);
}

/* Fan-out: wait until every reading client has had a line. */
static long
fanout_first_lines(void)
{
	uint64_t	 until = now + WB_FIRST_WAIT;
	long		 i, readers, got;

	do {
		for (i = readers = got = 0; i < nconns; i++) {
			if (conns[i].state != WB_OPEN || conns[i].stopped)
				continue;
			readers++;
			got += conns[i].done > 0;
		}
		if (got == readers)
			break;
		loop_once(10);
	} while (now < until);
	if (got < readers) {
		fprintf(stderr, "wsbench: %ld of %ld clients got no line\n",
		    readers - got, readers);
		nerrors++;
	}
	return readers;
}

static double
self_cpu_s(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * Fan-out: N clients of one shared stream read as fast as they can (the
 * first --stopped never read); over --seconds, the lines delivered to the
 * readers, the slowest reader's share, the daemon's own CPU per line and
 * its RSS growth per client since before the first connect.
 */
static void
run_fanout(void)
{
	long		 base = -1, rss = -1, i, readers, alive = 0;
	uint64_t	 minwin = UINT64_MAX;
	double		 secs, rate, cpu_us, per = 0, mine, c0;

	if (opt.pid != 0 && (base = proc_rss_kb(opt.pid)) < 0)
		die("no process %lld", opt.pid);
	open_all(opt.conns);
	readers = fanout_first_lines();
	cpu_mark();
	c0 = self_cpu_s();
	t_start = now;
	t_end = now + (uint64_t)opt.seconds * NSEC;
	fan_counting = true;
	loop_until(t_end);
	fan_counting = false;
	cpu_us = cpu_since_mark();
	mine = self_cpu_s() - c0;
	secs = (double)(now - t_start) / 1e9;
	if (opt.pid != 0 && (rss = proc_rss_kb(opt.pid)) >= 0)
		per = (double)(rss - base) * 1024 / (double)opt.conns;
	for (i = 0; i < nconns; i++) {
		if (conns[i].state != WB_OPEN || conns[i].stopped)
			continue;
		alive++;
		if (conns[i].win < minwin)
			minwin = conns[i].win;
	}
	if (alive < readers || readers == 0)
		nerrors++;
	if (alive == 0)
		minwin = 0;
	rate = (double)nmsgs / secs;
	printf("fanout: %lld clients (%lld stopped) x %lld B lines %s, %.1f "
	    "s: %.0f lines/s delivered, %.0f per client (slowest %.0f), "
	    "RSS %+.0f B/client, client %.2f cores, errors %" PRIu64 "\n",
	    opt.conns, opt.stopped, opt.size, mode_label(), secs, rate,
	    alive ? rate / (double)alive : 0, (double)minwin / secs, per,
	    mine / secs, nerrors);
	printf("RESULT mode=fanout conns=%lld stopped=%lld size=%lld "
	    "msgs_per_s=%.0f per_client_per_s=%.0f min_client_per_s=%.0f "
	    "readers=%ld alive=%ld client_cores=%.2f", opt.conns, opt.stopped,
	    opt.size, rate, alive ? rate / (double)alive : 0,
	    (double)minwin / secs, readers, alive, mine / secs);
	if (rss >= 0)
		printf(" rss_base_kb=%ld rss_kb=%ld bytes_per_client=%.0f", base,
		    rss, per);
	printf(" errors=%" PRIu64 "%s\n", nerrors,
	    cpu_fields("msg", cpu_us, nmsgs, secs));
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wsbench echo|connect|idle|large|raw|fanout --port N "
	    "[options]\n"
	    "  --host ADDR     127.0.0.0/8 or ::1 only (default 127.0.0.1)\n"
	    "  --path PATH     request path (default /)\n"
	    "  --conns C       connections or loops (echo 100, connect 10)\n"
	    "  --depth D       messages in flight per connection (16)\n"
	    "  --size S        message bytes, K/M suffix (64; large 16M)\n"
	    "  --seconds T     measuring time; large: time limit (5; 30)\n"
	    "  --binary        binary messages (text: lengths checked)\n"
	    "  --raw           plain TCP, no WebSocket (mode raw = echo)\n"
	    "  --tls           TLS 1.3 (wss), certificate not verified\n"
	    "  --resume        --tls: each loop offers its newest ticket\n"
	    "  --pid P         idle: server whose RSS is read\n"
	    "  --count N       idle: connections (1000); large: rounds (1)\n"
	    "  --rate R        idle: connections opened per second (2000)\n"
	    "  --sample K      idle: held connections checked to echo (50)\n"
	    "  --stopped K     fanout: clients that connect and never read\n"
	    "fanout: --conns clients read one shared stream of --size B lines\n"
	    "  (tests/bench/lines.c) for --seconds; --raw: a TCP line stream\n");
	exit(2);
}

static long long
parse_num(const char *s, long long min, long long max, const char *what)
{
	char		*end;
	long long	 v, mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end != s && end[0] != '\0' && end[1] == '\0') {
		if (*end == 'K' || *end == 'k')
			mult = 1024;
		else if (*end == 'M' || *end == 'm')
			mult = 1024 * 1024;
		end += mult > 1;
	}
	if (errno != 0 || end == s || *end != '\0' || v < min ||
	    v > max / mult || v * mult > max)
		die("%s: %s: not a number from %lld to %lld", what, s, min,
		    max);
	return v * mult;
}

static void
parse_mode(const char *m)
{
	if (strcmp(m, "echo") == 0)
		opt.mode = WB_ECHO;
	else if (strcmp(m, "raw") == 0) {
		opt.mode = WB_ECHO;
		opt.raw = 1;
	} else if (strcmp(m, "connect") == 0)
		opt.mode = WB_CONNECT;
	else if (strcmp(m, "idle") == 0)
		opt.mode = WB_IDLE;
	else if (strcmp(m, "large") == 0)
		opt.mode = WB_LARGE;
	else if (strcmp(m, "fanout") == 0)
		opt.mode = WB_FANOUT;
	else
		usage();
}

/* Numeric options, checked in full; each bounds the run. */
static const struct wb_numopt {
	const char	*name;
	long long	*val;
	long long	 min, max;
} numopts[] = {
	{ "port",	&opt.port,	1, 65535 },
	{ "conns",	&opt.conns,	1, WB_MAX_CONNS },
	{ "depth",	&opt.depth,	1, WB_MAX_DEPTH },
	{ "size",	&opt.size,	1, WB_MAX_SIZE },
	{ "seconds",	&opt.seconds,	1, WB_MAX_SECONDS },
	{ "pid",	&opt.pid,	1, INT32_MAX },
	{ "count",	&opt.count,	1, WB_MAX_CONNS },
	{ "rate",	&opt.rate,	1, WB_MAX_RATE },
	{ "sample",	&opt.sample,	1, 1000 },
	{ "stopped",	&opt.stopped,	0, WB_MAX_CONNS },
};
#define WB_NUMOPTS	(sizeof(numopts) / sizeof(numopts[0]))
#define WB_OPT_NUM	256	/* getopt value of numopts[0] */

static void
parse_opts(int argc, char *argv[])
{
	struct option	 lo[WB_NUMOPTS + 7] = {
		{ "host", required_argument, NULL, 'h' },
		{ "path", required_argument, NULL, 'P' },
		{ "binary", no_argument, &opt.binary, 1 },
		{ "raw", no_argument, &opt.raw, 1 },
		{ "tls", no_argument, &opt.tls, 1 },
		{ "resume", no_argument, &opt.resume, 1 },
	};
	size_t		 i;
	int		 ch;

	for (i = 0; i < WB_NUMOPTS; i++) {
		lo[6 + i].name = numopts[i].name;
		lo[6 + i].has_arg = required_argument;
		lo[6 + i].val = WB_OPT_NUM + (int)i;
	}
	if (argc < 2)
		usage();
	parse_mode(argv[1]);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch >= WB_OPT_NUM) {
			i = (size_t)(ch - WB_OPT_NUM);
			*numopts[i].val = parse_num(optarg, numopts[i].min,
			    numopts[i].max, numopts[i].name);
		} else if (ch == 'h')
			opt.host = optarg;
		else if (ch == 'P')
			opt.path = optarg;
		else if (ch != 0)
			usage();
	}
	if (optind != argc || opt.port == 0)
		usage();
}

/* Defaults that depend on the mode, and what each mode fixes. */
static void
fix_opts(void)
{
	bool	 large = opt.mode == WB_LARGE;

	if (opt.host == NULL)
		opt.host = "127.0.0.1";
	if (opt.path == NULL)
		opt.path = "/";
	if (opt.size == 0)
		opt.size = large ? 16 * 1024 * 1024 : 64;
	if (opt.seconds == 0)
		opt.seconds = large ? 30 : 5;
	if (opt.count == 0)
		opt.count = opt.mode == WB_IDLE ? 1000 : 1;
	if (opt.rate == 0)
		opt.rate = 2000;
	if (opt.sample == 0)
		opt.sample = 50;
	if (opt.conns == 0)
		opt.conns = opt.mode == WB_CONNECT ? 10 : 100;
	if (opt.depth == 0)
		opt.depth = opt.mode == WB_ECHO ? 16 : 1;
	if (opt.mode != WB_ECHO)
		opt.depth = 1;
	if (large)
		opt.conns = 1;
	if (large || opt.raw)
		opt.binary = true;
	if (opt.mode == WB_IDLE)
		opt.conns = opt.count;
	if (opt.mode == WB_FANOUT && (opt.size < WB_SEQ_LEN + 2 ||
	    opt.size > WB_LINE_MAX || opt.stopped >= opt.conns))
		die("fanout: --size from %d to %d, --stopped below --conns",
		    WB_SEQ_LEN + 2, WB_LINE_MAX);
}

/* Loopback only: this tool floods whatever it is pointed at. */
static void
resolve(void)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&addr;
	const char		*h = opt.host;

	if (strcmp(h, "localhost") == 0)
		h = "127.0.0.1";
	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			die("refusing non-loopback host %s", opt.host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(opt.port);
		addrlen = sizeof(*sin);
		snprintf(hostport, sizeof(hostport), "%s:%lld", h, opt.port);
	} else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			die("refusing non-loopback host %s", opt.host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(opt.port);
		addrlen = sizeof(*sin6);
		snprintf(hostport, sizeof(hostport), "[%s]:%lld", h, opt.port);
	} else
		die("host must be a loopback address: %s", opt.host);
}

static void
setup(void)
{
	struct rlimit	 rl;
	long		 i;

	signal(SIGPIPE, SIG_IGN);
	/* Idle mode holds thousands of sockets. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((epfd = epoll_create1(0)) == -1)
		die("epoll_create1: %s", strerror(errno));
	rng ^= (uint32_t)getpid() ^ (uint32_t)clock_ns();
	pattern_init((size_t)opt.size > WB_READ_SIZE ? (size_t)opt.size :
	    WB_READ_SIZE);
	nconns = opt.conns;
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("out of memory");
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].ts = calloc((size_t)opt.depth, sizeof(uint64_t));
		if (conns[i].ts == NULL)
			die("out of memory");
	}
	now = clock_ns();
}

int
main(int argc, char *argv[])
{
	parse_opts(argc, argv);
	fix_opts();
	resolve();
	if (opt.mode == WB_IDLE && opt.pid == 0)
		die("idle mode needs --pid");
	setup();
	if (opt.tls)
		wtls_setup();
	switch (opt.mode) {
	case WB_ECHO:
		run_echo();
		break;
	case WB_CONNECT:
		run_connect();
		break;
	case WB_IDLE:
		run_idle();
		break;
	case WB_LARGE:
		run_large();
		break;
	case WB_FANOUT:
		run_fanout();
		break;
	}
	fflush(stdout);
	return nerrors ? 1 : 0;
}
