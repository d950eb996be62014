/*
 * Unit tests for session recordings (cast.c): the files are read back and
 * every line parsed with json-c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cast.h"
#include "test.h"

#define MAXLINES	64

static char	 tmpdir[] = "/tmp/test_cast.XXXXXX";

static struct cast_info
pty_info(void)
{
	struct cast_info	 ci = {
		.dir = tmpdir, .route = "/term/x", .id = "abc",
		.term = "xterm-256color", .shell = "/bin/bash",
		.title = "demo", .user = "al\"ice\n", .pty = true,
		.input = true, .cols = 80, .rows = 24,
	};

	return ci;
}

/* The file's lines, parsed (NULL where a line is not JSON); count. */
static int
read_lines(const char *path, struct json_object **out)
{
	FILE	*f = fopen(path, "r");
	char	*line = NULL;
	size_t	 cap = 0;
	int	 n = 0;

	if (f == NULL)
		return -1;
	while (n < MAXLINES && getline(&line, &cap, f) != -1)
		out[n++] = json_tokener_parse(line);
	free(line);
	fclose(f);
	return n;
}

static void
free_lines(struct json_object **l, int n)
{
	while (n-- > 0)
		json_object_put(l[n]);
}

static const char *
str_at(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static long long
int_at(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return -1;
	return json_object_get_int64(v);
}

/* Event i's element k as a string ("" if not an array of 3). */
static const char *
ev(struct json_object *e, size_t k)
{
	if (e == NULL || !json_object_is_type(e, json_type_array) ||
	    json_object_array_length(e) != 3)
		return "";
	return json_object_get_string(json_object_array_get_idx(e, k));
}

static double
ev_t(struct json_object *e)
{
	if (e == NULL || !json_object_is_type(e, json_type_array))
		return -1;
	return json_object_get_double(json_object_array_get_idx(e, 0));
}

static void
remove_file(struct cast *c)
{
	unlink(cast_path(c));
}

static void
test_header(void)
{
	struct cast_info	 ci = pty_info();
	struct json_object	*l[MAXLINES], *env;
	struct cast		*c;
	char			 err[256], path[4096], full[4096], *base;
	time_t			 before = time(NULL);
	int			 n;

	c = cast_open(&ci, err, sizeof(err));
	CHECK(c != NULL);
	if (c == NULL)
		return;
	snprintf(path, sizeof(path), "%s", cast_path(c));
	cast_close(c);
	snprintf(full, sizeof(full), "%s", path);
	n = read_lines(path, l);
	base = basename(path);
	/* term_x-20250102T030405Z-abc.cast */
	CHECK(strncmp(base, "term_x-", 7) == 0);
	CHECK_EQ(strlen(base), strlen("term_x-20250102T030405Z-abc.cast"));
	CHECK(base[15] == 'T' && base[22] == 'Z');
	CHECK_STR(base + 23, "-abc.cast");
	CHECK_EQ(n, 1);
	if (n < 1 || l[0] == NULL) {
		CHECK(0);
		return;
	}
	CHECK_EQ(int_at(l[0], "version"), 2);
	CHECK_EQ(int_at(l[0], "width"), 80);
	CHECK_EQ(int_at(l[0], "height"), 24);
	CHECK(int_at(l[0], "timestamp") >= before);
	CHECK(int_at(l[0], "timestamp") <= time(NULL));
	CHECK_STR(str_at(l[0], "title"), "demo");
	CHECK(json_object_object_get_ex(l[0], "env", &env));
	CHECK_STR(str_at(env, "TERM"), "xterm-256color");
	CHECK_STR(str_at(env, "SHELL"), "/bin/bash");
	CHECK_STR(str_at(env, "REMOTE_USER"), "al\"ice\n");
	free_lines(l, n);
	unlink(full);
}

/* Output, resize, input and output again: in order, times not decreasing. */
static void
test_events(bool input)
{
	struct cast_info	 ci = pty_info();
	struct json_object	*l[MAXLINES];
	struct cast		*c;
	char			 err[256];
	int			 n, i;

	ci.input = input;
	ci.id = input ? "events1" : "events0";
	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	cast_output(c, MSG_BINARY, "hello\r\n", 7);
	cast_resize(c, 100, 30);
	cast_input(c, MSG_TEXT, "ls\r", 3);
	cast_output(c, MSG_BINARY, "\x1b[1mX\"\\", 7);
	CHECK(cast_problem(c) == NULL);
	n = read_lines(cast_path(c), l);
	CHECK_EQ(n, input ? 5 : 4);
	CHECK(n > 1 && ev_t(l[1]) >= 0);
	for (i = 2; i < n; i++)
		CHECK(ev_t(l[i]) >= ev_t(l[i - 1]));
	i = 1;
	CHECK_STR(ev(l[i], 1), "o");
	CHECK_STR(ev(l[i++], 2), "hello\r\n");
	CHECK_STR(ev(l[i], 1), "r");
	CHECK_STR(ev(l[i++], 2), "100x30");
	if (input) {
		CHECK_STR(ev(l[i], 1), "i");
		CHECK_STR(ev(l[i++], 2), "ls\r");
	}
	CHECK_STR(ev(l[i], 1), "o");
	CHECK_STR(ev(l[i], 2), "\x1b[1mX\"\\");
	free_lines(l, n);
	remove_file(c);
	cast_close(c);
}

/* The "o" events' data of a pty cast fed the pieces, joined. */
static void
pty_output(const char **pieces, const char *id, char *out, size_t outsz,
    int *events)
{
	struct cast_info	 ci = pty_info();
	struct json_object	*l[MAXLINES];
	struct cast		*c;
	char			 err[256], path[4096];
	int			 n, i;

	out[0] = '\0';
	*events = 0;
	ci.id = id;
	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; pieces[i] != NULL; i++)
		cast_output(c, MSG_BINARY, pieces[i], strlen(pieces[i]));
	snprintf(path, sizeof(path), "%s", cast_path(c));
	cast_close(c);
	n = read_lines(path, l);
	for (i = 1; i < n; i++) {
		CHECK_STR(ev(l[i], 1), "o");
		strncat(out, ev(l[i], 2), outsz - strlen(out) - 1);
		(*events)++;
	}
	free_lines(l, n);
	unlink(path);
}

static void
test_utf8_split(void)
{
	const char	*euro[] = { "a\xe2\x82", "\xac" "b", NULL };
	const char	*smile[] = { "\xf0", "\x9f\x98", "\x80", NULL };
	const char	*cut[] = { "x\xe2\x82", NULL };	/* cut at the close */
	char		 out[256];
	int		 events;

	pty_output(euro, "euro", out, sizeof(out), &events);
	CHECK_STR(out, "a\xe2\x82\xac" "b");
	CHECK_EQ(events, 2);
	pty_output(smile, "smile", out, sizeof(out), &events);
	CHECK_STR(out, "\xf0\x9f\x98\x80");
	CHECK_EQ(events, 1);
	pty_output(cut, "cut", out, sizeof(out), &events);
	CHECK_STR(out, "x\xef\xbf\xbd");
}

static void
test_utf8_invalid(void)
{
	const char	*bad[] = { "\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82x|"
			    "\xf4\x90\x80\x80|\x01\x7f\xc2\x85", NULL };
	char		 out[256];
	int		 events;

	pty_output(bad, "bad", out, sizeof(out), &events);
	CHECK_STR(out, "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbdx|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
	    "\x01\x7f\xc2\x85");
	CHECK_EQ(events, 1);
}

/* A second recording may not take the first one's name. */
static void
test_excl(void)
{
	struct cast_info	 ci = pty_info();
	struct cast		*a, *b = NULL;
	struct stat		 st;
	char			 err[256] = "";
	int			 tries;

	ci.id = "excl";
	for (tries = 0; tries < 5; tries++) {
		if ((a = cast_open(&ci, err, sizeof(err))) == NULL)
			break;
		cast_output(a, MSG_BINARY, "first", 5);
		b = cast_open(&ci, err, sizeof(err));
		CHECK(stat(cast_path(a), &st) == 0);
		/* b != NULL: the second changed between the two; again */
		CHECK(b == NULL || strcmp(cast_path(a), cast_path(b)) != 0);
		remove_file(a);
		cast_close(a);
		if (b == NULL)
			break;
		remove_file(b);
		cast_close(b);
	}
	CHECK(tries < 5 && b == NULL);
	CHECK(strstr(err, "File exists") != NULL);
	CHECK(strstr(err, "excl.cast") != NULL);
	CHECK(st.st_size > 0);	/* not truncated by the second open */
}

static void
test_mode(void)
{
	struct cast_info	 ci = pty_info();
	struct cast		*c;
	struct stat		 st;
	mode_t			 old;
	char			 err[256];
	int			 i;
	const mode_t		 masks[] = { 077, 0 };

	for (i = 0; i < 2; i++) {
		old = umask(masks[i]);
		ci.id = i == 0 ? "mode077" : "mode0";
		c = cast_open(&ci, err, sizeof(err));
		umask(old);
		if (c == NULL) {
			CHECK(0);
			continue;
		}
		CHECK(stat(cast_path(c), &st) == 0);
		CHECK_EQ(st.st_mode & 07777, 0640);
		remove_file(c);
		cast_close(c);
	}
}

static void
test_cap(void)
{
	struct cast_info	 ci = pty_info();
	struct json_object	*l[MAXLINES];
	struct cast		*c;
	struct stat		 st;
	char			 err[256], line[41];
	const char		*why;
	int			 n, i, reports = 0;
	off_t			 size;

	memset(line, 'x', 40);
	line[40] = '\0';
	ci.id = "cap";
	ci.max = 400;
	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < 20; i++) {
		cast_output(c, MSG_BINARY, line, 40);
		if ((why = cast_problem(c)) != NULL) {
			reports++;
			CHECK_STR(why, "record_max reached");
		}
	}
	CHECK_EQ(reports, 1);
	CHECK(stat(cast_path(c), &st) == 0);
	size = st.st_size;
	CHECK(size <= 400 + 64);
	CHECK(size > 400 - 64);
	cast_output(c, MSG_BINARY, line, 40);
	cast_resize(c, 1, 1);
	CHECK(cast_problem(c) == NULL);
	CHECK(stat(cast_path(c), &st) == 0 && st.st_size == size);
	n = read_lines(cast_path(c), l);
	CHECK(n > 2);
	for (i = 1; i < n - 1; i++)
		CHECK_STR(ev(l[i], 2), line);
	CHECK_STR(ev(l[n - 1], 1), "m");
	CHECK_STR(ev(l[n - 1], 2), "record_max reached");
	free_lines(l, n);
	remove_file(c);
	cast_close(c);
}

/* ENOSPC from /dev/full behind the file: said once, then silence. */
static void
test_write_error(void)
{
	struct cast_info	 ci = pty_info();
	struct cast		*c;
	char			 err[256];
	const char		*why;
	int			 full, i, reports = 0;

	ci.id = "full";
	ci.pty = false;
	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	remove_file(c);
	full = open("/dev/full", O_WRONLY);
	CHECK(full != -1 && dup2(full, cast_fd(c)) != -1);
	close(full);
	for (i = 0; i < 5; i++) {
		cast_output(c, MSG_TEXT, "line", 4);
		cast_input(c, MSG_BINARY, "\x00\x01", 2);
		if ((why = cast_problem(c)) != NULL) {
			reports++;
			CHECK_STR(why, strerror(ENOSPC));
		}
	}
	CHECK_EQ(reports, 1);
	cast_close(c);
}

static void
test_jsonl(void)
{
	struct cast_info	 ci = {
		.dir = tmpdir, .route = "/feed", .user = "bob",
	};
	struct json_object	*l[MAXLINES];
	struct cast		*c;
	char			 err[256], *base;
	int			 n, i;

	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	base = strrchr(cast_path(c), '/') + 1;
	CHECK(strncmp(base, "feed-", 5) == 0);
	CHECK_STR(base + 5 + 16, ".jsonl");
	cast_output(c, MSG_TEXT, "li\"ne\xff", 6);
	cast_input(c, MSG_BINARY, "\x00\x01\x02\xff", 4);
	cast_resize(c, 10, 10);		/* nothing outside pty */
	n = read_lines(cast_path(c), l);
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++)
		CHECK(l[i] != NULL);
	if (n != 3) {
		free_lines(l, n);
		return;
	}
	CHECK_STR(str_at(l[0], "route"), "/feed");
	CHECK_STR(str_at(l[0], "user"), "bob");
	CHECK(str_at(l[0], "session") == NULL);
	CHECK(int_at(l[0], "timestamp") > 0);
	CHECK_STR(str_at(l[1], "dir"), "out");
	CHECK_STR(str_at(l[1], "type"), "text");
	CHECK_STR(str_at(l[1], "data"), "li\"ne\xef\xbf\xbd");
	CHECK_STR(str_at(l[2], "dir"), "in");
	CHECK_STR(str_at(l[2], "type"), "binary");
	CHECK_STR(str_at(l[2], "data"), "AAEC/w==");
	CHECK(json_object_get_double(json_object_object_get(l[2], "t")) >=
	    json_object_get_double(json_object_object_get(l[1], "t")));
	free_lines(l, n);
	remove_file(c);
	cast_close(c);
}

static void
test_names(void)
{
	struct cast_info	 ci = { .dir = tmpdir, .route = "/",
				    .id = "s1" };
	struct cast		*c;
	char			 err[256], dir[300];

	if ((c = cast_open(&ci, err, sizeof(err))) != NULL) {
		CHECK(strncmp(strrchr(cast_path(c), '/'), "/root-", 6) == 0);
		remove_file(c);
		cast_close(c);
	} else
		CHECK(0);
	ci.route = "/a.b/../c d";
	ci.id = "../x";
	if ((c = cast_open(&ci, err, sizeof(err))) != NULL) {
		CHECK(strncmp(strrchr(cast_path(c), '/'), "/a_b____c_d-", 12)
		    == 0);
		CHECK(strstr(cast_path(c), "-___x.jsonl") != NULL);
		remove_file(c);
		cast_close(c);
	} else
		CHECK(0);
	snprintf(dir, sizeof(dir), "%s/missing", tmpdir);
	ci.dir = dir;
	CHECK(cast_open(&ci, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "missing/") != NULL);
	CHECK(strstr(err, strerror(ENOENT)) != NULL);
}

/* No size known yet (0x0): the header says 80x24, never 0. */
static void
test_default_size(void)
{
	struct cast_info	 ci = pty_info();
	struct json_object	*l[MAXLINES];
	struct cast		*c;
	char			 err[256];
	int			 n;

	ci.cols = ci.rows = 0;
	ci.id = "nosize";
	if ((c = cast_open(&ci, err, sizeof(err))) == NULL) {
		CHECK(0);
		return;
	}
	n = read_lines(cast_path(c), l);
	CHECK_EQ(n, 1);
	CHECK_EQ(int_at(n > 0 ? l[0] : NULL, "width"), 80);
	CHECK_EQ(int_at(n > 0 ? l[0] : NULL, "height"), 24);
	free_lines(l, n);
	remove_file(c);
	cast_close(c);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_header();
	test_events(true);
	test_events(false);
	test_utf8_split();
	test_utf8_invalid();
	test_excl();
	test_mode();
	test_cap();
	test_write_error();
	test_jsonl();
	test_names();
	test_default_size();
	rmdir(tmpdir);
	TEST_REPORT();
}
