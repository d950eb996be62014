/*
 * Unit tests for filewatch.c: the first read, lines and their numbers,
 * no re-read while the file is the same, a re-read once it changed, a
 * removed file cleared and warned about once, then restored.
 */
#include <unistd.h>

#include "filewatch.h"
#include "test.h"

static char	 path[64];

/* What the owner was told, in order: "C" clear, "L1:text" a line, "D". */
struct seen {
	int	 nomem_at;	/* the line that runs out of memory; 0 none */
	char	 log[1024];
	char	 warnings[FILE_WATCH_MAX_WARN * 2];
};

static void
note(struct seen *s, const char *what)
{
	strncat(s->log, what, sizeof(s->log) - strlen(s->log) - 1);
}

static void
on_clear(void *owner)
{
	note(owner, "C ");
}

static int
on_line(void *owner, char *line, size_t len, int lineno)
{
	struct seen	*s = owner;
	char		 buf[128];

	if (lineno == s->nomem_at) {
		note(s, "NOMEM ");
		return -1;
	}
	CHECK_EQ(strlen(line), len);
	snprintf(buf, sizeof(buf), "L%d:%zu:%.*s ", lineno, len,
	    (int)strcspn(line, "\n"), line);
	note(owner, buf);
	return 0;
}

static void
on_done(void *owner)
{
	note(owner, "D ");
}

static void
on_warn(void *arg, const char *msg)
{
	struct seen	*s = arg;
	size_t		 plen = strlen(path);

	if (strncmp(msg, path, plen) == 0) {
		strcat(s->warnings, "F");
		msg += plen;
	}
	strncat(s->warnings, msg, sizeof(s->warnings) -
	    strlen(s->warnings) - 2);
	strcat(s->warnings, "\n");
}

static const struct file_watch_ops ops = { on_clear, on_line, on_done };

/* A new file at path: a new inode, so the change shows whatever the clock. */
static void
replace(const char *text)
{
	char	 tmp[80];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		perror(tmp);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	if (rename(tmp, path) == -1) {
		perror(path);
		exit(1);
	}
}

static void
reset(struct seen *s)
{
	s->nomem_at = 0;
	s->log[0] = s->warnings[0] = '\0';
}

static void
test_read_and_refresh(void)
{
	struct file_watch	 fw;
	struct seen		 s;
	char			 err[256] = "";

	reset(&s);
	replace("one\n\ntwo\nlast without newline");
	CHECK_EQ(file_watch_init(&fw, path, &ops, &s, on_warn, &s), 0);
	CHECK(!fw.stamp.valid);
	CHECK_EQ(file_watch_read(&fw, err, sizeof(err)), 0);
	CHECK_STR(s.log, "C L1:4:one L2:1: L3:4:two "
	    "L4:20:last without newline D ");
	CHECK(fw.stamp.valid);
	/* the same file: nothing read */
	reset(&s);
	file_watch_refresh(&fw);
	file_watch_refresh(&fw);
	CHECK_STR(s.log, "");
	/* changed: read from scratch */
	replace("three\n");
	file_watch_refresh(&fw);
	CHECK_STR(s.log, "C L1:6:three D ");
	CHECK_STR(s.warnings, "");
	/* gone: cleared, one warning however often it is looked at */
	reset(&s);
	unlink(path);
	file_watch_refresh(&fw);
	file_watch_refresh(&fw);
	CHECK_STR(s.log, "C C ");
	CHECK_STR(s.warnings, "F: No such file or directory\n");
	CHECK(!fw.stamp.valid);
	/* back: read again, no warning */
	reset(&s);
	replace("");
	file_watch_refresh(&fw);
	CHECK_STR(s.log, "C D ");
	CHECK_STR(s.warnings, "");
	CHECK(fw.stamp.valid);
	file_watch_free(&fw);
	CHECK(fw.path == NULL);
}

static void
test_unreadable(void)
{
	struct file_watch	 fw;
	struct seen		 s;
	char			 err[256] = "";

	reset(&s);
	unlink(path);
	CHECK_EQ(file_watch_init(&fw, path, &ops, &s, NULL, NULL), 0);
	CHECK_EQ(file_watch_read(&fw, err, sizeof(err)), -1);
	CHECK(strncmp(err, path, strlen(path)) == 0);
	CHECK_STR(err + strlen(path), ": No such file or directory");
	CHECK_STR(s.log, "C ");
	CHECK(!fw.stamp.valid);
	/* still missing: nothing to warn through, nothing read */
	file_watch_refresh(&fw);
	file_watch_warn(&fw, "%s", "dropped");
	CHECK_STR(s.log, "C C ");
	replace("x\n");
	file_watch_refresh(&fw);
	CHECK_STR(s.log, "C C C L1:2:x D ");
	file_watch_free(&fw);
}

/*
 * Out of memory half-way: what was loaded is dropped, the read is
 * retried at the next refresh, whatever the stamp says (issue 14).
 */
static void
test_nomem(void)
{
	struct file_watch	 fw;
	struct seen		 s;
	char			 err[256] = "";

	reset(&s);
	replace("a\nb\nc\n");
	CHECK_EQ(file_watch_init(&fw, path, &ops, &s, on_warn, &s), 0);
	s.nomem_at = 2;
	CHECK_EQ(file_watch_read(&fw, err, sizeof(err)), FILE_WATCH_NOMEM);
	CHECK_STR(s.log, "C L1:2:a NOMEM C ");
	CHECK(strncmp(err, path, strlen(path)) == 0);
	CHECK_STR(err + strlen(path), ": Cannot allocate memory");
	CHECK(!fw.stamp.valid);
	/* the same file, unchanged: read again all the same */
	reset(&s);
	s.nomem_at = 3;
	CHECK_EQ(file_watch_refresh(&fw), FILE_WATCH_NOMEM);
	CHECK_STR(s.log, "C L1:2:a L2:2:b NOMEM C ");
	CHECK_STR(s.warnings, "F: Cannot allocate memory\n");
	reset(&s);
	CHECK_EQ(file_watch_refresh(&fw), 0);
	CHECK_STR(s.log, "C L1:2:a L2:2:b L3:2:c D ");
	CHECK_STR(s.warnings, "");
	reset(&s);
	CHECK_EQ(file_watch_refresh(&fw), 0);
	CHECK_STR(s.log, "");
	file_watch_free(&fw);
}

static void
test_warn(void)
{
	struct file_watch	 fw;
	struct seen		 s;
	char			 big[FILE_WATCH_MAX_WARN * 2];

	reset(&s);
	CHECK_EQ(file_watch_init(&fw, path, &ops, &s, on_warn, &s), 0);
	file_watch_warn(&fw, "%s:%d: %s", path, 3, "bad line");
	CHECK_STR(s.warnings, "F:3: bad line\n");
	/* cut to the buffer, not past it */
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reset(&s);
	file_watch_warn(&fw, "%s", big);
	CHECK_EQ(strlen(s.warnings), FILE_WATCH_MAX_WARN - 1 + 1);
	file_watch_free(&fw);
}

int
main(void)
{
	int	 fd;

	strcpy(path, "/tmp/wsbridge-filewatch-XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_read_and_refresh();
	test_unreadable();
	test_nomem();
	test_warn();
	unlink(path);
	TEST_REPORT();
}
