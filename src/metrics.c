/*
 * Prometheus counters: per-route connection and traffic totals, and small
 * bounded tables for handshake statuses, close codes and exit statuses,
 * rendered as text exposition format 0.0.4.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
metrics_conn_close(const char *route, uint64_t bytes_in, uint64_t bytes_out,
    uint64_t msgs_in, uint64_t msgs_out, unsigned close_code)
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
	}
	if (close_code != 0) {
		snprintf(label, sizeof(label), "%u", close_code);
		metrics_count(&metrics.close_codes, label);
	}
}

/* Counted when reaped, whether or not its connection is still there. */
void
metrics_process_exit(int status)
{
	char	 label[METRICS_LABEL_LEN];

	if (WIFEXITED(status))
		snprintf(label, sizeof(label), "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(label, sizeof(label), "signal %d", WTERMSIG(status));
	else
		snprintf(label, sizeof(label), "%s", METRICS_OTHER);
	metrics_count(&metrics.exits, label);
}

void
metrics_handshake_failed(int status)
{
	char	 label[METRICS_LABEL_LEN];

	snprintf(label, sizeof(label), "%d", status);
	metrics_count(&metrics.handshake_failures, label);
}

void
metrics_spawn_failed(const char *route)
{
	struct metrics_route	*r;

	if ((r = metrics_route(route)) != NULL)
		r->spawn_failures++;
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
metrics_put_label(FILE *fp, const char *name, const char *value)
{
	fprintf(fp, "{%s=\"", name);
	for (; *value != '\0'; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(fp, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", fp);
		else
			fputc(*value, fp);
	}
	fputs("\"}", fp);
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
		fputs(name, fp);
		metrics_put_label(fp, "route", r->path);
		fprintf(fp, " %llu\n", (unsigned long long)
		    *(const uint64_t *)(const void *)((const char *)r + off));
	}
}

static void
metrics_put_counts(FILE *fp, const char *name, const char *help,
    const char *label, const struct metrics_counts *t)
{
	size_t	 i;

	metrics_put_head(fp, name, "counter", help);
	for (i = 0; i < t->n; i++) {
		fputs(name, fp);
		metrics_put_label(fp, label, t->v[i].label);
		fprintf(fp, " %llu\n", (unsigned long long)t->v[i].n);
	}
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
	fputs("wsbridge_build_info", fp);
	metrics_put_label(fp, "version", WSBRIDGE_VERSION);
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
	metrics_put_counts(fp, "wsbridge_handshake_failures_total",
	    "Requests answered with an HTTP error instead of 101, by status.",
	    "status", &metrics.handshake_failures);
	metrics_put_counts(fp, "wsbridge_close_codes_total",
	    "Close frames sent, by close code.", "code",
	    &metrics.close_codes);
	metrics_put_counts(fp, "wsbridge_process_exits_total",
	    "Backend processes reaped, by \"exit N\" or \"signal N\".",
	    "status", &metrics.exits);
	if (fclose(fp) != 0) {
		free(text);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return text;
}
