/*
 * Unit tests for metrics.c: counts go in through the conn-side calls and
 * come back out by parsing the rendered text as a Prometheus scraper would
 * (HELP and TYPE before samples, escaped label values, integer values).
 */
#include <sys/wait.h>

#include "test.h"
#include "metrics.h"

#define MAXSAMPLES	4096

struct sample {
	char			 name[64];
	char			 lname[16];
	char			 lvalue[128];	/* unescaped */
	unsigned long long	 value;
};

static struct sample	 samples[MAXSAMPLES];
static size_t		 nsamples;
static char		 typed[32][64];
static size_t		 ntyped;

static int
is_typed(const char *name)
{
	size_t	 i;

	for (i = 0; i < ntyped; i++)
		if (strcmp(typed[i], name) == 0)
			return 1;
	return 0;
}

/* "# HELP n ..." then "# TYPE n counter|gauge": returns 0 if well formed. */
static int
parse_comment(const char *line, char *help_for)
{
	char	 name[64], type[16];

	if (sscanf(line, "# HELP %63s", name) == 1) {
		strcpy(help_for, name);
		return 0;
	}
	if (sscanf(line, "# TYPE %63s %15s", name, type) != 2 ||
	    strcmp(name, help_for) != 0 || is_typed(name) ||
	    (strcmp(type, "counter") && strcmp(type, "gauge")))
		return -1;
	snprintf(typed[ntyped++], sizeof(typed[0]), "%s", name);
	return 0;
}

/* name{label="value"} N, with \\ \" \n escapes in the value. */
static int
parse_sample(const char *p, struct sample *s)
{
	size_t	 i = 0;
	char	*end;

	while (*p != '{' && *p != ' ' && *p != '\0' && i < sizeof(s->name) - 1)
		s->name[i++] = *p++;
	s->name[i] = '\0';
	if (*p++ != '{')
		return -1;
	for (i = 0; *p != '=' && *p != '\0' && i < sizeof(s->lname) - 1; )
		s->lname[i++] = *p++;
	s->lname[i] = '\0';
	if (*p++ != '=' || *p++ != '"')
		return -1;
	for (i = 0; *p != '"' && *p != '\0' && i < sizeof(s->lvalue) - 1; p++) {
		if (*p == '\\') {
			p++;
			if (*p != '\\' && *p != '"' && *p != 'n')
				return -1;
			s->lvalue[i++] = *p == 'n' ? '\n' : *p;
		} else if (*p == '\n')
			return -1;
		else
			s->lvalue[i++] = *p;
	}
	s->lvalue[i] = '\0';
	if (*p++ != '"' || *p++ != '}' || *p++ != ' ')
		return -1;
	s->value = strtoull(p, &end, 10);
	return end == p || *end != '\0' || !is_typed(s->name) ? -1 : 0;
}

/* Render and parse; every line must be understood. */
static int
scrape(void)
{
	char	*text, *line, *save = NULL, help_for[64] = "";
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
		    parse_sample(line, &samples[nsamples++]) != 0) {
			fprintf(stderr, "bad line: %s\n", line);
			bad++;
		}
	}
	free(text);
	return bad ? -1 : 0;
}

/* The value of name{...="lvalue"}, or -1 when there is no such sample. */
static long long
value(const char *name, const char *lvalue)
{
	size_t	 i;

	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, name) == 0 &&
		    strcmp(samples[i].lvalue, lvalue) == 0)
			return (long long)samples[i].value;
	return -1;
}

static size_t
count_samples(const char *name, unsigned long long *sum)
{
	size_t	 i, n = 0;

	*sum = 0;
	for (i = 0; i < nsamples; i++)
		if (strcmp(samples[i].name, name) == 0) {
			n++;
			*sum += samples[i].value;
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
	CHECK(is_typed("wsbridge_handshake_failures_total"));
	CHECK(is_typed("wsbridge_close_codes_total"));
	CHECK(is_typed("wsbridge_process_exits_total"));
	CHECK_EQ(nsamples, 1);		/* build_info only */
	CHECK_STR(samples[0].lname, "version");
}

static void
test_counts(void)
{
	metrics_reset();
	metrics_conn_open("/echo");
	metrics_conn_open("/echo");
	metrics_conn_open("/count");
	metrics_conn_open("");
	metrics_conn_close("/echo", 10, 20, 1, 2, 1000);
	metrics_conn_close("/count", 5, 6, 3, 4, 1011);
	metrics_process_exit(3 << 8);
	metrics_conn_close("", 0, 0, 0, 0, 1000);
	metrics_process_exit(0);
	metrics_conn_close("/echo", 1, 1, 1, 1, 1001);
	metrics_process_exit(9);	/* SIGKILL */
	metrics_conn_open("/echo");
	metrics_handshake_failed(404);
	metrics_handshake_failed(404);
	metrics_handshake_failed(429);
	metrics_spawn_failed("/count");
	CHECK_EQ(metrics.connections_open, 1);
	CHECK_EQ(metrics.connections_total, 5);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(value("wsbridge_connections_open", "/echo"), 1);
	CHECK_EQ(value("wsbridge_connections_open", "/count"), 0);
	CHECK_EQ(value("wsbridge_connections_open", "/"), 0);
	CHECK_EQ(value("wsbridge_connections_total", "/echo"), 3);
	CHECK_EQ(value("wsbridge_connections_total", "/"), 1);
	CHECK_EQ(value("wsbridge_received_bytes_total", "/echo"), 11);
	CHECK_EQ(value("wsbridge_sent_bytes_total", "/echo"), 21);
	CHECK_EQ(value("wsbridge_received_messages_total", "/count"), 3);
	CHECK_EQ(value("wsbridge_sent_messages_total", "/count"), 4);
	CHECK_EQ(value("wsbridge_spawn_failures_total", "/count"), 1);
	CHECK_EQ(value("wsbridge_spawn_failures_total", "/echo"), 0);
	CHECK_EQ(value("wsbridge_handshake_failures_total", "404"), 2);
	CHECK_EQ(value("wsbridge_handshake_failures_total", "429"), 1);
	CHECK_EQ(value("wsbridge_close_codes_total", "1000"), 2);
	CHECK_EQ(value("wsbridge_close_codes_total", "1011"), 1);
	CHECK_EQ(value("wsbridge_close_codes_total", "1001"), 1);
	CHECK_EQ(value("wsbridge_process_exits_total", "exit 3"), 1);
	CHECK_EQ(value("wsbridge_process_exits_total", "exit 0"), 1);
	CHECK_EQ(value("wsbridge_process_exits_total", "signal 9"), 1);
	CHECK_EQ(value("wsbridge_process_exits_total", "-1"), -1);
}

static void
test_gauge_never_negative(void)
{
	metrics_reset();
	metrics_conn_close("/x", 0, 0, 0, 0, 0);
	CHECK_EQ(metrics.connections_open, 0);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(value("wsbridge_connections_open", "/x"), 0);
	CHECK_EQ(value("wsbridge_close_codes_total", "0"), -1);
}

static void
test_escaping(void)
{
	const char	*odd = "/a\"b\\c\nd";

	metrics_reset();
	metrics_conn_open(odd);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(value("wsbridge_connections_total", odd), 1);
}

static void
test_bounded_labels(void)
{
	unsigned long long	 sum;
	char			 path[32];
	int			 i;

	metrics_reset();
	for (i = 0; i < 100; i++) {
		metrics_conn_close("/x", 0, 0, 0, 0, 3000 + i);
		metrics_process_exit(i << 8);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		metrics_conn_open(path);
	}
	for (i = 0; i < 50; i++)
		metrics_handshake_failed(100 + i);
	CHECK_EQ(metrics.close_codes.n, METRICS_MAX_LABELS);
	CHECK(metrics.nroutes <= METRICS_MAX_ROUTES);
	CHECK_EQ(scrape(), 0);
	CHECK_EQ(count_samples("wsbridge_close_codes_total", &sum),
	    METRICS_MAX_LABELS);
	CHECK_EQ(sum, 100);
	CHECK_EQ(value("wsbridge_close_codes_total", METRICS_OTHER),
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
	CHECK(value("wsbridge_connections_total", METRICS_OTHER) > 0);
	metrics_reset();
}

int
main(void)
{
	test_empty();
	test_counts();
	test_gauge_never_negative();
	test_escaping();
	test_bounded_labels();
	TEST_REPORT();
}
