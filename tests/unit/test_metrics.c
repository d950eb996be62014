/*
 * Unit tests for metrics.c: counts go in through the conn-side calls and
 * come back out by parsing the rendered text by the exposition format's
 * rules (HELP and TYPE before each family's samples, valid names, escaped
 * label values, no duplicate series, histograms with _bucket, _sum and
 * _count, cumulative buckets ending at +Inf).
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <time.h>

#include "test.h"
#include "metrics.h"
#include "version.h"

#define MAXSAMPLES	8192
#define MAXLABELS	3

/*
 * A sample as a scraper sees it: name, labels as "k=v,k2=v2" (values
 * unescaped), value.
 */
struct sample {
	char		 name[96];
	char		 labels[256];
	double		 value;
};

struct family {
	char		 name[96];
	char		 type[16];
};

static struct sample	 samples[MAXSAMPLES];
static size_t		 nsamples;
static struct family	 typed[64];
static size_t		 ntyped;

static const struct family *
family(const char *name)
{
	size_t	 i;

	for (i = 0; i < ntyped; i++)
		if (strcmp(typed[i].name, name) == 0)
			return &typed[i];
	return NULL;
}

static int
is_typed(const char *name)
{
	return family(name) != NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or without ':' (label). */
static size_t
name_len(const char *p, int colon)
{
	size_t	 i = 0;

	while ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
	    p[i] == '_' || (colon && p[i] == ':') ||
	    (i > 0 && p[i] >= '0' && p[i] <= '9'))
		i++;
	return i;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	 a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/*
 * "# HELP n text" then "# TYPE n counter|gauge|histogram", once per
 * family; counters end in _total. Returns 0 if well formed.
 */
static int
parse_comment(const char *line, char *help_for)
{
	char	 name[96], type[16];

	if (sscanf(line, "# HELP %95s", name) == 1) {
		strcpy(help_for, name);
		return name_len(name, 1) == strlen(name) ? 0 : -1;
	}
	if (sscanf(line, "# TYPE %95s %15s", name, type) != 2 ||
	    strcmp(name, help_for) != 0 || is_typed(name) ||
	    (strcmp(type, "counter") && strcmp(type, "gauge") &&
	    strcmp(type, "histogram")) ||
	    (strcmp(type, "counter") == 0 && !ends_with(name, "_total")))
		return -1;
	snprintf(typed[ntyped].name, sizeof(typed[0].name), "%s", name);
	snprintf(typed[ntyped++].type, sizeof(typed[0].type), "%s", type);
	return 0;
}

/* The sample's name belongs to the family declared last. */
static int
in_family(const char *name, const char *fam)
{
	const struct family	*f = family(fam);
	size_t			 n = strlen(fam);

	if (f == NULL)
		return 0;
	if (strcmp(name, fam) == 0)
		return strcmp(f->type, "histogram") != 0;
	return strcmp(f->type, "histogram") == 0 && strncmp(name, fam, n) ==
	    0 && (strcmp(name + n, "_bucket") == 0 ||
	    strcmp(name + n, "_sum") == 0 || strcmp(name + n, "_count") == 0);
}

/* name{l="v",...} VALUE, with \\ \" \n the only escapes in a value. */
static int
parse_sample(const char *p, struct sample *s, const char *fam)
{
	size_t	 n, o = 0;
	char	*end;

	if ((n = name_len(p, 1)) == 0 || n >= sizeof(s->name))
		return -1;
	memcpy(s->name, p, n);
	s->name[n] = '\0';
	p += n;
	s->labels[0] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if ((n = name_len(p, 0)) == 0 || p[n] != '=' ||
			    p[n + 1] != '"' || o + n + 2 >= sizeof(s->labels))
				return -1;
			if (o > 0)
				s->labels[o++] = ',';
			memcpy(s->labels + o, p, n + 1);
			o += n + 1;
			for (p += n + 2; *p != '"'; p++) {
				if (*p == '\0' || *p == '\n' ||
				    o + 2 >= sizeof(s->labels))
					return -1;
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' &&
					    *p != 'n')
						return -1;
					s->labels[o++] = *p == 'n' ? '\n' : *p;
				} else
					s->labels[o++] = *p;
			}
			s->labels[o] = '\0';
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	s->value = strtod(p, &end);
	if (strcmp(p, "+Inf") == 0 || end == p || *end != '\0')
		return -1;
	return in_family(s->name, fam) ? 0 : -1;
}

/* Every name and label set at most once. */
static int
duplicates(void)
{
	size_t	 i, j;

	for (i = 0; i < nsamples; i++)
		for (j = i + 1; j < nsamples; j++)
			if (strcmp(samples[i].name, samples[j].name) == 0 &&
			    strcmp(samples[i].labels, samples[j].labels) == 0) {
				fprintf(stderr, "duplicate: %s{%s}\n",
				    samples[i].name, samples[i].labels);
				return 1;
			}
	return 0;
}

/* Render and parse; every line must be understood. */
static int
scrape(void)
{
	char	*text, *line, *save = NULL, help_for[96] = "";
	size_t	 len;
	int	 bad = 0;

	nsamples = ntyped = 0;
	if ((text = metrics_render(&len)) == NULL)
		return -1;
	if (len != strlen(text) || len == 0 || text[len - 1] != '\n')
		bad++;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			bad += parse_comment(line, help_for) != 0;
		else if (nsamples == MAXSAMPLES ||
		    parse_sample(line, &samples[nsamples++], help_for) != 0) {
			fprintf(stderr, "bad line: %s\n", line);
			bad++;
		}
	}
	free(text);
	bad += duplicates();
	return bad ? -1 : 0;
}

/* The value of name{labels}, or -1 when there is no such sample. */
static double
value(const char *name, const char *labels)
{
	size_t	 i;

	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, name) == 0 &&
		    strcmp(samples[i].labels, labels) == 0)
			return samples[i].value;
	return -1;
}

/* The value of name{route="route"}. */
static double
rvalue(const char *name, const char *route)
{
	char	 labels[256];

	snprintf(labels, sizeof(labels), "route=%s", route);
	return value(name, labels);
}

static size_t
count_samples(const char *name, unsigned long long *sum)
{
	size_t	 i, n = 0;

	*sum = 0;
	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, name) == 0) {
			n++;
			*sum += (unsigned long long)samples[i].value;
		}
	return n;
}

static void
test_empty(void)
{
	metrics_reset();
	CHECK_EQ(scrape(), 0);
	CHECK(is_typed("wsbridge_connections_open"));
	CHECK(is_typed("wsbridge_connections_total"));
	CHECK(is_typed("wsbridge_received_bytes_total"));
	CHECK(is_typed("wsbridge_sent_bytes_total"));
	CHECK(is_typed("wsbridge_received_messages_total"));
	CHECK(is_typed("wsbridge_sent_messages_total"));
	CHECK(is_typed("wsbridge_spawn_failures_total"));
	CHECK(is_typed("wsbridge_backend_failures_total"));
	CHECK(is_typed("wsbridge_handshake_failures_total"));
	CHECK(is_typed("wsbridge_close_codes_total"));
	CHECK(is_typed("wsbridge_process_exits_total"));
	CHECK(is_typed("wsbridge_connection_duration_seconds"));
	CHECK_STR(samples[0].labels, "version=" WSBRIDGE_VERSION);
	CHECK_STR(samples[0].name, "wsbridge_build_info");
}

/* Issue 17: a configured route's series exist at zero from start-up. */
static void
test_declared_routes_at_zero(void)
{
	metrics_reset();
	metrics_route_declare("/echo");
	metrics_route_declare("/vnc");
	metrics_route_declare("/echo");
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(rvalue("wsbridge_connections_total", "/echo"), 0);
	CHECK_EQ(rvalue("wsbridge_connections_open", "/vnc"), 0);
	CHECK_EQ(rvalue("wsbridge_backend_failures_total", "/vnc"), 0);
	CHECK_EQ(rvalue("wsbridge_connection_duration_seconds_count", "/vnc"),
	    0);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/vnc,le=+Inf"), 0);
	CHECK_EQ(metrics.nroutes, 2);
}

static void
test_counts(void)
{
	metrics_reset();
	metrics_conn_open("/echo");
	metrics_conn_open("/echo");
	metrics_conn_open("/count");
	metrics_conn_open("");
	metrics_conn_close("/echo", 10, 20, 1, 2, 1000, 0.05);
	metrics_conn_close("/count", 5, 6, 3, 4, 1011, 2);
	metrics_process_exit("/count", 3 << 8);
	metrics_conn_close("", 0, 0, 0, 0, 1000, 100000);
	metrics_process_exit("/count", 0);
	metrics_conn_close("/echo", 1, 1, 1, 1, 1001, 1);
	metrics_process_exit("/count", 9);	/* SIGKILL */
	metrics_conn_open("/echo");
	metrics_handshake_failed(NULL, 404);
	metrics_handshake_failed(NULL, 404);
	metrics_handshake_failed("/echo", 429);
	metrics_handshake_failed("/vnc", 502);
	metrics_spawn_failed("/count");
	CHECK_EQ(metrics.connections_open, 1);
	CHECK_EQ(metrics.connections_total, 5);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(rvalue("wsbridge_connections_open", "/echo"), 1);
	CHECK_EQ(rvalue("wsbridge_connections_open", "/count"), 0);
	CHECK_EQ(rvalue("wsbridge_connections_open", "/"), 0);
	CHECK_EQ(rvalue("wsbridge_connections_total", "/echo"), 3);
	CHECK_EQ(rvalue("wsbridge_connections_total", "/"), 1);
	CHECK_EQ(rvalue("wsbridge_received_bytes_total", "/echo"), 11);
	CHECK_EQ(rvalue("wsbridge_sent_bytes_total", "/echo"), 21);
	CHECK_EQ(rvalue("wsbridge_received_messages_total", "/count"), 3);
	CHECK_EQ(rvalue("wsbridge_sent_messages_total", "/count"), 4);
	CHECK_EQ(rvalue("wsbridge_spawn_failures_total", "/count"), 1);
	CHECK_EQ(rvalue("wsbridge_spawn_failures_total", "/echo"), 0);
	/* Refusals by route and status; "" when no route matched. */
	CHECK_EQ(value("wsbridge_handshake_failures_total",
	    "route=,status=404"), 2);
	CHECK_EQ(value("wsbridge_handshake_failures_total",
	    "route=/echo,status=429"), 1);
	CHECK_EQ(value("wsbridge_handshake_failures_total",
	    "route=/vnc,status=502"), 1);
	CHECK_EQ(rvalue("wsbridge_backend_failures_total", "/vnc"), 1);
	CHECK_EQ(rvalue("wsbridge_backend_failures_total", "/echo"), 0);
	CHECK_EQ(value("wsbridge_close_codes_total", "code=1000"), 2);
	CHECK_EQ(value("wsbridge_close_codes_total", "code=1011"), 1);
	CHECK_EQ(value("wsbridge_close_codes_total", "code=1001"), 1);
	/* Exits by route, code or signal: label values without spaces. */
	CHECK_EQ(value("wsbridge_process_exits_total", "route=/count,code=3"),
	    1);
	CHECK_EQ(value("wsbridge_process_exits_total", "route=/count,code=0"),
	    1);
	CHECK_EQ(value("wsbridge_process_exits_total",
	    "route=/count,signal=9"), 1);
	CHECK_EQ(value("wsbridge_process_exits_total", "route=/count,code=-1"),
	    -1);
}

/* Cumulative buckets, +Inf equal to _count, _sum the total. */
static void
test_duration_histogram(void)
{
	static const double	 le[] = METRICS_DURATION_BUCKETS;
	char			 labels[64];
	double			 prev = 0, v;
	size_t			 b;

	metrics_reset();
	metrics_conn_close("/t", 0, 0, 0, 0, 0, 0.05);	/* <= 0.1 */
	metrics_conn_close("/t", 0, 0, 0, 0, 0, 0.1);	/* le is inclusive */
	metrics_conn_close("/t", 0, 0, 0, 0, 0, 5);	/* <= 10 */
	metrics_conn_close("/t", 0, 0, 0, 0, 0, 1e6);	/* +Inf only */
	CHECK_EQ(scrape(), 0);
	for (b = 0; b < METRICS_NBUCKETS; b++) {
		snprintf(labels, sizeof(labels), "route=/t,le=%g", le[b]);
		v = value("wsbridge_connection_duration_seconds_bucket", labels);
		CHECK(v >= prev);
		prev = v;
	}
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/t,le=0.1"), 2);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/t,le=1"), 2);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/t,le=10"), 3);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/t,le=86400"), 3);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/t,le=+Inf"), 4);
	CHECK_EQ(rvalue("wsbridge_connection_duration_seconds_count", "/t"), 4);
	v = rvalue("wsbridge_connection_duration_seconds_sum", "/t");
	CHECK(v > 1000005.14 && v < 1000005.16);
}

/* As client libraries export them, from this very process. */
static void
test_process_metrics(void)
{
	struct rlimit	 rl;

	metrics_reset();
	CHECK_EQ(scrape(), 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_EQ(value("process_max_fds", ""), (double)rl.rlim_cur);
	/* stdin, stdout, stderr at least; not the directory being read. */
	CHECK(value("process_open_fds", "") >= 3);
	CHECK(value("process_open_fds", "") < 64);
	CHECK(value("process_resident_memory_bytes", "") > 100000);
	CHECK(value("process_virtual_memory_bytes", "") >=
	    value("process_resident_memory_bytes", ""));
	CHECK(value("process_cpu_seconds_total", "") >= 0);
	/* Started within the last hour, not in the future. */
	CHECK(value("process_start_time_seconds", "") > time(NULL) - 3600.);
	CHECK(value("process_start_time_seconds", "") < time(NULL) + 2.);
	CHECK_STR(family("process_cpu_seconds_total")->type, "counter");
	CHECK_STR(family("process_open_fds")->type, "gauge");
}

static void
test_gauge_never_negative(void)
{
	metrics_reset();
	metrics_conn_close("/x", 0, 0, 0, 0, 0, 1);
	CHECK_EQ(metrics.connections_open, 0);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(rvalue("wsbridge_connections_open", "/x"), 0);
	CHECK_EQ(value("wsbridge_close_codes_total", "code=0"), -1);
}

static void
test_escaping(void)
{
	const char	*odd = "/a\"b\\c\nd";

	metrics_reset();
	metrics_conn_open(odd);
	metrics_conn_close(odd, 0, 0, 0, 0, 1000, 1);
	metrics_handshake_failed(odd, 403);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(rvalue("wsbridge_connections_total", odd), 1);
	CHECK_EQ(value("wsbridge_handshake_failures_total",
	    "route=/a\"b\\c\nd,status=403"), 1);
	CHECK_EQ(value("wsbridge_connection_duration_seconds_bucket",
	    "route=/a\"b\\c\nd,le=+Inf"), 1);
}

static void
test_bounded_labels(void)
{
	unsigned long long	 sum;
	char			 path[32];
	int			 i;

	metrics_reset();
	for (i = 0; i < 100; i++) {
		metrics_conn_close("/x", 0, 0, 0, 0, 3000 + i, 1);
		metrics_process_exit("/x", i << 8);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		metrics_conn_open(path);
	}
	for (i = 0; i < 50; i++)
		metrics_handshake_failed(NULL, 100 + i);
	CHECK_EQ(metrics.close_codes.n, METRICS_MAX_LABELS);
	CHECK(metrics.nroutes <= METRICS_MAX_ROUTES);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(count_samples("wsbridge_close_codes_total", &sum),
	    METRICS_MAX_LABELS);
	CHECK_EQ(sum, 100);
	CHECK_EQ(value("wsbridge_close_codes_total", "code=" METRICS_OTHER),
	    100 - (METRICS_MAX_LABELS - 1));
	CHECK_EQ(count_samples("wsbridge_process_exits_total", &sum),
	    METRICS_MAX_LABELS);
	CHECK_EQ(sum, 100);
	CHECK_EQ(count_samples("wsbridge_handshake_failures_total", &sum),
	    METRICS_MAX_LABELS);
	CHECK_EQ(sum, 50);
	CHECK(count_samples("wsbridge_connections_total", &sum) <=
	    METRICS_MAX_ROUTES);
	CHECK_EQ(sum, 1000);
	CHECK(rvalue("wsbridge_connections_total", METRICS_OTHER) > 0);
	metrics_reset();
}

int
main(void)
{
	test_empty();
	test_declared_routes_at_zero();
	test_counts();
	test_duration_histogram();
	test_process_metrics();
	test_gauge_never_negative();
	test_escaping();
	test_bounded_labels();
	TEST_REPORT();
}
