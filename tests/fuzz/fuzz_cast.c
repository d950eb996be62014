/*
 * libFuzzer target for session recordings (cast.c): the input is written
 * as pty output cut in pieces the input picks, and as text and binary
 * messages of a JSON lines recording. Checked: every line is JSON that
 * json-c reads; the "o" events joined equal ws_utf8_sanitize() of the
 * whole input (a split sequence is carried over, never replaced); the
 * times never decrease; the text message reads back as the sanitized
 * input too.
 *
 * Input: byte 0 the piece size (1..64), then the bytes.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cast.h"
#include "ws.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 dir[] = "/tmp/fuzz_cast.XXXXXX";

static void
remove_dir(void)
{
	rmdir(dir);
}

/* The file's lines after the header; the "o" data joined into out. */
static size_t
read_back(const char *path, bool pty, uint8_t *out, size_t outsz)
{
	FILE			*f = fopen(path, "r");
	char			*line = NULL;
	size_t			 cap = 0, o = 0, n = 0, len;
	struct json_object	*j, *d;
	double			 t, last = 0;

	assert(f != NULL);
	while (getline(&line, &cap, f) != -1) {
		assert((j = json_tokener_parse(line)) != NULL);
		if (n++ > 0) {
			if (pty) {
				assert(json_object_array_length(j) == 3);
				t = json_object_get_double(
				    json_object_array_get_idx(j, 0));
				d = json_object_array_get_idx(j, 2);
			} else {
				t = json_object_get_double(
				    json_object_object_get(j, "t"));
				d = json_object_object_get(j, "data");
			}
			assert(t >= last);
			last = t;
			len = (size_t)json_object_get_string_len(d);
			if (pty || n == 2) {	/* binary is base64 */
				assert(o + len <= outsz);
				memcpy(out + o, json_object_get_string(d),
				    len);
				o += len;
			}
		}
		json_object_put(j);
	}
	free(line);
	fclose(f);
	return o;
}

static void
check(const uint8_t *p, size_t n, size_t piece, bool pty)
{
	struct cast_info	 ci = { .dir = dir, .route = "/fuzz",
				    .id = "x", .pty = pty, .cols = 80,
				    .rows = 24 };
	struct cast		*c;
	char			 err[256], path[4096];
	uint8_t			*want = malloc(3 * n + 1);
	uint8_t			*got = malloc(3 * n + 1);
	size_t			 nwant, ngot, i, k;

	assert(want != NULL && got != NULL);
	assert((c = cast_open(&ci, err, sizeof(err))) != NULL);
	snprintf(path, sizeof(path), "%s", cast_path(c));
	if (pty) {
		for (i = 0; i < n; i += k) {
			k = n - i < piece ? n - i : piece;
			cast_output(c, MSG_BINARY, p + i, k);
		}
	} else {
		cast_output(c, MSG_TEXT, p, n);
		cast_input(c, MSG_BINARY, p, n);
	}
	assert(cast_problem(c) == NULL);
	cast_close(c);
	nwant = ws_utf8_sanitize(want, p, n);
	ngot = read_back(path, pty, got, 3 * n + 1);
	assert(ngot == nwant && memcmp(got, want, ngot) == 0);
	unlink(path);
	free(want);
	free(got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool	 made;

	if (!made) {
		assert(mkdtemp(dir) != NULL);
		atexit(remove_dir);
		made = true;
	}
	if (size < 1)
		return 0;
	check(data + 1, size - 1, data[0] % 64 + 1, true);
	check(data + 1, size - 1, 0, false);
	return 0;
}
