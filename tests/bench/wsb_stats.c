/*
 * wsb_stats.c: the latency histogram and its percentiles, and process RSS
 * read from /proc.
 */

#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsbench.h"


static int
hist_index(uint64_t v)
{
	int	 e;

	if (v < 32)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	return 32 + (e - 5) * 32 + (int)((v >> (e - 5)) & 31);
}

static uint64_t
hist_value(int i)
{
	int	 e;

	if (i < 32)
		return (uint64_t)i;
	e = (i - 32) / 32 + 5;
	/* The middle of the bucket. */
	return ((uint64_t)(32 + (i - 32) % 32) << (e - 5)) +
	    ((1ULL << (e - 5)) >> 1);
}

void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The value below which a fraction p of the samples fall, in microseconds. */
double
hist_us(const struct hist *h, double p)
{
	uint64_t	 want, seen = 0;
	int		 i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(p * (double)h->n);
	if (want < 1)
		want = 1;
	for (i = 0; i < WB_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			break;
	}
	if (i == WB_HIST_BUCKETS || hist_value(i) > h->max)
		return (double)h->max / 1e3;
	return (double)hist_value(i) / 1e3;
}

long
proc_rss_kb(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long
proc_ppid(long pid)
{
	char	 path[64], line[512], *p;
	FILE	*f;
	long	 ppid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	/* The command name may hold spaces and parentheses: skip to the last. */
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL)
		(void)sscanf(p + 1, " %*c %ld", &ppid);
	fclose(f);
	return ppid;
}

static bool
pid_in(const long *set, size_t n, long pid)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

/* Every process with its parent, read from /proc; returns the count. */
static size_t
proc_list(long **pids, long **ppids)
{
	struct dirent	*d;
	DIR		*dir;
	size_t		 n = 0, cap = 0;

	*pids = *ppids = NULL;
	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			*pids = realloc(*pids, cap * sizeof(**pids));
			*ppids = realloc(*ppids, cap * sizeof(**ppids));
			if (*pids == NULL || *ppids == NULL)
				die("out of memory");
		}
		(*pids)[n] = atol(d->d_name);
		(*ppids)[n++] = proc_ppid(atol(d->d_name));
	}
	closedir(dir);
	return n;
}

/*
 * RSS of pid and all its descendants (websocketd's and websockify's
 * per-connection processes).  Sets are plain arrays: a few thousand
 * processes at most, read twice per run.
 */
long
tree_rss_kb(long root)
{
	long	*pids, *pp, *set, kb = 0, r;
	size_t	 n, ns = 1, i, before;

	n = proc_list(&pids, &pp);
	if ((set = malloc((n + 1) * sizeof(*set))) == NULL)
		die("out of memory");
	set[0] = root;
	do {
		before = ns;
		for (i = 0; i < n; i++)
			if (!pid_in(set, ns, pids[i]) && pid_in(set, ns, pp[i]))
				set[ns++] = pids[i];
	} while (ns != before);
	for (i = 0; i < ns; i++)
		if ((r = proc_rss_kb(set[i])) > 0)
			kb += r;
	free(pids);
	free(pp);
	free(set);
	return kb;
}

/* CPU ticks of one process: its own and its reaped children's. */
long long
proc_cpu_ticks(long pid)
{
	char		 path[64], line[1024], *p;
	unsigned long	 ut = 0, st = 0;
	long		 cut = 0, cst = 0;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL)
		(void)sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %lu %lu %ld %ld", &ut, &st, &cut, &cst);
	fclose(f);
	return (long long)(ut + st) + cut + cst;
}

/*
 * CPU ticks (sysconf(_SC_CLK_TCK)) the server spent so far: root and its
 * live descendants (websocketd's programs, websockify's per-connection
 * processes), with the children they have reaped.
 */
long long
tree_cpu_ticks(long root)
{
	long		*pids, *pp, *set;
	long long	 t = 0;
	size_t		 n, ns = 1, i, before;

	n = proc_list(&pids, &pp);
	if ((set = malloc((n + 1) * sizeof(*set))) == NULL)
		die("out of memory");
	set[0] = root;
	do {
		before = ns;
		for (i = 0; i < n; i++)
			if (!pid_in(set, ns, pids[i]) && pid_in(set, ns, pp[i]))
				set[ns++] = pids[i];
	} while (ns != before);
	for (i = 0; i < ns; i++)
		t += proc_cpu_ticks(set[i]);
	free(pids);
	free(pp);
	free(set);
	return t;
}
