/*
 * Unit tests for pty_proto.c: ttyd's JSON init and resize messages,
 * sizes at and over their limits, the token copy, malformed JSON and
 * the message length limit.
 */
#include <stdlib.h>
#include <string.h>

#include "pty_proto.h"
#include "test.h"

static struct pty_size	 sz;
static char		 tok[16];
static const char	*why;

/* pty_parse_init on a C string; sz and tok poisoned first. */
static int
init(const char *s)
{
	sz.cols = sz.rows = 7;
	memset(tok, 'Z', sizeof(tok));
	why = NULL;
	return pty_parse_init(s, strlen(s), &sz, tok, sizeof(tok), &why);
}

static int
resize(const char *s)
{
	sz.cols = sz.rows = 7;
	why = NULL;
	return pty_parse_resize(s, strlen(s), &sz, &why);
}

static void
test_init(void)
{
	CHECK_EQ(init("{}"), 0);
	CHECK_EQ(sz.cols, PTY_DEFAULT_COLS);
	CHECK_EQ(sz.rows, PTY_DEFAULT_ROWS);
	CHECK_STR(tok, "");
	/* what termpage.c and ttyd's client send */
	CHECK_EQ(init("{\"AuthToken\":\"\",\"columns\":132,\"rows\":43}"), 0);
	CHECK_EQ(sz.cols, 132);
	CHECK_EQ(sz.rows, 43);
	CHECK_STR(tok, "");
	CHECK_EQ(init(" {\"rows\" : 50 , \"AuthToken\" : \"s3cr\\u0065t\"}\n"),
	    0);
	CHECK_EQ(sz.cols, PTY_DEFAULT_COLS);
	CHECK_EQ(sz.rows, 50);
	CHECK_STR(tok, "s3cret");
	CHECK_EQ(init("{\"columns\":100}"), 0);
	CHECK_EQ(sz.cols, 100);
	CHECK_EQ(sz.rows, PTY_DEFAULT_ROWS);
	/* unknown members are ignored, a non-string token is no token */
	CHECK_EQ(init("{\"x\":[1,{\"y\":null}],\"AuthToken\":5}"), 0);
	CHECK_STR(tok, "");
	CHECK_EQ(init("{\"AuthToken\":null}"), 0);
	CHECK_STR(tok, "");
}

/* The token is cut to the buffer, always terminated; size 0 untouched. */
static void
test_token_buffer(void)
{
	char	 small[4];
	char	 none = 'N';
	const char	*m = "{\"AuthToken\":\"abcdefgh\"}";

	memset(small, 'Z', sizeof(small));
	CHECK_EQ(pty_parse_init(m, strlen(m), &sz, small, sizeof(small),
	    &why), 0);
	CHECK_STR(small, "abc");
	CHECK_EQ(pty_parse_init(m, strlen(m), &sz, &none, 0, &why), 0);
	CHECK_EQ(none, 'N');
	/* a bad size clears the token: nothing half-taken */
	CHECK_EQ(init("{\"AuthToken\":\"abc\",\"rows\":0}"), -1);
	CHECK_STR(tok, "");
}

static void
test_sizes(void)
{
	char	 m[64];

	CHECK_EQ(init("{\"columns\":1,\"rows\":1}"), 0);
	CHECK_EQ(sz.cols, 1);
	CHECK_EQ(sz.rows, 1);
	snprintf(m, sizeof(m), "{\"columns\":%d,\"rows\":%d}", PTY_MAX_DIM,
	    PTY_MAX_DIM);
	CHECK_EQ(init(m), 0);
	CHECK_EQ(sz.cols, PTY_MAX_DIM);
	CHECK_EQ(sz.rows, PTY_MAX_DIM);
	CHECK_EQ(resize(m), 0);
	CHECK_EQ(sz.cols, PTY_MAX_DIM);
	snprintf(m, sizeof(m), "{\"columns\":%d,\"rows\":1}",
	    PTY_MAX_DIM + 1);
	CHECK_EQ(init(m), -1);
	CHECK_STR(why, "bad terminal size");
	CHECK_EQ(resize(m), -1);
	/* 65616 would wrap to 80 in an unsigned short */
	CHECK_EQ(init("{\"columns\":65616,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":0,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":-80,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":4294967376,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":18446744073709551696,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":1e400,\"rows\":24}"), -1);
	/* only integers: ttyd's client sends them so */
	CHECK_EQ(init("{\"columns\":80.0,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":8e1,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":\"80\",\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":null,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":true,\"rows\":24}"), -1);
	CHECK_EQ(init("{\"columns\":[80],\"rows\":24}"), -1);
	CHECK_STR(why, "bad terminal size");
	/* the last of a repeated member counts */
	CHECK_EQ(init("{\"columns\":0,\"columns\":90}"), 0);
	CHECK_EQ(sz.cols, 90);
	CHECK_EQ(init("{\"columns\":90,\"columns\":0}"), -1);
}

static void
test_resize(void)
{
	CHECK_EQ(resize("{\"columns\":120,\"rows\":40}"), 0);
	CHECK_EQ(sz.cols, 120);
	CHECK_EQ(sz.rows, 40);
	CHECK(why == NULL);
	/* both required: no defaults in a resize */
	CHECK_EQ(resize("{\"columns\":120}"), -1);
	CHECK_STR(why, "bad terminal size");
	CHECK_EQ(resize("{\"rows\":40}"), -1);
	CHECK_EQ(resize("{}"), -1);
	CHECK_EQ(resize("{\"columns\":120,\"rows\":0}"), -1);
	CHECK_EQ(resize("{\"columns\":120,\"rows\":40,\"AuthToken\":\"x\"}"),
	    0);
}

static void
test_malformed(void)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "{\"columns\":80", "[]", "[{}]", "1",
		"\"{}\"", "null", "nul", "{}x", "{}{}", "{} {}", "{}]",
		"{\"columns\":}", "{\"columns\" 80}", "{columns:80}",
		"{\"columns\":0x50}", "{\"columns\":+80}",
		NULL
	};
	size_t	 i;

	for (i = 0; bad[i] != NULL; i++) {
		CHECK_EQ(init(bad[i]), -1);
		CHECK_STR(why, "malformed terminal JSON");
		CHECK_EQ(resize(bad[i]), -1);
		CHECK_STR(why, "malformed terminal JSON");
	}
	/* a NUL inside or after the object is not JSON */
	CHECK_EQ(pty_parse_init("{}\0", 3, &sz, tok, sizeof(tok), &why), -1);
	CHECK_EQ(pty_parse_init("{\"a\":\"\0\"}", 8, &sz, tok, sizeof(tok),
	    &why), -1);
	CHECK_EQ(pty_parse_resize("{\"columns\":1,\"rows\":1}\0", 23, &sz,
	    &why), -1);
	/* the length counts, not a terminator: the rest is not read */
	CHECK_EQ(pty_parse_init("{}garbage", 2, &sz, tok, sizeof(tok), &why),
	    0);
	CHECK_EQ(pty_parse_resize("{\"columns\":5,\"rows\":6}}}", 22, &sz,
	    &why), 0);
	CHECK_EQ(sz.cols, 5);
	CHECK_EQ(sz.rows, 6);
	/* too deep for json-c: refused, not a crash */
	CHECK_EQ(init("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"), -1);
}

/* PTY_MAX_CONTROL bytes pass, one more is refused before parsing. */
static void
test_length(void)
{
	char	*m;

	if ((m = malloc(PTY_MAX_CONTROL + 2)) == NULL)
		exit(1);
	memset(m, ' ', PTY_MAX_CONTROL + 1);
	m[0] = '{';
	memcpy(m + PTY_MAX_CONTROL - 13, "\"columns\":9}", 12);
	m[PTY_MAX_CONTROL - 1] = ' ';
	m[PTY_MAX_CONTROL + 1] = '\0';
	CHECK_EQ(pty_parse_init(m, PTY_MAX_CONTROL, &sz, tok, sizeof(tok),
	    &why), 0);
	CHECK_EQ(sz.cols, 9);
	CHECK_EQ(pty_parse_init(m, PTY_MAX_CONTROL + 1, &sz, tok,
	    sizeof(tok), &why), -1);
	CHECK_STR(why, "terminal control message too long");
	CHECK_EQ(pty_parse_resize(m, PTY_MAX_CONTROL + 1, &sz, &why), -1);
	CHECK_STR(why, "terminal control message too long");
	free(m);
}

int
main(void)
{
	test_init();
	test_token_buffer();
	test_sizes();
	test_resize();
	test_malformed();
	test_length();
	TEST_REPORT();
}
