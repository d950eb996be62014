/*
 * Unit tests for log.c's pure helpers: log_escape (peer bytes made safe
 * for a log line, cut to a buffer) and log_exit_status.
 */
#include <sys/wait.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "test.h"

static char	 out[256];

static const char *
esc(const char *s, size_t n, size_t dstsz)
{
	memset(out, 'Z', sizeof(out));
	return log_escape(out, dstsz, s, n);
}

static void
test_plain(void)
{
	CHECK_STR(esc("", 0, sizeof(out)), "");
	CHECK_STR(esc("abc", 0, sizeof(out)), "");
	CHECK_STR(esc("/chat?x=1 y~", 12, sizeof(out)), "/chat?x=1 y~");
	/* n counts, not a NUL */
	CHECK_STR(esc("abcdef", 3, sizeof(out)), "abc");
	CHECK(log_escape(out, sizeof(out), "x", 1) == out);
}

static void
test_escapes(void)
{
	CHECK_STR(esc("a\\b\"c", 5, sizeof(out)), "a\\\\b\\\"c");
	CHECK_STR(esc("\x00\x01\x1f\x7f\x80\xff", 6, sizeof(out)),
	    "\\x00\\x01\\x1f\\x7f\\x80\\xff");
	CHECK_STR(esc("a\nb\r\tc", 6, sizeof(out)), "a\\x0ab\\x0d\\x09c");
	CHECK_STR(esc(" ~", 2, sizeof(out)), " ~");
	/* UTF-8 is bytes like any other: a log line stays ASCII */
	CHECK_STR(esc("\xc3\xa9", 2, sizeof(out)), "\\xc3\\xa9");
	CHECK_STR(esc("a\0b", 3, sizeof(out)), "a\\x00b");
}

/* What one byte becomes. */
static size_t
esc_len(unsigned char c)
{
	if (c == '\\' || c == '"')
		return 2;
	return c >= 0x20 && c < 0x7f ? 1 : 4;
}

/*
 * src into every buffer size from 0 to past its escaped length: never a
 * byte written past dstsz, always terminated, the whole text when it
 * fits; else as many whole escapes as fit with "..." after them.
 */
static void
check_sizes(const char *src, size_t n)
{
	char	 full[256];
	size_t	 flen, dstsz, len, i, o;

	log_escape(full, sizeof(full), src, n);
	flen = strlen(full);
	for (dstsz = 0; dstsz < flen + 6; dstsz++) {
		memset(out, 'Z', sizeof(out));
		log_escape(out, dstsz, src, n);
		CHECK(out[dstsz] == 'Z');
		if (dstsz == 0) {
			CHECK(out[0] == 'Z');
			continue;
		}
		len = strnlen(out, dstsz);
		CHECK(len < dstsz);
		if (dstsz > flen) {
			CHECK_STR(out, full);
			continue;
		}
		if (dstsz < 4) {	/* no room to mark the cut */
			CHECK_STR(out, "");
			continue;
		}
		CHECK(len >= 3 && strcmp(out + len - 3, "...") == 0);
		/* whole escapes only, and as many as fit */
		for (i = o = 0; i < n && o < len - 3; i++)
			o += esc_len((unsigned char)src[i]);
		CHECK_EQ(o, len - 3);
		CHECK(strncmp(out, full, o) == 0);
		CHECK(i < n && o + esc_len((unsigned char)src[i]) + 3 >= dstsz);
	}
}

static void
test_truncation(void)
{
	/* fits exactly: not cut */
	CHECK_STR(esc("abc", 3, 4), "abc");
	CHECK_STR(esc("abcdefgh", 8, 9), "abcdefgh");
	CHECK_STR(esc("\x01", 1, 5), "\\x01");
	/* one byte short: cut, marked */
	CHECK_STR(esc("abcdefgh", 8, 8), "abcd...");
	CHECK_STR(esc("\x01\x02", 2, 8), "\\x01...");
	CHECK_STR(esc("\x01\x02", 2, 7), "...");
	CHECK_STR(esc("abcdefgh", 8, 4), "...");
	CHECK_STR(esc("abcdefgh", 8, 3), "");
	check_sizes("hello, world", 12);
	check_sizes("a\\\"\x01\xff z", 7);
	check_sizes("\x80\x81\x82\x83\x84", 5);
	check_sizes("\"\"\"\"\"\"", 6);
	check_sizes("", 0);
	/* the worst case, in the size log.h names for it */
	CHECK_EQ(strlen(esc("\xff\xff\xff", 3, LOG_ESCAPE_SIZE(3))), 12);
}

static void
test_exit_status(void)
{
	char	 buf[32];

	log_exit_status(0, false, buf, sizeof(buf));
	CHECK_STR(buf, "exit 0");
	log_exit_status(3 << 8, true, buf, sizeof(buf));
	CHECK_STR(buf, "\"exit 3\"");
	log_exit_status(9, false, buf, sizeof(buf));	/* killed by 9 */
	CHECK_STR(buf, "signal 9");
	log_exit_status(-1, false, buf, sizeof(buf));
	CHECK_STR(buf, "-");
	log_exit_status(-1, true, buf, sizeof(buf));
	CHECK_STR(buf, "null");
}

int
main(void)
{
	test_plain();
	test_escapes();
	test_truncation();
	test_exit_status();
	TEST_REPORT();
}
