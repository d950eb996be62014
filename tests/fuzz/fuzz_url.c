/*
 * libFuzzer target for hs_split_url: request targets as a client writes
 * them, into buffers of sizes the input picks (exact-size allocations so
 * ASan sees one byte too many). The result must match a direct reading
 * of RFC 3986 percent-decoding with wsbridge's rules: the path starts
 * with '/', never decodes a NUL and fits; the query is the raw text
 * between '?' and '#'.
 *
 * Input: byte 0 path buffer size, byte 1 query buffer size (255 = no
 * query buffer), then the target (cut at its first NUL, as a C string).
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
ref_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decoded length of the path at p (ending at ?, # or NUL), or -1. */
static long
ref_path_len(const char *p, const char **end)
{
	long	 n = 0;

	for (; *p != '\0' && *p != '?' && *p != '#'; n++) {
		if (*p++ != '%')
			continue;
		if (ref_hex(p[0]) < 0 || ref_hex(p[1]) < 0 ||
		    (ref_hex(p[0]) | ref_hex(p[1])) == 0)
			return -1;
		p += 2;
	}
	*end = p;
	return n;
}

static void
check_split(const char *url, size_t pathsz, size_t querysz, bool noquery)
{
	char		*path, *query = NULL;
	const char	*p = url, *end = NULL, *q;
	long		 plen;
	size_t		 qlen = 0;
	bool		 ok = true, absolute = false;
	int		 rc;

	path = malloc(pathsz);
	if (!noquery)
		query = malloc(querysz);
	assert((path != NULL || pathsz == 0) &&
	    (query != NULL || noquery || querysz == 0));
	rc = hs_split_url(url, path, pathsz, query, noquery ? 0 : querysz);
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "//") + 2;
		p += strcspn(p, "/?#");
		absolute = true;
	}
	if (*p == '/') {
		plen = ref_path_len(p, &end);
		ok = plen >= 0 && (size_t)plen < pathsz;
	} else {
		plen = 1;
		end = p;
		ok = absolute && pathsz >= 2;
	}
	q = end;
	if (q != NULL && *q == '?')
		qlen = strcspn(++q, "#");
	/* An empty query still needs its NUL. */
	if (ok && !noquery)
		ok = qlen < querysz;
	assert(rc == (ok ? 0 : -1));
	if (ok) {
		assert(path[0] == '/');
		assert(strlen(path) == (size_t)plen);
		if (!noquery) {
			assert(strlen(query) == qlen);
			assert(memcmp(query, q, qlen) == 0);
			assert(strchr(query, '#') == NULL);
		}
	}
	free(query);
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*url;

	if (size < 2)
		return 0;
	url = malloc(size - 1);
	assert(url != NULL);
	memcpy(url, data + 2, size - 2);
	url[size - 2] = '\0';
	check_split(url, data[0], data[1], data[1] == 255);
	/* And with room to spare, as the daemon calls it. */
	check_split(url, 4096, 4096, false);
	free(url);
	return 0;
}
