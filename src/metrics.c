/*
 * Prometheus counters: per-route connection and traffic totals, bounded
 * tables for refused statuses, exit statuses and close codes, a duration
 * histogram, and the process_* metrics, rendered as text exposition
 * format 0.0.4.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "version.h"

struct metrics	 metrics;

/* The route's entry, created on first use; "other" once the table is full. */
static struct metrics_route *
metrics_route(const char *path)
{
	struct metrics_route	*r;
	size_t			 i, cap;

	if (path == NULL || *path == '\0')
		path = "/";
	for (i = 0; i < metrics.nroutes; i++)
		if (strcmp(metrics.routes[i].path, path) == 0)
			return &metrics.routes[i];
	if (metrics.nroutes >= METRICS_MAX_ROUTES - 1 &&
	    strcmp(path, METRICS_OTHER) != 0)
		return metrics_route(METRICS_OTHER);
	if (metrics.nroutes == metrics.routes_cap) {
		cap = metrics.routes_cap ? metrics.routes_cap * 2 : 16;
		if ((r = realloc(metrics.routes, cap * sizeof(*r))) == NULL)
			return NULL;
		metrics.routes = r;
		metrics.routes_cap = cap;
	}
	r = &metrics.routes[metrics.nroutes];
	memset(r, 0, sizeof(*r));
	if ((r->path = strdup(path)) == NULL)
		return NULL;
	metrics.nroutes++;
	return r;
}

/* Count one under label; the last slot is kept for "other". */
static void
metrics_count(struct metrics_counts *t, const char *label)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].label, label) == 0) {
			t->v[i].n++;
			return;
		}
	if (t->n >= METRICS_MAX_LABELS - 1 && strcmp(label, METRICS_OTHER)) {
		metrics_count(t, METRICS_OTHER);
		return;
	}
	snprintf(t->v[t->n].label, sizeof(t->v[t->n].label), "%s", label);
	t->v[t->n++].n = 1;
}

void
metrics_route_declare(const char *route)
{
	(void)metrics_route(route);
}

void
metrics_conn_open(const char *route)
{
	struct metrics_route	*r;

	metrics.connections_open++;
	metrics.connections_total++;
	if ((r = metrics_route(route)) != NULL) {
		r->open++;
		r->total++;
	}
}

static void
metrics_observe(struct metrics_route *r, double seconds)
{
	static const double	 le[METRICS_NBUCKETS] =
				    METRICS_DURATION_BUCKETS;
	size_t			 i;

	for (i = 0; i < METRICS_NBUCKETS && seconds > le[i]; i++)
		;
	if (i < METRICS_NBUCKETS)
		r->duration[i]++;
	r->duration_count++;
	r->duration_sum += seconds;
}

void
metrics_conn_close(const char *route, uint64_t bytes_in, uint64_t bytes_out,
    uint64_t msgs_in, uint64_t msgs_out, unsigned close_code, double seconds)
{
	struct metrics_route	*r;
	char			 label[METRICS_LABEL_LEN];

	if (metrics.connections_open > 0)
		metrics.connections_open--;
	if ((r = metrics_route(route)) != NULL) {
		if (r->open > 0)
			r->open--;
		r->bytes_in += bytes_in;
		r->bytes_out += bytes_out;
		r->msgs_in += msgs_in;
		r->msgs_out += msgs_out;
		metrics_observe(r, seconds);
	}
	if (close_code != 0) {
		snprintf(label, sizeof(label), "%u", close_code);
		metrics_count(&metrics.close_codes, label);
	}
}

/*
 * Counted when reaped, whether or not its connection is still there.
 * The label is "code=N" or "signal=N": a label name and its value.
 */
void
metrics_process_exit(const char *route, int status)
{
	struct metrics_route	*r;
	char			 label[METRICS_LABEL_LEN];

	if ((r = metrics_route(route)) == NULL)
		return;
	if (WIFEXITED(status))
		snprintf(label, sizeof(label), "code=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(label, sizeof(label), "signal=%d", WTERMSIG(status));
	else
		snprintf(label, sizeof(label), "code=%s", METRICS_OTHER);
	metrics_count(&r->exits, label);
}

void
metrics_handshake_failed(const char *route, int status)
{
	struct metrics_route	*r = NULL;
	char			 label[METRICS_LABEL_LEN];

	snprintf(label, sizeof(label), "%d", status);
	if (route != NULL && (r = metrics_route(route)) == NULL)
		return;
	metrics_count(r != NULL ? &r->refused : &metrics.unrouted, label);
	if (r != NULL && status == 502)
		r->backend_failures++;
}

void
metrics_spawn_failed(const char *route)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL)
		r->spawn_failures++;
}

void
metrics_session_open(const char *route, int delta)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL)
		r->sessions += (uint64_t)(int64_t)delta;
}

void
metrics_session_clients(const char *route, int delta, int viewers)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL) {
		r->session_clients += (uint64_t)(int64_t)delta;
		r->session_viewers += (uint64_t)(int64_t)viewers;
	}
}

void
metrics_session_too_slow(const char *route)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL)
		r->too_slow++;
}

void
metrics_session_skipped(const char *route, uint64_t bytes)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL)
		r->skipped_bytes += bytes;
}

void
metrics_reset(void)
{
	size_t	 i;

	for (i = 0; i < metrics.nroutes; i++)
		free(metrics.routes[i].path);
	free(metrics.routes);
	memset(&metrics, 0, sizeof(metrics));
}

/* A label value: backslash, double quote and newline escaped. */
static void
metrics_put_value(FILE *fp, const char *value)
{
	for (; *value != '\0'; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(fp, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", fp);
		else
			fputc(*value, fp);
	}
}

/* name{l1="v1",l2="v2"} for the pairs whose name is not NULL. */
static void
metrics_put_name(FILE *fp, const char *name, const char *suffix,
    const char *l1, const char *v1, const char *l2, const char *v2)
{
	fprintf(fp, "%s%s", name, suffix);
	if (l1 == NULL)
		return;
	fprintf(fp, "{%s=\"", l1);
	metrics_put_value(fp, v1);
	fputc('"', fp);
	if (l2 != NULL) {
		fprintf(fp, ",%s=\"", l2);
		metrics_put_value(fp, v2);
		fputc('"', fp);
	}
	fputs("}", fp);
}

static void
metrics_put_head(FILE *fp, const char *name, const char *type,
    const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family with a sample per route, the field at off of each. */
static void
metrics_put_routes(FILE *fp, const char *name, const char *type,
    const char *help, size_t off)
{
	const struct metrics_route	*r;
	size_t				 i;

	metrics_put_head(fp, name, type, help);
	for (i = 0; i < metrics.nroutes; i++) {
		r = &metrics.routes[i];
		metrics_put_name(fp, name, "", "route", r->path, NULL, NULL);
		fprintf(fp, " %llu\n", (unsigned long long)
		    *(const uint64_t *)(const void *)((const char *)r + off));
	}
}

/* Samples of one table: {route="R",label="V"} or "name=V" labels. */
static void
metrics_put_counts(FILE *fp, const char *name, const char *route,
    const char *label, const struct metrics_counts *t)
{
	char		 lname[METRICS_LABEL_LEN], *eq = NULL;
	const char	*value;
	size_t		 i;

	for (i = 0; i < t->n; i++) {
		snprintf(lname, sizeof(lname), "%s", label != NULL ? label :
		    t->v[i].label);
		if (label == NULL && (eq = strchr(lname, '=')) != NULL)
			*eq = '\0';
		value = label != NULL ? t->v[i].label :
		    t->v[i].label + strlen(lname) + (eq != NULL);
		if (route == NULL)
			metrics_put_name(fp, name, "", lname, value, NULL,
			    NULL);
		else
			metrics_put_name(fp, name, "", "route", route, lname,
			    value);
		fprintf(fp, " %llu\n", (unsigned long long)t->v[i].n);
	}
}

/* Per route histogram: cumulative buckets, +Inf, _sum and _count. */
static void
metrics_put_durations(FILE *fp)
{
	static const double		 le[METRICS_NBUCKETS] =
					    METRICS_DURATION_BUCKETS;
	static const char		 name[] =
					    "wsbridge_connection_duration_seconds";
	const struct metrics_route	*r;
	char				 bound[32];
	uint64_t			 n;
	size_t				 i, b;

	metrics_put_head(fp, name, "histogram", "How long WebSocket "
	    "connections stayed open (101 to close), by route.");
	for (i = 0; i < metrics.nroutes; i++) {
		r = &metrics.routes[i];
		for (b = 0, n = 0; b < METRICS_NBUCKETS; b++) {
			n += r->duration[b];
			snprintf(bound, sizeof(bound), "%g", le[b]);
			metrics_put_name(fp, name, "_bucket", "route", r->path,
			    "le", bound);
			fprintf(fp, " %llu\n", (unsigned long long)n);
		}
		metrics_put_name(fp, name, "_bucket", "route", r->path, "le",
		    "+Inf");
		fprintf(fp, " %llu\n", (unsigned long long)r->duration_count);
		metrics_put_name(fp, name, "_sum", "route", r->path, NULL,
		    NULL);
		fprintf(fp, " %.3f\n", r->duration_sum);
		metrics_put_name(fp, name, "_count", "route", r->path, NULL,
		    NULL);
		fprintf(fp, " %llu\n", (unsigned long long)r->duration_count);
	}
}

/* Boot time from /proc/stat, seconds since the epoch; 0 if unknown. */
static double
metrics_boot_time(void)
{
	FILE		*fp;
	char		 line[256];
	double		 btime = 0;

	if ((fp = fopen("/proc/stat", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	fclose(fp);
	return btime;
}

/* Descriptors open now, from /proc/self/fd (less the one reading it). */
static long
metrics_open_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	long		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n++;
	closedir(d);
	return n;
}

static void
metrics_put_gauge(FILE *fp, const char *name, const char *type,
    const char *help, double v)
{
	metrics_put_head(fp, name, type, help);
	fprintf(fp, "%s %.17g\n", name, v);
}

/*
 * The process_* metrics Prometheus client libraries export, from
 * /proc/self/stat (fields 14, 15, 22, 23, 24 of proc(5)).
 */
static void
metrics_put_process(FILE *fp)
{
	unsigned long long	 utime, stime, start, vsize;
	long long		 rss;
	struct rlimit		 rl;
	char			 buf[1024], *p;
	double			 tck = (double)sysconf(_SC_CLK_TCK);
	FILE			*st;
	size_t			 n = 0;
	long			 fds;

	if ((st = fopen("/proc/self/stat", "re")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, st);
		fclose(st);
	}
	buf[n] = '\0';
	/* The command name may hold anything: fields follow the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %*d %*d "
	    "%*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
	    "%*d %llu %llu %lld", &utime, &stime, &start, &vsize, &rss) != 5)
		return;
	metrics_put_gauge(fp, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.",
	    (double)(utime + stime) / tck);
	if ((fds = metrics_open_fds()) >= 0)
		metrics_put_gauge(fp, "process_open_fds", "gauge",
		    "Number of open file descriptors.", (double)fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metrics_put_gauge(fp, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.",
		    rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
	metrics_put_gauge(fp, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.", (double)vsize);
	metrics_put_gauge(fp, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.",
	    (double)rss * (double)sysconf(_SC_PAGESIZE));
	metrics_put_gauge(fp, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.",
	    metrics_boot_time() + (double)start / tck);
}

static void
metrics_put_route_counts(FILE *fp)
{
	size_t	 i;

	metrics_put_head(fp, "wsbridge_handshake_failures_total", "counter",
	    "Requests answered with an HTTP error instead of 101, by route "
	    "(\"\" when none matched) and status.");
	for (i = 0; i < metrics.nroutes; i++)
		metrics_put_counts(fp, "wsbridge_handshake_failures_total",
		    metrics.routes[i].path, "status",
		    &metrics.routes[i].refused);
	metrics_put_counts(fp, "wsbridge_handshake_failures_total", "",
	    "status", &metrics.unrouted);
	metrics_put_head(fp, "wsbridge_process_exits_total", "counter",
	    "Backend processes reaped, by route and exit code or signal.");
	for (i = 0; i < metrics.nroutes; i++)
		metrics_put_counts(fp, "wsbridge_process_exits_total",
		    metrics.routes[i].path, NULL, &metrics.routes[i].exits);
}

#define RF(f)	offsetof(struct metrics_route, f)

char *
metrics_render(size_t *len)
{
	char	*text = NULL;
	size_t	 n = 0;
	FILE	*fp;

	if ((fp = open_memstream(&text, &n)) == NULL)
		return NULL;
	metrics_put_head(fp, "wsbridge_build_info", "gauge",
	    "Always 1; the version is a label.");
	metrics_put_name(fp, "wsbridge_build_info", "", "version",
	    WSBRIDGE_VERSION, NULL, NULL);
	fputs(" 1\n", fp);
	metrics_put_routes(fp, "wsbridge_connections_open", "gauge",
	    "WebSocket connections open now, by route.", RF(open));
	metrics_put_routes(fp, "wsbridge_connections_total", "counter",
	    "WebSocket connections opened (101 sent), by route.", RF(total));
	metrics_put_routes(fp, "wsbridge_received_bytes_total", "counter",
	    "Message payload bytes received from clients, by route.",
	    RF(bytes_in));
	metrics_put_routes(fp, "wsbridge_sent_bytes_total", "counter",
	    "Message payload bytes sent to clients, by route.",
	    RF(bytes_out));
	metrics_put_routes(fp, "wsbridge_received_messages_total", "counter",
	    "Messages received from clients, by route.", RF(msgs_in));
	metrics_put_routes(fp, "wsbridge_sent_messages_total", "counter",
	    "Messages sent to clients, by route.", RF(msgs_out));
	metrics_put_routes(fp, "wsbridge_spawn_failures_total", "counter",
	    "Backend processes that failed to start, by route.",
	    RF(spawn_failures));
	metrics_put_routes(fp, "wsbridge_backend_failures_total", "counter",
	    "Upgrades answered 502: the backend could not be reached or "
	    "started, by route.", RF(backend_failures));
	metrics_put_routes(fp, "wsbridge_sessions", "gauge",
	    "Shared sessions running, by route.", RF(sessions));
	metrics_put_routes(fp, "wsbridge_session_clients", "gauge",
	    "Clients attached to shared sessions (viewers included), by "
	    "route.", RF(session_clients));
	metrics_put_routes(fp, "wsbridge_session_viewers", "gauge",
	    "Read-only viewers attached to shared sessions, by route.",
	    RF(session_viewers));
	metrics_put_routes(fp, "wsbridge_slow_clients_closed_total",
	    "counter", "Clients of shared sessions closed as too slow, by "
	    "route.", RF(too_slow));
	metrics_put_routes(fp, "wsbridge_skipped_bytes_total", "counter",
	    "Output skipped by slow clients (slow_client = skip), by route.",
	    RF(skipped_bytes));
	metrics_put_route_counts(fp);
	metrics_put_durations(fp);
	metrics_put_head(fp, "wsbridge_close_codes_total", "counter",
	    "Close frames sent, by close code.");
	metrics_put_counts(fp, "wsbridge_close_codes_total", NULL, "code",
	    &metrics.close_codes);
	metrics_put_process(fp);
	if (fclose(fp) != 0) {
		free(text);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return text;
}
